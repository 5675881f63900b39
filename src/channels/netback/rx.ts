/**
 * Receive (wire -> guest; Linux rx.c): packets the bridge queued for the guest go into buffers the
 * frontend posted, by page flipping (Xen 2.0), by mapping and copying (ATC 2006), or by GNTTABOP_copy.
 * Packets that wait too long expire, and a queue that cannot deliver at all drops its carrier (XSA-392).
 */
import type { Exec } from '../../core/exec.js';
import { HDR_LEN, PAGE_SIZE, type Packet } from '../../core/packet.js';
import { GNTST } from '../../hypervisor/grant-table.js';
import { drop, note } from '../../model/counters.js';
import { ringDiff } from '../ring.js';
import { NETIF_RSP, NETRXF, type RxRequest } from '../netif.js';
import type { Netback } from '../netback.js';
import { packetBytes } from './common.js';
import { notify } from './interface.js';
import { NB } from '../netback-machine.js';

export function xenvif_rx_queue_purge(vif: Netback, reason: string): void {
  if (!vif.rxQueue.length) return;
  vif.actor?.send(NB.RX_DRAIN);
  const q = vif.rxQueue.splice(0);
  vif.rxQueuedAt.length = 0;
  drop(vif.counters, reason, q.length);
  for (const p of q) free_packet_now(vif, p);
  vif.actor?.send(NB.RX_DRAINED);
}

export function xenvif_kick_rx(vif: Netback): void {
  if (vif.rxQueued) return;
  vif.rxQueued = true;
  vif.kernel.post(vif.rxTask, 'irq');
  vif.actor?.send(NB.RX_KICK);
}

export function free_packet(vif: Netback, x: Exec, p: Packet): void {
  if (p.release) p.release(x);
  else free_packet_now(vif, p);
}

export function free_packet_now(vif: Netback, p: Packet): void {
  for (const f of p.frames) if (vif.kernel.mem.ownerOf(f) === vif.kernel.domid) vif.kernel.freeFrame(f);
}

/** Packets that waited longer than the drain timeout go; a queue that cannot deliver at all for the stall timeout drops its carrier. */
export function xenvif_rx_queue_drop_expired(vif: Netback): void {
  if (!vif.clock || !vif.rxQueue.length) return;
  const now = vif.clock.now();
  const drainPs = vif.opts.rxDrainUs * 1e6;
  let n = 0;
  while (n < vif.rxQueue.length && now - vif.rxQueuedAt[n] >= drainPs) n++;
  if (n) {
    vif.actor?.send(NB.RX_DRAIN);
    drop(vif.counters, 'netback-rx-expired', n);
    for (const p of vif.rxQueue.splice(0, n)) free_packet_now(vif, p);
    vif.rxQueuedAt.splice(0, n);
    vif.actor?.send(NB.RX_DRAINED);
  }
  if (vif.rxNotify && vif.control.rx !== 'carrierOff' && now - vif.lastRxProgress >= vif.opts.rxStallUs * 1e6) {
    vif.actor?.send(NB.CARRIER_OFF);
    note(vif.counters, 'vif-rx-stalled');
    xenvif_rx_queue_purge(vif, 'vif-carrier-off');
  }
}

/** Re-check later while packets wait for buffers (expiry, stall, and polling for frontends without rx-notify). */
export function xenvif_rx_arm_timer(vif: Netback): void {
  if (vif.rxTimer || !vif.clock || !vif.rxQueue.length) return;
  const now = vif.clock.now();
  let atUs = Math.min((vif.rxQueuedAt[0] - now) / 1e6 + vif.opts.rxDrainUs, (vif.lastRxProgress - now) / 1e6 + vif.opts.rxStallUs);
  if (!vif.rxNotify) atUs = Math.min(atUs, vif.opts.rxPollUs);
  vif.rxTimer = true;
  vif.clock.after(Math.max(1, atUs) * 1e6, () => {
    vif.rxTimer = false;
    if (vif.connected && vif.rxQueue.length) xenvif_kick_rx(vif);
  });
}

export function xenvif_rx_action(vif: Netback, x: Exec): void {
  vif.rxQueued = false;
  if (!vif.connected) { vif.actor?.send(NB.RX_DONE); return; }
  x.touch('netback');
  // One read of the frontend's RX producer for the pass; never more requests than the ring holds (1.7).
  const prod = vif.rxr.sring.reqProd >>> 0;
  const size = vif.rxr.size;
  const inFlight = ringDiff(vif.rxr.reqCons, vif.rxr.rspProdPvt);
  let avail = inFlight >= size ? 0 : Math.min(ringDiff(prod, vif.rxr.reqCons), size - inFlight);
  const batch: Array<{ req: RxRequest; p: Packet }> = [];
  while (vif.rxQueue.length && batch.length < vif.budget && avail > 0) {
    avail--;
    const req = vif.rxr.takeRequest();
    vif.rxQueuedAt.shift();
    batch.push({ req: { id: req.id & 0xffff, gref: req.gref >>> 0 }, p: vif.rxQueue.shift()! });
  }
  if (!batch.length) {
    // Wait for the frontend to post buffers; it notifies (feature-rx-notify) when it does.
    xenvif_rx_queue_drop_expired(vif);
    if (vif.rxQueue.length) {
      vif.rxr.setReqEvent((vif.rxr.sring.reqProd + 1) >>> 0);
      xenvif_rx_arm_timer(vif);
      vif.actor?.send(NB.RX_STALL);
    } else vif.actor?.send(NB.RX_DONE);
    return;
  }
  if (batch.length > vif.stats.maxRxPerPass) vif.stats.maxRxPerPass = batch.length;
  if (vif.clock) vif.lastRxProgress = vif.clock.now();
  const status: number[] = [];
  if (vif.feat.rxCopy && vif.rxCopyVia === 'map') {
    // Map each granted guest buffer writable at the i-th page of our receive area, copy on our own
    // CPU, unmap (one batch, one flush: the area is free again for the next pass).
    const res = vif.xen.grantMap(x, vif.kernel, batch.map(({ req }) => ({ dom: vif.guestDom, ref: req.gref, readonly: false })));
    batch.forEach(({ p }, i) => {
      const ok = res[i].status === GNTST.okay;
      if (ok) {
        x.touchTransient(vif.kernel.mapSlotTag(vif.rxMmap + i), res[i].frame!);
        x.copy(Math.min(PAGE_SIZE, p.len + HDR_LEN), p.cold, true); // the guest's buffer page is not in our cache
        vif.kernel.mem.copy(p.frames[0], 0, res[i].frame!, 0, Math.min(PAGE_SIZE, p.len + HDR_LEN));
        vif.kernel.mem.contents.set(res[i].frame!, packetBytes(p));
      }
      status.push(ok ? p.len + HDR_LEN : NETIF_RSP.ERROR);
      free_packet(vif, x, p);
    });
    vif.xen.grantUnmap(x, vif.kernel, res.filter((r) => r.status === GNTST.okay).map((r) => r.handle!), true);
  } else if (vif.feat.rxCopy) {
    const ops = batch.map(({ req, p }) => ({
      source: { dom: vif.kernel.domid, frame: p.frames[0], offset: 0 },
      dest: { dom: vif.guestDom, ref: req.gref, offset: 0 },
      len: Math.min(PAGE_SIZE, p.len + HDR_LEN),
      cold: p.cold,
      dstCold: true,
    }));
    const res = vif.xen.grantCopy(x, vif.kernel, ops);
    batch.forEach(({ p }, i) => {
      const ok = res[i].status === GNTST.okay;
      // The frame Xen resolved and wrote (never a second read of the guest's grant entry: XSA-155).
      if (ok && res[i].destFrame !== undefined) vif.kernel.mem.contents.set(res[i].destFrame!, packetBytes(p));
      status.push(ok ? p.len + HDR_LEN : NETIF_RSP.ERROR);
      free_packet(vif, x, p);
    });
  } else {
    // Page flipping: give the guest the frame holding the packet, take fresh frames for ourselves,
    // and remap our own pseudo-physical slots to them (one multicall).
    const fresh = vif.xen.increaseReservation(x, vif.kernel, batch.length);
    for (const f of fresh) vif.kernel.freeFrame(f);
    vif.xen.mmuUpdate(x, batch.length);
    const ops = batch.map(({ req, p }) => ({ mfn: p.frames[0], domid: vif.guestDom, ref: req.gref }));
    const res = vif.xen.grantTransfer(x, vif.kernel, ops);
    batch.forEach(({ p }, i) => {
      status.push(res[i].status === GNTST.okay ? p.len + HDR_LEN : NETIF_RSP.ERROR);
      // bad_page: the frame never left us, so it goes back to our pool (any other failure: Xen freed it).
      if (res[i].status === GNTST.bad_page && vif.kernel.mem.ownerOf(p.frames[0]) === vif.kernel.domid) vif.kernel.freeFrame(p.frames[0]);
    });
  }
  batch.forEach(({ req, p }, i) => {
    x.cost('netbackRxPerPacket');
    // data_validated is protocol (2.3): set whenever the NIC validated the checksum; csum_blank needs negotiation.
    const flags = p.csum === 'verified' ? NETRXF.data_validated : p.csum === 'partial' && vif.feat.csum ? NETRXF.data_validated | NETRXF.csum_blank : 0;
    vif.rxr.putResponse({ id: req.id, offset: 0, flags, status: status[i] });
    if (status[i] < 0) drop(vif.counters, 'rx-grant-error');
    else { vif.rxUnitsOk++; if (vif.adversary) vif.counters.pkt.sunk++; }
  });
  notify(vif, x, vif.rxr.pushResponses());
  if (vif.rxQueue.length) xenvif_kick_rx(vif);
  else vif.actor?.send(NB.RX_DONE);
}
