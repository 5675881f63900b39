/**
 * Transmit (guest -> wire; Linux netback.c): take requests off the TX ring once per pass from one
 * validated read of req_prod, check each packet's slots like xenvif_tx_build_gops, map or pin the
 * guest's pages in one batched grant operation, and answer once the NIC is done with them. A fatal
 * protocol violation disables the vif (xenvif_fatal_tx_err); the rest of the driver domain goes on.
 */
import type { Exec } from '../../core/exec.js';
import type { Kernel } from '../../domains/kernel.js';
import { HDR_LEN, ETH_HLEN, PAGE_SIZE, type Packet } from '../../core/packet.js';
import { GNTST } from '../../hypervisor/grant-table.js';
import { drop, note } from '../../model/counters.js';
import { ringDiff } from '../ring.js';
import {
  FATAL_SKB_SLOTS, MAX_PENDING_REQS, NETIF_RSP, NETTXF, XEN_NETBK_MCAST_MAX, XEN_NETIF_EXTRA_FLAG_MORE, XEN_NETIF_EXTRA_TYPE,
  XEN_NETIF_GSO_TYPE, XEN_NETIF_NR_SLOTS_MIN, type TxExtra, type TxRequest, type TxSlot,
} from '../netif.js';
import type { Netback } from '../netback.js';
import { COPY_LEN, asExtra, asRequest, type PendingTx } from './common.js';
import { notify, xenvif_unmap_frontend_data_rings } from './interface.js';
import { xenvif_rx_queue_purge } from './rx.js';
import { NB, type NetbackEvent } from '../netback-machine.js';
import { readPayload } from '../../hardware/payload.js';
import type { Run } from '../../model/integrity.js';


/**
 * Pending-request slots (MAX_PENDING_REQS = 256): a slot holds one in-flight TX data slot (and its
 * grant handle) until the NIC is done with it. By default one pool is shared by every vif, as in the
 * single-threaded netback of Xen 2.0/3.0; `netback.pendingRing: per-vif` gives each vif its own, as
 * Linux's multi-queue netback has one per queue.
 *
 * A slot is also a page of the driver domain's address space: netback maps the guest's page for
 * pending_idx at MMAP_VADDR(pending_idx) (Xen 2.0/3.0 netback.c, one area of MAX_PENDING_REQS pages
 * for the shared ring) or at queue->mmap_pages[pending_idx] (Linux xen-netback, pages of its own per
 * queue). So two live mappings never share an address, whatever their grant handles, and a freed
 * slot's address is reused only after its unmap (which flushes). Free indices are a FIFO ring, as
 * Linux's pending_ring: taken at pending_cons, returned at pending_prod.
 */
export class PendingPool {
  free: number;
  private waiting: Netback[] = [];
  /** Free pending indices (pending_ring), taken at `cons`, returned at `prod`. */
  private readonly ring: number[];
  private cons = 0;
  private prod: number;
  /** First page of this pool's mapping area in the driver domain's address space (MMAP_VADDR(0)). */
  readonly mmap: number;
  constructor(dom0: Pick<Kernel, 'allocMapArea'>, readonly size = MAX_PENDING_REQS) {
    this.free = size;
    this.ring = Array.from({ length: size }, (_, i) => i);
    this.prod = size;
    this.mmap = dom0.allocMapArea(size);
  }
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
  /** Return reserved slots; the first waiting vif is kicked once enough are free for a worst-case packet. */
  give(n: number, x: Exec | null, reserve = FATAL_SKB_SLOTS + 1): void {
    this.free += n;
    if (this.waiting.length && this.free >= reserve) this.waiting[0].kick(x);
  }
  /** Undo a take that consumed nothing (the packet waits for credit); the end of the pass gives the next waiter its turn. */
  unreserve(n: number): void { this.free += n; }
  /** Pending indices for n reserved slots (the reservation guarantees the ring holds them). */
  assign(n: number): number[] {
    const out: number[] = [];
    for (let i = 0; i < n; i++) out.push(this.ring[this.cons++ % this.size]);
    return out;
  }
  /** Slots the NIC (or an error) is done with, in the order netback releases them (xenvif_idx_release). */
  release(idx: readonly number[], x: Exec | null): void {
    for (const i of idx) this.ring[this.prod++ % this.size] = i;
    this.give(idx.length, x);
  }
  /** MMAP_VADDR(pending_idx): the page a slot's grant mapping lives at. */
  vaddr(idx: number): number { return this.mmap + idx; }
  /** A vif that goes away stops waiting (and the next one gets its turn). */
  forget(nb: Netback, x: Exec | null): void {
    const i = this.waiting.indexOf(nb);
    if (i < 0) return;
    this.waiting.splice(i, 1);
    if (i === 0) this.give(0, x);
  }
}

export function xenvif_fatal_tx_err(vif: Netback, reason: string): void {
  if (vif.control.tx === 'disabled') return;
  vif.actor?.send({ type: 'TX_FATAL_ERR', reason } as NetbackEvent);
  note(vif.counters, `vif-disabled:${reason}`);
  // Carrier off (XSA-90: done later by the RX thread in Linux): whatever was queued for the guest goes.
  xenvif_rx_queue_purge(vif, 'vif-disabled');
}

export function take_slot(vif: Netback): TxSlot {
  vif.avail--;
  vif.passSlots++;
  vif.stats.slotsTaken++;
  return vif.tx.takeRequest();
}

export function xenvif_tx_action(vif: Netback, x: Exec): void {
  if (vif.control.tx === 'disabled' || !vif.connected) { vif.actor?.send(NB.TX_DONE); return; }
  vif.actor?.send(NB.TX_ACTION);
  x.touch('netback');
  vif.stats.txPasses++;
  // One read of the frontend's producer for the whole pass, validated before use (2.10, XSA-39).
  const prod = vif.tx.sring.reqProd >>> 0;
  const size = vif.tx.size;
  if (vif.opts.validate.producer && ringDiff(prod, vif.tx.rspProdPvt) > size) { xenvif_fatal_tx_err(vif, 'impossible-number-of-requests'); return; }
  const inFlight = ringDiff(vif.tx.reqCons, vif.tx.rspProdPvt);
  vif.avail = inFlight >= size ? 0 : Math.min(ringDiff(prod, vif.tx.reqCons), size - inFlight);
  vif.passSlots = 0;
  const pkts: PendingTx[] = [];
  let blocked = false, rateLimited = false;
  while (pkts.length < vif.budget && vif.avail > 0) {
    // Wait for pending slots before consuming (at most 1 + 20 slots for one packet); Linux's loop
    // checks them before the credit, so a packet that cannot go for want of slots is not charged.
    if (!vif.pending.take(FATAL_SKB_SLOTS + 1, vif)) { blocked = true; break; }
    if (vif.credit && !tx_credit_ok(vif)) { vif.pending.unreserve(FATAL_SKB_SLOTS + 1); rateLimited = true; break; }
    const p = xenvif_tx_build_gops(vif, x);
    vif.pending.give(FATAL_SKB_SLOTS + 1 - (p && p !== 'fatal' ? p.slots.length : 0), x);
    if (p && p !== 'fatal') p.pending = vif.pending.assign(p.slots.length);
    if (p === 'fatal') { end_pass(vif); return; }
    if (p) pkts.push(p);
  }
  end_pass(vif);
  if (pkts.length) xenvif_tx_submit(vif, x, pkts);
  if (blocked) { vif.actor?.send(NB.TX_WAIT_PENDING); return; } // PendingPool.give wakes us
  // Out of credit, the vif waits for its timer, not for pending slots: it leaves the pool's queue
  // (else, first in line, it would be kicked again at once and keep every other vif waiting).
  if (rateLimited) vif.pending.forget(vif, x);
  vif.pending.give(0, x); // let the next waiting vif have a go if slots remain
  // Rate limited: no re-check of the ring and no events until the credit timer fires (xenvif_poll).
  if (rateLimited) { vif.actor?.send(NB.TX_CREDIT_WAIT); return; }
  if (tx_work_todo(vif)) {
    vif.kernel.post(vif.txTask, 'irq');
    vif.actor?.send(NB.NAPI_SCHEDULE);
  } else vif.actor?.send(NB.TX_DONE);
}

/**
 * Credit-based scheduling (xenvif_tx_build_gops): the next packet's size (its first request, read
 * again on the next pass if it cannot go now) against the vif's credit; false ends the pass.
 */
function tx_credit_ok(vif: Netback): boolean {
  const c = vif.credit!;
  const slot = vif.tx.sring.slots[vif.tx.reqCons & (vif.tx.size - 1)];
  const size = slot?.req === undefined ? 0 : asRequest(slot.req).size;
  if (size > c.remaining) {
    const delay = c.exceeded(size, vif.clock!.now());
    if (delay === null) return false;
    if (delay >= 0) { vif.clock!.after(delay, () => xenvif_tx_credit_callback(vif)); return false; }
  }
  c.remaining -= size;
  return true;
}

/** The credit timer: more credit, and the TX work goes on if the vif was waiting for it. */
export function xenvif_tx_credit_callback(vif: Netback): void {
  const c = vif.credit!;
  c.timerPending = false;
  c.add();
  if (vif.control.tx !== 'creditWait') return; // a pass is already queued, or the vif went away
  if (tx_work_todo(vif)) {
    // Scheduled before it is posted: from a timer, outside any task, the post may run the pass at once.
    vif.actor?.send(NB.NAPI_SCHEDULE);
    vif.kernel.post(vif.txTask, 'irq');
  } else vif.actor?.send(NB.TX_DONE);
}

/**
 * RING_FINAL_CHECK_FOR_REQUESTS (1.6) where every read of the frontend's producer is validated like
 * the pass's own: a producer that is impossible on the re-check disables the vif instead of keeping
 * the backend polling a ring that never yields anything (an oscillating req_prod would livelock it).
 */
export function tx_work_todo(vif: Netback): boolean {
  const work = (): boolean => {
    const prod = vif.tx.sring.reqProd >>> 0;
    if (vif.opts.validate.producer && ringDiff(prod, vif.tx.rspProdPvt) > vif.tx.size) { xenvif_fatal_tx_err(vif, 'impossible-number-of-requests'); return false; }
    const inFlight = ringDiff(vif.tx.reqCons, vif.tx.rspProdPvt);
    return inFlight < vif.tx.size && ringDiff(prod, vif.tx.reqCons) > 0;
  };
  if (work()) return true;
  if (vif.control.tx === 'disabled') return false;
  vif.tx.setReqEvent(vif.tx.reqCons + 1);
  return work();
}

export function end_pass(vif: Netback): void {
  if (vif.passSlots > vif.stats.maxTxSlotsPerPass) vif.stats.maxTxSlotsPerPass = vif.passSlots;
}

/** The ledger: one packet left the TX path of this vif (forwarded or dropped). */
export function tx_unit(vif: Netback): void {
  vif.txUnits++;
  if (vif.adversary) vif.counters.pkt.injected++;
}

/**
 * Read one packet's slots (first, extras, following data slots) and validate them in Linux
 * netback's order (xenvif_tx_build_gops / xenvif_count_requests, 2.10). Returns the packet, null
 * if it was answered with errors (or was a multicast-control dummy), or 'fatal'.
 */
export function xenvif_tx_build_gops(vif: Netback, x: Exec): PendingTx | null | 'fatal' {
  const first = asRequest(take_slot(vif));
  const consumed: TxRequest[] = [first];
  let extras = 0;
  const byType: Array<TxExtra | undefined> = [];
  const fatal = (why: string): 'fatal' => {
    // Every consumed slot still gets exactly one response (I4); then the vif is disabled.
    make_tx_response(vif, x, consumed, extras, NETIF_RSP.ERROR);
    xenvif_fatal_tx_err(vif, why);
    return 'fatal';
  };
  if (first.flags & NETTXF.extra_info) {
    for (;;) {
      if (vif.avail <= 0) return fatal('missing-extra-info');
      const e = asExtra(take_slot(vif));
      extras++;
      if (vif.opts.validate.extras && (e.type === XEN_NETIF_EXTRA_TYPE.NONE || e.type >= XEN_NETIF_EXTRA_TYPE.MAX)) return fatal('bad-extra-type');
      byType[e.type] = e; // a duplicate of one type replaces the earlier one
      if (!(e.flags & XEN_NETIF_EXTRA_FLAG_MORE)) break;
    }
  }
  // Multicast control requests are dummy packets: answered at once, no data slots consumed.
  const add = byType[XEN_NETIF_EXTRA_TYPE.MCAST_ADD], del = byType[XEN_NETIF_EXTRA_TYPE.MCAST_DEL];
  if (add) {
    const a = String(add.addr ?? '');
    const ok = vif.mcast.has(a) || vif.mcast.size < XEN_NETBK_MCAST_MAX;
    if (ok) vif.mcast.add(a); else note(vif.counters, 'mcast-table-full');
    make_tx_response(vif, x, consumed, extras, ok ? NETIF_RSP.OKAY : NETIF_RSP.ERROR);
    return null;
  }
  if (del) {
    vif.mcast.delete(String(del.addr ?? ''));
    make_tx_response(vif, x, consumed, extras, NETIF_RSP.OKAY);
    return null;
  }
  // The following data slots (xenvif_count_requests).
  let remaining = first.size;
  let dropErr = '';
  let more = (first.flags & NETTXF.more_data) !== 0;
  while (more) {
    const n = consumed.length - 1; // following slots so far
    if (vif.avail <= 0) return fatal('chain-past-producer');
    if (vif.opts.validate.slotLimits && n >= FATAL_SKB_SLOTS) return fatal('too-many-slots');
    if (vif.opts.validate.slotLimits && !dropErr && n >= XEN_NETIF_NR_SLOTS_MIN) dropErr = 'too-many-slots';
    const s = asRequest(take_slot(vif));
    consumed.push(s);
    if (!dropErr && s.size > remaining) dropErr = 'fragments-exceed-total'; // total overflowed 64 KiB: buggy, not fatal
    remaining = (remaining - s.size) & 0xffff;
    if (vif.opts.validate.pageBounds && s.offset + s.size > PAGE_SIZE) return fatal('slot-crosses-page');
    more = (s.flags & NETTXF.more_data) !== 0;
  }
  const gso = byType[XEN_NETIF_EXTRA_TYPE.GSO] ?? null;
  if (!dropErr && remaining < ETH_HLEN) dropErr = 'runt';
  if (vif.opts.validate.pageBounds && !dropErr && first.offset + remaining > PAGE_SIZE) return fatal('slot-crosses-page');
  if (vif.opts.validate.extras && !dropErr && gso && (gso.gsoSize === 0 || (gso.gsoType !== XEN_NETIF_GSO_TYPE.TCPV4 && gso.gsoType !== XEN_NETIF_GSO_TYPE.TCPV6))) return fatal('bad-gso');
  if (dropErr) {
    drop(vif.counters, `tx-${dropErr}`);
    tx_unit(vif);
    make_tx_response(vif, x, consumed, extras, NETIF_RSP.ERROR);
    return null;
  }
  const mapSlot = consumed.flatMap((s, i) => (i === 0 || s.size > 0 ? [i] : []));
  const map = mapSlot.map((i) => consumed[i]);
  vif.stats.zeroSizeFrags += consumed.length - map.length;
  return { slots: consumed, extras, map, mapSlot, own: remaining, gso, handles: [], pending: [] };
}

/** Answer a request that goes no further (an error, a fatal violation, a multicast-control dummy). */
export function make_tx_response(vif: Netback, x: Exec, slots: TxRequest[], extras: number, status: number): void {
  x.cost('netbackTxDonePerPacket'); // examining and answering it is never free
  for (const s of slots) { vif.tx.putResponse({ id: s.id, status }); if (s === slots[0]) for (let i = 0; i < extras; i++) vif.tx.putResponse({ id: 0, status: NETIF_RSP.NULL }); }
  notify(vif, x, vif.tx.pushResponses());
}

export function xenvif_tx_submit(vif: Netback, x: Exec, pkts: PendingTx[]): void {
  const all = pkts.flatMap((p) => p.map);
  const ops = all.map((s) => ({ dom: vif.guestDom, ref: s.gref, readonly: true }));
  let grantOps = ops.length;
  // One batched grant-table hypercall for the whole pass.
  const res = vif.txMode === 'map' ? vif.xen.grantMap(x, vif.kernel, ops) : vif.xen.grantDeviceMap(x, vif.kernel, ops);
  if (vif.txMode === 'map') vif.counters.txDataMaps += ops.length;
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
      drop(vif.counters, 'tx-grant-error');
      tx_unit(vif);
      if (p.handles.length) vif.xen.grantUnmap(x, vif.kernel, p.handles, vif.txMode === 'map');
      grantOps += p.handles.length;
      p.handles = [];
      make_tx_response(vif, x, p.slots, p.extras, NETIF_RSP.ERROR);
      vif.pending.release(p.pending, x);
      continue;
    }
    // Each mapped page is read through its pending slot's address (the slot of the request it came from).
    if (vif.txMode === 'map') for (let i = 0; i < frames.length; i++) x.touchTransient(vif.kernel.mapSlotTag(vif.pending.vaddr(p.pending[p.mapSlot[i]])), frames[i]);
    else headerCopies.push({ pkt: p, ops: xenvif_tx_copy_ops(vif, p) });
    ready.push({ pkt: p, frames });
  }
  // No-remap: only the header is copied into the driver domain (the bridge needs it); the NIC DMAs the rest.
  // The copy takes the first COPY_LEN bytes of the packet, from as many slots as they span (XSA-423),
  // and never reads outside a slot's [offset, offset + size).
  // What the copy brought is the packet's first bytes (the skb's linear area); the NIC reads the rest from the guest's pages.
  const heads = new Map<PendingTx, Run>();
  if (headerCopies.length) {
    const hdr = headerCopies.flatMap((h) => h.ops.map((o) => ({ source: { dom: vif.guestDom, ref: o.ref, offset: o.offset }, dest: { dom: vif.kernel.domid, frame: vif.kernel.allocFrame(), offset: 0 }, len: o.len })));
    grantOps += hdr.length;
    vif.xen.grantCopy(x, vif.kernel, hdr);
    let k = 0;
    for (const h of headerCopies) {
      const ops = hdr.slice(k, k += h.ops.length);
      const copied = ops.reduce((n, o) => n + o.len, 0);
      if (copied > HDR_LEN) heads.set(h.pkt, readPayload(vif.kernel.mem, linear(ops), 0, copied - HDR_LEN));
    }
    for (const h of hdr) vif.kernel.freeFrame(h.dest.frame);
  }
  if (grantOps > vif.stats.maxGrantOpsPerPass) vif.stats.maxGrantOpsPerPass = grantOps;
  for (const { pkt, frames } of ready) {
    x.cost('netbackTxPerPacket');
    x.cost('skbAllocFree');
    vif.txInflight++;
    const data = vif.kernel.mem.contents.get(frames[0]);
    if (!data) { drop(vif.counters, 'tx-no-data'); tx_unit(vif); xenvif_zerocopy_callback(vif, x, pkt); continue; }
    const first = pkt.slots[0];
    // The packet is what the requests say: its length is the first request's total size, its
    // segment size the GSO extra's (the guest's memory supplies the bytes: flow, sequence numbers).
    const len = Math.max(0, first.size - HDR_LEN);
    const mss = pkt.gso ? pkt.gso.gsoSize : data.mss;
    if (!pkt.gso && len > mss) { drop(vif.counters, 'tx-oversize-without-gso'); tx_unit(vif); xenvif_zerocopy_callback(vif, x, pkt); continue; }
    const out: Packet = {
      id: data.id, flow: data.flow, reply: data.reply, kind: data.kind, seq: data.seq, len, ack: data.ack, wnd: data.wnd, mss,
      csum: first.flags & NETTXF.csum_blank ? 'partial' : 'done', frames, owner: vif.guestDom, cold: data.cold,
      release: (rx) => xenvif_zerocopy_callback(vif, rx, pkt),
      // The bytes are the slots' [offset, offset + size), in order (the first slot's own part of the total).
      data: {
        pages: frames, offsets: pkt.map.map((s) => s.offset), sizes: pkt.map.map((s, i) => (i === 0 ? pkt.own : s.size)),
        head: heads.get(pkt) ?? null, skip: 0,
      },
    };
    tx_unit(vif);
    vif.rx(x, out); // into the bridge
  }
}

/** A packet made of the header copy's destinations, one after the other, to read what they hold. */
function linear(ops: Array<{ dest: { frame: number }; len: number }>): Packet {
  return {
    id: 0, flow: -1, reply: false, kind: 'data', seq: 0, len: 0, ack: 0, wnd: 0, mss: 0, csum: 'done', frames: [], owner: -1, cold: undefined, release: undefined,
    data: { pages: ops.map((o) => o.dest.frame), offsets: null, sizes: ops.map((o) => o.len), head: null, skip: 0 },
  };
}

/** Header copy ops: the first min(COPY_LEN, packet) bytes, slot by slot. */
export function xenvif_tx_copy_ops(vif: Netback, p: PendingTx): Array<{ ref: number; offset: number; len: number }> {
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
export function xenvif_zerocopy_callback(vif: Netback, _x: Exec, p: PendingTx): void {
  vif.done.push(p);
  if (vif.doneQueued) return;
  vif.doneQueued = true;
  vif.kernel.post(vif.txDoneTask, 'irq');
}

export function xenvif_tx_dealloc_action(vif: Netback, x: Exec): void {
  vif.doneQueued = false;
  const batch = vif.done.splice(0);
  x.touch('netback');
  const handles: number[] = [];
  const slots: number[] = [];
  for (const p of batch) { for (const h of p.handles) handles.push(h); for (const i of p.pending) slots.push(i); }
  if (handles.length) vif.xen.grantUnmap(x, vif.kernel, handles, vif.txMode === 'map');
  vif.pending.release(slots, x);
  for (const p of batch) {
    x.cost('netbackTxDonePerPacket');
    for (const s of p.slots) {
      vif.tx.putResponse({ id: s.id, status: NETIF_RSP.OKAY });
      if (s === p.slots[0]) for (let i = 0; i < p.extras; i++) vif.tx.putResponse({ id: 0, status: NETIF_RSP.NULL });
    }
  }
  vif.txInflight -= batch.length;
  if (batch.length) notify(vif, x, vif.tx.pushResponses());
  xenvif_unmap_frontend_data_rings(vif);
}
