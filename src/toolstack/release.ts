/**
 * The release checker: after the toolstack unplugs a vif or destroys a domain, nothing of it may
 * remain on the host (the stale-state class of lifecycle bugs: Xen and Linux have had grants left
 * mapped, maptrack entries and pending slots leaked, event channels left bound and pages never
 * freed on these paths). Each function lists what it finds still held; empty means released.
 */
import type { Kernel } from '../domains/kernel.js';
import { GTF } from '../hypervisor/grant-table.js';
import type { PhysicalHost } from './host.js';
import { VIF_FIRST_REF, vifGrantRefs, type Vif } from './vif.js';

/** XenStore keys at or under a path. */
function keysUnder(h: PhysicalHost, path: string): string[] {
  return h.xenstore.entries().map(([k]) => k).filter((k) => k === path || k.startsWith(`${path}/`));
}

/**
 * A vif unplugged: no grant of its range still granted or mapped (ring pages and buffers), no ring
 * mapping, packet in flight or pending slot on the backend, both event-channel ports closed, its ring
 * pages no longer shared (freed by the guest), nothing left posted by the frontend, and neither of
 * its XenStore directories.
 */
export function vifReleased(h: PhysicalHost, v: Vif): string[] {
  const out: string[] = [];
  const name = v.nb.name;
  const gt = h.xen?.grantTables.get(v.guest.domid);
  if (gt) {
    const base = VIF_FIRST_REF + v.vif * vifGrantRefs(v.rings.size);
    for (let r = base; r < base + vifGrantRefs(v.rings.size); r++) {
      if (gt.pinCount(r) > 0) out.push(`${name}: grant ${r} still mapped (${gt.pinCount(r)} pins)`);
      else if ((gt.entries[r].flags & 3) === GTF.permit_access) out.push(`${name}: grant ${r} still granted`);
    }
  }
  const nb = v.nb;
  if (nb.ringMappings()) out.push(`${name}: ${nb.ringMappings()} ring mappings left`);
  if (nb.txInflight || nb.done.length) out.push(`${name}: ${nb.txInflight} TX packets still in flight`);
  if (nb.pending.isWaiting(nb)) out.push(`${name}: still waiting for pending slots`);
  if (nb.connected || !nb.removed) out.push(`${name}: backend not removed (${nb.connected ? 'connected' : 'xenvif_free never ran'})`);
  // Still bound to this vif (a closed port's number, and its slot, may already serve a newer channel).
  for (const [end, p] of Object.entries(v.ports)) if (!p.closed && p.name === (end === 'front' ? v.nf.name : v.nb.name)) out.push(`${name}: ${end} event channel port ${p.port} still open`);
  for (const fr of [v.rings.txFrame, v.rings.rxFrame]) if (fr >= 0 && h.ringPages.has(fr)) out.push(`${name}: ring page ${fr} still shared`);
  if (v.nf.outstandingTx()) out.push(`${name}: frontend holds ${v.nf.outstandingTx()} TX packets`);
  if (v.nf.postedRxFrames().length) out.push(`${name}: frontend holds ${v.nf.postedRxFrames().length} RX buffers`);
  if (!v.hostile) out.push(...idsLeft(v));
  for (const p of [v.front, v.back]) { const k = keysUnder(h, p); if (k.length) out.push(`${name}: ${k.length} XenStore keys left under ${p}`); }
  return out;
}

/**
 * A frontend after xennet_disconnect_backend (an unplug) or netfront_resume (a restored or migrated
 * guest's new vif): no grant of the guest's own table in the vif's range still refers to a backend
 * unless the frontend holds it on its current rings (a stale grant to the old backend), no TX id lost
 * (every id free or owned by a packet posted on the current ring: the walk put the old rings' ids
 * back), and no buffer grant ref lost (free, held, or kept by a backend that never let go). (vifReleased
 * checks the ids and refs of an unplugged vif; its grants it checks itself: none may be left at all.)
 */
export function frontendLeft(h: PhysicalHost, v: Vif): string[] {
  const out: string[] = [];
  const name = v.nf.name;
  const book = v.nf.bookkeeping();
  const gt = h.xen?.grantTables.get(v.guest.domid);
  if (gt) {
    const base = VIF_FIRST_REF + v.vif * vifGrantRefs(v.rings.size);
    for (let r = base; r < base + vifGrantRefs(v.rings.size); r++) {
      if (book.heldRefs.has(r) || (gt.entries[r].flags & 3) !== GTF.permit_access) continue;
      out.push(`${name}: grant ${r} still refers to dom${gt.entries[r].domid} and the frontend does not hold it`);
    }
  }
  out.push(...idsLeft(v));
  return out;
}

/** The frontend's TX ids and buffer grant refs: each free, or held on its current rings, or kept by a backend. */
function idsLeft(v: Vif): string[] {
  const out: string[] = [];
  const book = v.nf.bookkeeping();
  if (book.lostTxIds.length) out.push(`${v.nf.name}: TX ids ${book.lostTxIds.join(',')} lost (neither free nor on the ring)`);
  if (book.lostRefs) out.push(`${v.nf.name}: ${book.lostRefs} grant refs lost`);
  return out;
}

/**
 * A domain destroyed: Xen released it (every page back on the heap, its grant table freed), it holds
 * no grant mapping (maptrack empty) and nobody maps its grants, every event-channel port of its is
 * closed, no vif of it is left in the driver domain, and XenStore has neither its directory nor a
 * backend directory for it.
 */
export function domainReleased(h: PhysicalHost, k: Kernel, dom0: Kernel): string[] {
  const out: string[] = [];
  const xen = h.xen!;
  const d = k.domid;
  if (h.mem.pages(d)) out.push(`${k.name}: ${h.mem.pages(d)} pages still allocated`);
  if (!xen.isReleased(d)) out.push(`${k.name}: not released by Xen (${xen.isDestroyed(d) ? 'a zombie: pages still pinned' : 'never destroyed'})`);
  if (xen.grants.activeMappings(d)) out.push(`${k.name}: holds ${xen.grants.activeMappings(d)} grant mappings (maptrack)`);
  for (const other of h.kernels) if (other !== k && xen.grants.mappingsOn(other.domid, d)) out.push(`${k.name}: ${other.name} still maps ${xen.grants.mappingsOn(other.domid, d)} of its grants`);
  const open = k.evtchn.ports.filter((p) => !p.closed);
  if (open.length) out.push(`${k.name}: ${open.length} event channel ports still open`);
  for (const p of [`/local/domain/${d}`, `/local/domain/${dom0.domid}/backend/vif/${d}`]) { const n = keysUnder(h, p); if (n.length) out.push(`${k.name}: ${n.length} XenStore keys left under ${p}`); }
  return out;
}
