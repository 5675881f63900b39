/**
 * Per-CPU TLB: one fully associative LRU array shared by 4 KiB and superpage
 * entries (the Pentium 4 Xeon DTLB holds 64 entries of either size).
 * x86 of that era has no address-space tags: a CR3 write drops every entry
 * that lacks the global bit; toggling CR4.PGE drops global ones too.
 *
 * Tags are numbers (see tlbTag); the LRU order is a doubly linked list over
 * typed arrays, so a hit or a miss is O(1) and allocation-free.
 */
export interface TlbStats { hits: number; misses: number; flushes: number; fullFlushes: number }

/** Address-space kinds that make up a tag. */
export const TAG = { kernel: 0, kernel4M: 1, direct: 2, direct4M: 3, user: 4, grantMap: 5, xen: 6 } as const;
/** A translation's identity: (address space, kind, page or superpage number). */
export function tlbTag(space: number, kind: number, page: number): number {
  return (space * 8 + kind) * 0x1_0000_0000 + page;
}

export class Tlb {
  private readonly slot = new Map<number, number>(); // tag -> slot
  private readonly tags: Float64Array;
  private readonly global: Uint8Array;
  private readonly prev: Int32Array;
  private readonly next: Int32Array;
  private head = -1; // least recently used
  private tail = -1; // most recently used
  private freeSlots: number[] = [];
  readonly stats: TlbStats = { hits: 0, misses: 0, flushes: 0, fullFlushes: 0 };

  constructor(readonly capacity = 64) {
    if (!Number.isInteger(capacity) || capacity < 1) throw new RangeError('tlb capacity must be a positive integer');
    this.tags = new Float64Array(capacity);
    this.global = new Uint8Array(capacity);
    this.prev = new Int32Array(capacity);
    this.next = new Int32Array(capacity);
    for (let i = capacity - 1; i >= 0; i--) this.freeSlots.push(i);
  }

  /** Translate one virtual page (or superpage). Returns true on a hit. */
  access(tag: number, global: boolean): boolean {
    const s = this.slot.get(tag);
    if (s !== undefined) {
      this.stats.hits++;
      if (s !== this.tail) { this.unlink(s); this.append(s); }
      return true;
    }
    this.stats.misses++;
    let n = this.freeSlots.pop();
    if (n === undefined) {
      n = this.head;
      this.unlink(n);
      this.slot.delete(this.tags[n]);
    }
    this.tags[n] = tag;
    this.global[n] = global ? 1 : 0;
    this.slot.set(tag, n);
    this.append(n);
    return false;
  }

  /** CR3 reload: non-global entries go, global ones survive. */
  flushNonGlobal(): void {
    this.stats.flushes++;
    for (let s = this.head; s !== -1;) {
      const nx = this.next[s];
      if (!this.global[s]) this.drop(s);
      s = nx;
    }
  }

  /** CR4.PGE toggle: everything goes. */
  flushAll(): void {
    this.stats.fullFlushes++;
    for (let s = this.head; s !== -1;) { const nx = this.next[s]; this.drop(s); s = nx; }
  }

  /** Drop one translation (INVLPG after unmapping a single page). */
  invalidate(tag: number): void {
    const s = this.slot.get(tag);
    if (s !== undefined) this.drop(s);
  }

  get size(): number { return this.slot.size; }
  has(tag: number): boolean { return this.slot.has(tag); }

  private drop(s: number): void {
    this.unlink(s);
    this.slot.delete(this.tags[s]);
    this.freeSlots.push(s);
  }
  private unlink(s: number): void {
    const p = this.prev[s], n = this.next[s];
    if (p === -1) this.head = n; else this.next[p] = n;
    if (n === -1) this.tail = p; else this.prev[n] = p;
  }
  private append(s: number): void {
    this.prev[s] = this.tail;
    this.next[s] = -1;
    if (this.tail === -1) this.head = s; else this.next[this.tail] = s;
    this.tail = s;
  }
}
