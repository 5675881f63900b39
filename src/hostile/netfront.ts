/**
 * An adversarial guest's netfront (docs/protocol.md 5.2). It is an ordinary
 * Netfront (its guest's TCP traffic still goes through it) that can also do
 * anything a guest kernel can do with its own memory and hypercalls: write
 * arbitrary slots and indices into the shared rings, lie in XenStore, play
 * with its grant entries and event channels, and call the grant-table
 * operations on anything. It never touches the driver domain's or another
 * guest's private state: everything goes through shared pages and Xen.
 *
 * A guest kernel crash stays in the guest: an exception thrown by the
 * adversary's own code stops the adversary, not the machine.
 */
import type { ActorSystem } from '../actors/runtime.js';
import { PS_PER_US } from '../actors/scheduler.js';
import type { Kernel } from '../domains/kernel.js';
import type { Exec } from '../core/exec.js';
import type { Packet } from '../core/packet.js';
import { HDR_LEN } from '../core/packet.js';
import type { Xen } from '../hypervisor/xen.js';
import { GTF, type GrantTable } from '../hypervisor/grant-table.js';
import type { Port } from '../hypervisor/event-channel.js';
import { note, type Counters } from '../model/counters.js';
import { Netfront } from '../channels/netfront.js';
import type { SharedRing } from '../channels/ring.js';
import {
  NETTXF, XEN_NETIF_EXTRA_FLAG_MORE, XEN_NETIF_EXTRA_TYPE, XEN_NETIF_GSO_TYPE,
  type TxExtra, type TxRequest, type TxSlot, type VifFeatures, type VifRings,
} from '../channels/netif.js';
import type { Xs } from '../domains/xenstored.js';
import type { Netback } from '../channels/netback.js';

export interface HostileSpec { guest: number; vif: number; behaviour: string; variant: number; startUs: number; periodUs: number }

/** What the adversary can reach: its own kernel, shared pages, XenStore, Xen. */
export interface HostileEnv {
  sys: ActorSystem;
  xen: Xen;
  /** The guest's own XenStore connection: its writes go through xenstored and fire the backend's watch. */
  xs: Xs;
  front: string;
  back: string;
  rings: VifRings;
  ringPages: Map<number, SharedRing<unknown, unknown>>;
  port: Port;
  mac: string;
  dom0: Kernel;
  kernels: Kernel[];
  /** xenbus_switch_state: write our state node (the backend's watch fires) and take the state. */
  switchState(s: number): void;
}

/** First grant ref the adversary uses for its own crafted requests (the honest netfront's refs are below). */
export const ATTACK_REF_BASE = 3072;
const ATTACK_FRAMES = 48;

export class HostileNetfront extends Netfront {
  /** Switches a behaviour flips to misbehave in the honest paths. */
  mute = false;              // never send event-channel notifications
  skipTxCompletions = false; // never process TX responses (hoard)
  skipRx = false;            // never consume RX responses
  noRefill = false;          // never post RX buffers
  crashed = false;
  /** Extra work after each poll (e.g. scribbling event thresholds). */
  afterPoll: ((x: Exec) => void) | null = null;
  /** Called on every RX response the adversary reads (H26 inspects them). */
  onRxResponse: ((r: object, frame: number) => void) | null = null;
  onTxResponse: ((r: object) => void) | null = null;

  /** Our stack's packets handed to us are outside the ledger from here on (we are the adversary). */
  override xmit(x: Exec, p: Packet): boolean {
    if (this.crashed) { this.counters.pkt.sunk++; p.release?.(x); return true; }
    const ok = super.xmit(x, p);
    if (ok) this.counters.pkt.sunk++;
    return ok;
  }
  /** A packet we pass up re-enters the system as a new one (the backend counted it as handed to us). */
  protected override deliverUp(x: Exec, p: Packet): void {
    this.counters.pkt.created++;
    this.rx(x, p);
  }
  protected override protocolError(): void { /* our own bookkeeping is not an oracle */ }
  protected override notify(x: Exec, push: { notify: boolean }): void {
    if (this.mute || this.crashed) return;
    super.notify(x, push);
  }
  override refill(x: Exec): void {
    if (this.noRefill || this.crashed) return;
    this.guard(() => super.refill(x));
  }
  override onEvent(x: Exec): void {
    if (this.crashed) return;
    super.onEvent(x);
  }
  protected override poll(x: Exec): void {
    if (this.crashed) { this.napiComplete(); return; }
    this.guard(() => {
      if (this.skipTxCompletions || this.skipRx || this.onRxResponse || this.onTxResponse) this.pollSelective(x);
      else super.poll(x);
      this.afterPoll?.(x);
    });
  }

  /** A poll that skips what the behaviour does not want to process, and shows responses to the behaviour. */
  private pollSelective(x: Exec): void {
    this.napiComplete();
    if (!this.skipTxCompletions) {
      const r = this.tx;
      // Peek at TX responses for the behaviour, then let the honest path consume them.
      if (this.onTxResponse) for (let i = r.rspCons; i !== r.sring.rspProd >>> 0; i = (i + 1) >>> 0) {
        const s = r.sring.slots[i & (r.size - 1)];
        if (s.rsp) this.onTxResponse(s.rsp);
        if (((i - r.rspCons) >>> 0) > r.size) break;
      }
    }
    if (this.skipTxCompletions && this.skipRx) return;
    if (this.onRxResponse && !this.skipRx) {
      const r = this.rxr;
      for (let i = r.rspCons; i !== r.sring.rspProd >>> 0; i = (i + 1) >>> 0) {
        const s = r.sring.slots[i & (r.size - 1)];
        const b = s.rsp ? this.rxById.get(s.rsp.id) : undefined;
        if (s.rsp) this.onRxResponse(s.rsp, b ? b.frame : -1);
        if (((i - r.rspCons) >>> 0) > r.size) break;
      }
    }
    if (this.skipTxCompletions) {
      // Consume RX only: hide the TX ring from the honest poll by pretending no TX response exists.
      const saved = this.tx.sring.rspProd;
      this.tx.sring.rspProd = this.tx.rspCons;
      try { super.poll(x); } finally { this.tx.sring.rspProd = saved; }
      return;
    }
    if (this.skipRx) {
      const saved = this.rxr.sring.rspProd;
      this.rxr.sring.rspProd = this.rxr.rspCons;
      try { super.poll(x); } finally { this.rxr.sring.rspProd = saved; }
      return;
    }
    super.poll(x);
  }

  /** The adversary's own code failing crashes the adversary (its guest), never the machine. */
  guard(fn: () => void): void {
    if (this.crashed) return;
    try { fn(); } catch (e) {
      this.crashed = true;
      note(this.counters, 'hostile-guest-crashed');
      this.crash = (e as Error).message;
    }
  }
  crash: string | null = null;

  // ----------------------------------------------------------- raw ring access

  /** Write a slot at our private producer, whatever the ring holds (no overfill check). */
  putRaw(slot: TxSlot): void {
    const r = this.tx;
    r.sring.slots[r.reqProdPvt & (r.size - 1)] = { req: slot };
    r.reqProdPvt = (r.reqProdPvt + 1) >>> 0;
  }
  /** Publish our private producer and notify if the backend asked for it (unless muted). */
  publishTx(x: Exec): void {
    this.notify(x, this.tx.pushRequests());
  }
  /** Publish the RX producer and notify per the ring rule (unless muted). */
  pushRx(x: Exec): void { this.notify(x, this.rxr.pushRequests()); }
  /** Room the honest accounting thinks the ring has. */
  txRoom(): number { return this.tx.freeRequests(); }
  /** Pages of our TX packets the backend has not answered yet. */
  txFramesInFlight(): number[] { return [...new Set(this.txById.values())].flatMap((f) => f.pkt.frames); }
}

/** What the expectations see of a finished run (the oracle's view, not the adversary's). */
export interface Outcome {
  h: Hostile;
  nb: Netback;
  /** The vif's backend directory in XenStore. */
  back: string;
  counters: Counters;
  /** The run reached quiescence (no event pending). */
  quiescent: boolean;
  /** Grant mappings the driver domain still holds on this guest's grants. */
  dom0Mappings: number;
}

/** One entry of the catalogue (behaviours.ts): what the adversary does, and what it expects of the backend. */
export interface Behaviour {
  id: string;
  title: string;
  /** The catalogue's invariants for this behaviour. */
  invariants: string;
  /** Sub-cases (the scenario's `variant` picks one, modulo this). */
  variants: number;
  publish?(h: Hostile): void;
  setup?(h: Hostile): void;
  step?(h: Hostile, x: Exec, n: number): void;
  teardown?(h: Hostile): void;
  /** Failures (empty when the driver domain and Xen did what they must). */
  expect(o: Outcome): string[];
}

/** The adversary of one vif: the netfront, the behaviour, and its timers. */
export class Hostile {
  env!: HostileEnv;
  active = false;
  steps = 0;
  /** What the adversary saw come back (statuses, responses): its expectations read this. */
  readonly log: Record<string, unknown[]> = {};
  /** Pool of frames and grant refs for crafted requests. */
  private frames: number[] = [];
  private nextRef = ATTACK_REF_BASE;
  private nextId = 0x8000;
  /** Per-behaviour scratch state. */
  readonly state: Record<string, unknown> = {};

  constructor(readonly spec: HostileSpec, readonly behaviour: Behaviour, readonly nf: HostileNetfront) {}
  get variant(): number { return this.spec.variant % this.behaviour.variants; }
  get kernel(): Kernel { return this.nf.kernel; }
  get gt(): GrantTable { return this.nf.gt; }
  get counters(): Counters { return this.nf.counters; }
  record(key: string, v: unknown): void { (this.log[key] ??= []).push(v); }

  attach(env: HostileEnv): void { this.env = env; }
  /** The frontend's half of the XenBus handshake (honest unless the behaviour lies, H3/H20). */
  publish(): void {
    if (this.behaviour.publish) this.behaviour.publish(this);
    else this.honestPublish();
    // The adversary is in place before anything runs (the first RX refill included).
    for (let i = 0; i < ATTACK_FRAMES; i++) this.frames.push(this.kernel.allocFrame());
    this.behaviour.setup?.(this);
  }
  honestPublish(): void {
    const e = this.env;
    this.nf.publish(e.xs, e.front, e.rings, e.port.port, e.mac);
  }

  start(): void {
    this.active = true;
    const e = this.env;
    const tick = () => {
      if (!this.active || this.nf.crashed) return;
      const n = this.steps++;
      this.kernel.post({ name: `hostile-${this.spec.behaviour}`, run: (x) => this.nf.guard(() => this.behaviour.step?.(this, x, n)) }, 'irq');
      e.sys.sched.after(this.spec.periodUs * PS_PER_US, e.sys.rankOf(this.kernel.name), tick);
    };
    if (this.behaviour.step) e.sys.sched.after(this.spec.startUs * PS_PER_US, e.sys.rankOf(this.kernel.name), tick);
  }
  stop(): void {
    this.active = false;
    this.behaviour.teardown?.(this);
  }
  /** Run fn as guest work after delayUs (the adversary's own timers). */
  later(delayUs: number, fn: (x: Exec) => void): void {
    const e = this.env;
    e.sys.sched.after(Math.round(delayUs * PS_PER_US), e.sys.rankOf(this.kernel.name), () => {
      if (!this.nf.crashed) this.kernel.post({ name: `hostile-${this.spec.behaviour}`, run: (x) => this.nf.guard(() => fn(x)) }, 'irq');
    });
  }

  // ------------------------------------------------------------ crafting

  /** A grant ref of our own attack range whose entry is free to (re)use. */
  ref(): number {
    for (let i = 0; i < 1024; i++) {
      const r = this.nextRef;
      this.nextRef = this.nextRef + 1 >= this.gt.entries.length ? ATTACK_REF_BASE : this.nextRef + 1;
      const e = this.gt.entries[r];
      if (!(e.flags & (GTF.reading | GTF.writing))) return r;
    }
    throw new Error('adversary out of grant refs');
  }
  frame(i: number): number { return this.frames[i % this.frames.length]; }
  id(): number { const v = this.nextId; this.nextId = this.nextId >= 0xfffe ? 0x8000 : this.nextId + 1; return v; }
  /**
   * The flow crafted packets claim: none that exists, so whatever the driver domain forwards is dropped
   * at the bridge ('bridge-no-port') instead of feeding junk to some TCP connection.
   */
  flow(): number { return 1_000_000 + this.kernel.domid; }
  /** Grant a frame of ours to the backend (read-only unless asked) under a fresh attack ref. */
  grant(frame: number, readonly = true, to = 0): number {
    const r = this.ref();
    this.gt.grantAccess(r, to, frame, readonly);
    return r;
  }

  /**
   * Build one TX packet: the first slot carries `sizes[0]` bytes of its own (its request says the
   * total), then one slot per further size. Options bend it: extras after the first, offsets, a bad
   * gref for one slot, a truncated chain (the last slot still says more_data), explicit totals.
   */
  packet(o: {
    sizes: number[]; offsets?: number[]; extras?: TxExtra[]; total?: number; truncate?: boolean;
    grefs?: Array<number | undefined>; ids?: number[]; gso?: boolean; flow?: number;
  }): TxSlot[] {
    const n = o.sizes.length;
    const sum = o.sizes.reduce((a, b) => a + b, 0);
    const total = o.total ?? sum;
    const len = Math.max(0, total - HDR_LEN);
    const mss = 1448;
    const extras = [...(o.extras ?? [])];
    if (o.gso ?? (len > mss && !o.extras)) extras.unshift({ extra: true, type: XEN_NETIF_EXTRA_TYPE.GSO, flags: 0, gsoSize: mss, gsoType: XEN_NETIF_GSO_TYPE.TCPV4 });
    for (let i = 0; i < extras.length - 1; i++) extras[i] = { ...extras[i], flags: extras[i].flags | XEN_NETIF_EXTRA_FLAG_MORE };
    const slots: TxSlot[] = [];
    for (let i = 0; i < n; i++) {
      const fr = this.frame(i);
      if (i === 0) this.kernel.mem.contents.set(fr, { id: 0, flow: o.flow ?? this.flow(), reply: false, kind: 'data', seq: 0, len, ack: 0, wnd: 65535, mss, csum: 'done', frames: [], owner: this.kernel.domid, cold: undefined, release: undefined, data: undefined });
      const gref = o.grefs?.[i] ?? this.grant(fr);
      const more = i < n - 1 || o.truncate ? NETTXF.more_data : 0;
      const req: TxRequest = {
        gref, offset: o.offsets?.[i] ?? 0, id: o.ids?.[i] ?? this.id(),
        flags: more | (i === 0 && extras.length ? NETTXF.extra_info : 0), size: i === 0 ? total : o.sizes[i],
      };
      slots.push(req);
      if (i === 0) slots.push(...extras);
    }
    return slots;
  }
  /** Put slots on the TX ring (whatever room the ring has) and publish them. */
  push(x: Exec, slots: TxSlot[]): void {
    x.cost('netfrontTxPerPacket');
    for (const s of slots) this.nf.putRaw(s);
    this.counters.txRingRequests += slots.length;
    this.nf.publishTx(x);
  }
  /** Room for n more slots without overwriting requests the backend has not answered. */
  room(n: number): boolean { return this.nf.txRoom() >= n; }
}
