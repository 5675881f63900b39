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
import type { Interaction } from './messages.js';
import { ExternalSorter } from './external-sort.js';
import { hostNamesOf, hostOfActor } from './world.js';

const us = (ps: Ps) => Math.round(ps / 1000) / 1000;
const MSG_DUR = 0.001; // 1 ns: long enough to be a slice a flow can bind to
const CPU_PID = 1, METRICS_PID = 2;

export interface TraceStats { events: number; flows: number; file: string; /** Sorted runs spilled to disk (0: sorted in memory). */ spilledRuns: number }

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

const STATE = 0, CPU = 2 ** 40, MESSAGES = 2 ** 41, COUNTERS = 2 ** 42;

/** A domain's stretch on a CPU; its end is cut at the next stretch's start on that CPU (see TraceBuilder). */
interface Stretch { cpu: number; dom: string; rank: number; seq: number; t0: Ps; t1?: Ps; nextT0?: Ps }

// One CPU track per host and CPU: a CPU number is host * CPUS_PER_HOST + the host's CPU (just the CPU for one host).
const CPUS_PER_HOST = 1 << 16;

/**
 * The trace built as a run's log is read back (states, interactions, samples, in recording order).
 * Events are keyed as the whole-run writer ordered them: by time, then state slices (by actor, in
 * the order each actor's slices end), CPU slices (by CPU, domain name, order), messages and
 * operations, counters; an external sort puts them in that order, so memory stays bounded.
 */
export class TraceBuilder {
  private readonly head: string[] = [];
  private readonly sort: ExternalSorter;
  private readonly actors = new Map<string, { idx: number; kind: string; pid: number; seq: number; open: Map<string, { t: Ps; label: string }> }>();
  private readonly tidOf = new Map<string, number>(); // `${actor}/${region}` -> tid
  private readonly labels = new Map<string, Array<[string, string]>>(); // `${kind}|${value}`
  private readonly isRunning = new Map<string, boolean>(); // by value
  private readonly since = new Map<string, Stretch>();
  private readonly stretches = new Map<number, Stretch[]>(); // by CPU: not yet written
  private readonly domRank: Map<string, number>;
  private readonly cpuOfDomain: Map<string, number>;
  /** Dense rank of each CPU number, in CPU number order: the sort key's CPU part must stay below 2^20 (a world's CPU numbers do not). */
  private readonly cpuRank: Map<number, number>;
  private readonly cpuPid: (host: number) => number;
  private domSeq = new Map<string, number>();
  private msgSeq = 0;
  private counterSeq = 0;
  private flowId = 0;
  private prev: Snapshot | null = null;

  constructor(private readonly rec: Recorder, o: { tempPrefix: string; what: string; budgetBytes?: number }) {
    this.sort = new ExternalSorter(o);
    const M = (o: Record<string, unknown>) => this.head.push(JSON.stringify({ ph: 'M', ts: 0, ...o }));
    // ---- tracks
    // A world: each host's CPUs and actors sorted together, host by host (switches last), its CPUs a process of their own.
    const hosts = hostNamesOf(rec.b) ?? [];
    const hostIx = (name: string) => { const h = hostOfActor(name, hosts); return h === null ? hosts.length : hosts.indexOf(h); };
    const groupBase = (h: number) => 10 + h * (rec.actors.length + 1);
    const cpuPid = (h: number) => (hosts.length ? 1_000_000 + h : CPU_PID);
    this.cpuPid = cpuPid;
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
    rec.actors.forEach((a, idx) => {
      const pid = 10 + a.rank;
      this.actors.set(a.name, { idx, kind: a.kind, pid, seq: 0, open: new Map() });
      M({ name: 'process_name', pid, tid: 0, args: { name: `${a.name} (${a.kind})` } });
      M({ name: 'process_sort_index', pid, tid: 0, args: { sort_index: hosts.length ? groupBase(hostIx(a.name)) + 1 + a.rank : 10 + a.rank } });
      const regions = this.regionsOf(a.kind, rec.initial.get(a.name) ?? '""').map(([r]) => r);
      regions.forEach((r, i) => {
        this.tidOf.set(`${a.name}/${r}`, pid * 100 + i + 1);
        M({ name: 'thread_name', pid, tid: pid * 100 + i + 1, args: { name: r } });
        M({ name: 'thread_sort_index', pid, tid: pid * 100 + i + 1, args: { sort_index: i } });
      });
      this.tidOf.set(`${a.name}/messages`, pid * 100 + 99);
      M({ name: 'thread_name', pid, tid: pid * 100 + 99, args: { name: 'messages' } });
      M({ name: 'thread_sort_index', pid, tid: pid * 100 + 99, args: { sort_index: 99 } });
    });
    const doms = rec.actors.filter((a) => a.kind === 'domain').map((a) => a.name);
    this.domRank = new Map([...doms].sort((a, z) => a.localeCompare(z)).map((d, i) => [d, i]));
    this.cpuOfDomain = new Map(rec.domains.map((d) => [d.name, (hosts.length ? hostIx(d.name) * CPUS_PER_HOST : 0) + d.cpu]));
    this.cpuRank = new Map([...new Set(this.cpuOfDomain.values())].sort((x, y) => x - y).map((c, i) => [c, i]));
    for (const a of rec.actors) this.state(0, a.name, rec.initial.get(a.name) ?? '""');
  }

  private regionsOf(kind: string, value: string): Array<[string, string]> {
    const key = `${kind}|${value}`;
    let l = this.labels.get(key);
    if (!l) { l = regionLabels(kind, value); this.labels.set(key, l); }
    return l;
  }

  private close(actor: string, a: { idx: number; pid: number; seq: number; open: Map<string, { t: Ps; label: string }> }, region: string, t: Ps): void {
    const o = a.open.get(region);
    const tid = this.tidOf.get(`${actor}/${region}`);
    if (!o || tid === undefined) return;
    this.sort.add(o.t, STATE + a.idx, a.seq++, JSON.stringify({ name: o.label, cat: 'state', ph: 'X', ts: us(o.t), dur: Math.max(0, us(t) - us(o.t)), pid: a.pid, tid, args: { actor, state: o.label } }));
    a.open.delete(region);
  }

  /** An actor's state (its JSON value) from time t: the slices it ends, and a domain's stretches on its CPU. */
  state(t: Ps, actor: string, value: string): void {
    const a = this.actors.get(actor);
    if (!a) return;
    for (const [region, label] of this.regionsOf(a.kind, value)) {
      if (a.open.get(region)?.label === label) continue;
      this.close(actor, a, region, t);
      a.open.set(region, { t, label });
    }
    if (a.kind !== 'domain') return;
    let run = this.isRunning.get(value);
    if (run === undefined) { run = runstateOf(JSON.parse(value)) === 'running'; this.isRunning.set(value, run); }
    const open = this.since.get(actor);
    if (run && !open) this.start(actor, t);
    else if (!run && open) { open.t1 = t; this.since.delete(actor); this.flushCpu(open.cpu); }
  }

  /** A domain starts running on its CPU: stretches that started before now learn their successor's start. */
  private start(dom: string, t: Ps): void {
    const cpu = this.cpuOfDomain.get(dom) ?? 0;
    const seq = this.domSeq.get(dom) ?? 0;
    this.domSeq.set(dom, seq + 1);
    const s: Stretch = { cpu, dom, rank: this.domRank.get(dom) ?? 0, seq, t0: t };
    this.since.set(dom, s);
    let list = this.stretches.get(cpu);
    if (!list) { list = []; this.stretches.set(cpu, list); }
    this.settle(list, t);
    list.push(s);
    this.flushCpu(cpu);
  }

  /** The stretches without a successor all began at one instant: in (domain, order), each is followed by the next, the last by `next`. */
  private settle(list: Stretch[], next: Ps): void {
    const group = list.filter((s) => s.nextT0 === undefined);
    if (!group.length || group[0].t0 === next) return;
    group.sort((a, z) => a.rank - z.rank || a.seq - z.seq);
    for (let i = 0; i < group.length; i++) group[i].nextT0 = i + 1 < group.length ? group[i].t0 : next;
  }

  /** Write the stretches of this CPU whose end and successor are known. */
  private flushCpu(cpu: number): void {
    const list = this.stretches.get(cpu);
    if (!list) return;
    const keep: Stretch[] = [];
    for (const r of list) {
      if (r.t1 === undefined || r.nextT0 === undefined) { keep.push(r); continue; }
      const t1 = r.nextT0 < r.t1 ? r.nextT0 : r.t1;
      this.sort.add(r.t0, CPU + (this.cpuRank.get(r.cpu) ?? 0) * 2 ** 20 + r.rank, r.seq,
        JSON.stringify({ name: r.dom, cat: 'cpu', ph: 'X', ts: us(r.t0), dur: Math.max(0, us(t1) - us(r.t0)), pid: this.cpuPid(Math.floor(r.cpu / CPUS_PER_HOST)), tid: (r.cpu % CPUS_PER_HOST) + 1, args: { domain: r.dom } }));
    }
    this.stretches.set(cpu, keep);
  }

  private msgSlice(actor: string, t: Ps, name: string, cat: string, args: Record<string, unknown>): { pid: number; tid: number } | null {
    const pid = this.actors.get(actor)?.pid;
    const tid = this.tidOf.get(`${actor}/messages`);
    if (pid === undefined || tid === undefined) return null;
    this.sort.add(t, MESSAGES, this.msgSeq++, JSON.stringify({ name, cat, ph: 'X', ts: us(t), dur: MSG_DUR, pid, tid, args }));
    return { pid, tid };
  }

  /** A message or operation: a slice on each side and a flow arrow between them. */
  interaction(m: Interaction): void {
    const args: Record<string, unknown> = { from: m.from, to: m.to ?? '' };
    if (m.detail) args.detail = m.detail;
    if (m.n !== undefined) args.n = m.n;
    if (m.bytes !== undefined) args.bytes = m.bytes;
    const name = m.n !== undefined && m.n > 1 ? `${m.name} x${m.n}` : m.name;
    if (m.to === null || m.to === m.from) { this.msgSlice(m.from, m.t1, name, m.cat, args); return; }
    const a = this.msgSlice(m.from, m.t0, name, m.cat, { ...args, dir: 'out' });
    const b = this.msgSlice(m.to, m.t1, name, m.cat, { ...args, dir: 'in' });
    if (!a || !b) return;
    const id = ++this.flowId;
    this.sort.add(m.t0, MESSAGES, this.msgSeq++, JSON.stringify({ name, cat: m.cat, ph: 's', id, ts: us(m.t0), pid: a.pid, tid: a.tid }));
    this.sort.add(m.t1, MESSAGES, this.msgSeq++, JSON.stringify({ name, cat: m.cat, ph: 'f', bp: 'e', id, ts: us(m.t1), pid: b.pid, tid: b.tid }));
  }

  /** A sample: the counters over the period since the previous one. */
  sample(z: Snapshot): void {
    const a = this.prev;
    this.prev = z;
    if (!a) return;
    for (const [name, args] of counterSeries(this.rec, a, z)) this.sort.add(z.t, COUNTERS, this.counterSeq++, JSON.stringify({ name, cat: 'metrics', ph: 'C', ts: us(z.t), pid: METRICS_PID, tid: 0, args }));
  }

  /** The run is over: close what is open (at the end), then write metadata and events in order. */
  write(file: string, meta: Record<string, unknown>): TraceStats {
    const end = this.rec.endPs;
    for (const [actor, a] of this.actors) for (const region of [...a.open.keys()]) this.close(actor, a, region, Math.max(end, a.open.get(region)!.t));
    for (const s of this.since.values()) s.t1 = Math.max(end, s.t0);
    this.since.clear();
    for (const [cpu, list] of this.stretches) { this.settle(list, Infinity); this.flushCpu(cpu); }
    const w = new ChunkWriter(file);
    let first = true;
    try {
      w.write('{"displayTimeUnit":"ns","otherData":');
      w.write(JSON.stringify(meta));
      w.write(',"traceEvents":[\n');
      for (const s of this.head) { w.write((first ? '' : ',\n') + s); first = false; }
      this.sort.drain((s) => { w.write((first ? '' : ',\n') + s); first = false; });
      w.write('\n]}\n');
      w.close();
    } catch (e) { w.abort(); this.sort.dispose(); throw e; }
    return { events: this.head.length + this.sort.count, flows: this.flowId, file, spilledRuns: this.sort.spilled };
  }

  /** Give up: remove temporary files. */
  dispose(): void { this.sort.dispose(); }
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
