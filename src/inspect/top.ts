/**
 * xentop- and xenalyze-style views of a recorded run.
 *
 * xentop: one table per sampling period of virtual time, one row per domain
 * (and one for Xen): run state flags as xentop prints them (d s b c p r),
 * CPU seconds so far and CPU % over the period, memory, virtual interfaces
 * and the bytes their flows put on / took off the wire, and ring occupancy
 * (a guest's I/O rings: outstanding TX requests and posted RX buffers; the
 * NIC owner's descriptor rings: TX slots in use and posted RX buffers).
 *
 * xenalyze: per domain over the measured window: time in each run state
 * (running, runnable = waiting for the CPU, blocked), how often it was
 * scheduled, woken and preempted, average run and wait lengths, its cycles by
 * cost category, and the hypervisor operations it asked for.
 */
import { runstateOf } from '../domains/domain.js';
import type { Ps } from '../actors/scheduler.js';
import { table } from '../results/format.js';
import type { Recorder, Snapshot } from './recorder.js';
import { hostOfActor } from './world.js';

export interface TopRow {
  /** A world: the host the domain (or Xen) is on. */
  host?: string;
  name: string; state: string; cpuSec: number; cpuPct: number; memK: number;
  nets: number; netTxK: number; netRxK: number; txRing: number | null; rxRing: number | null;
}
export interface TopSample { tMs: number; phase: 'warm-up' | 'measure'; rows: TopRow[] }

/** xentop's flags: d(ying) s(hutdown) b(locked) c(rashed) p(aused) r(unning). */
const FLAGS = (s: string) => (s === 'running' ? '-----r' : s === 'blocked' ? '--b---' : s === 'paused' ? '----p-'
  : s === 'dying' || s === 'dead' ? 'd-----' : '------');

export function topSamples(rec: Recorder, everyPs: Ps): TopSample[] {
  const snaps = rec.snapshots;
  const out: TopSample[] = [];
  const hz = rec.b.cpus[0]?.hz ?? 1;
  const capacity = rec.b.cpus.reduce((n, c) => n + c.hz, 0);
  // A world: each host's rows together, CPU % of that host's own CPUs, and its Xen's row.
  const hosts = rec.b.hosts;
  const capacityOf = new Map(hosts?.map((h) => [h.name, h.cpus.reduce((n, c) => n + c.hz, 0)]) ?? []);
  const hostOf = (name: string) => (hosts ? hostOfActor(name, hosts.map((h) => h.name)) ?? undefined : undefined);
  let prev: Snapshot = snaps[0];
  for (const s of snaps.slice(1)) {
    if (s.t % everyPs !== 0) continue;
    const secs = (s.t - prev.t) / 1e12;
    const pct = (acct: string) => secs > 0 ? Math.round((1000 * ((s.cycles[acct] ?? 0) - (prev.cycles[acct] ?? 0))) / ((capacityOf.get(hostOf(acct) ?? '') ?? capacity) * secs)) / 10 : 0;
    const rows: TopRow[] = [];
    for (const h of hosts ?? []) {
      const xen = `${h.name}/xen`;
      rows.push({ host: h.name, name: xen, state: '------', cpuSec: (s.cycles[xen] ?? 0) / hz, cpuPct: pct(xen), memK: 0, nets: 0, netTxK: 0, netRxK: 0, txRing: null, rxRing: null });
    }
    if (rec.hostName === 'xen' && !hosts) {
      rows.push({ name: 'xen', state: '------', cpuSec: (s.cycles.xen ?? 0) / hz, cpuPct: pct('xen'), memK: 0, nets: 0, netTxK: 0, netRxK: 0, txRing: null, rxRing: null });
    }
    const nicOwner = rec.domains[0]?.name;
    for (const d of rec.domains) {
      const ds = s.domains[d.name];
      const rings = d.vifs.length ? d.vifs : d.name === nicOwner && rec.b.netfronts.length === 0 ? rec.b.nics.map((n) => n.name) : [];
      rows.push({
        ...(hosts ? { host: hostOf(d.name) } : {}), name: d.name, state: FLAGS(ds.state), cpuSec: (s.cycles[d.name] ?? 0) / hz, cpuPct: pct(d.name),
        memK: ds.pages * 4, nets: d.vifs.length, netTxK: Math.floor(ds.txBytes / 1024), netRxK: Math.floor(ds.rxBytes / 1024),
        txRing: rings.length ? rings.reduce((n, r) => n + (s.rings[r]?.tx ?? 0), 0) : null,
        rxRing: rings.length ? rings.reduce((n, r) => n + (s.rings[r]?.rx ?? 0), 0) : null,
      });
    }
    if (hosts) {
      // Host by host, each with its Xen first (a stable sort keeps each host's domains in order).
      const order = new Map(hosts.map((h, i) => [h.name, i]));
      rows.sort((a, z) => (order.get(a.host ?? '') ?? hosts.length) - (order.get(z.host ?? '') ?? hosts.length));
    }
    out.push({ tMs: s.t / 1e9, phase: s.t <= rec.warmPs ? 'warm-up' : 'measure', rows });
    prev = s;
  }
  return out;
}

export function formatTop(samples: TopSample[], rec: Recorder): string {
  const blocks: string[] = [];
  const head = ['NAME', 'STATE', 'CPU(sec)', 'CPU(%)', 'MEM(k)', 'NETS', 'NETTX(k)', 'NETRX(k)', 'TXRING', 'RXRING'];
  const cells = (r: TopRow) => [r.name, r.state, r.cpuSec.toFixed(6), r.cpuPct.toFixed(1), r.memK || '-', r.nets, r.netTxK, r.netRxK, r.txRing ?? '-', r.rxRing ?? '-'];
  const census = (rows: TopRow[]) => {
    const running = rows.filter((r) => r.state.endsWith('r')).length;
    const blocked = rows.filter((r) => r.state.includes('b')).length;
    const doms = rows.filter((r) => r.name !== 'xen' && !r.name.endsWith('/xen')).length;
    return `${doms} domains: ${running} running, ${blocked} blocked`;
  };
  const hosts = rec.b.hosts;
  for (const s of samples) {
    if (!hosts) {
      blocks.push(`xentop - ${s.tMs.toFixed(3)} ms virtual (${s.phase})   ${census(s.rows)}   ${rec.b.cpus.length} CPU`);
      blocks.push(table(head, s.rows.map(cells), 2));
      blocks.push('');
      continue;
    }
    // A world: one xentop per host, as each host's own xentop would show it (CPU % of its CPUs).
    blocks.push(`xentop - ${s.tMs.toFixed(3)} ms virtual (${s.phase})   ${hosts.length} hosts   ${census(s.rows)}   ${rec.b.cpus.length} CPU`);
    for (const h of hosts) {
      const rows = s.rows.filter((r) => r.host === h.name);
      blocks.push(`[${h.name}]   ${census(rows)}   ${h.cpus.length} CPU`);
      blocks.push(table(head, rows.map(cells), 2));
    }
    blocks.push('');
  }
  return blocks.join('\n');
}

export interface DomainSummary {
  name: string; domid: number; cpu: number;
  runstate: Record<'running' | 'runnable' | 'blocked', { ms: number; pct: number }>;
  runs: number; wakeups: number; preemptions: number; blocks: number;
  avgRunUs: number; avgWaitUs: number;
  cycles: Record<string, number>;
  ops: Record<string, number>;
}

type Runstate = 'running' | 'runnable' | 'blocked';

/**
 * Each domain's run-state history over the measured window [warm-up end, end], tallied change by
 * change (memory: one entry per domain, whatever the run's length).
 */
export class RunstateTally {
  private readonly t0: Ps;
  private readonly t1: Ps;
  private readonly of = new Map<string, {
    t: Ps; st: Runstate; time: Record<string, number>;
    runs: number; wakeups: number; preemptions: number; blocks: number; waits: number;
  }>();
  private readonly runstates = new Map<string, Runstate>();

  constructor(private readonly rec: Recorder) {
    this.t0 = rec.warmPs; this.t1 = rec.endPs;
    for (const d of rec.domains) {
      this.of.set(d.name, { t: 0, st: this.runstate(rec.initial.get(d.name) ?? '"blocked"'), time: { running: 0, runnable: 0, blocked: 0 }, runs: 0, wakeups: 0, preemptions: 0, blocks: 0, waits: 0 });
    }
  }

  private runstate(value: string): Runstate {
    let st = this.runstates.get(value);
    if (st === undefined) { st = runstateOf(JSON.parse(value)) as Runstate; this.runstates.set(value, st); }
    return st;
  }

  /** Time in the previous state up to `until`, clipped to the window. */
  private spend(d: { t: Ps; st: Runstate; time: Record<string, number> }, until: Ps): void {
    const a = Math.max(this.t0, d.t), z = Math.min(this.t1, until);
    if (z > a) d.time[d.st] = (d.time[d.st] ?? 0) + (z - a);
  }

  /** An actor's state (JSON value) from time t; actors that are not domains are ignored. */
  state(t: Ps, actor: string, value: string): void {
    const d = this.of.get(actor);
    if (!d) return;
    const st = this.runstate(value);
    this.spend(d, t);
    if (t > this.t0 && t <= this.t1) {
      if (st === 'running') d.runs++;
      if (st === 'runnable' && d.st === 'blocked') { d.wakeups++; d.waits++; }
      if (st === 'runnable' && d.st === 'running') { d.preemptions++; d.waits++; }
      if (st === 'blocked') d.blocks++;
    }
    d.t = t; d.st = st;
  }

  /** xenalyze-like per-domain summary of the measured window. */
  summaries(): DomainSummary[] {
    const { rec } = this;
    const win = Math.max(1, this.t1 - this.t0);
    return rec.domains.map((dom) => {
      const d = this.of.get(dom.name)!;
      const time = { ...d.time };
      this.spend({ ...d, time }, this.t1);
      const cycles: Record<string, number> = {};
      for (const cpu of rec.b.cpus) for (const [cat, n] of cpu.ledger.get(dom.name) ?? []) cycles[cat] = (cycles[cat] ?? 0) + n;
      for (const k of Object.keys(cycles)) cycles[k] = Math.round(cycles[k]);
      const ms = (ps: number) => Math.round(ps / 1e6) / 1e3;
      const pct = (ps: number) => Math.round((1000 * ps) / win) / 10;
      return {
        name: dom.name, domid: dom.domid, cpu: dom.cpu,
        runstate: {
          running: { ms: ms(time.running), pct: pct(time.running) },
          runnable: { ms: ms(time.runnable), pct: pct(time.runnable) },
          blocked: { ms: ms(time.blocked), pct: pct(time.blocked) },
        },
        runs: d.runs, wakeups: d.wakeups, preemptions: d.preemptions, blocks: d.blocks,
        avgRunUs: d.runs ? Math.round(time.running / d.runs / 1e4) / 100 : 0,
        avgWaitUs: d.waits ? Math.round(time.runnable / d.waits / 1e4) / 100 : 0,
        cycles: Object.fromEntries(Object.entries(cycles).sort((a, z) => z[1] - a[1] || a[0].localeCompare(z[0]))),
        ops: Object.fromEntries(Object.entries(rec.opCounts.get(dom.name) ?? {}).sort(([a], [z]) => a.localeCompare(z))),
      };
    });
  }
}

/** The summaries of a recorder that kept its state changes in memory. */
export function domainSummaries(rec: Recorder): DomainSummary[] {
  const tally = new RunstateTally(rec);
  for (const s of rec.states) tally.state(s.t, s.actor, s.value);
  return tally.summaries();
}

export function formatSummaries(sums: DomainSummary[], rec: Recorder): string {
  const lines: string[] = [`per-domain summary (xenalyze-style), measured window ${(rec.warmPs / 1e9).toFixed(3)}–${(rec.endPs / 1e9).toFixed(3)} ms`];
  for (const s of sums) {
    lines.push('');
    lines.push(`${s.name} (domid ${s.domid}, cpu ${s.cpu})`);
    lines.push(table(['runstate', 'ms', '%'], (['running', 'runnable', 'blocked'] as const).map((k) => [k, s.runstate[k].ms.toFixed(3), s.runstate[k].pct.toFixed(1)])).replace(/^/gm, '  '));
    lines.push(`  scheduled ${s.runs}x (avg run ${s.avgRunUs} us), woken ${s.wakeups}x, preempted ${s.preemptions}x (avg wait ${s.avgWaitUs} us), blocked ${s.blocks}x`);
    const total = Object.values(s.cycles).reduce((n, v) => n + v, 0);
    const top = Object.entries(s.cycles).slice(0, 6).map(([k, v]) => `${k} ${total ? ((100 * v) / total).toFixed(1) : '0'}%`).join(', ');
    lines.push(`  cycles ${total}${top ? `: ${top}` : ''}`);
    const ops = Object.entries(s.ops).map(([k, v]) => `${k} ${v}`).join(', ');
    lines.push(`  operations: ${ops || 'none'}`);
  }
  return lines.join('\n');
}
