/**
 * Deterministic discrete-event scheduler. Virtual time is an integer number of
 * picoseconds (a 2.4 GHz cycle is ~417 ps, so rounding a cost to 1 ps is far
 * below anything the model resolves; 2^53 ps is ~2.5 hours of virtual time).
 *
 * Tie-break rule (documented, host-independent): events are ordered by
 *   (time, rank of the scheduling actor, that actor's schedule counter).
 * Ranks are assigned in actor-creation order, which scenario construction fixes.
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
 * 4-ary min-heap of slot numbers (half the depth of a binary heap; a node's children are adjacent); each slot holds one event in parallel
 * arrays (no object per event). The heap moves only (time, slot) pairs; the
 * tie-break key packs (rank, per-rank counter) as rank * 2^32 + counter.
 */
export class Scheduler {
  now: Ps = 0;
  delivered = 0;
  // heap: time and slot per position
  private ht = new Float64Array(1024);
  private hs = new Int32Array(1024);
  private n = 0;
  // slots
  private k = new Float64Array(1024);
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
  /** No-op left in a cancelled event's slot: it stays in the heap (lazy deletion) and runs as nothing. */
  private static readonly CANCELLED = (): void => {};

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
    while (this.n > 0) {
      const t = this.ht[0];
      if (t > until) break;
      const s = this.hs[0];
      this.pop();
      const fn = this.fn[s]!, a = this.a[s], b = this.b[s], c = this.c[s];
      this.fn[s] = this.a[s] = this.b[s] = this.c[s] = undefined;
      this.free[this.nFree++] = s;
      if (fn === Scheduler.CANCELLED) continue;
      this.now = t;
      this.delivered++;
      fn(a, b, c);
    }
    if (this.now < until) this.now = until;
  }

  pendingCount(): number { return this.n; }

  private slot(): number {
    if (this.nFree > 0) return this.free[--this.nFree];
    if (this.slotsUsed === this.k.length) {
      const cap = this.k.length * 2;
      const k = new Float64Array(cap); k.set(this.k); this.k = k;
      const id = new Float64Array(cap); id.set(this.id); this.id = id;
      const free = new Int32Array(cap); free.set(this.free); this.free = free;
      this.fn.length = cap; this.a.length = cap; this.b.length = cap; this.c.length = cap;
    }
    return this.slotsUsed++;
  }
  private push(t: number, k: number, id: number, fn: (a?: any, b?: any, c?: any) => void, a: unknown, b: unknown, c: unknown): number {
    const s = this.slot();
    this.k[s] = k; this.id[s] = id; this.fn[s] = fn; this.a[s] = a; this.b[s] = b; this.c[s] = c;
    if (this.n === this.ht.length) {
      const ht = new Float64Array(this.n * 2); ht.set(this.ht); this.ht = ht;
      const hs = new Int32Array(this.n * 2); hs.set(this.hs); this.hs = hs;
    }
    const HT = this.ht, HS = this.hs, K = this.k;
    let i = this.n++;
    while (i > 0) {
      const p = (i - 1) >> 2;
      const pt = HT[p];
      if (pt < t || (pt === t && K[HS[p]] < k)) break;
      HT[i] = pt; HS[i] = HS[p];
      i = p;
    }
    HT[i] = t; HS[i] = s;
    return s;
  }
  private pop(): void {
    const HT = this.ht, HS = this.hs, K = this.k;
    const n = --this.n;
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
