/**
 * Per-CPU TLB: one fully associative LRU array shared by 4 KiB and superpage
 * entries (the Pentium 4 Xeon DTLB holds 64 entries of either size).
 * x86 of that era has no address-space tags: a CR3 write drops every entry
 * that lacks the global bit; toggling CR4.PGE drops global ones too.
 */
export interface TlbStats { hits: number; misses: number; flushes: number; fullFlushes: number }

export class Tlb {
  /** key -> global flag; Map iteration order is the LRU order (oldest first). */
  private entries = new Map<string, boolean>();
  readonly stats: TlbStats = { hits: 0, misses: 0, flushes: 0, fullFlushes: 0 };
  constructor(readonly capacity = 64) {
    if (!Number.isInteger(capacity) || capacity < 1) throw new RangeError('tlb capacity must be a positive integer');
  }

  /** Translate one virtual page (or superpage) tag. Returns true on a hit. */
  access(tag: string, global: boolean): boolean {
    const e = this.entries;
    if (e.has(tag)) {
      const g = e.get(tag)!;
      e.delete(tag);
      e.set(tag, g);
      this.stats.hits++;
      return true;
    }
    this.stats.misses++;
    if (e.size >= this.capacity) e.delete(e.keys().next().value as string);
    e.set(tag, global);
    return false;
  }

  /** CR3 reload: non-global entries go, global ones survive. */
  flushNonGlobal(): void {
    this.stats.flushes++;
    for (const [k, g] of this.entries) if (!g) this.entries.delete(k);
  }

  /** CR4.PGE toggle (or INVLPG-all): everything goes. */
  flushAll(): void {
    this.stats.fullFlushes++;
    this.entries.clear();
  }

  /** Drop one translation (INVLPG after unmapping a single page). */
  invalidate(tag: string): void { this.entries.delete(tag); }

  get size(): number { return this.entries.size; }
  has(tag: string): boolean { return this.entries.has(tag); }
}
