/**
 * A recorded run as a Chrome / Perfetto trace-event file (JSON object format).
 *
 * Layout (processes and threads in the viewer):
 *  - "CPUs": one thread per CPU; a slice for every stretch a domain runs.
 *    A world of hosts has one "hostN CPUs" process per host, sorted with that
 *    host's actors, host by host (actors of no host, a switch, last).
 *  - one process per actor: a thread per state region (the state as slices;
 *    a parallel machine such as the NIC has one thread per region), and a
 *    "messages" thread: a short slice for each message sent or received and
 *    each hypervisor operation, with flow arrows from sender to receiver
 *    (messages, frames on the wire, physical interrupts, event-channel
 *    notifications, grant maps/unmaps/copies, page flips).
 *  - "metrics": counters sampled periodically: goodput, CPU by account,
 *    I/O ring and NIC ring occupancy, operation rates.
 *
 * Times: `ts`/`dur` are microseconds with nanosecond resolution (the
 * emulator's picoseconds are rounded to ns so that equal instants stay equal
 * after the viewer's own conversion). Output is deterministic.
 */
import { runstateOf } from '../domains/domain.js';
import type { Ps } from '../actors/scheduler.js';
import { machineOf } from './machines.js';
import { leafPaths } from './chart-model.js';
import type { Recorder, Snapshot } from './recorder.js';
import { ChunkWriter } from './files.js';
import { interactions } from './messages.js';
import { hostNamesOf, hostOfActor } from './world.js';

const us = (ps: Ps) => Math.round(ps / 1000) / 1000;
const MSG_DUR = 0.001; // 1 ns: long enough to be a slice a flow can bind to

interface Ev { t: Ps; s: string }

export interface TraceStats { events: number; flows: number; file: string }

/** State label(s) of an actor, split by region for parallel machines: [track suffix, label][] */
function regionLabels(kind: string, value: string): Array<[string, string]> {
  const v = JSON.parse(value) as unknown;
  const root = machineOf(kind)?.root;
  if (root && root.type === 'parallel' && v && typeof v === 'object') {
    const out: Array<[string, string]> = [];
    for (const [region, sub] of Object.entries(v as Record<string, unknown>)) {
      const leaves = leafPaths(sub);
      if (leaves.length) out.push([region, leaves.join(' ')]);
    }
    return out;
  }
  return [['state', leafPaths(v).join(' ')]];
}

export function writeTrace(rec: Recorder, file: string, meta: Record<string, unknown>): TraceStats {
  const evs: Ev[] = [];
  const head: string[] = [];
  const push = (t: Ps, o: Record<string, unknown>) => { evs.push({ t, s: JSON.stringify(o) }); };
  const M = (o: Record<string, unknown>) => head.push(JSON.stringify({ ph: 'M', ts: 0, ...o }));

  // ---- tracks
  // A world: each host's CPUs and actors sorted together, host by host (switches last), its CPUs a process of their own.
  const hosts = hostNamesOf(rec.b) ?? [];
  const hostIx = (name: string) => { const h = hostOfActor(name, hosts); return h === null ? hosts.length : hosts.indexOf(h); };
  const groupBase = (h: number) => 10 + h * (rec.actors.length + 1);
  const CPU_PID = 1, METRICS_PID = 2;
  const cpuPid = (h: number) => (hosts.length ? 1_000_000 + h : CPU_PID);
  for (let h = 0; h < Math.max(1, hosts.length); h++) {
    const pid = cpuPid(h), mine = rec.domains.filter((d) => !hosts.length || hostIx(d.name) === h);
    M({ name: 'process_name', pid, tid: 0, args: { name: hosts.length ? `${hosts[h]} CPUs` : 'CPUs' } });
    M({ name: 'process_sort_index', pid, tid: 0, args: { sort_index: hosts.length ? groupBase(h) : 0 } });
    const ncpu = Math.max(1, ...mine.map((d) => d.cpu + 1));
    for (let c = 0; c < ncpu; c++) {
      M({ name: 'thread_name', pid, tid: c + 1, args: { name: `CPU ${c}` } });
      M({ name: 'thread_sort_index', pid, tid: c + 1, args: { sort_index: c } });
    }
  }
  M({ name: 'process_name', pid: METRICS_PID, tid: 0, args: { name: 'metrics' } });
  M({ name: 'process_sort_index', pid: METRICS_PID, tid: 0, args: { sort_index: 1 } });

  const pidOf = new Map<string, number>();
  const kindOf = new Map<string, string>();
  const tidOf = new Map<string, number>(); // `${actor}/${region}` -> tid
  for (const a of rec.actors) {
    const pid = 10 + a.rank;
    pidOf.set(a.name, pid);
    kindOf.set(a.name, a.kind);
    M({ name: 'process_name', pid, tid: 0, args: { name: `${a.name} (${a.kind})` } });
    M({ name: 'process_sort_index', pid, tid: 0, args: { sort_index: hosts.length ? groupBase(hostIx(a.name)) + 1 + a.rank : 10 + a.rank } });
    const regions = regionLabels(a.kind, rec.initial.get(a.name) ?? '""').map(([r]) => r);
    regions.forEach((r, i) => {
      tidOf.set(`${a.name}/${r}`, pid * 100 + i + 1);
      M({ name: 'thread_name', pid, tid: pid * 100 + i + 1, args: { name: r } });
      M({ name: 'thread_sort_index', pid, tid: pid * 100 + i + 1, args: { sort_index: i } });
    });
    tidOf.set(`${a.name}/messages`, pid * 100 + 99);
    M({ name: 'thread_name', pid, tid: pid * 100 + 99, args: { name: 'messages' } });
    M({ name: 'thread_sort_index', pid, tid: pid * 100 + 99, args: { sort_index: 99 } });
  }
  const end = rec.endPs;

  // ---- state slices, per actor and region
  const byActor = new Map<string, Array<{ t: Ps; value: string }>>();
  for (const a of rec.actors) byActor.set(a.name, [{ t: 0, value: rec.initial.get(a.name) ?? '""' }]);
  for (const s of rec.states) byActor.get(s.actor)?.push({ t: s.t, value: s.value });
  const running: Array<{ cpu: number; dom: string; t0: Ps; t1: Ps }> = [];
  // One CPU track per host and CPU: `cpu` is host * CPUS_PER_HOST + the host's CPU (just the CPU for one host).
  const CPUS_PER_HOST = 1 << 16;
  const cpuOfDomain = new Map(rec.domains.map((d) => [d.name, (hosts.length ? hostIx(d.name) * CPUS_PER_HOST : 0) + d.cpu]));
  for (const [actor, changes] of byActor) {
    const kind = kindOf.get(actor)!;
    const pid = pidOf.get(actor)!;
    const open = new Map<string, { t: Ps; label: string }>();
    const close = (region: string, t: Ps) => {
      const o = open.get(region);
      const tid = tidOf.get(`${actor}/${region}`);
      if (!o || tid === undefined) return;
      push(o.t, { name: o.label, cat: 'state', ph: 'X', ts: us(o.t), dur: Math.max(0, us(t) - us(o.t)), pid, tid, args: { actor, state: o.label } });
      open.delete(region);
    };
    for (const { t, value } of changes) {
      for (const [region, label] of regionLabels(kind, value)) {
        if (open.get(region)?.label === label) continue;
        close(region, t);
        open.set(region, { t, label });
      }
    }
    for (const region of [...open.keys()]) close(region, Math.max(end, open.get(region)!.t));
    if (kind === 'domain') {
      let since: Ps | null = null;
      for (const { t, value } of changes) {
        const isRunning = runstateOf(JSON.parse(value)) === 'running';
        if (isRunning && since === null) since = t;
        else if (!isRunning && since !== null) { running.push({ cpu: cpuOfDomain.get(actor) ?? 0, dom: actor, t0: since, t1: t }); since = null; }
      }
      if (since !== null) running.push({ cpu: cpuOfDomain.get(actor) ?? 0, dom: actor, t0: since, t1: Math.max(end, since) });
    }
  }

  // ---- CPU tracks: which domain runs (a new domain's start ends any stretch still open on that CPU)
  running.sort((a, z) => a.cpu - z.cpu || a.t0 - z.t0 || a.dom.localeCompare(z.dom));
  for (let i = 0; i < running.length; i++) {
    const r = running[i];
    const next = running[i + 1];
    const t1 = next && next.cpu === r.cpu && next.t0 < r.t1 ? next.t0 : r.t1;
    push(r.t0, { name: r.dom, cat: 'cpu', ph: 'X', ts: us(r.t0), dur: Math.max(0, us(t1) - us(r.t0)), pid: cpuPid(Math.floor(r.cpu / CPUS_PER_HOST)), tid: (r.cpu % CPUS_PER_HOST) + 1, args: { domain: r.dom } });
  }

  // ---- messages and operations, with flows
  let flowId = 0;
  const msgSlice = (actor: string, t: Ps, name: string, cat: string, args: Record<string, unknown>) => {
    const pid = pidOf.get(actor);
    const tid = tidOf.get(`${actor}/messages`);
    if (pid === undefined || tid === undefined) return null;
    push(t, { name, cat, ph: 'X', ts: us(t), dur: MSG_DUR, pid, tid, args });
    return { pid, tid };
  };
  const flow = (from: string, t0: Ps, to: string, t1: Ps, name: string, cat: string, args: Record<string, unknown>) => {
    const a = msgSlice(from, t0, name, cat, { ...args, dir: 'out' });
    const b = msgSlice(to, t1, name, cat, { ...args, dir: 'in' });
    if (!a || !b) return;
    const id = ++flowId;
    push(t0, { name, cat, ph: 's', id, ts: us(t0), pid: a.pid, tid: a.tid });
    push(t1, { name, cat, ph: 'f', bp: 'e', id, ts: us(t1), pid: b.pid, tid: b.tid });
  };

  for (const m of interactions(rec)) {
    const args: Record<string, unknown> = { from: m.from, to: m.to ?? '' };
    if (m.detail) args.detail = m.detail;
    if (m.n !== undefined) args.n = m.n;
    if (m.bytes !== undefined) args.bytes = m.bytes;
    const name = m.n !== undefined && m.n > 1 ? `${m.name} x${m.n}` : m.name;
    if (m.to === null || m.to === m.from) msgSlice(m.from, m.t1, name, m.cat, args);
    else flow(m.from, m.t0, m.to, m.t1, name, m.cat, args);
  }

  // ---- counters
  const snaps = rec.snapshots;
  for (let i = 1; i < snaps.length; i++) {
    const [a, z] = [snaps[i - 1], snaps[i]];
    const t = z.t;
    for (const [name, args] of counterSeries(rec, a, z)) push(t, { name, cat: 'metrics', ph: 'C', ts: us(t), pid: METRICS_PID, tid: 0, args });
  }

  // ---- write: metadata, then events by time (stable: a flow start stays right after its slice)
  const order = evs.map((e, i) => i).sort((x, y) => evs[x].t - evs[y].t || x - y);
  const w = new ChunkWriter(file);
  w.write('{"displayTimeUnit":"ns","otherData":');
  w.write(JSON.stringify(meta));
  w.write(',"traceEvents":[\n');
  let first = true;
  for (const s of head) { w.write((first ? '' : ',\n') + s); first = false; }
  for (const i of order) { w.write((first ? '' : ',\n') + evs[i].s); first = false; }
  w.write('\n]}\n');
  w.close();
  return { events: head.length + evs.length, flows: flowId, file };
}

/** Per-interval metrics between two snapshots (also used by the report's plots). */
export function counterSeries(rec: Recorder, a: Snapshot, z: Snapshot): Array<[string, Record<string, number>]> {
  const dt = z.t - a.t;
  if (dt <= 0) return [];
  const secs = dt / 1e12;
  const round = (v: number, d = 2) => Math.round(v * 10 ** d) / 10 ** d;
  const hz = rec.b.cpus.reduce((n, c) => n + c.hz, 0);
  // A world: an account's CPU % is of its own host's CPUs, and each host has its total.
  const hosts = rec.b.hosts ?? [];
  const hostHz = new Map(hosts.map((h) => [h.name, h.cpus.reduce((n, c) => n + c.hz, 0)]));
  const names = hosts.map((h) => h.name);
  const byHost: Record<string, number> = Object.fromEntries(names.map((h) => [h, 0]));
  const cpu: Record<string, number> = {};
  for (const k of Object.keys(z.cycles).sort()) {
    const host = hosts.length ? hostOfActor(k, names) : null;
    const used = (100 * (z.cycles[k] - (a.cycles[k] ?? 0))) / ((host ? hostHz.get(host)! : hz) * secs);
    cpu[k] = round(used, 1);
    if (host) byHost[host] += used;
  }
  const rate = (k: string) => round((z.counters[k] - (a.counters[k] ?? 0)) / (secs * 1000), 2);
  const out: Array<[string, Record<string, number>]> = [
    ['goodput Mb/s', { goodput: round(((z.goodputBytes - a.goodputBytes) * 8) / secs / 1e6, 1) }],
    ['CPU %', cpu],
    ['ops per ms', {
      interrupts: rate('interrupts'), notifications: rate('notificationsSent'), hypercalls: rate('hypercalls'),
      grantMaps: rate('grantMaps'), grantCopies: rate('grantCopies'), pageFlips: rate('pageFlips'), domainSwitches: rate('domainSwitches'),
    }],
  ];
  if (hosts.length) out.splice(2, 0, ['CPU % by host', Object.fromEntries(names.map((h) => [h, round(byHost[h], 1)]))]);
  for (const [name, r] of Object.entries(z.rings)) out.push([`ring ${name}`, { tx: r.tx, rx: r.rx }]);
  for (const [port, bytes] of Object.entries(z.switchQueues ?? {})) out.push([`queue ${port}`, { bytes }]);
  return out;
}
