/**
 * The vif as a net device (Linux interface.c): the bridge's transmit entry point, the event-channel
 * interrupt with its late EOI for spurious events (XSA-332), kicking the TX/RX/control work, and
 * tearing the data rings down once nothing in flight uses them.
 */
import type { Exec } from '../../core/exec.js';
import { HDR_LEN, PAGE_SIZE, type Packet } from '../../core/packet.js';
import { skb_copy } from '../../domains/skb.js';
import { drop, note } from '../../model/counters.js';
import type { Netback } from '../netback.js';
import { NB } from '../netback-machine.js';
import { free_packet, xenvif_kick_rx, xenvif_rx_queue_purge } from './rx.js';

export function notify(vif: Netback, x: Exec, push: { notify: boolean }): void {
  if (push.notify) vif.xen.evtchnSend(x, vif.kernel, vif.channel, 'b');
  else vif.counters.notificationsSuppressed++;
}

/**
 * Tear the connection down: nothing more is taken from the rings, queued packets are dropped,
 * and the ring pages are unmapped once the NIC is done with every in-flight packet (I5).
 */
export function xenvif_disconnect_data(vif: Netback, x: Exec | null): void {
  if (!vif.connected) return;
  vif.connected = false;
  xenvif_rx_queue_purge(vif, 'vif-disconnected');
  vif.pending.forget(vif, x);
  vif.actor?.send(NB.TX_STOP);
  xenvif_unmap_frontend_data_rings(vif);
}

export function xenvif_unmap_frontend_data_rings(vif: Netback): void {
  if (vif.connected || vif.txInflight > 0 || !vif.ringHandles.length) return;
  for (const h of vif.ringHandles) vif.xen.grants.unmap(vif.kernel.domid, h);
  vif.ringHandles = [];
  vif.ctrl = null;
  const again = vif.reconnect;
  vif.reconnect = null;
  again?.();
  const remove = vif.removal;
  vif.removal = null;
  remove?.();
}

/** Work an event could be for (Linux: the TX/RX/ctrl interrupt handlers' "have work" tests). */
export function xenvif_have_work(vif: Netback): boolean {
  if (!vif.connected || vif.control.tx === 'disabled') return false;
  return vif.tx.unconsumedRequests() > 0
    || ((vif.rxQueue.length > 0 || vif.control.rx === 'carrierOff') && vif.rxr.unconsumedRequests() > 0)
    || (vif.ctrl !== null && vif.ctrl.unconsumedRequests() > 0);
}

/** Event from the frontend: new TX requests, new RX buffers, control requests. */
export function xenvif_interrupt(vif: Netback, x: Exec): void {
  vif.stats.events++;
  const useful = xenvif_have_work(vif);
  xenvif_kick_thread(vif, x);
  if (useful) { vif.spurious = 0; return; }
  // Late EOI (4.6, XSA-332): from the second spurious event in a row, re-enable the port only after
  // 2^(n-2) ticks, capped at one second, so an event storm costs the driver domain almost nothing.
  vif.stats.spuriousEvents++;
  if (++vif.spurious < 2 || !vif.port || !vif.portTable || !vif.clock) return;
  const delayUs = Math.min(2 ** Math.min(vif.spurious - 2, 30) * vif.opts.lateEoiTickUs, 1_000_000);
  const port = vif.port, table = vif.portTable;
  table.mask(port);
  vif.actor?.send(NB.LATE_EOI_MASK);
  vif.clock.after(delayUs * 1e6, () => { if (vif.port === port) { table.unmask(port); vif.actor?.send(NB.LATE_EOI); } });
}

/** Schedule whatever work there is (also used by the pending pool when slots come back). */
export function xenvif_kick_thread(vif: Netback, _x: Exec | null): void {
  if (!vif.connected) return;
  // Buffers again after a stall: the carrier comes back (xenvif_rx_queue_ready).
  const c = vif.control;
  if (c.rx === 'carrierOff' && c.tx !== 'disabled' && vif.rxr.unconsumedRequests() > 0) { note(vif.counters, 'vif-carrier-on'); vif.actor?.send(NB.CARRIER_ON); }
  // Idle, in a pass or parked on the pending pool: (re)queue the TX work item (napi_schedule).
  const tx = vif.control.tx;
  if (tx !== 'disabled' && tx !== 'scheduled' && vif.tx.unconsumedRequests() > 0) {
    vif.kernel.post(vif.txTask, 'irq');
    vif.actor?.send(NB.NAPI_SCHEDULE);
  }
  if (vif.rxQueue.length) xenvif_kick_rx(vif);
  if (vif.ctrl && vif.control.ctrl === 'idle' && vif.ctrl.unconsumedRequests() > 0) {
    vif.kernel.post(vif.ctrlTask, 'irq');
    vif.actor?.send(NB.CTRL_SCHEDULE);
  }
}

/** Bridge hands us a packet for the guest. */
export function xenvif_start_xmit(vif: Netback, x: Exec, p: Packet): boolean {
  const c = vif.control;
  if (c.tx === 'disabled') { drop(vif.counters, 'vif-disabled'); free_packet(vif, x, p); return true; }
  if (!vif.connected) { drop(vif.counters, 'vif-not-connected'); free_packet(vif, x, p); return true; }
  if (c.rx === 'carrierOff') { drop(vif.counters, 'vif-carrier-off'); free_packet(vif, x, p); return true; }
  // Another guest's packet (the bridge forwarded it from its vif), or one our own stack still owns when the guest takes
  // pages by flipping or when it is a super-segment: in pages of ours first.
  if (p.owner !== vif.kernel.domid || (p.release !== undefined && (!vif.feat.rxCopy || p.len + HDR_LEN > PAGE_SIZE))) { for (const q of netbk_copy_skb(vif, x, p)) xenvif_rx_queue_tail(vif, x, q); return true; }
  xenvif_rx_queue_tail(vif, x, p);
  return true;
}

/** Queue a packet for the guest (or drop it when the queue is full) and kick the RX work. */
function xenvif_rx_queue_tail(vif: Netback, x: Exec, p: Packet): void {
  if (vif.rxQueue.length >= vif.rxQueueLimit) { drop(vif.counters, 'netback-rx-queue-full'); free_packet(vif, x, p); return; }
  const now = vif.clock ? vif.clock.now() : 0;
  if (!vif.rxQueue.length) vif.lastRxProgress = now; // a stall is measured from when the queue started waiting
  vif.rxQueue.push(p);
  vif.rxQueuedAt.push(now);
  vif.stats.rxQueued++;
  if (vif.rxQueue.length > vif.stats.maxRxQueue) vif.stats.maxRxQueue = vif.rxQueue.length;
  xenvif_kick_rx(vif);
}

/**
 * A packet from another guest's vif lives in that guest's pages (mapped or pinned by its netback),
 * and one the driver domain's own stack sent is still that socket's (a copying receive path copies
 * it as it is, and the socket gets it back after); either may be one TSO super-segment. The receive
 * path hands the guest one page per packet, and a page it flips must be ours to give. So, as Xen 2.0's netif_be_start_xmit does with an skb not from its own cache
 * (netbk_copy_skb), the driver domain copies it into fresh pages of its own, after software GSO
 * (skb_gso_segment: the vif takes no super-segments) when it is one; the original goes back to its
 * owner at once (the sender's netback answers its slots). Linux netback with a copying receiver copies straight from the
 * sender's grant instead (GNTTABOP_copy with a foreign source): not modelled, one copy more here.
 */
export function netbk_copy_skb(vif: Netback, x: Exec, p: Packet): Packet[] {
  const mss = Math.min(p.mss, PAGE_SIZE - HDR_LEN);
  const n = p.len > mss ? Math.ceil(p.len / mss) : 1;
  const out: Packet[] = [];
  for (let i = 0; i < n; i++) {
    if (n > 1) { x.cost('gsoPerSegment'); vif.counters.softwareGsoSegments++; }
    const len = n > 1 ? Math.min(mss, p.len - i * mss) : p.len;
    const sw = p.csum === 'partial' && !vif.feat.csum;
    if (sw) x.checksum(len); // skb_checksum_help
    out.push(skb_copy(x, vif.kernel, p, i * mss, len, sw ? 'done' : p.csum));
  }
  vif.counters.pkt.split += n - 1;
  p.release?.(x);
  return out;
}
