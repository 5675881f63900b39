/**
 * Xen's log-dirty mode (paging_log_dirty_enable, XEN_DOMCTL_SHADOW_OP_CLEAN), which save and live
 * migration put a domain in: every write to one of its pages sets the page's bit in a bitmap, and
 * the toolstack reads and clears the bitmap once per pre-copy round (xc_domain_save's
 * xc_shadow_control CLEAN). What writes a guest's pages here is what the model does to them:
 * - its own stores: its stack writing an skb (payload and header), an ACK;
 * - Xen on its behalf: a grant copy into its receive buffer (__gnttab_copy marks the destination
 *   dirty), a page flipped in (gnttab_transfer changes its physmap);
 * - the backend through a grant mapping: the shared rings, whose header and slots both ends write.
 * MachineMemory reports each frame written (memory.ts `written`); the rings are checked when the
 * bitmap is read: a ring page is dirty if its indices moved since the last read (every write to a
 * ring moves a producer or an event index).
 */
import type { MachineMemory } from '../hardware/memory.js';

/** The header of a shared ring page (channels/ring.ts SharedRing): every write to the ring moves one of these. */
export interface RingHeader { reqProd: number; reqEvent: number; rspProd: number; rspEvent: number }
/** A shared ring page of the domain: its frame and the ring it holds. */
export interface RingPage { frame: number; ring: RingHeader }

const ringMark = (r: RingHeader) => `${r.reqProd}/${r.reqEvent}/${r.rspProd}/${r.rspEvent}`;

export class LogDirty {
  private readonly bits = new Set<number>();
  private readonly ringSeen = new Map<number, string>();
  /** Bits read and cleaned, per read (the pages each round found dirty). */
  readonly reads: number[] = [];
  constructor(readonly mem: MachineMemory, readonly domid: number, private readonly rings: () => readonly RingPage[]) {}

  /** paging_log_dirty_enable: the bitmap starts clean; every write from now on is logged. */
  enable(): void {
    const log = (this.mem.logDirty ??= new Map());
    if (log.has(this.domid)) throw new Error(`domain ${this.domid} is already in log-dirty mode`);
    log.set(this.domid, this.bits);
    for (const p of this.rings()) this.ringSeen.set(p.frame, ringMark(p.ring));
  }

  /** paging_log_dirty_disable: writes are no longer logged. */
  disable(): void {
    const log = this.mem.logDirty;
    log?.delete(this.domid);
    if (log && log.size === 0) this.mem.logDirty = null;
    this.bits.clear();
  }

  get enabled(): boolean { return this.mem.logDirty?.get(this.domid) === this.bits; }

  /**
   * XEN_DOMCTL_SHADOW_OP_CLEAN: the frames written since the last read that the domain still owns
   * (a page flipped away is not its any more), lowest first; the bitmap is clean after.
   */
  peekAndClean(): number[] {
    for (const p of this.rings()) {
      const m = ringMark(p.ring);
      if (this.ringSeen.get(p.frame) !== m) { this.bits.add(p.frame); this.ringSeen.set(p.frame, m); }
    }
    const out = [...this.bits].filter((f) => this.mem.ownerOf(f) === this.domid).sort((a, b) => a - b);
    this.bits.clear();
    this.reads.push(out.length);
    return out;
  }

  /** Pages written since the last read (without cleaning; the rings are counted at the next read). */
  get pending(): number { return this.bits.size; }
}
