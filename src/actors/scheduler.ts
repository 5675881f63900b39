/**
 * Deterministic discrete-event scheduler. Virtual time is an integer number of
 * picoseconds (a 2.4 GHz cycle is ~417 ps, so rounding a cost to 1 ps is far
 * below anything the model resolves; 2^53 ps is ~2.5 hours of virtual time).
 *
 * Tie-break rule (documented, host-independent): events are ordered by
 *   (time, rank of the scheduling actor, that actor's schedule counter).
 * Ranks are assigned in actor-creation order, which scenario construction fixes.
 * The key (time, rank, counter) is unique per event, so the pop order is a function of the
 * events alone: every queue implementation below gives the same order.
 */
export type Ps = number;
export const PS_PER_US = 1_000_000;
export const PS_PER_MS = 1_000_000_000;
export const PS_PER_S = 1_000_000_000_000;

export interface TimerHandle { cancel(): void }

/** A cancellable event: its slot and its id (a slot is reused once its event has run, the id never is). */
class Timer implements TimerHandle {
  constructor(private readonly sched: Scheduler, private readonly slot: number, private readonly id: number) {}
  cancel(): void { this.sched.cancelSlot(this.slot, this.id); }
}

/**
 * The pending events, as slot numbers; the queue keeps each slot's time and tie-break key (rank *
 * 2^32 + per-rank counter) and pops the least (time, key) first.
 */
interface EventQueue {
  readonly size: number;
  /** Slot capacity grew to cap (the queue's per-slot arrays follow). */
  grow(cap: number): void;
  push(s: number, t: number, k: number): void;
  /** The slot of the least event (the queue is not empty). */
  peek(): number;
  /** Remove the event peek() returned. */
  pop(): void;
  time(s: number): number;
}

export const EVENT_QUEUES = ['ladder', 'heap'] as const;
export type EventQueueKind = typeof EVENT_QUEUES[number];
/** The ladder queue: O(1) expected per event; measured faster than the heap (docs/performance.md). */
export const DEFAULT_EVENT_QUEUE: EventQueueKind = 'ladder';

/**
 * 4-ary min-heap of slot numbers (half the depth of a binary heap; a node's children are adjacent).
 * The heap moves only (time, slot) pairs.
 */
class HeapQueue implements EventQueue {
  private ht = new Float64Array(1024);
  private hs = new Int32Array(1024);
  private k: Float64Array;
  private t: Float64Array;
  size = 0;
  constructor(cap: number) { this.k = new Float64Array(cap); this.t = new Float64Array(cap); }
  grow(cap: number): void {
    const k = new Float64Array(cap); k.set(this.k); this.k = k;
    const t = new Float64Array(cap); t.set(this.t); this.t = t;
  }
  time(s: number): number { return this.t[s]; }
  peek(): number { return this.hs[0]; }
  push(s: number, t: number, k: number): void {
    this.k[s] = k; this.t[s] = t;
    if (this.size === this.ht.length) {
      const ht = new Float64Array(this.size * 2); ht.set(this.ht); this.ht = ht;
      const hs = new Int32Array(this.size * 2); hs.set(this.hs); this.hs = hs;
    }
    const HT = this.ht, HS = this.hs, K = this.k;
    let i = this.size++;
    while (i > 0) {
      const p = (i - 1) >> 2;
      const pt = HT[p];
      if (pt < t || (pt === t && K[HS[p]] < k)) break;
      HT[i] = pt; HS[i] = HS[p];
      i = p;
    }
    HT[i] = t; HS[i] = s;
  }
  pop(): void {
    const HT = this.ht, HS = this.hs, K = this.k;
    const n = --this.size;
    if (n === 0) return;
    const t = HT[n], s = HS[n], k = K[s];
    let i = 0;
    for (;;) {
      const first = 4 * i + 1;
      if (first >= n) break;
      const last = first + 4 < n ? first + 4 : n;
      let m = first;
      let mt = HT[first];
      for (let c = first + 1; c < last; c++) {
        const ct = HT[c];
        if (ct < mt || (ct === mt && K[HS[c]] < K[HS[m]])) { m = c; mt = ct; }
      }
      if (t < mt || (t === mt && k < K[HS[m]])) break;
      HT[i] = mt; HS[i] = HS[m];
      i = m;
    }
    HT[i] = t; HS[i] = s;
  }
}

/** A bucket of this many events or more is spread over a finer rung rather than sorted. */
const THRES = 48;
/** At most this many rungs; below the last, buckets are sorted whatever their size. */
const MAX_RUNGS = 8;
const NIL = -1;
/**
 * Buckets per event when Top becomes a rung. New events land mostly in that rung (PHOLD: 9 in 10),
 * so one bucket per event of Top fills to ~8 events by the time it is sorted; two halve that
 * (measured faster on PHOLD; bench/phold.ts).
 */
const TOP_SPREAD = 2;

/**
 * Ladder queue (W. T. Tang, R. S. M. Goh, I. L.-J. Thng, "Ladder queue: An O(1) priority queue
 * structure for large-scale discrete event simulation", ACM TOMACS 15(3), 2005). Three tiers:
 *  - Top: an unsorted list of the far future (time >= topStart), with its least and greatest time;
 *  - rungs: arrays of buckets (unsorted lists), each rung finer than the one above and covering one
 *    bucket of it; a rung's buckets before `cur` have been handed down;
 *  - Bottom: a short sorted array, the events popped next.
 * An event goes to Top, else to the first rung whose current-or-later bucket holds its time, else
 * into Bottom. When Bottom runs dry, the finest rung's next bucket is sorted into it (or, if it holds
 * THRES or more events, spread over a new finer rung); when every rung is spent, Top becomes a rung.
 * Bucket indices are a non-decreasing function of time within a rung (floor, clamped to the rung),
 * so every event in a finer tier precedes every event in a coarser one, and sorting each bucket by
 * (time, key) gives exactly the heap's order. Cancelled events stay queued as no-ops, as in the heap.
 */
class LadderQueue implements EventQueue {
  private t: Float64Array;
  private k: Float64Array;
  private next: Int32Array;
  size = 0;
  // Top
  private topHead = NIL;
  private topCount = 0;
  private topMin = Infinity;
  private topMax = -Infinity;
  /** Events at or after this time go to Top. */
  private topStart = 0;
  // Rungs: start time, bucket width, bucket count, next bucket to hand down, bucket heads.
  private nRungs = 0;
  private readonly rStart = new Float64Array(MAX_RUNGS);
  private readonly rWidth = new Float64Array(MAX_RUNGS);
  private readonly rNb = new Int32Array(MAX_RUNGS);
  private readonly rCur = new Int32Array(MAX_RUNGS);
  private readonly rHeads: Int32Array[] = Array.from({ length: MAX_RUNGS }, () => new Int32Array(64));
  /** Events per bucket (a bucket handed down below THRES is sorted without a walk to count it). */
  private readonly rCounts: Int32Array[] = Array.from({ length: MAX_RUNGS }, () => new Int32Array(64));
  /** 1 / width, per rung: a bucket index is a multiplication (any non-decreasing function of time will do). */
  private readonly rInv = new Float64Array(MAX_RUNGS);
  // Bottom: sorted ascending in bot[bH..bL).
  private bot = new Int32Array(256);
  private bH = 0;
  private bL = 0;

  constructor(cap: number) {
    this.t = new Float64Array(cap); this.k = new Float64Array(cap); this.next = new Int32Array(cap);
  }
  grow(cap: number): void {
    const t = new Float64Array(cap); t.set(this.t); this.t = t;
    const k = new Float64Array(cap); k.set(this.k); this.k = k;
    const n = new Int32Array(cap); n.set(this.next); this.next = n;
  }
  time(s: number): number { return this.t[s]; }

  /** Bucket of time t in rung r: floor((t - start) / width), clamped to the rung. */
  private index(r: number, t: number): number {
    const i = Math.floor((t - this.rStart[r]) * this.rInv[r]);
    const last = this.rNb[r] - 1;
    return i < 0 ? 0 : i > last ? last : i;
  }

  push(s: number, t: number, k: number): void {
    this.t[s] = t; this.k[s] = k;
    this.size++;
    if (t >= this.topStart) {
      this.next[s] = this.topHead; this.topHead = s; this.topCount++;
      if (t < this.topMin) this.topMin = t;
      if (t > this.topMax) this.topMax = t;
      return;
    }
    for (let r = 0; r < this.nRungs; r++) {
      const i = this.index(r, t);
      if (i >= this.rCur[r]) { const h = this.rHeads[r]; this.next[s] = h[i]; h[i] = s; this.rCounts[r][i]++; return; }
    }
    this.bottomInsert(s, t, k);
  }

  private bottomInsert(s: number, t: number, k: number): void {
    const T = this.t, K = this.k, B = this.bot;
    let lo = this.bH, hi = this.bL;
    // Usually the new event is the latest: test the end first.
    if (hi > lo) {
      const e = B[hi - 1];
      if (T[e] < t || (T[e] === t && K[e] < k)) lo = hi;
    }
    while (lo < hi) {
      const mid = (lo + hi) >> 1, e = B[mid];
      if (T[e] < t || (T[e] === t && K[e] < k)) lo = mid + 1; else hi = mid;
    }
    if (this.bL === B.length) {
      if (this.bH > 0) { B.copyWithin(0, this.bH, this.bL); this.bL -= this.bH; lo -= this.bH; this.bH = 0; }
      else { const g = new Int32Array(B.length * 2); g.set(B); this.bot = g; }
    }
    const b = this.bot;
    if (lo < this.bL) b.copyWithin(lo + 1, lo, this.bL);
    b[lo] = s;
    this.bL++;
    if (this.bL - this.bH > 2 * THRES && this.nRungs < MAX_RUNGS) this.bottomToRung();
  }

  /** Bottom grew long (many events inserted below every rung's current bucket): spread it over a new finest rung. */
  private bottomToRung(): void {
    const T = this.t, B = this.bot;
    const n = this.bL - this.bH;
    const lo = T[B[this.bH]], hi = T[B[this.bL - 1]];
    if (hi === lo) return;
    const r = this.newRung(lo, (hi - lo + 1) / n, n);
    const h = this.rHeads[r], cnt = this.rCounts[r];
    for (let j = this.bH; j < this.bL; j++) { const s = B[j]; const i = this.index(r, T[s]); this.next[s] = h[i]; h[i] = s; cnt[i]++; }
    this.bH = this.bL = 0;
  }

  private newRung(start: number, width: number, nb: number): number {
    const r = this.nRungs++;
    this.rStart[r] = start; this.rWidth[r] = width; this.rInv[r] = 1 / width; this.rNb[r] = nb; this.rCur[r] = 0;
    if (this.rHeads[r].length < nb) {
      const len = Math.max(nb, 2 * this.rHeads[r].length);
      this.rHeads[r] = new Int32Array(len); this.rCounts[r] = new Int32Array(len);
    }
    this.rHeads[r].fill(NIL, 0, nb);
    this.rCounts[r].fill(0, 0, nb);
    return r;
  }

  /** Link the events of list s into rung r's buckets. */
  private spread(r: number, s: number): void {
    const T = this.t, NX = this.next, h = this.rHeads[r], cnt = this.rCounts[r];
    while (s !== NIL) { const nx = NX[s]; const i = this.index(r, T[s]); NX[s] = h[i]; h[i] = s; cnt[i]++; s = nx; }
  }

  peek(): number {
    if (this.bH === this.bL) this.refill();
    return this.bot[this.bH];
  }
  pop(): void {
    this.size--;
    if (++this.bH === this.bL) this.bH = this.bL = 0;
  }

  /** Bottom is empty and the queue is not: hand down the next bucket (making rungs as needed). */
  private refill(): void {
    const T = this.t, NX = this.next;
    for (;;) {
      if (this.nRungs === 0) {
        // Top becomes rung 0, spanning [topMin, topMax]; later events at or after its end go to Top.
        const n = this.topCount, lo = this.topMin, hi = this.topMax;
        let s = this.topHead;
        this.topHead = NIL; this.topCount = 0; this.topMin = Infinity; this.topMax = -Infinity;
        this.topStart = hi + 1;
        if (hi === lo || n < 2) { this.sortIntoBottom(s, n); return; }
        const nb = n * TOP_SPREAD;
        this.spread(this.newRung(lo, (hi - lo + 1) / nb, nb), s);
        continue;
      }
      const r = this.nRungs - 1;
      const h = this.rHeads[r], nb = this.rNb[r];
      let c = this.rCur[r];
      while (c < nb && h[c] === NIL) c++;
      if (c === nb) { this.rCur[r] = nb; this.nRungs--; continue; }
      this.rCur[r] = c + 1;
      const s = h[c];
      h[c] = NIL;
      const cnt = this.rCounts[r], n = cnt[c];
      cnt[c] = 0;
      if (n < THRES || this.nRungs === MAX_RUNGS) { this.sortIntoBottom(s, n); return; }
      let lo = Infinity, hi = -Infinity;
      for (let e = s; e !== NIL; e = NX[e]) { const t = T[e]; if (t < lo) lo = t; if (t > hi) hi = t; }
      if (hi === lo) { this.sortIntoBottom(s, n); return; }
      // Spread the bucket over a finer rung covering exactly its span of rung r.
      const w = this.rWidth[r];
      this.spread(this.newRung(this.rStart[r] + c * w, w / n, n), s);
    }
  }

  /** Put the n events of list s into the empty Bottom, sorted by (time, key). */
  private sortIntoBottom(s: number, n: number): void {
    if (this.bot.length < n) this.bot = new Int32Array(Math.max(n, 2 * this.bot.length));
    const B = this.bot, T = this.t, K = this.k, NX = this.next;
    let m = 0;
    if (n <= 64) {
      // Insertion sort (buckets are short).
      for (; s !== NIL; s = NX[s]) {
        const t = T[s], k = K[s];
        let j = m++;
        while (j > 0) {
          const e = B[j - 1];
          if (T[e] < t || (T[e] === t && K[e] < k)) break;
          B[j] = e; j--;
        }
        B[j] = s;
      }
    } else {
      for (; s !== NIL; s = NX[s]) B[m++] = s;
      const sorted = B.subarray(0, m).sort((x, y) => (T[x] - T[y]) || (K[x] - K[y]));
      B.set(sorted);
    }
    this.bH = 0; this.bL = m;
  }
}

/** Events in parallel arrays per slot (no object per event), ordered by an EventQueue. */
export class Scheduler {
  now: Ps = 0;
  delivered = 0;
  // One of the two is set: separate fields keep each call site monomorphic.
  private readonly ladder: LadderQueue | null;
  private readonly heap: HeapQueue | null;
  private id = new Float64Array(1024);
  private fn: Array<((a?: any, b?: any, c?: any) => void) | undefined> = new Array(1024);
  // Arguments for fn: lets hot callers (message delivery) schedule without allocating a closure.
  private a: unknown[] = new Array(1024);
  private b: unknown[] = new Array(1024);
  private c: unknown[] = new Array(1024);
  /** Free slots, a stack (a slot freed last is reused first). */
  private free = new Int32Array(1024);
  private nFree = 0;
  private slotsUsed = 0;
  private seqByRank = new Float64Array(64);
  private nextId = 1;
  /** No-op left in a cancelled event's slot: it stays queued (lazy deletion) and runs as nothing. */
  private static readonly CANCELLED = (): void => {};

  constructor(readonly queue: EventQueueKind = DEFAULT_EVENT_QUEUE) {
    this.heap = queue === 'heap' ? new HeapQueue(1024) : null;
    this.ladder = queue === 'heap' ? null : new LadderQueue(1024);
  }

  /** Run fn at absolute time t on behalf of the actor with this rank. */
  at(t: Ps, rank: number, fn: () => void): TimerHandle {
    if (!Number.isInteger(t) || t < this.now) throw new Error(`scheduler: bad time ${t} (now ${this.now})`);
    const seq = this.nextSeq(rank);
    const id = this.nextId++;
    const s = this.push(t, rank * 0x1_0000_0000 + seq, id, fn, undefined, undefined, undefined);
    return new Timer(this, s, id);
  }

  /** Cancel the event with this id if it is still waiting in this slot. */
  cancelSlot(slot: number, id: number): void {
    if (this.id[slot] === id) { this.id[slot] = 0; this.fn[slot] = Scheduler.CANCELLED; }
  }

  /** Like at(), but calls fn(a, b, c): no closure, and not cancellable. */
  call<A, B, C>(t: Ps, rank: number, fn: (a: A, b: B, c: C) => void, a: A, b: B, c: C): void {
    if (!Number.isInteger(t) || t < this.now) throw new Error(`scheduler: bad time ${t} (now ${this.now})`);
    const seq = this.nextSeq(rank);
    this.push(t, rank * 0x1_0000_0000 + seq, 0, fn, a, b, c);
  }

  private nextSeq(rank: number): number {
    let q = this.seqByRank;
    if (rank >= q.length) {
      const g = new Float64Array(Math.max(rank + 1, q.length * 2)); g.set(q); this.seqByRank = q = g;
    }
    return ++q[rank];
  }

  after(delay: Ps, rank: number, fn: () => void): TimerHandle {
    return this.at(this.now + Math.max(0, Math.round(delay)), rank, fn);
  }

  /** Run until the queue is empty or virtual time would pass `until`. */
  run(until: Ps): void {
    if (this.ladder) this.runOn(this.ladder, until); else this.runOn(this.heap!, until);
    if (this.now < until) this.now = until;
  }
  private runOn(q: EventQueue, until: Ps): void {
    while (q.size > 0) {
      const s = q.peek();
      const t = q.time(s);
      if (t > until) break;
      q.pop();
      const fn = this.fn[s]!, a = this.a[s], b = this.b[s], c = this.c[s];
      this.fn[s] = this.a[s] = this.b[s] = this.c[s] = undefined;
      this.free[this.nFree++] = s;
      if (fn === Scheduler.CANCELLED) continue;
      this.now = t;
      this.delivered++;
      fn(a, b, c);
    }
  }

  pendingCount(): number { return (this.ladder ?? this.heap!).size; }

  private slot(): number {
    if (this.nFree > 0) return this.free[--this.nFree];
    if (this.slotsUsed === this.id.length) {
      const cap = this.id.length * 2;
      const id = new Float64Array(cap); id.set(this.id); this.id = id;
      const free = new Int32Array(cap); free.set(this.free); this.free = free;
      this.fn.length = cap; this.a.length = cap; this.b.length = cap; this.c.length = cap;
      if (this.ladder) this.ladder.grow(cap); else this.heap!.grow(cap);
    }
    return this.slotsUsed++;
  }
  private push(t: number, k: number, id: number, fn: (a?: any, b?: any, c?: any) => void, a: unknown, b: unknown, c: unknown): number {
    const s = this.slot();
    this.id[s] = id; this.fn[s] = fn; this.a[s] = a; this.b[s] = b; this.c[s] = c;
    if (this.ladder) this.ladder.push(s, t, k); else this.heap!.push(s, t, k);
    return s;
  }
}
