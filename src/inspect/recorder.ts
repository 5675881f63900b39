/**
 * Watch one run without changing it. The recorder attaches to a built
 * system before it starts and collects:
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
import type { Built } from '../scenario/build.js';
import { runBuilt, type OnProgress, type RunResult } from '../scenario/run.js';
import { Xen } from '../hypervisor/xen.js';
import { DOMID_SELF } from '../hypervisor/grant-table.js';
import { ringDiff } from '../channels/ring.js';
import type { Packet } from '../core/packet.js';

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
}

export interface DomainInfo { name: string; domid: number; cpu: number; vifs: string[] }

export class Recorder {
  readonly states: StateChange[] = [];
  private readonly messages: TraceRecord[] = [];
  readonly initial = new Map<string, string>();
  readonly ops: OpRecord[] = [];
  readonly wire: WireFrame[] = [];
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
  private readonly offset = { cycles: {} as Record<string, number>, counters: {} as Record<string, number>, drops: {} as Record<string, number> };
  private measuring = false;

  constructor(readonly b: Built, readonly opts: RecordOptions = {}) {
    const sc = b.sc;
    this.warmPs = Math.round(sc.run.warmupMs * PS_PER_MS);
    this.endPs = this.warmPs + Math.round(sc.run.durationMs * PS_PER_MS);
    this.hostName = b.host.actorName;
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
    // frames: subscribers of the runtime's streams.
    for (const a of b.sys.actors.values()) this.initial.set(a.name, JSON.stringify((a.actor.getSnapshot() as { value?: unknown }).value));
    b.sys.states$.subscribe(({ t, actor, value }) => { this.states.push({ t, actor, value }); });
    if (opts.messages) b.sys.messages$.subscribe(({ t, from, to, type, detail }) => { this.messages.push({ t, from, to, type, detail }); });
    const nicSide = new Set(b.nics.map((n) => n.name));
    b.sys.wire$.subscribe(({ t, from, to, frame }) => {
      const p = frame as Packet;
      const owner = this.flowOwner[p.flow];
      const bytes = Math.max(60, p.len + 66);
      const w = owner ? this.wireBytes.get(owner) : undefined;
      if (w) { if (nicSide.has(from)) w.tx += bytes; else w.rx += bytes; }
      if (opts.wire) this.wire.push({ t, from, to, kind: p.kind, flow: p.flow, seq: p.seq, len: p.len, ack: p.ack, wnd: p.wnd });
    });
    this.instrument();
  }

  /** Every delivered message (with `messages: true`). */
  get trace(): TraceRecord[] { return this.messages; }

  private note(r: OpRecord): void {
    if (this.measuring) {
      const c = this.opCounts.get(r.from) ?? {};
      c[r.op] = (c[r.op] ?? 0) + r.n;
      this.opCounts.set(r.from, c);
    }
    if (this.opts.messages) this.ops.push(r);
  }

  /** Wrap the calls that carry the split-driver traffic; each wrapper notes the call and runs the original. */
  private instrument(): void {
    const { b } = this;
    const now = () => b.sys.sched.now;
    const domName = new Map(b.kernels.map((k) => [k.domid, k.name]));
    const host = b.host;
    const owner = b.kernels[0];
    for (const nic of b.nics) {
      const raise = nic.raiseIrq;
      nic.raiseIrq = () => {
        this.note({ t: now(), op: 'irq', from: nic.name, to: host instanceof Xen ? host.actorName : owner.name, n: 1 });
        raise();
      };
    }
    if (!(host instanceof Xen)) return;
    type K = { name: string; domid: number };
    const wrap = <A extends unknown[], R>(name: string, before: (...args: A) => void) => {
      const self = host as unknown as Record<string, (...a: A) => R>;
      const orig = self[name];
      if (typeof orig !== 'function') return;
      self[name] = function (this: unknown, ...args: A): R { before(...args); return orig.apply(this, args); };
    };
    const peerOf = (doms: number[], caller: K) => {
      const d = doms.find((x) => x !== caller.domid && x !== DOMID_SELF);
      return d === undefined ? null : domName.get(d) ?? null;
    };
    wrap('grantMap', (_x: unknown, k: K, ops: Array<{ dom: number }>) =>
      this.note({ t: now(), op: 'grantMap', from: k.name, to: peerOf(ops.map((o) => o.dom), k), n: ops.length }));
    wrap('grantDeviceMap', (_x: unknown, k: K, ops: Array<{ dom: number }>) =>
      this.note({ t: now(), op: 'grantDeviceMap', from: k.name, to: peerOf(ops.map((o) => o.dom), k), n: ops.length }));
    wrap('grantUnmap', (_x: unknown, k: K, handles: number[]) =>
      this.note({ t: now(), op: 'grantUnmap', from: k.name, to: null, n: handles.length }));
    wrap('grantCopy', (_x: unknown, k: K, ops: Array<{ source: { dom: number }; dest: { dom: number }; len: number }>) =>
      this.note({ t: now(), op: 'grantCopy', from: k.name, to: peerOf(ops.flatMap((o) => [o.source.dom, o.dest.dom]), k), n: ops.length, bytes: ops.reduce((s, o) => s + o.len, 0) }));
    wrap('grantTransfer', (_x: unknown, k: K, ops: Array<{ domid: number }>) =>
      this.note({ t: now(), op: 'pageFlip', from: k.name, to: peerOf(ops.map((o) => o.domid), k), n: ops.length }));
    wrap('evtchnSend', (_x: unknown, k: K, channel: string) =>
      this.note({ t: now(), op: 'notify', from: k.name, to: channel, n: 1 }));
  }

  /** Read-only look at the system now; quantities the run resets after warm-up continue from their offsets. */
  private snapshot(): Snapshot {
    const { b } = this;
    const cycles: Record<string, number> = { ...this.offset.cycles };
    for (const cpu of b.cpus) for (const [acct, cats] of cpu.ledger) {
      let n = 0;
      for (const v of cats.values()) n += v;
      cycles[acct] = (cycles[acct] ?? 0) + n;
    }
    const counters: Record<string, number> = { ...this.offset.counters };
    for (const [k, v] of Object.entries(b.counters)) if (typeof v === 'number') counters[k] = (counters[k] ?? 0) + v;
    const drops: Record<string, number> = { ...this.offset.drops };
    for (const [k, v] of Object.entries(b.counters.drops)) drops[k] = (drops[k] ?? 0) + v;
    const domains: Snapshot['domains'] = {};
    for (const k of b.kernels) {
      const a = b.sys.actors.get(k.name);
      const w = this.wireBytes.get(k.name)!;
      domains[k.name] = {
        state: a ? runstateOf((a.actor.getSnapshot() as { value?: unknown }).value) : '?',
        txBytes: w.tx, rxBytes: w.rx, pages: b.mem.pages(k.domid),
      };
    }
    const rings: Snapshot['rings'] = {};
    for (const nf of b.netfronts) {
      rings[nf.name.replace(/-front$/, '')] = {
        tx: ringDiff(nf.tx.sring.reqProd, nf.tx.sring.rspProd),
        rx: ringDiff(nf.rxr.sring.reqProd, nf.rxr.sring.rspProd),
      };
    }
    for (const n of b.nics) rings[n.name] = { tx: n.txSlotsUsed(), rx: n.rxBuffers.length };
    return { t: b.sys.sched.now, goodputBytes: b.goodputBytes(), cycles, counters, drops, domains, rings };
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
    this.snapshots.push(this.snapshot());
    if (this.warmPs === 0) this.measuring = true;
    let i = 0;
    const step = () => {
      sched.delivered--; // not a model event: keep the run's event count as if unobserved
      const s = this.snapshot();
      this.snapshots.push(s);
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

  /** Name of the domain owning a flow. */
  ownerOfFlow(flow: number): string | undefined { return this.flowOwner[flow]; }
}
