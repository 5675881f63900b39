/**
 * The TLBs of one CPU, as on the paper's 2.4 GHz Pentium 4 Xeon (NetBurst):
 * an instruction TLB and a data TLB, each fully associative with 64 entries
 * that hold 4 KiB or 4 MiB pages alike (CPUID leaf 2 descriptors 50h "ITLB:
 * 4 KByte and 2/4 MByte pages, fully associative, 64 entries" and 5Bh "DTLB:
 * 4 KByte and 4 MByte pages, fully associative, 64 entries", the descriptors a
 * Pentium 4 reports: Intel AP-485, Processor Identification and the CPUID
 * Instruction, Table "Descriptor Formats" and its Pentium 4 example). Intel
 * does not document the replacement policy; each array uses tree pseudo-LRU
 * by default, or exact LRU (`machine.tlbReplacement`).
 * x86 of that era has no address-space tags (Intel SDM vol. 3, 3.12 "Translation
 * Lookaside Buffers"): a CR3 write drops every entry of both arrays that lacks
 * the global bit, toggling CR4.PGE drops global ones too, and INVLPG drops the
 * page from both.
 *
 * Tags are numbers (see tlbTag). The tag -> slot index is an open-addressing
 * hash (linear probing) over typed arrays, and the LRU order is a doubly
 * linked list over typed arrays, so a hit, a miss or an eviction is O(1) and
 * allocation-free: tags exceed 2^31, and a Map keyed by them boxes each one.
 */
export interface TlbStats { hits: number; misses: number; flushes: number; fullFlushes: number }

/**
 * Who may reach which machine frame, asked on a TLB hit through an entry that translates to a data
 * frame its domain may lose (a packet frame given away by a flip, a foreign frame mapped by grant).
 * The CPU's owner (the machine) supplies it; a test supplies a double.
 */
export interface FrameOracle {
  /** May domain `dom` reach frame `mfn`: it owns it, or holds a live grant mapping of it? */
  reachable(dom: number, mfn: number): boolean;
  /** A hit through a stale translation: `dom` reached `frame` through `tag` (wanting `mfn`) after losing it or after it was remapped. */
  stale(dom: number, frame: number, mfn: number, tag: number): void;
}

/** Address-space kinds that make up a tag. */
export const TAG = { kernel: 0, kernel4M: 1, direct: 2, direct4M: 3, user: 4, grantMap: 5, xen: 6 } as const;
/** A translation's identity: (address space, kind, page or superpage number). */
export function tlbTag(space: number, kind: number, page: number): number {
  return (space * 8 + kind) * 0x1_0000_0000 + page;
}
/** The address space (domain) of a tag. */
export function tagSpace(tag: number): number { return Math.floor(tag / 0x8_0000_0000); }

const EMPTY = -1;
const NO_FRAME = -1;

/**
 * How a full array picks its victim. `lru`: the least recently used entry. `plru`: tree pseudo-LRU,
 * a binary tree of capacity - 1 bits over the entries (capacity a power of two), each pointing away
 * from the half used more recently; a use flips the bits on its path, a miss follows them.
 */
export type TlbReplacement = 'lru' | 'plru';

/**
 * The pages of one component in one address space, as TLB tags, with what a TLB last learnt walking
 * them (Tlb.accessSet): which TLB, its removal generation then, each page's slot (a hint: a page
 * whose slot still holds its tag hits there without an index lookup), each page's home bucket in
 * the index, and the tree-bit assignment a walk through the recorded slots makes (computed on first
 * use, for a tree of `effectCap` leaves).
 */
export class PageSet {
  tlb: Tlb | null = null;
  gen = -1;
  readonly slots: Int32Array;
  effectCount = -1;
  effectCap = 0;
  effectNode = new Int32Array(0);
  effectValue = new Uint8Array(0);
  /** Home buckets of the tags for an index hashed with `homeShift` (0: not computed). */
  homes: Int32Array;
  homeShift = 0;
  constructor(readonly tags: Float64Array) { this.slots = new Int32Array(tags.length); this.homes = new Int32Array(tags.length); }
}

/** One fully associative array of translations (one of a CPU's two, see CpuTlbs). */
export class Tlb {
  // Per slot: its tag (NaN while free, so a stale slot hint never matches), global bit and LRU neighbours.
  private readonly tags: Float64Array;
  private readonly global: Uint8Array;
  private readonly prev: Int32Array;
  private readonly next: Int32Array;
  /** Machine frame the slot was filled for (accessFrame), or NO_FRAME: footprint pages, never lost. */
  private readonly frames: Int32Array;
  private head = -1; // least recently used
  private tail = -1; // most recently used
  /** Unused slots, a stack (top at freeTop - 1). */
  private readonly freeSlots: Int32Array;
  private freeTop = 0;
  // The index: bucket -> tag and slot (EMPTY if the bucket is free); at most 1/4 full. Per slot, the
  // bucket holding it and its tag's home bucket, so an eviction or a rebuild hashes nothing.
  private readonly keys: Float64Array;
  private readonly vals: Int32Array;
  private readonly bucketOf: Int32Array;
  private readonly homeOf: Int32Array;
  private readonly mask: number;
  private readonly shift: number;
  private count = 0;
  /** Tree pseudo-LRU: node n (1-based heap order) points to the half to evict from (0 left, 1 right); null for LRU. */
  private readonly plru: Uint8Array | null;
  /** Scratch for recordEffect: the stamp of the computation that last assigned each node. */
  private readonly assigned: Int32Array | null;
  private stamp = 0;
  /** Removal generation: counts evictions, flushes and invalidations that dropped an entry (see accessSet). */
  private gen = 0;
  readonly stats: TlbStats = { hits: 0, misses: 0, flushes: 0, fullFlushes: 0 };

  constructor(readonly capacity = 64, private readonly oracle: FrameOracle | null = null, readonly replacement: TlbReplacement = 'lru') {
    if (!Number.isInteger(capacity) || capacity < 1) throw new RangeError('tlb capacity must be a positive integer');
    if (replacement === 'plru' && (capacity & (capacity - 1)) !== 0) throw new RangeError('a pseudo-LRU tlb needs a power-of-two capacity');
    this.plru = replacement === 'plru' ? new Uint8Array(capacity) : null;
    this.assigned = replacement === 'plru' ? new Int32Array(capacity) : null;
    this.tags = new Float64Array(capacity).fill(NaN);
    this.global = new Uint8Array(capacity);
    this.prev = new Int32Array(capacity);
    this.next = new Int32Array(capacity);
    this.frames = new Int32Array(capacity).fill(NO_FRAME);
    this.freeSlots = new Int32Array(capacity);
    for (let i = capacity - 1; i >= 0; i--) this.freeSlots[this.freeTop++] = i;
    let bits = 3;
    while ((1 << bits) < 4 * capacity) bits++;
    this.keys = new Float64Array(1 << bits);
    this.vals = new Int32Array(1 << bits).fill(EMPTY);
    this.bucketOf = new Int32Array(capacity);
    this.homeOf = new Int32Array(capacity);
    this.mask = (1 << bits) - 1;
    this.shift = 32 - bits;
  }

  /** Translate one virtual page (or superpage) of memory its domain always holds. Returns true on a hit. */
  access(tag: number, global: boolean): boolean {
    const h = this.home(tag), s = this.find(tag, h);
    if (s !== EMPTY) {
      this.stats.hits++;
      this.used(s);
      return true;
    }
    this.frames[this.fill(tag, global, h)] = NO_FRAME;
    return false;
  }

  /**
   * Translate a page of data frame `mfn`, which its domain may lose (flip, grant unmap): the entry
   * remembers the frame it was filled for. On a hit the oracle checks that the domain may still reach
   * that frame; a 4 KiB entry (`exact`) must also translate to `mfn` itself, while a superpage entry
   * covers its whole extent. A failed check is a stale translation (a missing flush), reported to the
   * oracle. Returns true on a hit.
   */
  accessFrame(tag: number, global: boolean, mfn: number, exact: boolean): boolean {
    const h = this.home(tag), s = this.find(tag, h);
    if (s !== EMPTY) {
      this.stats.hits++;
      this.used(s);
      const f = this.frames[s];
      if (f !== NO_FRAME && this.oracle !== null && ((exact && f !== mfn) || !this.oracle.reachable(tagSpace(tag), f))) {
        this.oracle.stale(tagSpace(tag), f, mfn, tag);
      }
      return true;
    }
    this.frames[this.fill(tag, global, h)] = mfn;
    return false;
  }

  /** A miss: take a free slot or evict the least recently used one, and enter the tag (home bucket h). */
  private fill(tag: number, global: boolean, h: number): number {
    this.stats.misses++;
    let n: number;
    if (this.freeTop > 0) n = this.freeSlots[--this.freeTop];
    else {
      n = this.plru ? this.victim() : this.head;
      this.unlink(n);
      this.remove(n);
      this.gen++;
    }
    this.tags[n] = tag;
    this.global[n] = global ? 1 : 0;
    this.homeOf[n] = h;
    this.insert(tag, n, h);
    this.append(n);
    if (this.plru) this.touchTree(n);
    return n;
  }

  /** Entry s was used: it becomes the most recently used (LRU), or the tree points away from it (PLRU). */
  private used(s: number): void {
    if (this.plru) this.touchTree(s);
    else if (s !== this.tail) { this.unlink(s); this.append(s); }
  }
  private touchTree(s: number): void {
    const bits = this.plru!;
    // Leaf s sits at heap position capacity + s; every ancestor points to the other child.
    for (let node = this.capacity + s; node > 1; node >>= 1) bits[node >> 1] = (node & 1) ^ 1;
  }
  /** The entry the tree bits lead to (the array is full, so every leaf holds one). */
  private victim(): number {
    const bits = this.plru!, cap = this.capacity;
    let node = 1;
    while (node < cap) node = 2 * node + bits[node];
    return node - cap;
  }

  /** Translate every page of a footprint; returns the number of misses. */
  accessAll(tags: Float64Array, global: boolean): number {
    let misses = 0;
    for (let i = 0; i < tags.length; i++) if (!this.access(tags[i], global)) misses++;
    return misses;
  }

  /**
   * accessAll() of a page set, skipping the walk when it cannot change anything but counts: every
   * page is still in the slot the last walk of this set recorded for it (known without looking when
   * the last walk here left all of them resident and no entry has been dropped since: same removal
   * generation), so every page hits. A hit's only other effect is on the pseudo-LRU bits, and a run
   * of hits sets each tree node on their paths to the value the last of them on it gives, whatever
   * the bits were: the skip applies that recorded assignment. Under exact LRU hits reorder the list,
   * so every access is walked. A walk looks each page up in its recorded slot first and in the index
   * only when the slot holds another tag. Returns the number of misses.
   */
  accessSet(p: PageSet, global: boolean): number {
    const bits = this.plru, tags = p.tags, n = tags.length, slots = p.slots, own = this.tags, cap = this.capacity;
    if (bits !== null) {
      let resident = p.tlb === this && p.gen === this.gen;
      if (!resident) {
        let i = 0;
        while (i < n && own[slots[i]] === tags[i]) i++;
        resident = i === n;
      }
      if (resident) {
        this.stats.hits += n;
        if (p.effectCount < 0 || p.effectCap !== cap) this.recordEffect(p);
        const node = p.effectNode, v = p.effectValue;
        for (let i = 0; i < p.effectCount; i++) bits[node[i]] = v[i];
        p.tlb = this;
        p.gen = this.gen;
        return 0;
      }
    }
    if (p.homeShift !== this.shift) this.homesFor(p);
    const g0 = this.gen, homes = p.homes;
    let misses = 0, moved = false;
    for (let i = 0; i < n; i++) {
      const tag = tags[i];
      let s = slots[i];
      if (s < cap && own[s] === tag) { this.stats.hits++; this.used(s); continue; }
      s = this.find(tag, homes[i]);
      if (s !== EMPTY) { this.stats.hits++; this.used(s); } else { s = this.fill(tag, global, homes[i]); this.frames[s] = NO_FRAME; misses++; }
      slots[i] = s;
      moved = true;
    }
    if (bits === null) return misses;
    // Resident in the recorded slots unless this walk's own misses evicted one of its pages.
    let resident = true;
    if (this.gen !== g0) for (let i = 0; i < n && resident; i++) resident = own[slots[i]] === tags[i];
    p.tlb = resident ? this : null;
    p.gen = this.gen;
    if (moved) p.effectCount = -1;
    return misses;
  }

  private homesFor(p: PageSet): void {
    for (let i = 0; i < p.tags.length; i++) p.homes[i] = this.home(p.tags[i]);
    p.homeShift = this.shift;
  }

  /** The tree bits a walk touching p's recorded slots in order assigns: for each node, the last touch through it. */
  private recordEffect(p: PageSet): void {
    const cap = this.capacity, slots = p.slots, seen = this.assigned!;
    if (++this.stamp > 0x7fff_ffff) { seen.fill(0); this.stamp = 1; } // stamps stay Int32
    const stamp = this.stamp;
    if (p.effectNode.length < cap) { p.effectNode = new Int32Array(cap); p.effectValue = new Uint8Array(cap); }
    const nodes = p.effectNode, vals = p.effectValue;
    let k = 0;
    for (let i = slots.length - 1; i >= 0; i--) {
      // A node already assigned by a later touch has all its ancestors assigned too.
      for (let node = cap + slots[i]; node > 1; node >>= 1) {
        const q = node >> 1;
        if (seen[q] === stamp) break;
        seen[q] = stamp;
        nodes[k] = q; vals[k] = (node & 1) ^ 1; k++;
      }
    }
    p.effectCount = k;
    p.effectCap = cap;
  }

  /** CR3 reload: non-global entries go, global ones survive. */
  flushNonGlobal(): void {
    this.stats.flushes++;
    const before = this.freeTop;
    for (let s = this.head; s !== -1;) {
      const nx = this.next[s];
      if (!this.global[s]) { this.unlink(s); this.free(s); }
      s = nx;
    }
    if (this.freeTop !== before) { this.gen++; this.reindex(); }
  }

  /** CR4.PGE toggle: everything goes. */
  flushAll(): void {
    this.stats.fullFlushes++;
    if (this.head !== -1) this.gen++;
    for (let s = this.head; s !== -1;) { const nx = this.next[s]; this.unlink(s); this.free(s); s = nx; }
    this.reindex();
  }

  /** Drop one translation (INVLPG after unmapping a single page). */
  invalidate(tag: number): void {
    const s = this.find(tag, this.home(tag));
    if (s === EMPTY) return;
    this.gen++;
    this.unlink(s);
    this.remove(s);
    this.free(s);
  }

  get size(): number { return this.count; }
  has(tag: number): boolean { return this.find(tag, this.home(tag)) !== EMPTY; }

  /** Slot s leaves the array (its tag stays out of the index: see remove / reindex). */
  private free(s: number): void {
    this.tags[s] = NaN;
    this.freeSlots[this.freeTop++] = s;
  }

  /** Home bucket: Fibonacci hashing of the tag's two 32-bit halves. */
  private home(tag: number): number {
    const hi = (tag / 0x1_0000_0000) | 0;
    return Math.imul((tag >>> 0) ^ Math.imul(hi, 0x27d4eb2d), 0x9e3779b1) >>> this.shift;
  }
  /** The slot holding `tag` (home bucket h), or EMPTY. */
  private find(tag: number, h: number): number {
    const keys = this.keys, vals = this.vals, mask = this.mask;
    for (let i = h; ; i = (i + 1) & mask) {
      const s = vals[i];
      if (s === EMPTY || keys[i] === tag) return s;
    }
  }
  private insert(tag: number, s: number, h: number): void {
    const vals = this.vals, mask = this.mask;
    let i = h;
    while (vals[i] !== EMPTY) i = (i + 1) & mask;
    this.keys[i] = tag;
    vals[i] = s;
    this.bucketOf[s] = i;
    this.count++;
  }
  /** Delete slot s's entry from the index, shifting later members of its probe run back (no tombstones). */
  private remove(s: number): void {
    const keys = this.keys, vals = this.vals, mask = this.mask, homeOf = this.homeOf, bucketOf = this.bucketOf;
    let i = bucketOf[s];
    for (let j = (i + 1) & mask; vals[j] !== EMPTY; j = (j + 1) & mask) {
      // An entry may move back to the hole at i unless its home lies cyclically in (i, j].
      const t = vals[j], h = homeOf[t];
      if (((j - h) & mask) >= ((j - i) & mask)) { keys[i] = keys[j]; vals[i] = t; bucketOf[t] = i; i = j; }
    }
    vals[i] = EMPTY;
    this.count--;
  }
  /** Rebuild the index from the slots still on the LRU list. */
  private reindex(): void {
    this.vals.fill(EMPTY);
    this.count = 0;
    for (let s = this.head; s !== -1; s = this.next[s]) this.insert(this.tags[s], s, this.homeOf[s]);
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

/**
 * A CPU's instruction and data TLBs. Code pages are translated through the ITLB, data (and packet
 * frames) through the DTLB; the flushes an OS or Xen issues act on both, as on the hardware.
 */
export class CpuTlbs {
  readonly itlb: Tlb;
  readonly dtlb: Tlb;
  constructor(itlbEntries = 64, dtlbEntries = 64, oracle: FrameOracle | null = null, replacement: TlbReplacement = 'plru') {
    this.itlb = new Tlb(itlbEntries, null, replacement);
    this.dtlb = new Tlb(dtlbEntries, oracle, replacement);
  }
  /** CR3 reload. */
  flushNonGlobal(): void { this.itlb.flushNonGlobal(); this.dtlb.flushNonGlobal(); }
  /** CR4.PGE toggle. */
  flushAll(): void { this.itlb.flushAll(); this.dtlb.flushAll(); }
  /** INVLPG. */
  invalidate(tag: number): void { this.itlb.invalidate(tag); this.dtlb.invalidate(tag); }
  /** Both arrays' counts added (a flush counts once per array). */
  get stats(): TlbStats {
    const i = this.itlb.stats, d = this.dtlb.stats;
    return { hits: i.hits + d.hits, misses: i.misses + d.misses, flushes: i.flushes + d.flushes, fullFlushes: i.fullFlushes + d.fullFlushes };
  }
  resetStats(): void {
    for (const s of [this.itlb.stats, this.dtlb.stats]) s.hits = s.misses = s.flushes = s.fullFlushes = 0;
  }
}
