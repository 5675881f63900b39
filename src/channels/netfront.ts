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

interface TxInFlight { pkt: Packet; refs: number[]; ids: number[]; answered: number }

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
   * Initialising, connect (talk_to_netback, here `talk`). Nothing else is acted on: a backend that
   * closes under an honest frontend does not happen in these scenarios (xenbus_frontend_closed is left out).
   */
  backendChanged(xs: Xs, front: string, back: string, talk: () => void): void {
    const v = xs.read(`${back}/state`);
    if (v === String(XenbusState.InitWait) && xs.read(`${front}/state`) === String(XenbusState.Initialising)) talk();
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
    const f: TxInFlight = { pkt: p, refs, ids, answered: 0 };
    for (const id of ids) this.txById.set(id, f);
    this.notify(x, this.tx.pushRequests());
    return true;
  }

  /** TX packets still waiting for their responses. */
  outstandingTx(): number { return new Set(this.txById.values()).size; }
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
    if (this.control.napi === 'scheduled') return;
    this.kernel.post(this.pollTask, 'irq');
    this.actor?.send(NF.NAPI_SCHEDULE);
  }

  /** Fill the RX ring with buffers for the backend. */
  refill(x: Exec): void {
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
