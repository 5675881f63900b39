/**
 * The report's plots, as vega-lite specs compiled to vega for the page to render (zoom and pan
 * with the mouse, a time cursor that follows the slider): for request/response runs the latency
 * distribution, then goodput, CPU, the cycle breakdown,
 * ring occupancy, drops and notifications. Everything comes from the recorder's samples, taken
 * in virtual time.
 */
import type * as vl from 'vega-lite';
import { PS_PER_MS } from '../actors/scheduler.js';
import type { RunResult } from '../scenario/run.js';
import { GROUPS, GROUP_COLORS, groupOf } from '../paper/configs.js';
import { compile, VL_SCHEMA, ZOOM_PAN } from '../plot/vega.js';
import { latencyHistogramSpec, latencyPercentileSpec } from '../plot/latency.js';
import type { Recorder, Snapshot } from './recorder.js';
import { counterSeries } from './trace-events.js';
import { hostOfActor } from './world.js';
import { lifecycleMarks, markLayers, type LifecycleMark } from './lifecycle-marks.js';

export interface ReportPlot { id: string; title: string; note: string; vega: object }

interface Point { t: number; series: string; v: number; dash?: string }

const round = (v: number, d = 3) => Math.round(v * 10 ** d) / 10 ** d;

/**
 * A time plot: warm-up shaded, one line per series, the cursor (a `cursor` signal, in ms) as a
 * red rule. `step`: each value covers the sampling period ending at its time; else a gauge read at that instant.
 */
function timePlot(title: string, unit: string, values: Point[], warmMs: number, endMs: number, step: boolean, counts = false, marks: readonly LifecycleMark[] = []): vl.TopLevelSpec {
  const series = [...new Set(values.map((p) => p.series))];
  const dashes = [...new Set(values.flatMap((p) => (p.dash ? [p.dash] : [])))];
  const flat = values.every((p) => p.v === 0);
  return {
    $schema: VL_SCHEMA,
    title,
    width: 640,
    height: 180,
    params: [{ name: 'cursor', value: 0 }],
    layer: [
      {
        data: { values: [{ from: 0, to: warmMs }] },
        mark: { type: 'rect', color: '#efefef' },
        encoding: { x: { field: 'from', type: 'quantitative' }, x2: { field: 'to' } },
      },
      // The lifecycle markers (migrations' rounds, downtime and resume; the other events), behind the lines.
      ...(markLayers(marks) as never[]),
      {
        data: { values },
        params: [ZOOM_PAN],
        mark: { type: 'line', interpolate: step ? 'step-before' : 'linear', point: !step && !dashes.length && values.length <= 400 * series.length, strokeWidth: 1.6 },
        encoding: {
          x: { field: 't', type: 'quantitative', title: 'virtual time (ms) — shaded: warm-up', scale: { domain: [0, endMs], nice: false } },
          y: { field: 'v', type: 'quantitative', title: unit, ...(flat ? { scale: { domain: [0, 1] } } : {}), ...(counts ? { axis: { format: 'd', tickMinStep: 1 } } : {}) },
          color: { field: 'series', type: 'nominal', title: null, sort: series, legend: { labelLimit: 0, symbolLimit: 0 } },
          ...(dashes.length ? { strokeDash: { field: 'dash', type: 'nominal', title: null, sort: dashes, legend: { labelLimit: 0, symbolLimit: 0 } } } : {}),
        },
      },
      {
        data: { values: [{}] },
        transform: [{ calculate: 'cursor', as: 't' }],
        mark: { type: 'rule', color: '#c00', strokeWidth: 1.5 },
        encoding: { x: { field: 't', type: 'quantitative' } },
      },
    ],
  };
}

/** Per-interval values as step points: each interval's value at its end, and the first one also at the start. */
function steps(snaps: Snapshot[], f: (a: Snapshot, z: Snapshot) => Record<string, number>): Point[] {
  const out: Point[] = [];
  for (let i = 1; i < snaps.length; i++) {
    const a = snaps[i - 1], z = snaps[i];
    if (z.t <= a.t) continue;
    for (const [series, v] of Object.entries(f(a, z))) {
      if (!out.some((p) => p.series === series)) out.push({ t: round(a.t / PS_PER_MS, 6), series, v });
      out.push({ t: round(z.t / PS_PER_MS, 6), series, v });
    }
  }
  return out;
}

export async function reportPlots(rec: Recorder, result: RunResult, marks: readonly LifecycleMark[] = runMarks(rec, result)): Promise<ReportPlot[]> {
  const snaps = rec.snapshots;
  const warmMs = rec.warmPs / PS_PER_MS, endMs = rec.endPs / PS_PER_MS;
  /** A time plot with the run's lifecycle markers. */
  const timeSpec = (title: string, unit: string, values: Point[], w: number, e: number, step: boolean, counts = false) => timePlot(title, unit, values, w, e, step, counts, marks);
  const metric = (name: string) => (a: Snapshot, z: Snapshot) => new Map(counterSeries(rec, a, z)).get(name) ?? {};
  const perMs = (a: Snapshot, z: Snapshot) => (z.t - a.t) / PS_PER_MS;
  const plots: Array<Omit<ReportPlot, 'vega'> & { spec: vl.TopLevelSpec }> = [];

  // Request/response runs: the latency distribution first, the figure such a run is for.
  if (result.latency) {
    const l = result.latency, series = [{ label: result.scenario, distribution: l.distribution }];
    plots.push({ id: 'plot-latency', title: 'Latency by percentile', note: `${l.transactions} transactions in the measured window; percentile on a 1/(1-p) axis, so the tail gets the room.`, spec: latencyPercentileSpec(series) });
    plots.push({ id: 'plot-latency-hist', title: 'Latency histogram', note: 'Transactions per log-linear bin (each power of two split into 64, about 1.6% wide).', spec: latencyHistogramSpec(series) });
  }
  plots.push({ id: 'plot-tput', title: 'Goodput', note: 'Mb/s delivered to the receiving applications over each sampling period.',
    spec: timeSpec('Goodput', 'Mb/s', steps(snaps, metric('goodput Mb/s')), warmMs, endMs, true) });
  const hosts = rec.b.hosts;
  if (hosts) {
    // A world: one line per host (its accounts are in the hosts' tables); a line per domain of every host would be a tangle.
    plots.push({ id: 'plot-cpu', title: 'CPU by host', note: 'Each host\'s CPU use, 100% = all of that host\'s CPUs busy over the sampling period.',
      spec: timeSpec('CPU by host (100% = the host\'s CPUs)', '%', steps(snaps, metric('CPU % by host')), warmMs, endMs, true) });
  } else {
    plots.push({ id: 'plot-cpu', title: 'CPU by account', note: '100% = all CPUs busy over the sampling period.',
      spec: timeSpec('CPU by account (100% = all CPUs)', '%', steps(snaps, metric('CPU %')), warmMs, endMs, true) });
  }

  // Cycles per packet over the measured window: one bar per domain, stacked by component group.
  const present = new Set<string>();
  const brk: Array<{ domain: string; group: string; order: number; cycles: number }> = [];
  for (const [domain, cats] of Object.entries(result.cyclesPerPacket.byAccountCategory)) {
    const byGroup = new Map<string, number>();
    for (const [cat, v] of Object.entries(cats)) byGroup.set(groupOf(cat), (byGroup.get(groupOf(cat)) ?? 0) + v);
    for (const g of GROUPS) if (byGroup.has(g)) { present.add(g); brk.push({ domain, group: g, order: GROUPS.indexOf(g), cycles: round(byGroup.get(g)!, 1) }); }
  }
  const groups = GROUPS.filter((g) => present.has(g));
  plots.push({ id: 'plot-breakdown', title: 'Cycles per packet by domain and component', note: 'Measured window, per MSS segment of goodput; one colour per component group.',
    spec: {
      $schema: VL_SCHEMA,
      title: 'CPU cycles per packet by domain and component',
      width: 640,
      data: { values: brk },
      params: [{ name: 'zoom', select: { type: 'interval', encodings: ['x'] }, bind: 'scales' }],
      mark: { type: 'bar', tooltip: true },
      encoding: {
        y: { field: 'domain', type: 'nominal', title: null, axis: { labelLimit: 0 } },
        x: { field: 'cycles', type: 'quantitative', title: 'cycles per packet', stack: 'zero' },
        color: { field: 'group', type: 'nominal', title: 'component', scale: { domain: groups, range: groups.map((g) => GROUP_COLORS[GROUPS.indexOf(g)]) }, legend: { labelLimit: 0, symbolLimit: 0 } },
        order: { field: 'order', type: 'quantitative' },
      },
    } });

  // Several guests: each one's goodput over the measured window, and how evenly they shared (Jain's index).
  if (result.perGuest) {
    const g = result.perGuest;
    plots.push({ id: 'plot-guests', title: 'Goodput per guest', note: `Measured window. Jain's fairness index ${g.jainIndex.toFixed(4)} (1: equal shares, 1/${g.mbps.length}: one guest gets everything).`,
      spec: {
        $schema: VL_SCHEMA,
        title: `Goodput per guest (Jain's index ${g.jainIndex.toFixed(4)})`,
        width: 640,
        data: { values: g.mbps.map((mbps, i) => ({ guest: `domU${i + 1}`, order: i, mbps })) },
        mark: { type: 'bar', tooltip: true },
        encoding: {
          y: { field: 'guest', type: 'nominal', title: null, sort: { field: 'order' }, axis: { labelLimit: 0 } },
          x: { field: 'mbps', type: 'quantitative', title: 'Mb/s' },
        },
      } });
  }

  // Ring occupancy: gauges read at each sample (the first sample is time 0); TX solid, RX dashed.
  const vifs = new Set(rec.domains.flatMap((d) => d.vifs));
  const ringPoints = (pick: (name: string) => boolean, tx: string, rx: string): Point[] => snaps.flatMap((s) =>
    Object.entries(s.rings).filter(([name]) => pick(name)).flatMap(([name, r]) => [
      { t: round(s.t / PS_PER_MS, 6), series: name, dash: tx, v: r.tx },
      { t: round(s.t / PS_PER_MS, 6), series: name, dash: rx, v: r.rx },
    ]));
  const vifRings = ringPoints((n) => vifs.has(n), 'TX requests outstanding', 'RX buffers posted');
  if (vifRings.length && hosts) {
    // A world: each host's vifs summed, one line per host.
    const names = hosts.map((h) => h.name);
    const sums = new Map<string, Point>();
    for (const p of vifRings) {
      const series = hostOfActor(p.series, names) ?? p.series, key = `${p.t}|${series}|${p.dash}`;
      const q = sums.get(key);
      if (q) q.v += p.v; else sums.set(key, { ...p, series });
    }
    plots.push({ id: 'plot-rings', title: 'I/O ring occupancy per host', note: 'Read at each sample, summed over each host\'s vifs: TX requests its guests produced that netback has not answered yet, and RX buffers they posted that are not filled yet.',
      spec: timeSpec('I/O channel ring occupancy (each host\'s vifs)', 'ring entries', [...sums.values()], warmMs, endMs, false, true) });
  } else if (vifRings.length) {
    plots.push({ id: 'plot-rings', title: 'I/O ring occupancy', note: 'Read at each sample, per vif: TX requests the guest produced that netback has not answered yet, and RX buffers the guest posted that are not filled yet.',
      spec: timeSpec('I/O channel ring occupancy (per vif)', 'ring entries', vifRings, warmMs, endMs, false, true) });
  }
  // A world's switches: each cabled port's output buffer, read at each sample.
  const far = new Map((rec.b.switches ?? []).flatMap((sw) => sw.ports.map((p, k): [string, string] => [`${sw.name}/p${k}`, p.link.actor])));
  const queued = snaps.flatMap((s) => Object.entries(s.switchQueues ?? {}).map(([port, v]) => ({ t: round(s.t / PS_PER_MS, 6), series: `${port} → ${far.get(port)}`, v })));
  if (queued.length) {
    const limit = rec.b.switches!.map((sw) => `${sw.name} ${sw.cfg.ports[0]?.queueBytes ?? 0} bytes`).join(', ');
    plots.push({ id: 'plot-switch', title: 'Switch port queues', note: `Read at each sample: bytes of frames in each cabled port's output buffer (the frame being sent included), toward the box on that port. Buffer per port: ${limit}; a frame that does not fit is dropped.`,
      spec: timeSpec('Switch output queues (bytes per port)', 'bytes', queued, warmMs, endMs, false) });
  }
  plots.push({ id: 'plot-nic-rings', title: 'NIC ring occupancy', note: 'Read at each sample, per NIC: TX descriptor slots in use and RX buffers posted.',
    spec: timeSpec('NIC descriptor ring occupancy', 'descriptors', ringPoints((n) => !vifs.has(n), 'TX slots in use', 'RX buffers posted'), warmMs, endMs, false, true) });

  // Drops by reason per sampling period; the total is always drawn (a flat zero says none).
  const reasons = [...new Set(snaps.flatMap((s) => Object.keys(s.drops)))].sort();
  plots.push({ id: 'plot-drops', title: 'Drops', note: reasons.length ? `Packets dropped per sampling period, by reason (${reasons.join(', ')}).` : 'No packet was dropped.',
    spec: timeSpec('Packets dropped per sampling period', 'packets', steps(snaps, (a, z) => {
      const out: Record<string, number> = {};
      let total = 0;
      for (const r of reasons) { out[r] = (z.drops[r] ?? 0) - (a.drops[r] ?? 0); total += out[r]; }
      return { total, ...out };
    }), warmMs, endMs, true, true) });

  const rate = (k: string) => (a: Snapshot, z: Snapshot) => round(((z.counters[k] ?? 0) - (a.counters[k] ?? 0)) / perMs(a, z), 2);
  plots.push({ id: 'plot-notify', title: 'Notifications', note: 'Per ms of virtual time over each sampling period: event-channel notifications sent and suppressed (ring said no need), upcalls into guests, physical interrupts.',
    spec: timeSpec('Notifications and interrupts per ms', 'per ms', steps(snaps, (a, z) => ({
      'notifications sent': rate('notificationsSent')(a, z), 'notifications suppressed': rate('notificationsSuppressed')(a, z),
      upcalls: rate('upcalls')(a, z), interrupts: rate('interrupts')(a, z),
    })), warmMs, endMs, true) });

  const out: ReportPlot[] = [];
  for (const p of plots) {
    const vega = await compile(p.spec) as Record<string, unknown>;
    delete vega.$schema; // the page makes no request; the schema address is only a label
    out.push({ id: p.id, title: p.title, note: p.note, vega });
  }
  return out;
}

/** The run's lifecycle markers (lifecycle-marks.ts): its migrations' accounts and its events. */
export function runMarks(rec: Recorder, result: RunResult): LifecycleMark[] {
  return lifecycleMarks(result.migration ?? [], rec.b.lifecycle?.events ?? [], rec.endPs / PS_PER_MS);
}
