/**
 * netback: the driver domain's end of one vif, a bridge port.
 * Transmit (guest -> wire): take requests off the TX ring, validate them,
 * and either map the guest's pages into the driver domain (Xen 2.0) or pin
 * them for device DMA and copy only the header (the paper's I/O channel);
 * responses go back once the NIC has sent the packet and the grants are gone.
 * Receive (wire -> guest): flip the page holding the packet to the guest in
 * exchange for a fresh one (Xen 2.0), or grant-copy it into a page the guest
 * granted (the paper's I/O channel).
 *
 * The frontend is not trusted (xen-protocol.md 2.10, 5.2): every ring index
 * and slot is read once into private memory and validated like Linux netback
 * does; a fatal violation disables the vif, and the rest of the driver domain
 * goes on. Spurious events are answered with a late, exponentially delayed EOI
 * (4.6); packets queued for a guest that posts no buffers expire, and a stalled
 * queue drops its carrier (XSA-392).
 */
import type { Exec, Kernel, Task } from '../domains/kernel.js';
import type { NetDevice, NetFeatures } from '../domains/netdev.js';
import { HDR_LEN, ETH_HLEN, type Packet } from '../domains/packet.js';
import type { Xen } from '../hypervisor/xen.js';
import { GNTMAP, GNTST, type GrantOps } from '../hypervisor/grant-table.js';
import type { Port, PortTable } from '../hypervisor/event-channel.js';
import { drop, note, type Counters } from '../model/counters.js';
import { BackRing, SharedRing, ringDiff } from './ring.js';
import { TAG, tlbTag } from '../hardware/tlb.js';
import {
  BACKEND_EDGES, FATAL_SKB_SLOTS, NETIF_RSP, NETRXF, NETTXF, NET_CTRL_RING_SIZE, XEN_NETBK_MAX_HASH_KEY_SIZE,
  XEN_NETBK_MAX_HASH_MAPPING_SIZE, XEN_NETBK_MCAST_MAX, XEN_NETIF_CTRL_HASH_ALGORITHM, XEN_NETIF_CTRL_HASH_TYPES,
  XEN_NETIF_CTRL_STATUS, XEN_NETIF_CTRL_TYPE, XEN_NETIF_EXTRA_FLAG_MORE, XEN_NETIF_EXTRA_TYPE, XEN_NETIF_GSO_TYPE,
  XEN_NETIF_NR_SLOTS_MIN, XenbusState, isExtra, pageWords,
  type CtrlRequest, type CtrlResponse, type RxRequest, type RxResponse, type TxExtra, type TxRequest, type TxResponse,
  type TxSlot, type VifFeatures, type VifRings, type XenStore,
} from './netif.js';

export type TxMode = 'map' | 'noremap';
/** How a copying receiver is served: the driver domain maps the guest's buffer and copies (ATC 2006), or Xen copies (GNTTABOP_copy, Xen >= 3.0.4). */
export type RxCopyVia = 'map' | 'gnttab';

interface PendingTx {
  /** Data slots consumed (the first, then the following ones): each gets exactly one response. */
  slots: TxRequest[];
  /** Extra-info slots after the first: each gets a NETIF_RSP_NULL response. */
  extras: number;
  /** Slots whose pages are mapped: the first and every non-empty following one (XSA-448: no zero-size frags). */
  map: TxRequest[];
  /** Bytes of the packet held by the first slot (its size minus the following slots'). */
  own: number;
  gso: TxExtra | null;
  handles: number[];
}

export const COPY_LEN = 128; // XEN_NETBACK_TX_COPY_LEN
const PAGE = 4096;

/** Reading a slot as the C structs do: every field at its width (a tx request is u32 gref, u16 offset/flags/id/size). */
function asRequest(s: TxSlot): TxRequest {
  if (isExtra(s)) {
    // An extra-info slot where a request was expected: the same 12 bytes read as netif_tx_request.
    return { gref: ((s.type & 0xff) | ((s.flags & 0xff) << 8) | ((s.gsoSize & 0xffff) << 16)) >>> 0, offset: s.gsoType & 0xff, flags: 0, id: 0, size: 0 };
  }
  return { gref: s.gref >>> 0, offset: s.offset & 0xffff, flags: s.flags & 0xffff, id: s.id & 0xffff, size: s.size & 0xffff };
}
function asExtra(s: TxSlot): TxExtra {
  if (!isExtra(s)) {
    // A request slot where an extra was expected: netif_extra_info {u8 type, u8 flags, u16 gso.size, u8 gso.type...}.
    const g = s.gref >>> 0;
    return { extra: true, type: g & 0xff, flags: (g >>> 8) & 0xff, gsoSize: (g >>> 16) & 0xffff, gsoType: s.offset & 0xff };
  }
  return { extra: true, type: s.type & 0xff, flags: s.flags & 0xff, gsoSize: s.gsoSize & 0xffff, gsoType: s.gsoType & 0xff, addr: s.addr, hashType: s.hashType };
}
const ZERO_TX: () => TxSlot = () => ({ gref: 0, offset: 0, flags: 0, id: 0, size: 0 });
const ZERO_RX: () => RxRequest = () => ({ id: 0, gref: 0 });
const ZERO_CTRL: () => CtrlRequest = () => ({ id: 0, type: 0, data: [0, 0, 0] });
const MAC_RE = /^[0-9a-f]{2}(:[0-9a-f]{2}){5}$/i;

/** What the bytes of a packet are (the rest of a Packet is the driver domain's own bookkeeping, never written to a guest: I10). */
function packetBytes(p: Packet): Packet {
  return { id: p.id, flow: p.flow, kind: p.kind, seq: p.seq, len: p.len, ack: p.ack, wnd: p.wnd, mss: p.mss, csum: p.csum, frames: [], owner: -1, cold: undefined, release: undefined };
}

/**
 * The driver domain's pending-request slots (MAX_PENDING_REQS = 256), shared by
 * every vif as in the single-threaded netback of Xen 2.0/3.0: a slot holds one
 * in-flight TX data slot (and its grant handle) until the NIC is done with it.
 */
export class PendingPool {
  free: number;
  private waiting: Netback[] = [];
  constructor(readonly size = 256) { this.free = size; }
  /** Reserve n slots; vifs that had to wait are served first-come first-served, so none starves. */
  take(n: number, nb: Netback): boolean {
    const i = this.waiting.indexOf(nb);
    if (n > this.free || i > 0 || (i < 0 && this.waiting.length > 0)) {
      if (i < 0) this.waiting.push(nb);
      return false;
    }
    if (i === 0) this.waiting.shift();
    this.free -= n;
    return true;
  }
  /** Return slots; the first waiting vif is kicked once enough are free for a worst-case packet. */
  give(n: number, x: Exec, reserve = FATAL_SKB_SLOTS + 1): void {
    this.free += n;
    if (this.waiting.length && this.free >= reserve) this.waiting[0].kick(x);
  }
  /** A vif that goes away stops waiting (and the next one gets its turn). */
  forget(nb: Netback, x: Exec | null): void {
    const i = this.waiting.indexOf(nb);
    if (i < 0) return;
    this.waiting.splice(i, 1);
    if (i === 0 && x) this.give(0, x);
  }
}

/** Timers of the driver domain (virtual time in ps). */
export interface NetbackClock { now(): number; after(delayPs: number, fn: () => void): void }
export interface NetbackOptions {
  /** Packets queued for the guest longer than this are dropped (Linux rx drain timeout, 10 s). */
  rxDrainUs: number;
  /** A queue that could not deliver for this long drops its carrier (Linux stall timeout, 60 s). */
  rxStallUs: number;
  /** Without feature-rx-notify the backend re-checks the RX ring this often while packets wait. */
  rxPollUs: number;
  /** Late-EOI delay unit for spurious events (a jiffy). */
  lateEoiTickUs: number;
}
export const NETBACK_DEFAULTS: NetbackOptions = { rxDrainUs: 10_000_000, rxStallUs: 60_000_000, rxPollUs: 30_000, lateEoiTickUs: 1_000 };

export class Netback implements NetDevice {
  rx: (x: Exec, p: Packet) => void = () => {};
  wake: (x: Exec) => void = () => {};
  tx: BackRing<TxSlot, TxResponse>;
  rxr: BackRing<RxRequest, RxResponse>;
  ctrl: BackRing<CtrlRequest, CtrlResponse> | null = null;
  private rxQueue: Packet[] = [];
  private rxQueuedAt: number[] = [];
  private txQueued = false;
  private rxQueued = false;
  private doneQueued = false;
  private ctrlQueued = false;
  private done: PendingTx[] = [];
  /** Requests still available in this TX pass (one read of req_prod per pass, I7). */
  private avail = 0;
  /** Slots taken in this TX pass, for the bounded-work invariant (I3). */
  private passSlots = 0;
  /** Set on a fatal protocol violation (2.10): the vif stops, the rest of the driver domain goes on. */
  disabled: string | null = null;

  // ---- XenBus connection (2.9) ----
  state: number = XenbusState.InitWait;
  /** Every backend state change, for the state-machine invariant (I11). */
  readonly transitions: Array<[number, number]> = [];
  connected = false;
  error: string | null = null;
  private ringHandles: number[] = [];
  private rxNotify = true;
  /** Frontend asked to connect while a disconnect still waits for in-flight packets. */
  private reconnect: (() => void) | null = null;
  /** TX packets forwarded whose pages the NIC still uses. */
  txInflight = 0;

  // ---- receive queue health ----
  carrier = true;
  private lastRxProgress = 0;
  private rxTimer = false;

  // ---- event channel (late EOI) ----
  port: Port | null = null;
  portTable: PortTable | null = null;
  private spurious = 0;

  // ---- per-vif tables, bounded (I8) ----
  readonly mcast = new Set<string>();
  readonly hash = { flags: 0, alg: 0, key: [] as number[], size: 0, mapping: [] as number[] };

  // ---- accounting (read by the stress oracles; never changes behaviour) ----
  /** The packet ledger treats this vif's frontend as outside the system (a hostile guest). */
  adversary = false;
  txUnits = 0;
  rxUnitsOk = 0;
  readonly stats = { events: 0, spuriousEvents: 0, txPasses: 0, maxTxSlotsPerPass: 0, maxGrantOpsPerPass: 0, maxRxPerPass: 0, maxCtrlPerPass: 0, zeroSizeFrags: 0, rxQueued: 0, maxRxQueue: 0, slotsTaken: 0 };
  rxQueueLength(): number { return this.rxQueue.length; }

  clock: NetbackClock | null = null;
  opts: NetbackOptions = { ...NETBACK_DEFAULTS };
  /**
   * Validations of 2.10, all on. Mutation tests switch one off to make a deliberately broken netback
   * and check that the stress properties catch it.
   */
  readonly checks = { producer: true, slotLimits: true, pageBounds: true, extras: true };

  constructor(
    readonly name: string,
    readonly kernel: Kernel,
    readonly xen: Xen,
    readonly guestDom: number,
    readonly rings: VifRings,
    readonly feat: VifFeatures,
    readonly txMode: TxMode,
    readonly rxCopyVia: RxCopyVia,
    readonly channel: string,
    readonly counters: Counters,
    readonly pending: PendingPool,
    readonly budget = 64,
    readonly rxQueueLimit = 256,
  ) {
    this.tx = new BackRing(rings.tx, 0, ZERO_TX);
    this.rxr = new BackRing(rings.rx, 0, ZERO_RX);
    this.txTask = { name: `${name}-tx`, run: (x) => this.txAction(x) };
    this.txDoneTask = { name: `${name}-tx-done`, run: (x) => this.flushTxDone(x) };
    this.rxTask = { name: `${name}-rx`, run: (x) => this.rxAction(x) };
    this.ctrlTask = { name: `${name}-ctrl`, run: (x) => this.ctrlAction(x) };
  }
  // Work items for our kernel, made once: each is queued at most once at a time (txQueued etc.).
  private readonly txTask: Task;
  private readonly txDoneTask: Task;
  private readonly rxTask: Task;
  private readonly ctrlTask: Task;
  features(): NetFeatures { return { sg: this.feat.sg, csum: this.feat.csum, tso: this.feat.tso }; }

  private notify(x: Exec, push: { notify: boolean }): void {
    if (push.notify) this.xen.evtchnSend(x, this.kernel, this.channel, 'b');
    else this.counters.notificationsSuppressed++;
  }

  private disable(reason: string): void {
    if (this.disabled) return;
    this.disabled = reason;
    note(this.counters, `vif-disabled:${reason}`);
    // Carrier off (XSA-90: done later by the RX thread in Linux): whatever was queued for the guest goes.
    this.purgeRx('vif-disabled');
  }

  private purgeRx(reason: string): void {
    if (!this.rxQueue.length) return;
    const q = this.rxQueue.splice(0);
    this.rxQueuedAt.length = 0;
    drop(this.counters, reason, q.length);
    for (const p of q) this.freePacketNow(p);
  }

  // ------------------------------------------------------------- XenBus

  private setState(to: number): void {
    // Walk the allowed edges (2.9), shortest path, like Linux's set_backend_state.
    const path = this.pathTo(to);
    for (const s of path) { this.transitions.push([this.state, s]); this.state = s; }
  }
  private pathTo(to: number): number[] {
    const prev = new Map<number, number>([[this.state, -1]]);
    const q = [this.state];
    while (q.length) {
      const s = q.shift()!;
      if (s === to) break;
      for (const n of BACKEND_EDGES[s] ?? []) if (!prev.has(n)) { prev.set(n, s); q.push(n); }
    }
    if (!prev.has(to)) return [];
    const out: number[] = [];
    for (let s = to; s !== this.state; s = prev.get(s)!) out.unshift(s);
    return out;
  }
  private fatal(xs: XenStore, back: string, msg: string): false {
    this.error = msg;
    xs.write(`${back}/error`, msg);
    note(this.counters, `xenbus-fatal:${msg.split(' ')[0]}`);
    this.setState(XenbusState.Closing);
    xs.write(`${back}/state`, this.state);
    return false;
  }

  /**
   * The frontend switched to Connected: read and check its keys, map the ring pages, bind the event
   * channel (2.9 step 4). Done by the toolstack-time handshake, outside any CPU slice. Any failure
   * ends in Closing with an error node and nothing left mapped (H3, H20; I5, I11).
   */
  connect(xs: XenStore, front: string, back: string, gops: GrantOps, ringAt: (frame: number) => SharedRing<unknown, unknown> | undefined, expectPort: number): boolean {
    if (this.connected) return true;
    if (this.txInflight > 0 || this.ringHandles.length) { // still tearing the last connection down
      this.reconnect = () => this.connect(xs, front, back, gops, ringAt, expectPort);
      return false;
    }
    if (this.state === XenbusState.Closing || this.state === XenbusState.Closed) this.setState(XenbusState.InitWait);
    const num = (k: string): number | null => {
      const v = xs.read(`${front}/${k}`);
      return v !== undefined && /^\d{1,10}$/.test(v) && Number(v) <= 0xffffffff ? Number(v) : null;
    };
    const nq = xs.read(`${front}/multi-queue-num-queues`);
    if (nq !== undefined) {
      const n = num('multi-queue-num-queues');
      if (n === null || n === 0) return this.fatal(xs, back, 'guest requested 0 or malformed queues');
      if (n > 1) return this.fatal(xs, back, `guest requested ${n} queues, exceeding the maximum of 1`);
    }
    const txRef = num('tx-ring-ref'), rxRef = num('rx-ring-ref');
    if (txRef === null || rxRef === null) return this.fatal(xs, back, 'reading ring-ref');
    const evt = num('event-channel');
    if (evt === null) return this.fatal(xs, back, 'reading event-channel');
    const rxCopy = xs.read(`${front}/request-rx-copy`) ?? '0';
    if (rxCopy !== '0' && rxCopy !== '1') return this.fatal(xs, back, 'reading request-rx-copy');
    if (rxCopy !== (this.feat.rxCopy ? '1' : '0')) return this.fatal(xs, back, 'request-rx-copy does not match this backend\'s receive path');
    const mac = xs.read(`${front}/mac`);
    if (mac !== undefined && !MAC_RE.test(mac)) return this.fatal(xs, back, 'parsing mac');
    this.rxNotify = xs.read(`${front}/feature-rx-notify`) === '1';

    // Map the ring pages (writable) and attach to them; undo everything on any failure.
    const handles: number[] = [];
    const undo = (msg: string) => { for (const h of handles) gops.unmap(this.kernel.domid, h); return this.fatal(xs, back, msg); };
    const mapRing = (ref: number) => {
      const r = gops.map(this.kernel.domid, { dom: this.guestDom, ref, flags: GNTMAP.host_map });
      if (r.status !== GNTST.okay) return null;
      handles.push(r.handle!);
      return r.frame!;
    };
    const txF = mapRing(txRef);
    const rxF = txF === null ? null : mapRing(rxRef);
    if (txF === null || rxF === null) return undo('mapping shared-frames');
    const txS = (ringAt(txF) ?? new SharedRing(this.rings.size)) as SharedRing<TxSlot, TxResponse>;
    const rxS = (ringAt(rxF) ?? new SharedRing(this.rings.size)) as SharedRing<RxRequest, RxResponse>;
    // BACK_RING_ATTACH at the published rsp_prod; refuse a ring claiming more requests than fit (1.2).
    for (const s of [txS, rxS]) {
      const rspProd = s.rspProd >>> 0, reqProd = s.reqProd >>> 0;
      if (s.size !== this.rings.size || ringDiff(reqProd, rspProd) > s.size) return undo('ring claims more requests than its size');
    }
    if (evt !== expectPort) return undo('binding event channel');
    let ctrl: BackRing<CtrlRequest, CtrlResponse> | null = null;
    if (xs.read(`${front}/ctrl-ring-ref`) !== undefined) {
      const cref = num('ctrl-ring-ref');
      const cF = cref === null ? null : mapRing(cref);
      if (cF === null) return undo('mapping ctrl-ring');
      const cS = (ringAt(cF) ?? new SharedRing(NET_CTRL_RING_SIZE)) as SharedRing<CtrlRequest, CtrlResponse>;
      if (cS.size !== NET_CTRL_RING_SIZE || ringDiff(cS.reqProd >>> 0, cS.rspProd >>> 0) > cS.size) return undo('ctrl ring claims more requests than its size');
      ctrl = new BackRing(cS, cS.rspProd >>> 0, ZERO_CTRL);
    }
    this.tx = new BackRing(txS, txS.rspProd >>> 0, ZERO_TX);
    this.rxr = new BackRing(rxS, rxS.rspProd >>> 0, ZERO_RX);
    this.ctrl = ctrl;
    this.ringHandles = handles;
    this.connected = true;
    this.disabled = null;
    this.carrier = true;
    this.error = null;
    this.setState(XenbusState.Connected);
    xs.write(`${back}/state`, this.state);
    return true;
  }

  /** The frontend's state key changed (a XenStore watch fired). */
  frontendChanged(xs: XenStore, back: string, s: number, connect: () => boolean, x: Exec | null): void {
    switch (s) {
      case XenbusState.Initialising: case XenbusState.InitWait: case XenbusState.Initialised:
        if (this.state === XenbusState.Closed) this.setState(XenbusState.InitWait);
        break;
      case XenbusState.Connected:
        if (this.state !== XenbusState.Connected) connect();
        break;
      case XenbusState.Closing:
        this.disconnect(x);
        this.setState(XenbusState.Closing);
        break;
      case XenbusState.Closed: case XenbusState.Unknown:
        this.disconnect(x);
        this.setState(XenbusState.Closed);
        break;
      default: // 7, 8 are not used by netif; anything else is garbage
        this.disconnect(x);
        this.fatal(xs, back, `saw state ${s} at frontend`);
    }
    xs.write(`${back}/state`, this.state);
  }

  /**
   * Tear the connection down: nothing more is taken from the rings, queued packets are dropped,
   * and the ring pages are unmapped once the NIC is done with every in-flight packet (I5).
   */
  disconnect(x: Exec | null): void {
    if (!this.connected) return;
    this.connected = false;
    this.purgeRx('vif-disconnected');
    this.pending.forget(this, x);
    this.maybeUnmapRings();
  }
  private maybeUnmapRings(): void {
    if (this.connected || this.txInflight > 0 || !this.ringHandles.length) return;
    for (const h of this.ringHandles) this.xen.grants.unmap(this.kernel.domid, h);
    this.ringHandles = [];
    this.ctrl = null;
    const again = this.reconnect;
    this.reconnect = null;
    again?.();
  }
  /** Grant mappings this vif holds for its ring pages. */
  ringMappings(): number { return this.ringHandles.length; }

  // ------------------------------------------------------------- events

  /** Work an event could be for (Linux: the TX/RX/ctrl interrupt handlers' "have work" tests). */
  private hasWork(): boolean {
    if (!this.connected || this.disabled) return false;
    return this.tx.unconsumedRequests() > 0
      || ((this.rxQueue.length > 0 || !this.carrier) && this.rxr.unconsumedRequests() > 0)
      || (this.ctrl !== null && this.ctrl.unconsumedRequests() > 0);
  }

  /** Event from the frontend: new TX requests, new RX buffers, control requests. */
  onEvent(x: Exec): void {
    this.stats.events++;
    const useful = this.hasWork();
    this.kick(x);
    if (useful) { this.spurious = 0; return; }
    // Late EOI (4.6, XSA-332): from the second spurious event in a row, re-enable the port only after
    // 2^(n-2) ticks, capped at one second, so an event storm costs the driver domain almost nothing.
    this.stats.spuriousEvents++;
    if (++this.spurious < 2 || !this.port || !this.portTable || !this.clock) return;
    const delayUs = Math.min(2 ** Math.min(this.spurious - 2, 30) * this.opts.lateEoiTickUs, 1_000_000);
    const port = this.port, table = this.portTable;
    table.mask(port);
    this.clock.after(delayUs * 1e6, () => { if (this.port === port) table.unmask(port); });
  }

  /** Schedule whatever work there is (also used by the pending pool when slots come back). */
  kick(_x: Exec): void {
    if (!this.connected) return;
    // Buffers again after a stall: the carrier comes back (xenvif_rx_queue_ready).
    if (!this.carrier && !this.disabled && this.rxr.unconsumedRequests() > 0) { this.carrier = true; note(this.counters, 'vif-carrier-on'); }
    if (!this.disabled && !this.txQueued && this.tx.unconsumedRequests() > 0) {
      this.txQueued = true;
      this.kernel.post(this.txTask, 'irq');
    }
    if (this.rxQueue.length) this.scheduleRx();
    if (this.ctrl && !this.ctrlQueued && this.ctrl.unconsumedRequests() > 0) {
      this.ctrlQueued = true;
      this.kernel.post(this.ctrlTask, 'irq');
    }
  }

  // ------------------------------------------------------------- transmit

  private takeSlot(): TxSlot {
    this.avail--;
    this.passSlots++;
    this.stats.slotsTaken++;
    return this.tx.takeRequest();
  }

  private txAction(x: Exec): void {
    this.txQueued = false;
    if (this.disabled || !this.connected) return;
    x.touch('netback');
    this.stats.txPasses++;
    // One read of the frontend's producer for the whole pass, validated before use (2.10, XSA-39).
    const prod = this.tx.sring.reqProd >>> 0;
    const size = this.tx.size;
    if (this.checks.producer && ringDiff(prod, this.tx.rspProdPvt) > size) { this.disable('impossible-number-of-requests'); return; }
    const inFlight = ringDiff(this.tx.reqCons, this.tx.rspProdPvt);
    this.avail = inFlight >= size ? 0 : Math.min(ringDiff(prod, this.tx.reqCons), size - inFlight);
    this.passSlots = 0;
    const pkts: PendingTx[] = [];
    let blocked = false;
    while (pkts.length < this.budget && this.avail > 0) {
      // Wait for pending slots before consuming (at most 1 + 20 slots for one packet).
      if (!this.pending.take(FATAL_SKB_SLOTS + 1, this)) { blocked = true; break; }
      const p = this.takePacket(x);
      this.pending.give(FATAL_SKB_SLOTS + 1 - (p && p !== 'fatal' ? p.slots.length : 0), x);
      if (p === 'fatal') { this.endPass(); return; }
      if (p) pkts.push(p);
    }
    this.endPass();
    if (pkts.length) this.mapAndSend(x, pkts);
    if (blocked) return; // PendingPool.give wakes us
    this.pending.give(0, x); // let the next waiting vif have a go if slots remain
    if (this.moreTx()) {
      this.txQueued = true;
      this.kernel.post(this.txTask, 'irq');
    }
  }
  /**
   * RING_FINAL_CHECK_FOR_REQUESTS (1.6) where every read of the frontend's producer is validated like
   * the pass's own: a producer that is impossible on the re-check disables the vif instead of keeping
   * the backend polling a ring that never yields anything (an oscillating req_prod would livelock it).
   */
  private moreTx(): boolean {
    const work = (): boolean => {
      const prod = this.tx.sring.reqProd >>> 0;
      if (this.checks.producer && ringDiff(prod, this.tx.rspProdPvt) > this.tx.size) { this.disable('impossible-number-of-requests'); return false; }
      const inFlight = ringDiff(this.tx.reqCons, this.tx.rspProdPvt);
      return inFlight < this.tx.size && ringDiff(prod, this.tx.reqCons) > 0;
    };
    if (work()) return true;
    if (this.disabled) return false;
    this.tx.setReqEvent(this.tx.reqCons + 1);
    return work();
  }
  private endPass(): void {
    if (this.passSlots > this.stats.maxTxSlotsPerPass) this.stats.maxTxSlotsPerPass = this.passSlots;
  }

  /** The ledger: one packet left the TX path of this vif (forwarded or dropped). */
  private txUnit(): void {
    this.txUnits++;
    if (this.adversary) this.counters.pkt.injected++;
  }

  /**
   * Read one packet's slots (first, extras, following data slots) and validate them in Linux
   * netback's order (xenvif_tx_build_gops / xenvif_count_requests, 2.10). Returns the packet, null
   * if it was answered with errors (or was a multicast-control dummy), or 'fatal'.
   */
  private takePacket(x: Exec): PendingTx | null | 'fatal' {
    const first = asRequest(this.takeSlot());
    const consumed: TxRequest[] = [first];
    let extras = 0;
    const byType: Array<TxExtra | undefined> = [];
    const fatal = (why: string): 'fatal' => {
      // Every consumed slot still gets exactly one response (I4); then the vif is disabled.
      this.respond(x, consumed, extras, NETIF_RSP.ERROR);
      this.disable(why);
      return 'fatal';
    };
    if (first.flags & NETTXF.extra_info) {
      for (;;) {
        if (this.avail <= 0) return fatal('missing-extra-info');
        const e = asExtra(this.takeSlot());
        extras++;
        if (this.checks.extras && (e.type === XEN_NETIF_EXTRA_TYPE.NONE || e.type >= XEN_NETIF_EXTRA_TYPE.MAX)) return fatal('bad-extra-type');
        byType[e.type] = e; // a duplicate of one type replaces the earlier one
        if (!(e.flags & XEN_NETIF_EXTRA_FLAG_MORE)) break;
      }
    }
    // Multicast control requests are dummy packets: answered at once, no data slots consumed.
    const add = byType[XEN_NETIF_EXTRA_TYPE.MCAST_ADD], del = byType[XEN_NETIF_EXTRA_TYPE.MCAST_DEL];
    if (add) {
      const a = String(add.addr ?? '');
      const ok = this.mcast.has(a) || this.mcast.size < XEN_NETBK_MCAST_MAX;
      if (ok) this.mcast.add(a); else note(this.counters, 'mcast-table-full');
      this.respond(x, consumed, extras, ok ? NETIF_RSP.OKAY : NETIF_RSP.ERROR);
      return null;
    }
    if (del) {
      this.mcast.delete(String(del.addr ?? ''));
      this.respond(x, consumed, extras, NETIF_RSP.OKAY);
      return null;
    }
    // The following data slots (xenvif_count_requests).
    let remaining = first.size;
    let dropErr = '';
    let more = (first.flags & NETTXF.more_data) !== 0;
    while (more) {
      const n = consumed.length - 1; // following slots so far
      if (this.avail <= 0) return fatal('chain-past-producer');
      if (this.checks.slotLimits && n >= FATAL_SKB_SLOTS) return fatal('too-many-slots');
      if (this.checks.slotLimits && !dropErr && n >= XEN_NETIF_NR_SLOTS_MIN) dropErr = 'too-many-slots';
      const s = asRequest(this.takeSlot());
      consumed.push(s);
      if (!dropErr && s.size > remaining) dropErr = 'fragments-exceed-total'; // total overflowed 64 KiB: buggy, not fatal
      remaining = (remaining - s.size) & 0xffff;
      if (this.checks.pageBounds && s.offset + s.size > PAGE) return fatal('slot-crosses-page');
      more = (s.flags & NETTXF.more_data) !== 0;
    }
    const gso = byType[XEN_NETIF_EXTRA_TYPE.GSO] ?? null;
    if (!dropErr && remaining < ETH_HLEN) dropErr = 'runt';
    if (this.checks.pageBounds && !dropErr && first.offset + remaining > PAGE) return fatal('slot-crosses-page');
    if (this.checks.extras && !dropErr && gso && (gso.gsoSize === 0 || (gso.gsoType !== XEN_NETIF_GSO_TYPE.TCPV4 && gso.gsoType !== XEN_NETIF_GSO_TYPE.TCPV6))) return fatal('bad-gso');
    if (dropErr) {
      drop(this.counters, `tx-${dropErr}`);
      this.txUnit();
      this.respond(x, consumed, extras, NETIF_RSP.ERROR);
      return null;
    }
    const map = consumed.filter((s, i) => i === 0 || s.size > 0);
    this.stats.zeroSizeFrags += consumed.length - map.length;
    return { slots: consumed, extras, map, own: remaining, gso, handles: [] };
  }

  /** Answer a request that goes no further (an error, a fatal violation, a multicast-control dummy). */
  private respond(x: Exec, slots: TxRequest[], extras: number, status: number): void {
    x.cost('netbackTxDonePerPacket'); // examining and answering it is never free
    for (const s of slots) { this.tx.putResponse({ id: s.id, status }); if (s === slots[0]) for (let i = 0; i < extras; i++) this.tx.putResponse({ id: 0, status: NETIF_RSP.NULL }); }
    this.notify(x, this.tx.pushResponses());
  }

  private mapAndSend(x: Exec, pkts: PendingTx[]): void {
    const all = pkts.flatMap((p) => p.map);
    const ops = all.map((s) => ({ dom: this.guestDom, ref: s.gref, readonly: true }));
    let grantOps = ops.length;
    // One batched grant-table hypercall for the whole pass.
    const res = this.txMode === 'map' ? this.xen.grantMap(x, this.kernel, ops) : this.xen.grantDeviceMap(x, this.kernel, ops);
    if (this.txMode === 'map') this.counters.txDataMaps += ops.length;
    let k = 0;
    const headerCopies: Array<{ pkt: PendingTx; ops: Array<{ ref: number; offset: number; len: number }> }> = [];
    const ready: Array<{ pkt: PendingTx; frames: number[] }> = [];
    for (const p of pkts) {
      const frames: number[] = [];
      let failed = false;
      for (let i = k; i < k + p.map.length; i++) {
        const m = res[i];
        if (m.status === GNTST.okay) { p.handles.push(m.handle!); frames.push(m.frame!); } else failed = true;
      }
      k += p.map.length;
      if (failed) {
        // XSA-362/367: per-slot error, undo what was mapped, never crash.
        drop(this.counters, 'tx-grant-error');
        this.txUnit();
        if (p.handles.length) this.xen.grantUnmap(x, this.kernel, p.handles, this.txMode === 'map');
        grantOps += p.handles.length;
        p.handles = [];
        this.respond(x, p.slots, p.extras, NETIF_RSP.ERROR);
        this.pending.give(p.slots.length, x);
        continue;
      }
      if (this.txMode === 'map') for (const h of p.handles) x.touchTransient(tlbTag(this.kernel.domid, TAG.grantMap, h & 255));
      else headerCopies.push({ pkt: p, ops: this.headerOps(p) });
      ready.push({ pkt: p, frames });
    }
    // No-remap: only the header is copied into the driver domain (the bridge needs it); the NIC DMAs the rest.
    // The copy takes the first COPY_LEN bytes of the packet, from as many slots as they span (XSA-423),
    // and never reads outside a slot's [offset, offset + size).
    if (headerCopies.length) {
      const hdr = headerCopies.flatMap((h) => h.ops.map((o) => ({ source: { dom: this.guestDom, ref: o.ref, offset: o.offset }, dest: { dom: this.kernel.domid, frame: this.kernel.allocFrame(), offset: 0 }, len: o.len })));
      grantOps += hdr.length;
      this.xen.grantCopy(x, this.kernel, hdr);
      for (const h of hdr) this.kernel.freeFrame(h.dest.frame);
    }
    if (grantOps > this.stats.maxGrantOpsPerPass) this.stats.maxGrantOpsPerPass = grantOps;
    for (const { pkt, frames } of ready) {
      x.cost('netbackTxPerPacket');
      x.cost('skbAllocFree');
      this.txInflight++;
      const data = this.kernel.mem.contents.get(frames[0]);
      if (!data) { drop(this.counters, 'tx-no-data'); this.txUnit(); this.finishTx(x, pkt); continue; }
      const first = pkt.slots[0];
      // The packet is what the requests say: its length is the first request's total size, its
      // segment size the GSO extra's (the guest's memory supplies the bytes: flow, sequence numbers).
      const len = Math.max(0, first.size - HDR_LEN);
      const mss = pkt.gso ? pkt.gso.gsoSize : data.mss;
      if (!pkt.gso && len > mss) { drop(this.counters, 'tx-oversize-without-gso'); this.txUnit(); this.finishTx(x, pkt); continue; }
      const out: Packet = {
        id: data.id, flow: data.flow, kind: data.kind, seq: data.seq, len, ack: data.ack, wnd: data.wnd, mss,
        csum: first.flags & NETTXF.csum_blank ? 'partial' : 'done', frames, owner: this.guestDom, cold: data.cold,
        release: (rx) => this.finishTx(rx, pkt),
      };
      this.txUnit();
      this.rx(x, out); // into the bridge
    }
  }

  /** Header copy ops: the first min(COPY_LEN, packet) bytes, slot by slot. */
  private headerOps(p: PendingTx): Array<{ ref: number; offset: number; len: number }> {
    const out: Array<{ ref: number; offset: number; len: number }> = [];
    let want = COPY_LEN;
    for (const [i, s] of p.map.entries()) {
      const have = i === 0 ? p.own : s.size;
      const len = Math.min(want, have);
      if (len > 0) out.push({ ref: s.gref, offset: s.offset, len });
      want -= len;
      if (want <= 0) break;
    }
    return out;
  }

  /** The NIC is done with the guest's pages: unmap (batched) and answer. */
  private finishTx(_x: Exec, p: PendingTx): void {
    this.done.push(p);
    if (this.doneQueued) return;
    this.doneQueued = true;
    this.kernel.post(this.txDoneTask, 'irq');
  }

  private flushTxDone(x: Exec): void {
    this.doneQueued = false;
    const batch = this.done.splice(0);
    x.touch('netback');
    const handles: number[] = [];
    let slots = 0;
    for (const p of batch) { for (const h of p.handles) handles.push(h); slots += p.slots.length; }
    if (handles.length) this.xen.grantUnmap(x, this.kernel, handles, this.txMode === 'map');
    this.pending.give(slots, x);
    for (const p of batch) {
      x.cost('netbackTxDonePerPacket');
      for (const s of p.slots) {
        this.tx.putResponse({ id: s.id, status: NETIF_RSP.OKAY });
        if (s === p.slots[0]) for (let i = 0; i < p.extras; i++) this.tx.putResponse({ id: 0, status: NETIF_RSP.NULL });
      }
    }
    this.txInflight -= batch.length;
    if (batch.length) this.notify(x, this.tx.pushResponses());
    this.maybeUnmapRings();
  }

  // -------------------------------------------------------------- receive

  /** Bridge hands us a packet for the guest. */
  xmit(x: Exec, p: Packet): boolean {
    if (this.disabled) { drop(this.counters, 'vif-disabled'); this.freePacket(x, p); return true; }
    if (!this.connected) { drop(this.counters, 'vif-not-connected'); this.freePacket(x, p); return true; }
    if (!this.carrier) { drop(this.counters, 'vif-carrier-off'); this.freePacket(x, p); return true; }
    if (this.rxQueue.length >= this.rxQueueLimit) { drop(this.counters, 'netback-rx-queue-full'); this.freePacket(x, p); return true; }
    const now = this.clock ? this.clock.now() : 0;
    if (!this.rxQueue.length) this.lastRxProgress = now; // a stall is measured from when the queue started waiting
    this.rxQueue.push(p);
    this.rxQueuedAt.push(now);
    this.stats.rxQueued++;
    if (this.rxQueue.length > this.stats.maxRxQueue) this.stats.maxRxQueue = this.rxQueue.length;
    this.scheduleRx();
    return true;
  }

  private scheduleRx(): void {
    if (this.rxQueued) return;
    this.rxQueued = true;
    this.kernel.post(this.rxTask, 'irq');
  }

  private freePacket(x: Exec, p: Packet): void {
    if (p.release) p.release(x);
    else this.freePacketNow(p);
  }
  private freePacketNow(p: Packet): void {
    for (const f of p.frames) if (this.kernel.mem.ownerOf(f) === this.kernel.domid) this.kernel.freeFrame(f);
  }

  /** Packets that waited longer than the drain timeout go; a queue that cannot deliver at all for the stall timeout drops its carrier. */
  private expireRx(): void {
    if (!this.clock || !this.rxQueue.length) return;
    const now = this.clock.now();
    const drainPs = this.opts.rxDrainUs * 1e6;
    let n = 0;
    while (n < this.rxQueue.length && now - this.rxQueuedAt[n] >= drainPs) n++;
    if (n) {
      drop(this.counters, 'netback-rx-expired', n);
      for (const p of this.rxQueue.splice(0, n)) this.freePacketNow(p);
      this.rxQueuedAt.splice(0, n);
    }
    if (this.rxNotify && this.carrier && now - this.lastRxProgress >= this.opts.rxStallUs * 1e6) {
      this.carrier = false;
      note(this.counters, 'vif-rx-stalled');
      this.purgeRx('vif-carrier-off');
    }
  }

  /** Re-check later while packets wait for buffers (expiry, stall, and polling for frontends without rx-notify). */
  private armRxTimer(): void {
    if (this.rxTimer || !this.clock || !this.rxQueue.length) return;
    const now = this.clock.now();
    let atUs = Math.min((this.rxQueuedAt[0] - now) / 1e6 + this.opts.rxDrainUs, (this.lastRxProgress - now) / 1e6 + this.opts.rxStallUs);
    if (!this.rxNotify) atUs = Math.min(atUs, this.opts.rxPollUs);
    this.rxTimer = true;
    this.clock.after(Math.max(1, atUs) * 1e6, () => {
      this.rxTimer = false;
      if (this.connected && this.rxQueue.length) this.scheduleRx();
    });
  }

  private rxAction(x: Exec): void {
    this.rxQueued = false;
    if (!this.connected) return;
    x.touch('netback');
    // One read of the frontend's RX producer for the pass; never more requests than the ring holds (1.7).
    const prod = this.rxr.sring.reqProd >>> 0;
    const size = this.rxr.size;
    const inFlight = ringDiff(this.rxr.reqCons, this.rxr.rspProdPvt);
    let avail = inFlight >= size ? 0 : Math.min(ringDiff(prod, this.rxr.reqCons), size - inFlight);
    const batch: Array<{ req: RxRequest; p: Packet }> = [];
    while (this.rxQueue.length && batch.length < this.budget && avail > 0) {
      avail--;
      const req = this.rxr.takeRequest();
      this.rxQueuedAt.shift();
      batch.push({ req: { id: req.id & 0xffff, gref: req.gref >>> 0 }, p: this.rxQueue.shift()! });
    }
    if (!batch.length) {
      // Wait for the frontend to post buffers; it notifies (feature-rx-notify) when it does.
      this.expireRx();
      if (this.rxQueue.length) {
        this.rxr.setReqEvent((this.rxr.sring.reqProd + 1) >>> 0);
        this.armRxTimer();
      }
      return;
    }
    if (batch.length > this.stats.maxRxPerPass) this.stats.maxRxPerPass = batch.length;
    if (this.clock) this.lastRxProgress = this.clock.now();
    const status: number[] = [];
    if (this.feat.rxCopy && this.rxCopyVia === 'map') {
      // Map each granted guest buffer writable, copy on our own CPU, unmap (one batch, one flush).
      const res = this.xen.grantMap(x, this.kernel, batch.map(({ req }) => ({ dom: this.guestDom, ref: req.gref, readonly: false })));
      batch.forEach(({ p }, i) => {
        const ok = res[i].status === GNTST.okay;
        if (ok) {
          x.touchTransient(tlbTag(this.kernel.domid, TAG.grantMap, res[i].handle! & 255));
          x.copy(Math.min(PAGE, p.len + HDR_LEN), p.cold, true); // the guest's buffer page is not in our cache
          this.kernel.mem.contents.set(res[i].frame!, packetBytes(p));
        }
        status.push(ok ? p.len + HDR_LEN : NETIF_RSP.ERROR);
        this.freePacket(x, p);
      });
      this.xen.grantUnmap(x, this.kernel, res.filter((r) => r.status === GNTST.okay).map((r) => r.handle!), true);
    } else if (this.feat.rxCopy) {
      const ops = batch.map(({ req, p }) => ({
        source: { dom: this.kernel.domid, frame: p.frames[0], offset: 0 },
        dest: { dom: this.guestDom, ref: req.gref, offset: 0 },
        len: Math.min(PAGE, p.len + HDR_LEN),
        cold: p.cold,
        dstCold: true,
      }));
      const res = this.xen.grantCopy(x, this.kernel, ops);
      batch.forEach(({ p }, i) => {
        const ok = res[i].status === GNTST.okay;
        // The frame Xen resolved and wrote (never a second read of the guest's grant entry: XSA-155).
        if (ok && res[i].destFrame !== undefined) this.kernel.mem.contents.set(res[i].destFrame!, packetBytes(p));
        status.push(ok ? p.len + HDR_LEN : NETIF_RSP.ERROR);
        this.freePacket(x, p);
      });
    } else {
      // Page flipping: give the guest the frame holding the packet, take fresh frames for ourselves,
      // and remap our own pseudo-physical slots to them (one multicall).
      const fresh = this.xen.increaseReservation(x, this.kernel, batch.length);
      for (const f of fresh) this.kernel.freeFrame(f);
      this.xen.mmuUpdate(x, batch.length);
      const ops = batch.map(({ req, p }) => ({ mfn: p.frames[0], domid: this.guestDom, ref: req.gref }));
      const res = this.xen.grantTransfer(x, this.kernel, ops);
      batch.forEach(({ p }, i) => {
        status.push(res[i].status === GNTST.okay ? p.len + HDR_LEN : NETIF_RSP.ERROR);
        // bad_page: the frame never left us, so it goes back to our pool (any other failure: Xen freed it).
        if (res[i].status === GNTST.bad_page && this.kernel.mem.ownerOf(p.frames[0]) === this.kernel.domid) this.kernel.freeFrame(p.frames[0]);
      });
    }
    batch.forEach(({ req, p }, i) => {
      x.cost('netbackRxPerPacket');
      // data_validated is protocol (2.3): set whenever the NIC validated the checksum; csum_blank needs negotiation.
      const flags = p.csum === 'verified' ? NETRXF.data_validated : p.csum === 'partial' && this.feat.csum ? NETRXF.data_validated | NETRXF.csum_blank : 0;
      this.rxr.putResponse({ id: req.id, offset: 0, flags, status: status[i] });
      if (status[i] < 0) drop(this.counters, 'rx-grant-error');
      else { this.rxUnitsOk++; if (this.adversary) this.counters.pkt.sunk++; }
    });
    this.notify(x, this.rxr.pushResponses());
    if (this.rxQueue.length) this.scheduleRx();
  }

  // -------------------------------------------------------------- control ring (2.6)

  private ctrlAction(x: Exec): void {
    this.ctrlQueued = false;
    const c = this.ctrl;
    if (!c || !this.connected || this.disabled) return;
    x.touch('netback');
    // At most one ring of requests per pass (I3), from one read of the producer.
    let n = 0;
    const prod = c.sring.reqProd >>> 0;
    const inFlight = ringDiff(c.reqCons, c.rspProdPvt);
    let avail = inFlight >= c.size ? 0 : Math.min(ringDiff(prod, c.reqCons), c.size - inFlight);
    while (avail-- > 0) {
      const r = c.takeRequest();
      const req: CtrlRequest = { id: r.id & 0xffff, type: r.type & 0xffff, data: [r.data?.[0] >>> 0, r.data?.[1] >>> 0, r.data?.[2] >>> 0] };
      const { status, data } = this.ctrlRequest(x, req);
      c.putResponse({ id: req.id, type: req.type, status, data });
      n++;
    }
    if (n > this.stats.maxCtrlPerPass) this.stats.maxCtrlPerPass = n;
    if (n) this.notify(x, c.pushResponses());
    if (c.unconsumedRequests() > 0 || c.finalCheckForRequests()) {
      this.ctrlQueued = true;
      this.kernel.post(this.ctrlTask, 'irq');
    }
  }

  /** One control request, validated like Linux's xenvif_ctrl (XSA-270: overflow-safe bounds). */
  private ctrlRequest(x: Exec, r: CtrlRequest): { status: number; data: number } {
    const S = XEN_NETIF_CTRL_STATUS, T = XEN_NETIF_CTRL_TYPE;
    const h = this.hash;
    const copyIn = (gref: number, bytes: number): number[] | null => {
      if (bytes === 0) return [];
      if (bytes > PAGE) return null;
      const frame = this.kernel.allocFrame();
      const res = this.xen.grantCopy(x, this.kernel, [{ source: { dom: this.guestDom, ref: gref, offset: 0 }, dest: { dom: this.kernel.domid, frame, offset: 0 }, len: bytes }]);
      this.kernel.freeFrame(frame);
      if (res[0].status !== GNTST.okay) return null;
      return (pageWords(this.kernel.mem).get(res[0].srcFrame!) ?? []).slice(0, bytes);
    };
    switch (r.type) {
      case T.GET_HASH_FLAGS: return { status: S.SUCCESS, data: XEN_NETIF_CTRL_HASH_TYPES };
      case T.SET_HASH_FLAGS:
        if (r.data[0] & ~XEN_NETIF_CTRL_HASH_TYPES) return { status: S.INVALID_PARAMETER, data: 0 };
        h.flags = r.data[0];
        return { status: S.SUCCESS, data: 0 };
      case T.SET_HASH_KEY: {
        const len = r.data[1];
        if (len > XEN_NETBK_MAX_HASH_KEY_SIZE) return { status: S.INVALID_PARAMETER, data: 0 };
        const key = copyIn(r.data[0], len);
        if (!key) return { status: S.INVALID_PARAMETER, data: 0 };
        h.key = key;
        return { status: S.SUCCESS, data: 0 };
      }
      case T.GET_HASH_MAPPING_SIZE: return { status: S.SUCCESS, data: XEN_NETBK_MAX_HASH_MAPPING_SIZE };
      case T.SET_HASH_MAPPING_SIZE: {
        const size = r.data[0];
        if (size > XEN_NETBK_MAX_HASH_MAPPING_SIZE) return { status: S.INVALID_PARAMETER, data: 0 };
        h.size = size;
        h.mapping = new Array(size).fill(0);
        return { status: S.SUCCESS, data: 0 };
      }
      case T.SET_HASH_MAPPING: {
        const [gref, len, off] = r.data;
        // Overflow-safe: never off + len (which wraps in u32).
        if (off > h.size || len > h.size - off || len > PAGE / 4) return { status: S.INVALID_PARAMETER, data: 0 };
        const words = copyIn(gref, len * 4);
        if (!words) return { status: S.INVALID_PARAMETER, data: 0 };
        const entries = Array.from({ length: len }, (_, i) => words[i] ?? 0);
        if (entries.some((q) => q >>> 0 >= 1)) return { status: S.INVALID_PARAMETER, data: 0 }; // one queue
        for (let i = 0; i < len; i++) h.mapping[off + i] = entries[i];
        return { status: S.SUCCESS, data: 0 };
      }
      case T.SET_HASH_ALGORITHM:
        if (r.data[0] !== XEN_NETIF_CTRL_HASH_ALGORITHM.NONE && r.data[0] !== XEN_NETIF_CTRL_HASH_ALGORITHM.TOEPLITZ) return { status: S.INVALID_PARAMETER, data: 0 };
        h.alg = r.data[0];
        return { status: S.SUCCESS, data: 0 };
      default: return { status: S.NOT_SUPPORTED, data: 0 };
    }
  }
}
