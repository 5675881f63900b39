/**
 * Watch one run without changing it. The recorder attaches to a built
 * system before it starts (as its runtime's tap: plain arguments, no object
 * per message) and either streams what it sees to a record log on disk
 * (`log`: memory stays bounded, the log is read back after the run) or keeps
 * it in typed columns (records built when first asked for). It collects:
 *  - every actor's state changes (xstate subscriptions),
 *  - every delivered message (the runtime's trace),
 *  - the hypervisor operations that are function calls rather than messages
 *    (physical interrupts, grant map/unmap/copy, page flips, event-channel
 *    sends): the Xen instance's methods are wrapped to note each call and
 *    then run unchanged,
 *  - every frame put on a wire (the runtime's wire tap),
 *  - periodic samples of counters, CPU ledgers and ring occupancy, taken by
 *    a sampler that only reads state.
 *
 * The sampler is scheduled through the same virtual-time scheduler, on a rank
 * above every actor's, so at any instant it runs after all actor events of
 * that instant and never changes another actor's ordering (the scheduler's
 * order is (time, rank, per-rank counter)). Its deliveries are taken back
 * out of the scheduler's event count, so the run's result, trace hash and
 * event count are exactly those of an unobserved run.
 */
import { runstateOf } from '../domains/domain.js';
import type { TraceRecord } from '../actors/runtime.js';
import { PS_PER_MS, type Ps } from '../actors/scheduler.js';
import { NumberColumn, type Tap } from '../actors/observe.js';
import type { Built } from '../scenario/build.js';
import { runBuilt, type OnProgress, type RunResult } from '../scenario/run.js';
import { Xen } from '../hypervisor/xen.js';
import { DOMID_SELF } from '../hypervisor/grant-table.js';
import { ringDiff } from '../channels/ring.js';
import type { Packet } from '../core/packet.js';
import { accountsByCpu, hostNamesOf, hostParts, wireOwners } from './world.js';
import type { RecordLog } from './record-log.js';

export interface StateChange { t: Ps; actor: string; value: string }

/** A hypervisor operation observed as a call: who asked, on whose behalf, how many. */
export interface OpRecord {
  t: Ps;
  op: 'irq' | 'grantMap' | 'grantDeviceMap' | 'grantUnmap' | 'grantCopy' | 'pageFlip' | 'notify';
  /** Actor that caused it: the calling domain (the NIC for an interrupt). */
  from: string;
  /** Actor on the other side, when there is one (granting domain, flip target, interrupted domain, event channel). */
  to: string | null;
  n: number;
  bytes?: number;
}

export interface WireFrame {
  t: Ps;
  from: string;
  to: string;
  kind: 'data' | 'ack';
  flow: number;
  seq: number;
  len: number;
  ack: number;
  wnd: number;
}

/** Cumulative, monotonic values at one instant (reset-at-warm-up quantities carried across the reset). */
export interface Snapshot {
  t: Ps;
  goodputBytes: number;
  /** Cycles by account (domain names and "xen"). */
  cycles: Record<string, number>;
  counters: Record<string, number>;
  /** Packets dropped, by reason. */
  drops: Record<string, number>;
  /** Per domain: run state, wire bytes sent/received on its flows, memory pages. */
  domains: Record<string, { state: string; txBytes: number; rxBytes: number; pages: number }>;
  /** Occupancy gauges: per vif I/O ring (outstanding TX requests, posted RX buffers), per NIC descriptor rings. */
  rings: Record<string, { tx: number; rx: number }>;
  /** A world's switches: bytes in each cabled port's output buffer (`sw0/p3`). */
  switchQueues?: Record<string, number>;
}

export interface RecordOptions {
  /** Keep every delivered message and operation (for traces and reports). */
  messages?: boolean;
  /** Keep every wire frame (for pcap). */
  wire?: boolean;
  /** Sample on each of these grids (every so many ps), plus at the warm-up boundary and the end. */
  samplePs?: Ps[];
  /** Told how far the run is (see runBuilt). */
  onProgress?: OnProgress;
  /**
   * Write every observation (state changes, messages, operations, frames, samples) to this log as
   * the run goes, to be read back with replay(): memory then stays bounded whatever the run's
   * length. Only what the flags above ask for is also kept in memory (state changes are not).
   */
  log?: RecordLog;
  /** Keep the samples in memory as `snapshots` (default true). */
  keepSamples?: boolean;
}

/** What replay() hands out, record by record in recording order. */
export interface Replay {
  /** `value` is the state's id in the system's interned state values (its JSON: stateValue(id)). */
  state?(t: Ps, actor: string, value: number): void;
  message?(t: Ps, from: string, to: string, type: string, detail: string | undefined): void;
  op?(o: OpRecord): void;
  wire?(f: WireFrame): void;
  sample?(s: Snapshot): void;
}

export interface DomainInfo { name: string; domid: number; cpu: number; vifs: string[] }

export const OPS: ReadonlyArray<OpRecord['op']> = ['irq', 'grantMap', 'grantDeviceMap', 'grantUnmap', 'grantCopy', 'pageFlip', 'notify'];
const OP_CODE = new Map(OPS.map((o, i) => [o, i]));
const FRAME_KINDS: ReadonlyArray<WireFrame['kind']> = ['data', 'ack'];

/** Records kept as columns while the run goes, turned into objects on first read. */
class Columns<R> {
  readonly num: NumberColumn[];
  readonly str: Array<Array<string | undefined>>;
  private built: R[] = [];
  constructor(nums: number, strs: number, private readonly make: (c: Columns<R>, i: number) => R) {
    this.num = Array.from({ length: nums }, () => new NumberColumn());
    this.str = Array.from({ length: strs }, () => []);
  }
  get length(): number { return this.num[0].length; }
  /** Every record so far (the same array while nothing is added). */
  records(): R[] {
    for (let i = this.built.length; i < this.length; i++) this.built.push(this.make(this, i));
    return this.built;
  }
}

export class Recorder {
  readonly initial = new Map<string, string>();
  readonly snapshots: Snapshot[] = [];
  /** Per-domain operation counts over the measured window (always kept). */
  readonly opCounts = new Map<string, Record<string, number>>();
  readonly warmPs: Ps;
  readonly endPs: Ps;
  readonly domains: DomainInfo[];
  readonly actors: Array<{ name: string; kind: string; rank: number }>;
  readonly hostName: string;
  result: RunResult | null = null;
  private readonly flowOwner: string[] = [];
  private readonly wireBytes = new Map<string, { tx: number; rx: number }>();
  /** A domain's wire byte counts; a domain built during the run (a migrated guest's new one) starts at zero. */
  private bytesOf(name: string): { tx: number; rx: number } {
    let w = this.wireBytes.get(name);
    if (!w) this.wireBytes.set(name, (w = { tx: 0, rx: 0 }));
    return w;
  }
  private readonly offset = { cycles: {} as Record<string, number>, counters: {} as Record<string, number>, drops: {} as Record<string, number> };
  private measuring = false;
  /** Each CPU, and the account its Xen time is sampled under (per host in a world). */
  private readonly accounts: ReturnType<typeof accountsByCpu>;

  constructor(readonly b: Built, readonly opts: RecordOptions = {}) {
    const sc = b.sc;
    this.warmPs = Math.round(sc.run.warmupMs * PS_PER_MS);
    this.endPs = this.warmPs + Math.round(sc.run.durationMs * PS_PER_MS);
    this.hostName = b.host.actorName;
    this.accounts = accountsByCpu(b);
    this.actors = [...b.sys.actors.values()].map((a) => ({ name: a.name, kind: a.kind, rank: a.rank }));
    this.domains = b.kernels.map((k) => ({
      name: k.name, domid: k.domid, cpu: k.cpuIndex,
      vifs: b.netfronts.filter((nf) => nf.kernel === k).map((nf) => nf.name.replace(/-front$/, '')),
    }));
    for (const d of this.domains) this.wireBytes.set(d.name, { tx: 0, rx: 0 });
    // Flow f belongs to guest f mod guests in the guest topology, else to the one kernel that owns the NICs.
    const guests = b.kernels.filter((k) => k.domid > 0);
    const flows = sc.topology === 'guest' ? Math.max(sc.machine.nics, guests.length) : sc.machine.nics;
    for (let f = 0; f < flows; f++) this.flowOwner.push(sc.topology === 'guest' ? guests[f % guests.length].name : b.kernels[0].name);

    // State changes of every actor (the initial state is read now, at time 0), messages and wire
    // frames: the runtime's tap.
    for (const a of b.sys.actors.values()) this.initial.set(a.name, JSON.stringify((a.actor.getSnapshot() as { value?: unknown }).value));
    const nicSide: boolean[] = [];
    for (const n of b.nics) nicSide[b.sys.rankOf(n.name)] = true;
    const hosts = hostNamesOf(b), owners = hosts ? wireOwners(b, hosts) : null;
    const { stateCols, messageCols, wireCols } = this;
    const log = opts.log;
    // Each flow's owner's byte counts, found once (a frame's flow indexes them).
    const flowBytes = this.flowOwner.map((o) => this.wireBytes.get(o));
    const countWire = owners
      ? (from: number, to: number, p: Packet) => {
        // A world: the sending NIC's end of the flow sent it, the receiving NIC's end received it.
        const bytes = Math.max(60, p.len + 66);
        const a = owners(p.flow, this.nameOf(from)), z = owners(p.flow, this.nameOf(to));
        if (a) this.bytesOf(a).tx += bytes;
        if (z) this.bytesOf(z).rx += bytes;
      }
      : (from: number, _to: number, p: Packet) => {
        const w = flowBytes[p.flow];
        if (w) { const bytes = Math.max(60, p.len + 66); if (nicSide[from] === true) w.tx += bytes; else w.rx += bytes; }
      };
    const tap: Tap = log ? {
      state: (t, actor, value) => log.state(t, actor, value),
      message: (t, from, to, _type, detail, typeId) => log.message(t, from, to, typeId, detail),
      wire: (t, from, to, frame) => {
        const p = frame as Packet;
        countWire(from, to, p);
        log.wire(t, from, to, p.kind === 'ack' ? 1 : 0, p.flow, p.seq, p.len, p.ack, p.wnd);
      },
    } : {
      state: (t, actor, value) => { stateCols.num[0].push(t); stateCols.num[1].push(actor); stateCols.num[2].push(value); },
      message: opts.messages
        ? (t, from, to, type, detail) => { const n = messageCols.num; n[0].push(t); n[1].push(from); n[2].push(to); messageCols.str[0].push(type); messageCols.str[1].push(detail); }
        : () => {},
      wire: (t, from, to, frame) => {
        const p = frame as Packet;
        countWire(from, to, p);
        if (opts.wire) {
          const n = wireCols.num;
          n[0].push(t); n[1].push(p.kind === 'ack' ? 1 : 0); n[2].push(p.flow); n[3].push(p.seq); n[4].push(p.len); n[5].push(p.ack); n[6].push(p.wnd);
          n[7].push(from); n[8].push(to);
        }
      },
    };
    b.sys.tap(tap);
    this.instrument();
  }

  /** Actor names by rank (read when records are built: actors spawned later are named too). */
  private nameOf(rank: number): string {
    if (this.names.length <= rank) for (const a of this.b.sys.actors.values()) this.names[a.rank] = a.name;
    return this.names[rank];
  }
  private readonly names: string[] = [];
  private readonly stateCols = new Columns<StateChange>(3, 0, (c, i) =>
    ({ t: c.num[0].at(i), actor: this.nameOf(c.num[1].at(i)), value: this.b.sys.stateValues.json[c.num[2].at(i)] }));
  private readonly messageCols = new Columns<TraceRecord>(3, 2, (c, i) =>
    ({ t: c.num[0].at(i), from: this.nameOf(c.num[1].at(i)), to: this.nameOf(c.num[2].at(i)), type: c.str[0][i]!, detail: c.str[1][i] }));
  private readonly wireCols = new Columns<WireFrame>(9, 0, (c, i) => {
    const n = c.num;
    return { t: n[0].at(i), from: this.nameOf(n[7].at(i)), to: this.nameOf(n[8].at(i)), kind: FRAME_KINDS[n[1].at(i)], flow: n[2].at(i), seq: n[3].at(i), len: n[4].at(i), ack: n[5].at(i), wnd: n[6].at(i) };
  });
  private readonly opCols = new Columns<OpRecord>(4, 2, (c, i) => {
    const n = c.num, op = OPS[n[1].at(i)];
    const r: OpRecord = { t: n[0].at(i), op, from: c.str[0][i]!, to: c.str[1][i] ?? null, n: n[2].at(i) };
    if (op === 'grantCopy') r.bytes = n[3].at(i);
    return r;
  });

  /** Every actor's state changes, in order. */
  get states(): StateChange[] { return this.stateCols.records(); }
  /** Every delivered message (with `messages: true`). */
  get trace(): TraceRecord[] { return this.messageCols.records(); }
  /** Every hypervisor operation noted (with `messages: true`). */
  get ops(): OpRecord[] { return this.opCols.records(); }
  /** Every wire frame (with `wire: true`). */
  get wire(): WireFrame[] { return this.wireCols.records(); }

  private note(op: OpRecord['op'], from: string, to: string | null, n: number, bytes = 0): void {
    if (this.measuring) {
      let c = this.opCounts.get(from);
      if (!c) { c = {}; this.opCounts.set(from, c); }
      c[op] = (c[op] ?? 0) + n;
    }
    if (this.opts.log) this.opts.log.op(this.b.sys.sched.now, OP_CODE.get(op)!, from, to, n, bytes);
    else if (this.opts.messages) {
      const num = this.opCols.num;
      num[0].push(this.b.sys.sched.now); num[1].push(OP_CODE.get(op)!); num[2].push(n); num[3].push(bytes);
      this.opCols.str[0].push(from); this.opCols.str[1].push(to ?? undefined);
    }
  }

  /** Wrap the calls that carry the split-driver traffic; each wrapper notes the call and runs the original (no allocation). */
  private instrument(): void {
    for (const h of hostParts(this.b)) this.instrumentHost(h.dispatcher, h.kernels, h.nics);
  }

  /** One host's NICs and hypervisor (each host of a world has its own, and its own domain ids). */
  private instrumentHost(host: Built['host'], kernels: Built['kernels'], nics: Built['nics']): void {
    const domName = new Map(kernels.map((k) => [k.domid, k.name]));
    const owner = kernels[0];
    for (const nic of nics) {
      const raise = nic.raiseIrq;
      const to = host instanceof Xen ? host.actorName : owner.name;
      nic.raiseIrq = () => { this.note('irq', nic.name, to, 1); raise(); };
    }
    if (!(host instanceof Xen)) return;
    type K = { name: string; domid: number };
    type Before = (x: unknown, k: K, arg: any) => void;
    const wrap = (name: string, before: Before) => {
      const self = host as unknown as Record<string, (...a: unknown[]) => unknown>;
      const orig = self[name];
      if (typeof orig !== 'function') return;
      // Fixed arity (every wrapped call takes at most four arguments): no rest array per call.
      self[name] = function (this: unknown, x: unknown, k: unknown, arg: unknown, d: unknown): unknown {
        before(x, k as K, arg);
        return orig.call(this, x, k, arg, d);
      };
    };
    /** The first domain other than the caller (and DOMID_SELF) among the ops' `key` fields, by name. */
    const peer = (caller: K, ops: ReadonlyArray<Record<string, unknown>>, key: string): string | null => {
      for (let i = 0; i < ops.length; i++) {
        const d = ops[i][key] as number;
        if (d !== caller.domid && d !== DOMID_SELF) return domName.get(d) ?? null;
      }
      return null;
    };
    type Copy = { source: { dom: number }; dest: { dom: number }; len: number };
    wrap('grantMap', (_x, k, ops) => this.note('grantMap', k.name, peer(k, ops, 'dom'), ops.length));
    wrap('grantDeviceMap', (_x, k, ops) => this.note('grantDeviceMap', k.name, peer(k, ops, 'dom'), ops.length));
    wrap('grantUnmap', (_x, k, handles: number[]) => this.note('grantUnmap', k.name, null, handles.length));
    wrap('grantCopy', (_x, k, ops: Copy[]) => {
      let bytes = 0, peerDom = -1;
      const other = (d: number) => d !== k.domid && d !== DOMID_SELF;
      for (let i = 0; i < ops.length; i++) {
        bytes += ops[i].len;
        if (peerDom < 0) peerDom = other(ops[i].source.dom) ? ops[i].source.dom : other(ops[i].dest.dom) ? ops[i].dest.dom : -1;
      }
      this.note('grantCopy', k.name, peerDom < 0 ? null : domName.get(peerDom) ?? null, ops.length, bytes);
    });
    wrap('grantTransfer', (_x, k, ops) => this.note('pageFlip', k.name, peer(k, ops, 'domid'), ops.length));
    wrap('evtchnSend', (_x, k, channel: string) => this.note('notify', k.name, channel, 1));
  }

  /** Read-only look at the system now; quantities the run resets after warm-up continue from their offsets. */
  private snapshot(): Snapshot {
    const { b } = this;
    const cycles: Record<string, number> = { ...this.offset.cycles };
    for (const { cpu, xen } of this.accounts) cpu.addAccountTotals(cycles, xen);
    const counters: Record<string, number> = { ...this.offset.counters };
    const all = b.counters as unknown as Record<string, unknown>;
    for (const k of Object.keys(all)) { const v = all[k]; if (typeof v === 'number') counters[k] = (counters[k] ?? 0) + v; }
    const drops: Record<string, number> = { ...this.offset.drops };
    const dr = b.counters.drops as Record<string, number>;
    for (const k of Object.keys(dr)) drops[k] = (drops[k] ?? 0) + dr[k];
    const domains: Snapshot['domains'] = {};
    for (const k of b.kernels) {
      const a = b.sys.actors.get(k.name);
      const w = this.bytesOf(k.name);
      domains[k.name] = {
        state: a ? runstateOf((a.actor.getSnapshot() as { value?: unknown }).value) : '?',
        txBytes: w.tx, rxBytes: w.rx, pages: k.mem.pages(k.domid), // its own host's memory (a world has one per host)
      };
    }
    const rings: Snapshot['rings'] = {};
    for (const nf of b.netfronts) {
      rings[this.vifOf(nf.name)] = {
        tx: ringDiff(nf.tx.sring.reqProd, nf.tx.sring.rspProd),
        rx: ringDiff(nf.rxr.sring.reqProd, nf.rxr.sring.rspProd),
      };
    }
    for (const n of b.nics) rings[n.name] = { tx: n.txSlotsUsed(), rx: n.rxBuffers.length };
    const snap: Snapshot = { t: b.sys.sched.now, goodputBytes: b.goodputBytes(), cycles, counters, drops, domains, rings };
    if (b.switches?.length) snap.switchQueues = Object.fromEntries(b.switches.flatMap((sw) => sw.ports.flatMap((p, k) => (p.link.actor ? [[`${sw.name}/p${k}`, p.bytes]] : []))));
    return snap;
  }

  private readonly vifNames = new Map<string, string>();
  private vifOf(front: string): string {
    let v = this.vifNames.get(front);
    if (v === undefined) { v = front.replace(/-front$/, ''); this.vifNames.set(front, v); }
    return v;
  }

  /** Sample times: the grids, the warm-up boundary and the end. */
  private sampleTimes(grids: Ps[]): Ps[] {
    const set = new Set<Ps>([this.warmPs, this.endPs]);
    for (const every of grids) if (every > 0) for (let t = every; t < this.endPs; t += every) set.add(t);
    return [...set].filter((t) => t > 0).sort((a, z) => a - z);
  }

  /** Run the scenario (start, warm up, measure) while watching it. */
  run(): RunResult {
    const { b } = this;
    const sched = b.sys.sched;
    // A rank above every actor's (and close to them, so the scheduler's per-rank table stays small).
    const rank = b.sys.actors.size + 1000;
    const times = this.sampleTimes(this.opts.samplePs ?? []);
    const log = this.opts.log;
    const keep = (s: Snapshot) => {
      // A sample kept in memory is logged by its index (replay hands out the same object), else as JSON.
      if (this.opts.keepSamples !== false) { log?.kept(this.snapshots.length); this.snapshots.push(s); } else log?.sample(JSON.stringify(s));
      return s;
    };
    keep(this.snapshot());
    if (this.warmPs === 0) this.measuring = true;
    let i = 0;
    const step = () => {
      sched.delivered--; // not a model event: keep the run's event count as if unobserved
      const s = keep(this.snapshot());
      if (s.t === this.warmPs) {
        // runBuilt resets ledgers and counters right after this instant: carry the totals over.
        this.offset.cycles = { ...s.cycles };
        this.offset.counters = { ...s.counters };
        this.offset.drops = { ...s.drops };
        this.measuring = true;
      }
      if (++i < times.length) sched.at(times[i], rank, step);
    };
    if (times.length) sched.at(times[0], rank, step);
    this.result = runBuilt(b, this.opts.onProgress);
    return this.result;
  }

  /** A state value's JSON, by its id. */
  stateValue(id: number): string { return this.b.sys.stateValues.json[id]; }

  /** Read the log back (after the run), record by record in recording order. */
  replay(r: Replay): void {
    const log = this.opts.log;
    if (!log) throw new Error('replay: this recorder has no log');
    log.read({
      state: r.state && ((t, actor, value) => r.state!(t, this.nameOf(actor), value)),
      message: r.message && ((t, from, to, type, detail) => r.message!(t, this.nameOf(from), this.nameOf(to), this.b.sys.messageType(type), detail)),
      op: r.op && ((t, code, from, to, n, bytes) => {
        const op = OPS[code];
        r.op!(op === 'grantCopy' ? { t, op, from, to, n, bytes } : { t, op, from, to, n });
      }),
      wire: r.wire && ((t, from, to, kind, flow, seq, len, ack, wnd) => r.wire!({ t, from: this.nameOf(from), to: this.nameOf(to), kind: FRAME_KINDS[kind], flow, seq, len, ack, wnd })),
      sample: r.sample && ((json) => r.sample!(JSON.parse(json) as Snapshot)),
      kept: r.sample && ((i) => r.sample!(this.snapshots[i])),
    });
  }

  /** Name of the domain owning a flow. */
  ownerOfFlow(flow: number): string | undefined { return this.flowOwner[flow]; }
}
