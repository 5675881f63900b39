/**
 * Machine memory: 4 KiB frames, each owned by exactly one domain or free
 * (grant-table invariant, docs/protocol.md 3.6). Ownership moves only by
 * allocation, release and page transfer (flip).
 */
import type { Run } from '../model/integrity.js';
import { PAGE_SIZE, type Packet } from '../core/packet.js';

export const DOMID_FREE = 0x7ff4; // DOMID_INVALID: "no owner"

/** Payload bytes in a frame: a stream run at bytes [at, at + len) of the page. */
export interface Placed extends Run { at: number }

export class MachineMemory {
  private owner: Int32Array;
  private refs: Int32Array;
  /**
   * The free list, top last: frames released since boot (a stack) above the frames alloc() never
   * handed out, fresh .. frames - 1 with the lowest on top (kept implicit: boot pushes nothing).
   */
  private free: number[] = [];
  private fresh = 0;
  private counts = new Map<number, number>();
  readonly maxPages = new Map<number, number>();
  /** What each frame holds (packet bytes are modelled by the packet they carry); moves with flips, duplicated by copies. */
  readonly contents: Map<number, Packet> = new WrittenMap(this);
  /**
   * The payload bytes each frame holds, as a stream run (src/model/integrity.ts): one run per frame,
   * written by stacks and DMA, moved with flips, duplicated by copies, gone when the frame is freed.
   */
  readonly payload = new Map<number, Placed>();

  /**
   * Log-dirty mode (src/hypervisor/log-dirty.ts): per domain in it, the frames written since its
   * bitmap was last read and cleaned. Null while no domain is in it (every write then costs one test).
   */
  logDirty: Map<number, Set<number>> | null = null;
  /** A write reached frame `mfn` (a store, a DMA, a copy, or the frame changing hands). */
  written(mfn: number): void {
    if (this.logDirty === null) return;
    const o = this.owner[mfn];
    if (o !== DOMID_FREE) this.logDirty.get(o)?.add(mfn);
  }

  constructor(readonly frames: number) {
    this.owner = new Int32Array(frames).fill(DOMID_FREE);
    this.refs = new Int32Array(frames);
    this.high = frames - 1;
  }

  /** Next candidate for allocHigh, and allocHigh'd frames whose original free-list entry has not been popped yet. */
  private high: number;
  private highInList = new Set<number>();

  alloc(dom: number): number {
    const max = this.maxPages.get(dom);
    if (max !== undefined && this.pages(dom) >= max) throw new Error(`domain ${dom} at max_pages ${max}`);
    let mfn = this.popFree();
    while (mfn !== undefined && this.highInList.has(mfn)) { this.highInList.delete(mfn); mfn = this.popFree(); }
    if (mfn === undefined) throw new Error('machine memory exhausted');
    this.owner[mfn] = dom;
    this.counts.set(dom, this.pages(dom) + 1);
    return mfn;
  }

  /** Hand out low frames first so allocation order is deterministic. */
  private popFree(): number | undefined {
    if (this.free.length) return this.free.pop();
    return this.fresh < this.frames ? this.fresh++ : undefined;
  }

  release(mfn: number): void {
    const dom = this.owner[mfn];
    if (dom === DOMID_FREE) throw new Error(`double free of frame ${mfn}`);
    if (this.refs[mfn] !== 0) throw new Error(`freeing frame ${mfn} with ${this.refs[mfn]} references`);
    this.counts.set(dom, this.pages(dom) - 1);
    this.owner[mfn] = DOMID_FREE;
    this.contents.delete(mfn);
    this.payload.delete(mfn);
    if (this.highInList.has(mfn)) this.highInList.delete(mfn); // its original entry is still in the free list
    else this.free.push(mfn);
  }

  /**
   * A frame from the top of memory, for long-lived pages set up when the machine is built (shared
   * ring pages): the frames alloc() hands out, lowest first, stay exactly what they would be without it.
   */
  allocHigh(dom: number): number {
    while (this.high >= 0 && this.owner[this.high] !== DOMID_FREE) this.high--;
    if (this.high < 0) throw new Error('machine memory exhausted');
    const mfn = this.high--;
    this.owner[mfn] = dom;
    this.counts.set(dom, this.pages(dom) + 1);
    this.highInList.add(mfn);
    return mfn;
  }

  transfer(mfn: number, from: number, to: number): void {
    if (this.owner[mfn] !== from) throw new Error(`frame ${mfn} not owned by ${from}`);
    if (to === DOMID_FREE) { this.release(mfn); return; }
    this.counts.set(from, this.pages(from) - 1);
    this.counts.set(to, this.pages(to) + 1);
    this.owner[mfn] = to;
    this.written(mfn); // a page flipped in: the recipient's physmap changed (Xen marks it dirty)
  }

  ownerOf(mfn: number): number | undefined {
    if (mfn < 0 || mfn >= this.frames) return undefined;
    const o = this.owner[mfn];
    return o === DOMID_FREE ? undefined : o;
  }
  ref(mfn: number): void { this.refs[mfn]++; }
  unref(mfn: number): void {
    if (this.refs[mfn] <= 0) throw new Error(`frame ${mfn} reference underflow`);
    this.refs[mfn]--;
  }
  refCount(mfn: number): number { return this.refs[mfn]; }
  /** Every frame a domain owns, lowest first (a scan: for domain teardown, not the data path). */
  framesOf(dom: number): number[] {
    const out: number[] = [];
    for (let f = 0; f < this.frames; f++) if (this.owner[f] === dom) out.push(f);
    return out;
  }
  pages(dom: number): number { return this.counts.get(dom) ?? 0; }
  belowMax(dom: number): boolean {
    const max = this.maxPages.get(dom);
    return max === undefined || this.pages(dom) < max;
  }
  /** Write `len` bytes of a stream at byte `at` of a frame (what does not fit in the page is not written). */
  write(mfn: number, at: number, flow: number, off: number, len: number, gen: number): void {
    const n = Math.min(len, PAGE_SIZE - at);
    if (n > 0) { this.payload.set(mfn, { flow, off, len: n, gen, at }); this.written(mfn); }
  }
  /**
   * memcpy of bytes [sOff, sOff + len) of frame src to byte dOff of frame dst. A frame keeps one run:
   * the payload the copy brought, or, if it brought none, its own unless the copy wrote over it.
   */
  copy(src: number, sOff: number, dst: number, dOff: number, len: number): void {
    this.written(dst);
    const s = this.payload.get(src);
    const lo = s ? Math.max(s.at, sOff) : 0, hi = s ? Math.min(s.at + s.len, sOff + len) : 0;
    if (s && hi > lo) { this.payload.set(dst, { flow: s.flow, off: s.off + (lo - s.at), len: hi - lo, gen: s.gen, at: dOff + (lo - sOff) }); return; }
    const d = this.payload.get(dst);
    if (d && d.at < dOff + len && dOff < d.at + d.len) this.payload.delete(dst);
  }
  freeFrames(): number { return this.free.length + (this.frames - this.fresh) - this.highInList.size; }
}

/** The frames' contents map, telling memory of each frame written (for log-dirty mode). */
class WrittenMap extends Map<number, Packet> {
  constructor(private readonly mem: MachineMemory) { super(); }
  override set(mfn: number, p: Packet): this { this.mem?.written(mfn); return super.set(mfn, p); }
}
