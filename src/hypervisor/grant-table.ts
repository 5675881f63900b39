/**
 * Xen grant tables, v1 semantics (xen/include/public/grant_table.h, xen/common/grant_table.c),
 * see docs/protocol.md section 3. Pure bookkeeping: no memory is copied here; the caller's memory model
 * (FrameOwnership) answers who owns which frame.
 */

export const GNTST = { okay: 0, general_error: -1, bad_domain: -2, bad_gntref: -3, bad_handle: -4, bad_virt_addr: -5, bad_dev_addr: -6, no_device_space: -7, permission_denied: -8, bad_page: -9, bad_copy_arg: -10, address_too_big: -11, eagain: -12, no_space: -13 } as const;
export const GTF = { invalid: 0, permit_access: 1, accept_transfer: 2, readonly: 1 << 2, reading: 1 << 3, writing: 1 << 4, transfer_committed: 1 << 2, transfer_completed: 1 << 3, sub_page: 1 << 8 } as const;
/** Xen gives up a compare-and-swap on a guest-writable shared word after this many retries ("unstable", 3.3). */
export const GNTTAB_CAS_RETRIES = 4;
/** Any 8-bit pin counter with its top bit set refuses further pins ("risk of counter overflow"). */
export const GNTPIN_OVERFLOW = 0x80;
export const GNTMAP = { device_map: 1, host_map: 2, readonly: 4 } as const;
/** "This domain" in copy/map ops (xen.h). */
export const DOMID_SELF = 0x7ff0;
/** Owner sentinel for a frame that was freed (e.g. lost by a failed transfer). */
export const DOMID_INVALID = 0x7ff4;
export type DomId = number;
export type Mfn = number;
export interface GrantEntry { flags: number; domid: DomId; frame: number }

const GTF_TYPE_MASK = 3;
const PAGE_SIZE = 4096; // grant frames are always 4 KiB (section 0)

/** Page ownership oracle supplied by the caller (the hypervisor's memory model). */
export interface FrameOwnership {
  ownerOf(mfn: Mfn): DomId | undefined;        // undefined = free / invalid
  refCount(mfn: Mfn): number;                   // extra references (mappings, pins) besides allocation; steal requires 0
  transfer(mfn: Mfn, from: DomId, to: DomId): void;
  domainExists(d: DomId): boolean;
  belowMaxPages(d: DomId): boolean;             // recipient under its max_pages quota
  unpinned?(mfn: Mfn): void;                    // the last grant pin on a frame is gone (put_page)
}

/** Xen-private active entry (section 3.3): grantee, pinned frame, read/write pin counts. */
interface ActiveEntry { domid: DomId; frame: Mfn; readPins: number; writePins: number }
/** Kept outside the class so guest code holding a GrantTable cannot forge pins. */
const activeOf = new WeakMap<GrantTable, Map<number, ActiveEntry>>();
const active = (t: GrantTable) => activeOf.get(t)!;

const validRef = (t: GrantTable, ref: number) => Number.isInteger(ref) && ref >= 0 && ref < t.entries.length;

/** One per granting domain. */
export class GrantTable {
  /** Guest-writable shared entries; index = gref. */
  entries: GrantEntry[];

  /** `maxMaptrack` is this domain's own maptrack limit when it maps others' grants (per-domain override). */
  constructor(readonly owner: DomId, nrEntries = 512, readonly maxMaptrack = 1024) {
    if (!Number.isInteger(nrEntries) || nrEntries < 1) throw new RangeError(`bad nrEntries ${nrEntries}`);
    this.entries = Array.from({ length: nrEntries }, () => ({ flags: GTF.invalid, domid: 0, frame: 0 }));
    activeOf.set(this, new Map());
  }

  private entry(ref: number): GrantEntry {
    if (!validRef(this, ref)) throw new RangeError(`gref ${ref} out of range`);
    return this.entries[ref];
  }

  /** Guest side (3.2): write domid and frame first, flags last (the type makes the entry live). */
  grantAccess(ref: number, domid: DomId, frame: Mfn, readonly: boolean): void {
    const e = this.entry(ref);
    e.domid = domid;
    e.frame = frame;
    e.flags = GTF.permit_access | (readonly ? GTF.readonly : 0);
  }

  /** Guest side (3.5 step 2): offer a pfn slot to be filled by a transfer from `domid`. */
  grantTransfer(ref: number, domid: DomId, pfnSlot: number): void {
    const e = this.entry(ref);
    e.domid = domid;
    e.frame = pfnSlot;
    e.flags = GTF.accept_transfer;
  }

  /** Guest side (3.2): CAS flags -> 0 only if not reading/writing; false = in use, never reuse the page (XSA-396). */
  endAccess(ref: number): boolean {
    const e = this.entry(ref);
    if (e.flags & (GTF.reading | GTF.writing)) return false;
    e.flags = GTF.invalid;
    return true;
  }

  /** Guest side (3.2): reclaim if not committed; once committed+completed read the new frame. */
  endTransfer(ref: number): { completed: boolean; frame?: number } {
    const e = this.entry(ref);
    // Bit 2/3 mean committed/completed only for transfer entries (same bits as readonly/reading).
    if ((e.flags & GTF_TYPE_MASK) !== GTF.accept_transfer) throw new Error(`gref ${ref} is not a transfer entry`);
    if (!(e.flags & GTF.transfer_committed)) {
      e.flags = GTF.invalid;
      return { completed: false };
    }
    // Committed but not completed: a real guest spins; our transfers are atomic so just report "not yet".
    if (!(e.flags & GTF.transfer_completed)) return { completed: false };
    e.flags = GTF.invalid;
    return { completed: true, frame: e.frame };
  }

  /** Total active pins (read + write) on this ref. */
  pinCount(ref: number): number {
    const a = active(this).get(ref);
    return a ? a.readPins + a.writePins : 0;
  }
  /** Active pins on this ref by kind (for invariant checks: GTF_reading/writing must match, I6). */
  pins(ref: number): { read: number; write: number } {
    const a = active(this).get(ref);
    return { read: a?.readPins ?? 0, write: a?.writePins ?? 0 };
  }
  /** Refs with live pins. */
  pinnedRefs(): number[] { return [...active(this).keys()].sort((a, b) => a - b); }
  /** Table layout version (GNTTABOP_set_version); only v1 entries are modelled. */
  version = 1;
}

interface Maptrack { caller: DomId; dom: DomId; ref: number; write: boolean; frame: Mfn }

/** Per-mapping-domain maptrack + the hypervisor ops. `tables` maps domid -> GrantTable. */
export class GrantOps {
  /** Handle -> mapping. Handles come from a global counter so stale and foreign handles never alias a live one. */
  private maptrack = new Map<number, Maptrack>();
  private perCaller = new Map<DomId, number>();
  /** The most mappings each caller has held at once (Xen grows a domain's maptrack to it and never shrinks it). */
  private highWater = new Map<DomId, number>();
  private nextHandle = 0;
  /** Live grant pins per frame: such a frame can never be stolen by transfer (3.5). */
  private framePins = new Map<Mfn, number>();
  /** Live mappings per (caller, frame), keyed caller * 2^32 + frame: mapsFrame is asked on TLB hits, so O(1). */
  private callerFrame = new Map<number, number>();

  constructor(
    readonly tables: Map<DomId, GrantTable>,
    readonly frames: FrameOwnership,
    readonly maxMaptrackPerDomain = 1024,
  ) {}

  private maptrackLimit(caller: DomId): number {
    return Math.min(this.maxMaptrackPerDomain, this.tables.get(caller)?.maxMaptrack ?? Infinity);
  }

  map(caller: DomId, op: { dom: DomId; ref: number; flags: number }): { status: number; handle?: number; frame?: Mfn } {
    const dom = op.dom === DOMID_SELF ? caller : op.dom;
    const { ref } = op;
    const write = !(op.flags & GNTMAP.readonly);
    if (!(op.flags & (GNTMAP.host_map | GNTMAP.device_map))) return { status: GNTST.bad_gntref }; // 3.4: must ask for host or device map
    const table = this.tables.get(dom);
    if (!table) return { status: GNTST.bad_domain }; // 3.4: granter domain exists
    if ((this.perCaller.get(caller) ?? 0) >= this.maptrackLimit(caller)) return { status: GNTST.no_space }; // 3.3: maptrack exhausted
    if (!validRef(table, ref)) return { status: GNTST.bad_gntref }; // 3.4: ref below table size
    const e = table.entries[ref];
    const act = active(table).get(ref);
    if (act && act.domid !== caller) return { status: GNTST.general_error }; // 3.4: already pinned by another grantee
    if (act && (act.readPins >= GNTPIN_OVERFLOW || act.writePins >= GNTPIN_OVERFLOW)) return { status: GNTST.general_error }; // 3.4: no pin counter overflow
    // The shared entry is guest-writable: read each word once, validate the copy, and set the pin
    // flags by compare-and-swap against what was validated, giving up after a few retries (3.3, XSA-155).
    let flags = e.flags;
    const domid = e.domid;
    const grantFrame = e.frame;
    for (let tries = 0; ; tries++) {
      // Not yet pinned: the entry must be permit_access (not sub-page) for the caller (3.4).
      if (!act && ((flags & (GTF_TYPE_MASK | GTF.sub_page)) !== GTF.permit_access || domid !== caller)) return { status: GNTST.general_error };
      if (write && flags & GTF.readonly) return { status: GNTST.general_error }; // 3.4: no writable map of a readonly grant
      const seen = e.flags; // the compare of the compare-and-swap
      if (seen === flags) break;
      if (tries >= GNTTAB_CAS_RETRIES) return { status: GNTST.general_error }; // "shared grant entry is unstable"
      flags = seen;
    }
    const frame = act ? act.frame : grantFrame;
    if (this.frames.ownerOf(frame) !== table.owner) return { status: GNTST.general_error }; // 3.4: granter must own the page (get_page fails)

    // Pin: first pin records grantee+frame; GTF_reading always, GTF_writing for writable (3.3).
    const a = act ?? { domid: caller, frame, readPins: 0, writePins: 0 };
    if (write) a.writePins++;
    else a.readPins++;
    active(table).set(ref, a);
    e.flags = flags | GTF.reading | (write ? GTF.writing : 0);
    this.framePins.set(frame, (this.framePins.get(frame) ?? 0) + 1);

    const handle = this.nextHandle;
    this.nextHandle = (this.nextHandle + 1) >>> 0;
    this.maptrack.set(handle, { caller, dom, ref, write, frame });
    const live = (this.perCaller.get(caller) ?? 0) + 1;
    this.perCaller.set(caller, live);
    if (live > (this.highWater.get(caller) ?? 0)) this.highWater.set(caller, live);
    const cf = caller * 0x1_0000_0000 + frame;
    this.callerFrame.set(cf, (this.callerFrame.get(cf) ?? 0) + 1);
    return { status: GNTST.okay, handle, frame };
  }

  unmap(caller: DomId, handle: number): { status: number } {
    const m = this.maptrack.get(handle);
    if (!m || m.caller !== caller) return { status: GNTST.bad_handle }; // 3.6: stale or foreign handle fails cleanly
    this.maptrack.delete(handle);
    this.perCaller.set(caller, this.perCaller.get(caller)! - 1);
    const cf = caller * 0x1_0000_0000 + m.frame;
    const left = this.callerFrame.get(cf)! - 1;
    if (left) this.callerFrame.set(cf, left); else this.callerFrame.delete(cf);
    const pins = this.framePins.get(m.frame)! - 1;
    if (pins) this.framePins.set(m.frame, pins);
    else this.framePins.delete(m.frame);
    this.unpin(m);
    if (!pins) this.frames.unpinned?.(m.frame);
    return { status: GNTST.okay };
  }
  /** Drop one pin of a mapping from its granter's active entry. */
  private unpin(m: Maptrack): void {
    const table = this.tables.get(m.dom);
    const a = table && active(table).get(m.ref);
    if (!table || !a) return; // granter table torn down meanwhile: nothing left to clear
    if (m.write) a.writePins--;
    else a.readPins--;
    const e = table.entries[m.ref];
    // XSA-218/230: clear each flag only when the last pin of that kind is gone (one read, one write of the word).
    let clear = 0;
    if (a.writePins === 0) clear |= GTF.writing;
    if (a.readPins + a.writePins === 0) {
      clear |= GTF.reading;
      active(table).delete(m.ref);
    }
    if (clear) e.flags = e.flags & ~clear;
  }

  /**
   * GNTTABOP_copy validation. On success also returns the resolved frames so the caller's
   * memory model can do the memcpy; no pin outlives the call.
   */
  copy(
    caller: DomId,
    op: { source: { dom: DomId; ref?: number; frame?: Mfn; offset: number }; dest: { dom: DomId; ref?: number; frame?: Mfn; offset: number }; len: number },
  ): { status: number; srcFrame?: Mfn; destFrame?: Mfn } {
    const { len } = op;
    if (len === 0) return { status: GNTST.okay }; // 3.4: zero length is a no-op
    const sides = [op.source, op.dest].map((s) => ({ ...s, dom: s.dom === DOMID_SELF ? caller : s.dom }));
    for (const s of sides) if (s.ref === undefined && s.dom !== caller) return { status: GNTST.permission_denied }; // 3.4: only DOMID_SELF may name a raw frame
    for (const s of sides) {
      const known = s.ref !== undefined ? this.tables.has(s.dom) : this.frames.domainExists(s.dom);
      if (!known) return { status: GNTST.bad_domain }; // 3.4: unknown domain
    }
    for (const s of sides) {
      const offOk = Number.isInteger(s.offset) && s.offset >= 0 && Number.isInteger(len) && len > 0 && s.offset + len <= PAGE_SIZE;
      if (!offOk) return { status: GNTST.bad_copy_arg }; // 3.4: [offset, offset+len) within one 4 KiB frame
      if ((s.ref === undefined) === (s.frame === undefined)) return { status: GNTST.bad_copy_arg }; // exactly one of gref / frame
    }
    for (const s of sides) {
      if (s.ref !== undefined && !validRef(this.tables.get(s.dom)!, s.ref)) return { status: GNTST.bad_gntref }; // 3.4: ref in range
    }
    const resolved: Mfn[] = [];
    for (const [i, s] of sides.entries()) {
      if (s.ref === undefined) {
        if (this.frames.ownerOf(s.frame!) !== caller) return { status: GNTST.bad_page }; // raw frame must be the caller's own page
        resolved.push(s.frame!);
        continue;
      }
      const table = this.tables.get(s.dom)!;
      const e = table.entries[s.ref];
      const act = active(table).get(s.ref);
      const flags = e.flags, domid = e.domid, grantFrame = e.frame; // one fetch of each guest-writable word
      if ((flags & GTF_TYPE_MASK) !== GTF.permit_access || domid !== caller) return { status: GNTST.general_error }; // 3.4: permit_access for caller
      if (act && act.domid !== caller) return { status: GNTST.general_error }; // 3.4: pinned by another grantee
      if (i === 1 && flags & GTF.readonly) return { status: GNTST.general_error }; // 3.4: destination grant must be writable
      const frame = act ? act.frame : grantFrame;
      if (this.frames.ownerOf(frame) !== table.owner) return { status: GNTST.general_error }; // granter must own the page
      resolved.push(frame);
    }
    return { status: GNTST.okay, srcFrame: resolved[0], destFrame: resolved[1] };
  }

  transfer(caller: DomId, op: { mfn: Mfn; domid: DomId; ref: number }): { status: number } {
    const { mfn, domid: to, ref } = op;
    if (this.frames.ownerOf(mfn) !== caller) return { status: GNTST.bad_page }; // 3.5 steal_page: caller must own it (keeps page)
    if (this.frames.refCount(mfn) > 0 || this.framePins.has(mfn)) return { status: GNTST.bad_page }; // 3.5 steal_page: no extra refs/pins (keeps page)
    // 3.4: past this point the caller loses the page even on failure, so free it.
    const fail = (status: number) => {
      this.frames.transfer(mfn, caller, DOMID_INVALID);
      return { status };
    };
    const table = this.tables.get(to);
    if (!table || !this.frames.domainExists(to)) return fail(GNTST.bad_domain); // 3.5: recipient exists
    if (!this.frames.belowMaxPages(to)) return fail(GNTST.general_error); // 3.5: recipient below max_pages
    if (!validRef(table, ref)) return fail(GNTST.bad_gntref); // 3.5: ref in range
    const e = table.entries[ref];
    // 3.5: exactly accept_transfer naming the sender; commit by compare-and-swap (bounded retries),
    // so a recipient flipping or reclaiming its entry concurrently either wins cleanly or loses cleanly.
    let flags = e.flags;
    const domid = e.domid;
    for (let tries = 0; ; tries++) {
      if (flags !== GTF.accept_transfer || domid !== caller) return fail(GNTST.general_error);
      const seen = e.flags;
      if (seen === flags) break;
      if (tries >= GNTTAB_CAS_RETRIES) return fail(GNTST.general_error); // "shared grant entry is unstable"
      flags = seen;
    }
    e.flags = flags | GTF.transfer_committed; // 3.5: commit first so the guest can no longer reclaim the slot
    this.frames.transfer(mfn, caller, to);
    e.frame = mfn; // PV: write the MFN back, then mark completed
    e.flags = flags | GTF.transfer_committed | GTF.transfer_completed;
    return { status: GNTST.okay };
  }

  /**
   * GNTTABOP_set_version. Switching layouts while any of the caller's grants are pinned by a peer, or while
   * the caller holds mappings, is refused (-EBUSY; XSA-255/379/387). Only v1 entries are modelled, so a
   * switch to v2 that would be allowed answers -EOPNOTSUPP.
   */
  setVersion(caller: DomId, version: number): number {
    const t = this.tables.get(caller);
    if (!t) return -3; // -ESRCH
    if (version !== 1 && version !== 2) return -22; // -EINVAL
    if (version === t.version) return 0;
    if (active(t).size > 0 || (this.perCaller.get(caller) ?? 0) > 0) return -16; // -EBUSY
    return -95; // -EOPNOTSUPP (v2 not modelled)
  }

  /** gnttab_release_mappings: a dying domain's own mappings of others' grants are undone. */
  releaseMappings(caller: DomId): number {
    let n = 0;
    for (const [h, m] of [...this.maptrack]) if (m.caller === caller) { this.unmap(caller, h); n++; }
    return n;
  }
  /** Is this frame pinned by a live grant mapping (host or device)? */
  pinned(mfn: Mfn): boolean { return this.framePins.has(mfn); }
  /** Does `caller` hold a live mapping of frame `mfn` (a scan of the maptrack, only for a pinned frame)? */
  mapsFrame(caller: DomId, mfn: Mfn): boolean {
    return this.callerFrame.has(caller * 0x1_0000_0000 + mfn);
  }

  /** Live mappings `caller` holds on grants of domain `granter`. */
  mappingsOn(caller: DomId, granter: DomId): number {
    let n = 0;
    for (const m of this.maptrack.values()) if (m.caller === caller && m.dom === granter) n++;
    return n;
  }
  /** The most mappings `caller` has held at once (its maptrack's high-water mark). */
  maptrackHighWater(caller: DomId): number { return this.highWater.get(caller) ?? 0; }
  /** Live maptrack handles (all callers, or one). */
  activeMappings(caller?: DomId): number {
    return caller === undefined ? this.maptrack.size : (this.perCaller.get(caller) ?? 0);
  }
}
