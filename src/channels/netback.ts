/**
 * netback: the driver domain's end of one vif, a bridge port.
 * Transmit (guest -> wire): take requests off the TX ring, validate them,
 * and either map the guest's pages into the driver domain (Xen 2.0) or pin
 * them for device DMA and copy only the header (the paper's I/O channel);
 * responses go back once the NIC has sent the packet and the grants are gone.
 * Receive (wire -> guest): flip the page holding the packet to the guest in
 * exchange for a fresh one (Xen 2.0), or grant-copy it into a page the guest
 * granted (the paper's I/O channel).
 */
import type { Exec, Kernel } from '../domains/kernel.js';
import type { NetDevice, NetFeatures } from '../domains/netdev.js';
import { HDR_LEN, ETH_HLEN, type Packet } from '../domains/packet.js';
import type { Xen } from '../hypervisor/xen.js';
import { GNTST } from '../hypervisor/grant-table.js';
import { drop, type Counters } from '../model/counters.js';
import { BackRing } from './ring.js';
import { TAG, tlbTag } from '../hardware/tlb.js';
import {
  FATAL_SKB_SLOTS, NETIF_RSP, NETRXF, NETTXF, XEN_NETIF_EXTRA_TYPE, XEN_NETIF_GSO_TYPE, XEN_NETIF_NR_SLOTS_MIN, isExtra,
  type RxRequest, type RxResponse, type TxRequest, type TxResponse, type TxSlot, type VifFeatures, type VifRings,
} from './netif.js';

export type TxMode = 'map' | 'noremap';
/** How a copying receiver is served: the driver domain maps the guest's buffer and copies (ATC 2006), or Xen copies (GNTTABOP_copy, Xen >= 3.0.4). */
export type RxCopyVia = 'map' | 'gnttab';

interface PendingTx { slots: TxRequest[]; extras: number; handles: number[] }

export const COPY_LEN = 128; // XEN_NETBACK_TX_COPY_LEN

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
    if (this.waiting.length && this.free >= reserve) this.waiting[0].onEvent(x);
  }
}

export class Netback implements NetDevice {
  rx: (x: Exec, p: Packet) => void = () => {};
  wake: (x: Exec) => void = () => {};
  readonly tx: BackRing<TxSlot, TxResponse>;
  readonly rxr: BackRing<RxRequest, RxResponse>;
  private rxQueue: Packet[] = [];
  private txQueued = false;
  private rxQueued = false;
  private doneQueued = false;
  private done: PendingTx[] = [];
  /** Set on a fatal protocol violation (2.10): the vif stops, the rest of the driver domain goes on. */
  disabled: string | null = null;
  constructor(
    readonly name: string,
    readonly kernel: Kernel,
    readonly xen: Xen,
    readonly guestDom: number,
    rings: VifRings,
    readonly feat: VifFeatures,
    readonly txMode: TxMode,
    readonly rxCopyVia: RxCopyVia,
    readonly channel: string,
    readonly counters: Counters,
    readonly pending: PendingPool,
    readonly budget = 64,
    readonly rxQueueLimit = 256,
  ) {
    this.tx = new BackRing(rings.tx);
    this.rxr = new BackRing(rings.rx);
  }
  features(): NetFeatures { return { sg: this.feat.sg, csum: this.feat.csum, tso: this.feat.tso }; }

  private notify(x: Exec, push: { notify: boolean }): void {
    if (push.notify) this.xen.evtchnSend(x, this.kernel, this.channel, 'b');
    else this.counters.notificationsSuppressed++;
  }

  private disable(reason: string): void {
    if (this.disabled) return;
    this.disabled = reason;
    drop(this.counters, `vif-disabled:${reason}`);
  }

  /** Event from the frontend: new TX requests and/or new RX buffers. */
  onEvent(x: Exec): void {
    if (this.disabled) return;
    if (!this.txQueued && this.tx.unconsumedRequests() > 0) {
      this.txQueued = true;
      this.kernel.post({ name: `${this.name}-tx`, run: (tx) => this.txAction(tx) }, 'irq');
    }
    if (this.rxQueue.length) this.scheduleRx();
    void x;
  }

  // ------------------------------------------------------------- transmit

  private txAction(x: Exec): void {
    this.txQueued = false;
    if (this.disabled) return;
    x.touch('netback');
    if (this.tx.requestProdOverflow()) { this.disable('impossible-number-of-requests'); return; }
    const pkts: PendingTx[] = [];
    let blocked = false;
    while (pkts.length < this.budget && this.tx.unconsumedRequests() > 0) {
      // Wait for pending slots before consuming (at most 1 + 18 + 2 slots for one packet).
      if (!this.pending.take(FATAL_SKB_SLOTS + 1, this)) { blocked = true; break; }
      const p = this.takePacket(x);
      this.pending.give(FATAL_SKB_SLOTS + 1 - (p && p !== 'fatal' ? p.slots.length : 0), x);
      if (p === 'fatal') return;
      if (p) pkts.push(p);
    }
    if (pkts.length) this.mapAndSend(x, pkts);
    if (blocked) return; // PendingPool.give wakes us
    this.pending.give(0, x); // let the next waiting vif have a go if slots remain
    if (this.tx.unconsumedRequests() > 0 || this.tx.finalCheckForRequests()) {
      this.txQueued = true;
      this.kernel.post({ name: `${this.name}-tx`, run: (tx) => this.txAction(tx) }, 'irq');
    }
  }

  /** Read one packet's slots (first, extras, fragments) and validate them like Linux netback (2.10). */
  private takePacket(x: Exec): PendingTx | null | 'fatal' {
    const first = this.tx.takeRequest();
    if (isExtra(first)) { this.disable('extra-info-without-packet'); return 'fatal'; }
    const slots: TxRequest[] = [first];
    let extras = 0;
    let flags = first.flags;
    if (flags & NETTXF.extra_info) {
      for (;;) {
        if (this.tx.unconsumedRequests() === 0) { this.disable('missing-extra-info'); return 'fatal'; }
        const e = this.tx.takeRequest();
        if (!isExtra(e) || e.type === XEN_NETIF_EXTRA_TYPE.NONE || e.type >= XEN_NETIF_EXTRA_TYPE.MAX) { this.disable('bad-extra-type'); return 'fatal'; }
        if (e.type === XEN_NETIF_EXTRA_TYPE.GSO && (e.gsoSize === 0 || e.gsoType !== XEN_NETIF_GSO_TYPE.TCPV4)) { this.disable('bad-gso'); return 'fatal'; }
        extras++;
        if (!(e.flags & 1)) break; // XEN_NETIF_EXTRA_FLAG_MORE
      }
    }
    while (flags & NETTXF.more_data) {
      if (slots.length - 1 >= FATAL_SKB_SLOTS) { this.disable('too-many-slots'); return 'fatal'; }
      if (this.tx.unconsumedRequests() === 0) { this.disable('chain-past-producer'); return 'fatal'; }
      const s = this.tx.takeRequest();
      if (isExtra(s)) { this.disable('extra-in-data-chain'); return 'fatal'; }
      slots.push(s);
      flags = s.flags;
    }
    for (const s of slots) if (s.offset + (s === first ? Math.min(first.size, 4096) : s.size) > 4096) { this.disable('slot-crosses-page'); return 'fatal'; }
    let bad = '';
    if (slots.length - 1 > XEN_NETIF_NR_SLOTS_MIN) bad = 'too-many-slots';
    else if (first.size < ETH_HLEN) bad = 'runt';
    else if (slots.slice(1).reduce((n, s) => n + s.size, 0) > first.size) bad = 'fragments-exceed-total';
    if (bad) {
      drop(this.counters, `tx-${bad}`);
      this.respond(x, slots, extras, NETIF_RSP.ERROR);
      return null;
    }
    return { slots, extras, handles: [] };
  }

  private respond(x: Exec, slots: TxRequest[], extras: number, status: number): void {
    for (const s of slots) { this.tx.putResponse({ id: s.id, status }); if (s === slots[0]) for (let i = 0; i < extras; i++) this.tx.putResponse({ id: 0, status: NETIF_RSP.NULL }); }
    this.notify(x, this.tx.pushResponses());
  }

  private mapAndSend(x: Exec, pkts: PendingTx[]): void {
    const all = pkts.flatMap((p) => p.slots);
    const ops = all.map((s) => ({ dom: this.guestDom, ref: s.gref, readonly: true }));
    // One batched grant-table hypercall for the whole pass.
    const res = this.txMode === 'map' ? this.xen.grantMap(x, this.kernel, ops) : this.xen.grantDeviceMap(x, this.kernel, ops);
    if (this.txMode === 'map') this.counters.txDataMaps += ops.length;
    let k = 0;
    const headerCopies: Array<{ pkt: PendingTx; ref: number }> = [];
    const ready: Array<{ pkt: PendingTx; frames: number[] }> = [];
    for (const p of pkts) {
      const r = res.slice(k, k + p.slots.length);
      k += p.slots.length;
      p.handles = r.filter((m) => m.status === GNTST.okay).map((m) => m.handle!);
      if (r.some((m) => m.status !== GNTST.okay)) {
        // XSA-362/367: per-slot error, undo what was mapped, never crash.
        drop(this.counters, 'tx-grant-error');
        if (p.handles.length) this.xen.grantUnmap(x, this.kernel, p.handles, this.txMode === 'map');
        p.handles = [];
        this.respond(x, p.slots, p.extras, NETIF_RSP.ERROR);
        this.pending.give(p.slots.length, x);
        continue;
      }
      const frames = r.map((m) => m.frame!);
      if (this.txMode === 'map') for (const h of p.handles) x.touchTransient(tlbTag(this.kernel.domid, TAG.grantMap, h & 255));
      else headerCopies.push({ pkt: p, ref: p.slots[0].gref });
      ready.push({ pkt: p, frames });
    }
    // No-remap: only the header is copied into the driver domain (the bridge needs it); the NIC DMAs the rest.
    if (headerCopies.length) {
      const hdr = headerCopies.map((h) => ({ source: { dom: this.guestDom, ref: h.ref, offset: 0 }, dest: { dom: this.kernel.domid, frame: this.kernel.allocFrame(), offset: 0 }, len: COPY_LEN }));
      this.xen.grantCopy(x, this.kernel, hdr);
      for (const h of hdr) this.kernel.freeFrame(h.dest.frame);
    }
    for (const { pkt, frames } of ready) {
      x.cost('netbackTxPerPacket');
      x.cost('skbAllocFree');
      const data = this.kernel.mem.contents.get(frames[0]);
      if (!data) { drop(this.counters, 'tx-no-data'); this.finishTx(x, pkt); continue; }
      const first = pkt.slots[0];
      const out: Packet = {
        ...data, frames, owner: this.guestDom,
        csum: first.flags & NETTXF.csum_blank ? 'partial' : 'done',
        release: (rx) => this.finishTx(rx, pkt),
      };
      this.rx(x, out); // into the bridge
    }
  }

  /** The NIC is done with the guest's pages: unmap (batched) and answer. */
  private finishTx(x: Exec, p: PendingTx): void {
    this.done.push(p);
    if (this.doneQueued) return;
    this.doneQueued = true;
    this.kernel.post({ name: `${this.name}-tx-done`, run: (dx) => this.flushTxDone(dx) }, 'irq');
    void x;
  }

  private flushTxDone(x: Exec): void {
    this.doneQueued = false;
    const batch = this.done.splice(0);
    x.touch('netback');
    const handles = batch.flatMap((p) => p.handles);
    if (handles.length) this.xen.grantUnmap(x, this.kernel, handles, this.txMode === 'map');
    this.pending.give(batch.reduce((n, p) => n + p.slots.length, 0), x);
    for (const p of batch) {
      x.cost('netbackTxDonePerPacket');
      for (const s of p.slots) {
        this.tx.putResponse({ id: s.id, status: NETIF_RSP.OKAY });
        if (s === p.slots[0]) for (let i = 0; i < p.extras; i++) this.tx.putResponse({ id: 0, status: NETIF_RSP.NULL });
      }
    }
    if (batch.length) this.notify(x, this.tx.pushResponses());
  }

  // -------------------------------------------------------------- receive

  /** Bridge hands us a packet for the guest. */
  xmit(x: Exec, p: Packet): boolean {
    if (this.disabled) { drop(this.counters, 'vif-disabled'); p.release?.(x); return true; }
    if (this.rxQueue.length >= this.rxQueueLimit) { drop(this.counters, 'netback-rx-queue-full'); this.freePacket(x, p); return true; }
    this.rxQueue.push(p);
    this.scheduleRx();
    return true;
  }

  private scheduleRx(): void {
    if (this.rxQueued) return;
    this.rxQueued = true;
    this.kernel.post({ name: `${this.name}-rx`, run: (x) => this.rxAction(x) }, 'irq');
  }

  private freePacket(x: Exec, p: Packet): void {
    if (p.release) p.release(x);
    else for (const f of p.frames) if (this.kernel.mem.ownerOf(f) === this.kernel.domid) this.kernel.freeFrame(f);
  }

  private rxAction(x: Exec): void {
    this.rxQueued = false;
    x.touch('netback');
    const batch: Array<{ req: RxRequest; p: Packet }> = [];
    while (this.rxQueue.length && batch.length < this.budget && this.rxr.unconsumedRequests() > 0) {
      batch.push({ req: this.rxr.takeRequest(), p: this.rxQueue.shift()! });
    }
    if (!batch.length) {
      // Wait for the frontend to post buffers; it notifies (feature-rx-notify) when it does.
      if (this.rxQueue.length) this.rxr.setReqEvent((this.rxr.sring.reqProd + 1) >>> 0);
      return;
    }
    const status: number[] = [];
    if (this.feat.rxCopy && this.rxCopyVia === 'map') {
      // Map each granted guest buffer writable, copy on our own CPU, unmap (one batch, one flush).
      const res = this.xen.grantMap(x, this.kernel, batch.map(({ req }) => ({ dom: this.guestDom, ref: req.gref, readonly: false })));
      batch.forEach(({ p }, i) => {
        const ok = res[i].status === GNTST.okay;
        if (ok) {
          x.touchTransient(tlbTag(this.kernel.domid, TAG.grantMap, res[i].handle! & 255));
          x.copy(Math.min(4096, p.len + HDR_LEN), p.cold, true); // the guest's buffer page is not in our cache
          this.kernel.mem.contents.set(res[i].frame!, { ...p, cold: false });
        }
        status.push(ok ? p.len + HDR_LEN : NETIF_RSP.ERROR);
        this.freePacket(x, p);
      });
      this.xen.grantUnmap(x, this.kernel, res.filter((r) => r.status === GNTST.okay).map((r) => r.handle!), true);
    } else if (this.feat.rxCopy) {
      const ops = batch.map(({ req, p }) => ({
        source: { dom: this.kernel.domid, frame: p.frames[0], offset: 0 },
        dest: { dom: this.guestDom, ref: req.gref, offset: 0 },
        len: Math.min(4096, p.len + HDR_LEN),
        cold: p.cold,
        dstCold: true,
      }));
      const res = this.xen.grantCopy(x, this.kernel, ops);
      batch.forEach(({ p }, i) => {
        const ok = res[i].status === GNTST.okay;
        const dest = ok ? this.xen.grantTables.get(this.guestDom)!.entries[batch[i].req.gref].frame : -1;
        if (ok) this.kernel.mem.contents.set(dest, { ...p, cold: false }); // Xen's copy left it in the cache
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
      batch.forEach(({ p }, i) => status.push(res[i].status === GNTST.okay ? p.len + HDR_LEN : NETIF_RSP.ERROR));
    }
    batch.forEach(({ req, p }, i) => {
      x.cost('netbackRxPerPacket');
      // data_validated is protocol (2.3): set whenever the NIC validated the checksum; csum_blank needs negotiation.
      const flags = p.csum === 'verified' ? NETRXF.data_validated : p.csum === 'partial' && this.feat.csum ? NETRXF.data_validated | NETRXF.csum_blank : 0;
      this.rxr.putResponse({ id: req.id, offset: 0, flags, status: status[i] });
      if (status[i] < 0) drop(this.counters, 'rx-grant-error');
    });
    this.notify(x, this.rxr.pushResponses());
    if (this.rxQueue.length) this.scheduleRx();
  }
}
