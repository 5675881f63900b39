/**
 * netfront: the guest's virtual NIC. Transmit grants the packet's pages to
 * the backend and puts requests on the TX ring; receive keeps the RX ring
 * stocked with buffers: pages offered for transfer (flipping, Xen 2.0) or
 * pages granted writable (copying receive). Notifications follow the ring's
 * hold-off rule, so most pushes do not cost a hypercall.
 */
import type { Kernel } from '../domains/kernel.js';
import type { Exec, Task } from '../core/exec.js';
import type { NetDevice, NetFeatures } from '../domains/netdev.js';
import type { Packet } from '../core/packet.js';
import { HDR_LEN, PAGE_SIZE } from '../core/packet.js';
import type { Xen } from '../hypervisor/xen.js';
import type { GrantTable } from '../hypervisor/grant-table.js';
import { drop, note, type Counters } from '../model/counters.js';
import { FrontRing } from './ring.js';
import type { ActorLike } from '../actors/runtime.js';
import { FRONT_XENBUS_EVENT, NF, netfrontState, type NetfrontValue } from './netfront-machine.js';
import {
  NETRXF, NETTXF, NETIF_RSP, XEN_NETIF_EXTRA_TYPE, XEN_NETIF_GSO_TYPE,
  XenbusState, type RxRequest, type RxResponse, type TxResponse, type TxSlot, type VifFeatures, type VifRings,
} from './netif.js';
import type { Xs } from '../domains/xenstored.js';

/** A TX packet on the ring (`ring`: the one it was posted on; a resumed frontend's old packets are on an older one). */
interface TxInFlight { pkt: Packet; refs: number[]; ids: number[]; answered: number; ring: FrontRing<TxSlot, TxResponse> }

export class Netfront implements NetDevice {
  rx: (x: Exec, p: Packet) => void = () => {};
  wake: (x: Exec) => void = () => {};
  readonly tx: FrontRing<TxSlot, TxResponse>;
  readonly rxr: FrontRing<RxRequest, RxResponse>;
  protected freeRefs: number[] = [];
  protected txIds: number[] = [];
  protected txById = new Map<number, TxInFlight>();
  protected rxById = new Map<number, { ref: number; frame: number }>();
  protected rxIds: number[] = [];
  /** The id of the request posted in each RX ring slot: a response must come back in the same slot (2.3, I4). */
  protected rxSlotId: number[];
  protected extrasOutstanding = 0;
  /** Grants the backend still holds after a response: never reuse the page (XSA-396). */
  leakedRefs = 0;
  /** Grant refs of the ring pages (after the 2 * ring-size buffer refs). */
  readonly ringRefs: { tx: number; rx: number; ctrl: number };
  /** Ledger (src/stress): packets accepted by xmit, and received packets taken off the RX ring. */
  txUnits = 0;
  rxUnitsTaken = 0;
  /** Flows this vif carries, when known: a packet of another flow arriving here breaks isolation (I1). */
  flows: Set<number> | null = null;
  /** This frontend's `netfront` actor (netfront-machine.ts), told of every control-state change; it holds the control state. */
  actor: ActorLike | null = null;
  /** The frontend's control state: XenBus, TX queue, RX buffers, NAPI. */
  get control(): NetfrontValue { return netfrontState(this.actor); }
  /** XenBus states this frontend switched to, in order. */
  readonly xenbusStates: number[] = [];
  constructor(
    readonly name: string,
    readonly kernel: Kernel,
    readonly xen: Xen,
    readonly gt: GrantTable,
    readonly backendDom: number,
    rings: VifRings,
    readonly feat: VifFeatures,
    readonly channel: string,
    readonly counters: Counters,
    refBase: number,
    readonly budget = 64,
  ) {
    this.tx = new FrontRing(rings.tx);
    this.rxr = new FrontRing(rings.rx);
    for (let i = 0; i < 2 * rings.tx.size; i++) this.freeRefs.push(refBase + 2 * rings.tx.size - 1 - i);
    for (let i = rings.tx.size - 1; i >= 0; i--) { this.txIds.push(i); this.rxIds.push(i); }
    this.rxSlotId = new Array(rings.rx.size).fill(-1);
    const r = refBase + 2 * rings.tx.size;
    this.ringRefs = { tx: r, rx: r + 1, ctrl: r + 2 };
    this.pollTask = { name: `${name}-poll`, run: (px) => this.poll(px) };
  }
  /** The poll work item, made once (queued at most once at a time: the actor's napi `scheduled`). */
  private readonly pollTask: Task;
  features(): NetFeatures { return { sg: this.feat.sg, csum: this.feat.csum, tso: this.feat.tso }; }

  /** netfront_probe: watch the backend's state node (its events reach this vif's actor `watcher`). */
  probe(xs: Xs, back: string, watcher: string): void {
    xs.watch(`${back}/state`, watcher);
  }

  /**
   * netback_changed: the backend's state node changed. In InitWait, while this end is still
   * Initialising, connect (talk_to_netback, here `talk`). With `life` (a vif the toolstack may unplug
   * or plug at run time): a backend Connected under a hot-plugged frontend gets its receive buffers
   * (xennet_connect's refill, `life.connected`); a backend Closing (the toolstack unplugs the vif)
   * or Closed makes this end close as xennet_remove does, Closing then Closed (xenbus_frontend_closed);
   * and the backend's directory removed (the device is gone) runs the teardown, `life.removed`
   * (xennet_disconnect_backend, in the guest).
   */
  backendChanged(xs: Xs, front: string, back: string, talk: () => void, life?: { connected: (() => void) | null; removed: () => void }): void {
    if (this.removed) return; // a watch event still queued when the device went (its watch is gone)
    const v = xs.read(`${back}/state`);
    const mine = xs.read(`${front}/state`);
    if (v === String(XenbusState.InitWait) && mine === String(XenbusState.Initialising)) { talk(); return; }
    if (!life) return;
    if (v === String(XenbusState.Connected) && mine === String(XenbusState.Connected)) { const c = life.connected; life.connected = null; c?.(); return; }
    if (v === String(XenbusState.Closing) || v === String(XenbusState.Closed)) {
      if (mine === String(XenbusState.Closed)) return;
      if (mine !== String(XenbusState.Closing)) { xs.write(`${front}/state`, XenbusState.Closing); this.switchState(XenbusState.Closing); }
      xs.write(`${front}/state`, XenbusState.Closed);
      this.switchState(XenbusState.Closed);
      return;
    }
    if (v === undefined && !this.removed) { this.removed = true; life.removed(); }
  }

  /** The device was unplugged (xennet_remove): nothing goes out through it or comes in any more. */
  removed = false;

  /**
   * xennet_disconnect_backend (Linux netfront.c), run in the guest by xennet_remove once the toolstack
   * removed the device, so the backend has let go of every mapping: the buffers are released
   * (releaseBufs, their pages freed); the ring grants end and the ring pages are freed; the event
   * channel is closed (EVTCHNOP_close). The units this leaves on the rings are the toolstack's to
   * account for (they were lost with the device).
   */
  disconnectBackend(x: Exec, port: number, rings: VifRings): void {
    this.removed = true;
    this.releaseBufs(x, true);
    for (const ref of [this.ringRefs.tx, this.ringRefs.rx]) if (!this.gt.endAccess(ref)) this.leakedRefs++;
    for (const fr of [rings.txFrame, rings.rxFrame]) if (fr >= 0) this.kernel.freeFrame(fr);
    rings.txFrame = -1;
    rings.rxFrame = -1;
    this.xen.evtchnClose(x, this.kernel, port);
  }

  /**
   * xennet_release_tx_bufs and xennet_release_rx_bufs: the walk of what the old rings held. Each
   * in-flight TX packet: its grants end (gnttab_end_foreign_access_ref) and go back to the free refs,
   * the skb is freed, its ids go back on the free list (add_id_to_freelist). Each posted RX buffer: its
   * grant ends (a transfer that completed hands its page over), the page goes back to the guest's
   * allocator, its id and ref are free again. `pagesHere` false: the walk runs on the guest's
   * bookkeeping carried to a new domain (netfront_resume), whose copies of these pages the model does
   * not make (only the pages sockets hold), so there is nothing to free in it; nor are its grants in
   * the new domain's grant table (the table is Xen's, not in the image: gnttab_resume starts it
   * empty), so its refs are simply free again. Counted in `released`.
   */
  releaseBufs(x: Exec | null, pagesHere: boolean): { tx: number; rx: number } {
    const mem = this.kernel.mem;
    const done = { tx: 0, rx: 0 };
    for (const f of new Set(this.txById.values())) {
      for (const ref of f.refs) { if (!pagesHere || this.gt.endAccess(ref)) this.freeRefs.push(ref); else this.leakedRefs++; }
      for (const id of f.ids) this.txIds.push(id);
      if (pagesHere && x) f.pkt.release?.(x);
      done.tx++;
    }
    this.txById.clear();
    this.extrasOutstanding = 0;
    for (const [id, b] of this.rxById) {
      this.rxIds.push(id);
      done.rx++;
      let frame = b.frame;
      if (!pagesHere) { this.freeRefs.push(b.ref); continue; }
      if (this.feat.rxCopy) { if (!this.gt.endAccess(b.ref)) { this.leakedRefs++; continue; } }
      else { const t = this.gt.endTransfer(b.ref); frame = t.completed && t.frame !== undefined ? t.frame : -1; }
      this.freeRefs.push(b.ref);
      if (frame < 0 || !pagesHere) continue;
      mem.contents.delete(frame);
      this.kernel.freeFrame(frame);
    }
    this.rxById.clear();
    this.released.tx += done.tx;
    this.released.rx += done.rx;
    return done;
  }
  /** Buffers the release walks gave back (TX packets, RX buffers). */
  readonly released = { tx: 0, rx: 0 };

  /**
   * netfront_resume in the guest after a restore or migration: the guest's netfront_info (its in-flight
   * lists, free ids and grant refs: guest memory) came in the image from `old`, the frontend before
   * the suspension; xennet_disconnect_backend walks it (releaseBufs) before talk_to_netback makes
   * new rings. This frontend is the new device on those rings: it takes the bookkeeping over, then
   * releases what the old rings held. Returns what the walk released.
   */
  resumeFrom(old: Netfront): { tx: number; rx: number } {
    const ringOf = new Map<TxInFlight, TxInFlight>();
    this.txById = new Map([...old.txById].map(([id, f]) => {
      if (!ringOf.has(f)) ringOf.set(f, { ...f, refs: [...f.refs], ids: [...f.ids] });
      return [id, ringOf.get(f)!];
    }));
    this.txIds = [...old.txIds];
    this.rxById = new Map([...old.rxById].map(([id, b]) => [id, { ...b }]));
    this.rxIds = [...old.rxIds];
    this.freeRefs = [...old.freeRefs];
    this.leakedRefs = old.leakedRefs;
    return this.releaseBufs(null, false);
  }

  /**
   * The bookkeeping's check (the release checker's, src/toolstack/release.ts): TX ids neither free nor
   * owned by a packet on this frontend's ring, grant refs neither free, held by it (its buffers and
   * ring pages) nor leaked to a backend that kept them (XSA-396), and the refs it holds.
   */
  bookkeeping(): { lostTxIds: number[]; lostRefs: number; heldRefs: Set<number> } {
    const size = this.tx.size;
    const held = new Set<number>();
    const ids = new Set(this.txIds);
    for (const [id, f] of this.txById) { if (f.ring === this.tx) ids.add(id); for (const r of f.refs) held.add(r); }
    for (const b of this.rxById.values()) held.add(b.ref);
    if (!this.removed) { held.add(this.ringRefs.tx); held.add(this.ringRefs.rx); }
    const lostTxIds: number[] = [];
    for (let i = 0; i < size; i++) if (!ids.has(i)) lostTxIds.push(i);
    const known = new Set([...this.freeRefs, ...held]);
    const lostRefs = Math.max(0, 2 * size - [...known].filter((r) => r < this.ringRefs.tx).length - this.leakedRefs);
    return { lostTxIds, lostRefs, heldRefs: held };
  }

  /**
   * talk_to_netback (2.9 step 3): grant the ring pages to the backend; write the features asked for
   * (among those the backend offers: this.feat), the ring refs, the event channel and the MAC; and
   * switch to Connected (netfront does not publish Initialised).
   */
  publish(xs: Xs, front: string, rings: VifRings, port: number, mac: string): void {
    this.gt.grantAccess(this.ringRefs.tx, this.backendDom, rings.txFrame, false);
    this.gt.grantAccess(this.ringRefs.rx, this.backendDom, rings.rxFrame, false);
    this.switchState(XenbusState.Initialised);
    // One transaction, as talk_to_netback does (the backend reads all of these when it sees Connected).
    xs.transaction((t) => {
      t.write(`${front}/feature-sg`, this.feat.sg);
      t.write(`${front}/feature-gso-tcpv4`, this.feat.tso);
      t.write(`${front}/feature-no-csum-offload`, !this.feat.csum);
      t.write(`${front}/request-rx-copy`, this.feat.rxCopy);
      t.write(`${front}/feature-rx-notify`, true);
      t.write(`${front}/tx-ring-ref`, this.ringRefs.tx);
      t.write(`${front}/rx-ring-ref`, this.ringRefs.rx);
      t.write(`${front}/event-channel`, port);
      t.write(`${front}/mac`, mac);
    });
    xs.write(`${front}/state`, XenbusState.Connected);
    this.switchState(XenbusState.Connected);
  }

  /** xenbus_switch_state: the frontend's state node now says s. */
  switchState(s: number): void {
    this.xenbusStates.push(s);
    const e = FRONT_XENBUS_EVENT[s];
    if (e) this.actor?.send(e);
  }

  protected notify(x: Exec, push: { notify: boolean }): void {
    if (push.notify) this.xen.evtchnSend(x, this.kernel, this.channel, 'a');
    else this.counters.notificationsSuppressed++;
  }

  xmit(x: Exec, p: Packet): boolean {
    if (this.removed) { drop(this.counters, 'vif-unplugged'); p.release?.(x); return true; } // the device is gone (unregister_netdev)
    const gso = p.len > p.mss;
    const frames = p.frames;
    const slots = frames.length + (gso ? 1 : 0);
    if (this.tx.freeRequests() < slots || this.txIds.length < frames.length || this.freeRefs.length < frames.length) {
      this.actor?.send(NF.NETIF_STOP_QUEUE); // the qdisc holds the packet until wake()
      return false;
    }
    x.touch('netfront');
    x.cost('netfrontTxPerPacket');
    x.cost('netfrontTxPerSlot', frames.length - 1);
    const total = p.len + HDR_LEN;
    const refs: number[] = [];
    const ids: number[] = [];
    let left = total;
    for (let i = 0; i < frames.length; i++) {
      const ref = this.freeRefs.pop()!;
      const id = this.txIds.pop()!;
      this.gt.grantAccess(ref, this.backendDom, frames[i], true);
      refs.push(ref); ids.push(id);
      const size = i === 0 ? total : Math.min(PAGE_SIZE, left);
      let flags = i < frames.length - 1 ? NETTXF.more_data : 0;
      if (i === 0) {
        if (p.csum === 'partial') flags |= NETTXF.csum_blank | NETTXF.data_validated;
        if (gso) flags |= NETTXF.extra_info;
      }
      this.tx.putRequest({ gref: ref, offset: 0, flags, id, size });
      if (i === 0 && gso) this.tx.putRequest({ extra: true, type: XEN_NETIF_EXTRA_TYPE.GSO, flags: 0, gsoSize: p.mss, gsoType: XEN_NETIF_GSO_TYPE.TCPV4 });
      left -= Math.min(PAGE_SIZE, left);
    }
    this.counters.ioRequests += slots;
    this.counters.txRingRequests += slots;
    this.txUnits++;
    if (gso) this.extrasOutstanding++;
    const f: TxInFlight = { pkt: p, refs, ids, answered: 0, ring: this.tx };
    for (const id of ids) this.txById.set(id, f);
    this.notify(x, this.tx.pushRequests());
    return true;
  }

  /** TX packets still waiting for their responses. */
  outstandingTx(): number { return new Set(this.txById.values()).size; }
  /** The TX packets waiting for their responses. */
  inFlightTx(): Packet[] { return [...new Set(this.txById.values())].map((f) => f.pkt); }
  /** Frames of the RX buffers posted and not yet answered (copying receive; a flipping receiver posts no frame). */
  postedRxFrames(): number[] { return [...this.rxById.values()].filter((b) => b.frame >= 0).map((b) => b.frame); }
  /** Hand a received packet to the stack above. */
  protected deliverUp(x: Exec, p: Packet): void { this.rx(x, p); }
  /** The backend broke the protocol (counted per vif, for the stress oracles). */
  readonly protocolErrors: Record<string, number> = {};
  protected protocolError(what: string): void {
    this.protocolErrors[what] = (this.protocolErrors[what] ?? 0) + 1;
    note(this.counters, what);
  }

  /** Event channel handler: responses arrived on either ring. */
  onEvent(x: Exec): void {
    if (this.removed) return;
    if (this.control.napi === 'scheduled') return;
    this.kernel.post(this.pollTask, 'irq');
    this.actor?.send(NF.NAPI_SCHEDULE);
  }

  /** Fill the RX ring with buffers for the backend. */
  refill(x: Exec): void {
    if (this.removed) return;
    const n = Math.min(this.rxr.freeRequests(), this.rxIds.length, this.freeRefs.length);
    if (n <= 0) return;
    this.actor?.send(this.rxr.freeRequests() === n ? NF.RX_RING_FULL : NF.RX_RING_PARTIAL);
    x.touch('netfront');
    const giveBack: number[] = [];
    for (let i = 0; i < n; i++) {
      const id = this.rxIds.pop()!;
      const ref = this.freeRefs.pop()!;
      if (this.feat.rxCopy) {
        const frame = this.kernel.allocFrame();
        this.gt.grantAccess(ref, this.backendDom, frame, false);
        this.rxById.set(id, { ref, frame });
      } else {
        // Flipping: this pfn slot's frame goes back to Xen; a frame from the backend will fill it.
        giveBack.push(this.kernel.allocFrame());
        this.gt.grantTransfer(ref, this.backendDom, id);
        this.rxById.set(id, { ref, frame: -1 });
      }
      this.rxSlotId[this.rxr.reqProdPvt & (this.rxr.size - 1)] = id;
      this.rxr.putRequest({ id, gref: ref });
    }
    this.counters.ioRequests += n;
    if (giveBack.length) {
      this.xen.mmuUpdate(x, giveBack.length);                  // zap the kernel mappings
      this.xen.decreaseReservation(x, this.kernel, giveBack);  // and return the frames
    }
    this.notify(x, this.rxr.pushRequests());
  }

  /** The poll runs: a new event queues another (napi_complete). */
  protected napiComplete(): void { this.actor?.send(NF.NAPI_COMPLETE); }

  protected poll(x: Exec): void {
    this.napiComplete();
    if (this.removed) return;
    x.touch('netfront');
    // Transmit completions: end the grants and free the packets.
    let freed = false;
    do {
      while (this.tx.unconsumedResponses() > 0) {
        const r = this.tx.takeResponse();
        if (r.status === NETIF_RSP.NULL) { // extra-info slot
          if (this.extrasOutstanding > 0) this.extrasOutstanding--; else this.protocolError('netfront-tx-unexpected-null-response');
          continue;
        }
        const f = this.txById.get(r.id);
        if (!f) { this.protocolError('netfront-tx-unexpected-response'); continue; }
        this.txById.delete(r.id);
        this.txIds.push(r.id);
        if (++f.answered < f.ids.length) continue;
        for (const ref of f.refs) {
          if (this.gt.endAccess(ref)) this.freeRefs.push(ref); else this.leakedRefs++;
        }
        f.pkt.release?.(x);
        freed = true;
      }
    } while (this.tx.finalCheckForResponses());
    if (freed) { this.actor?.send(NF.NETIF_WAKE_QUEUE); this.wake(x); }

    // Receive.
    let n = 0;
    const mapped: number[] = [];
    while (this.rxr.unconsumedResponses() > 0 && n < this.budget) {
      const slot = this.rxr.rspCons & (this.rxr.size - 1);
      const r = this.rxr.takeResponse();
      if (r.id !== this.rxSlotId[slot]) this.protocolError('netfront-rx-response-not-in-request-slot');
      const b = this.rxById.get(r.id);
      if (!b) { this.protocolError('netfront-rx-unknown-id'); continue; }
      this.rxById.delete(r.id);
      this.rxIds.push(r.id);
      let frame = b.frame;
      // A negative status is the backend's: it already counted that packet as dropped.
      if (this.feat.rxCopy) {
        if (this.gt.endAccess(b.ref)) this.freeRefs.push(b.ref); else this.leakedRefs++;
      } else {
        const t = this.gt.endTransfer(b.ref);
        this.freeRefs.push(b.ref);
        if (!t.completed || t.frame === undefined) { // memory squeeze: nothing arrived
          if (r.status > 0) { this.rxUnitsTaken++; drop(this.counters, 'netfront-rx-no-page'); }
          continue;
        }
        frame = t.frame;
        mapped.push(frame);
      }
      n++;
      x.cost('netfrontRxPerPacket');
      x.cost('skbAllocFree');
      const data = this.kernel.mem.contents.get(frame);
      if (r.status > 0) this.rxUnitsTaken++;
      if (r.status <= 0 || !data) { if (r.status > 0) drop(this.counters, 'netfront-rx-empty-page'); this.kernel.freeFrame(frame); continue; }
      if (this.flows && !this.flows.has(data.flow)) this.protocolError('netfront-rx-foreign-flow');
      const csum = r.flags & NETRXF.data_validated ? 'verified' as const : 'done' as const;
      this.deliverUp(x, {
        id: data.id, flow: data.flow, reply: data.reply, kind: data.kind, seq: data.seq, len: data.len, ack: data.ack, wnd: data.wnd, mss: data.mss,
        csum, frames: [frame], owner: this.kernel.domid, cold: data.cold, release: undefined, data: undefined,
      });
    }
    // Flipped pages must be entered into our physmap and kernel page tables (one multicall).
    if (mapped.length) this.xen.mmuUpdate(x, mapped.length);
    if (n) { this.actor?.send(NF.RX_BUFFERS_USED); this.refill(x); }
    if (this.rxr.unconsumedResponses() > 0 || this.rxr.finalCheckForResponses()) this.onEvent(x);
  }
}
