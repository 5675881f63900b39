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
export const PS_PER_NS = 1_000;
export const PS_PER_US = 1_000_000;
export const PS_PER_MS = 1_000_000_000;
export const PS_PER_S = 1_000_000_000_000;

export interface TimerHandle { cancel(): void }

/**
 * Binary min-heap over parallel typed arrays (no object per event): key 1 is
 * the time, key 2 packs (rank, per-rank counter) as rank * 2^32 + counter.
 */
export class Scheduler {
  now: Ps = 0;
  delivered = 0;
  private t = new Float64Array(1024);
  private k = new Float64Array(1024);
  private id = new Float64Array(1024);
  private fn: Array<((a?: any, b?: any, c?: any) => void) | undefined> = new Array(1024);
  // Arguments for fn: lets hot callers (message delivery) schedule without allocating a closure.
  private a: unknown[] = new Array(1024);
  private b: unknown[] = new Array(1024);
  private c: unknown[] = new Array(1024);
  private n = 0;
  private seqByRank: number[] = [];
  private nextId = 1;
  private cancelled = new Set<number>();

  /** Run fn at absolute time t on behalf of the actor with this rank. */
  at(t: Ps, rank: number, fn: () => void): TimerHandle {
    if (!Number.isInteger(t) || t < this.now) throw new Error(`scheduler: bad time ${t} (now ${this.now})`);
    const seq = (this.seqByRank[rank] = (this.seqByRank[rank] ?? 0) + 1);
    const id = this.nextId++;
    this.push(t, rank * 0x1_0000_0000 + seq, id, fn, undefined, undefined, undefined);
    return { cancel: () => { this.cancelled.add(id); } };
  }

  /** Like at(), but calls fn(a, b, c): no closure, and not cancellable. */
  call<A, B, C>(t: Ps, rank: number, fn: (a: A, b: B, c: C) => void, a: A, b: B, c: C): void {
    if (!Number.isInteger(t) || t < this.now) throw new Error(`scheduler: bad time ${t} (now ${this.now})`);
    const seq = (this.seqByRank[rank] = (this.seqByRank[rank] ?? 0) + 1);
    this.push(t, rank * 0x1_0000_0000 + seq, 0, fn, a, b, c);
  }

  after(delay: Ps, rank: number, fn: () => void): TimerHandle {
    return this.at(this.now + Math.max(0, Math.round(delay)), rank, fn);
  }

  /** Run until the queue is empty or virtual time would pass `until`. */
  run(until: Ps): void {
    while (this.n > 0) {
      const t = this.t[0];
      if (t > until) break;
      const id = this.id[0];
      const fn = this.fn[0]!;
      const a = this.a[0], b = this.b[0], c = this.c[0];
      this.pop();
      if (id !== 0 && this.cancelled.size && this.cancelled.delete(id)) continue;
      this.now = t;
      this.delivered++;
      fn(a, b, c);
    }
    if (this.now < until) this.now = until;
  }

  pendingCount(): number { return this.n; }

  private grow(): void {
    const cap = this.t.length * 2;
    const t = new Float64Array(cap); t.set(this.t); this.t = t;
    const k = new Float64Array(cap); k.set(this.k); this.k = k;
    const id = new Float64Array(cap); id.set(this.id); this.id = id;
    this.fn.length = cap; this.a.length = cap; this.b.length = cap; this.c.length = cap;
  }
  private push(t: number, k: number, id: number, fn: (a?: any, b?: any, c?: any) => void, a: unknown, b: unknown, c: unknown): void {
    if (this.n === this.t.length) this.grow();
    const T = this.t, K = this.k, I = this.id, F = this.fn, A = this.a, B = this.b, C = this.c;
    let i = this.n++;
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (T[p] < t || (T[p] === t && K[p] < k)) break;
      T[i] = T[p]; K[i] = K[p]; I[i] = I[p]; F[i] = F[p]; A[i] = A[p]; B[i] = B[p]; C[i] = C[p];
      i = p;
    }
    T[i] = t; K[i] = k; I[i] = id; F[i] = fn; A[i] = a; B[i] = b; C[i] = c;
  }
  private pop(): void {
    const T = this.t, K = this.k, I = this.id, F = this.fn, A = this.a, B = this.b, C = this.c;
    const n = --this.n;
    if (n === 0) { F[0] = A[0] = B[0] = C[0] = undefined; return; }
    const t = T[n], k = K[n], id = I[n], fn = F[n], a = A[n], b = B[n], c = C[n];
    F[n] = A[n] = B[n] = C[n] = undefined;
    let i = 0;
    for (;;) {
      const l = 2 * i + 1;
      if (l >= n) break;
      const r = l + 1;
      let m = l;
      if (r < n && (T[r] < T[l] || (T[r] === T[l] && K[r] < K[l]))) m = r;
      if (t < T[m] || (t === T[m] && k < K[m])) break;
      T[i] = T[m]; K[i] = K[m]; I[i] = I[m]; F[i] = F[m]; A[i] = A[m]; B[i] = B[m]; C[i] = C[m];
      i = m;
    }
    T[i] = t; K[i] = k; I[i] = id; F[i] = fn; A[i] = a; B[i] = b; C[i] = c;
  }
}
