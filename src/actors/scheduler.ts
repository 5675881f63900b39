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

interface Entry { t: Ps; rank: number; seq: number; fn: () => void; dead: boolean }

export interface TimerHandle { cancel(): void }

export class Scheduler {
  now: Ps = 0;
  private heap: Entry[] = [];
  private seqByRank: number[] = [];
  delivered = 0;

  /** Run fn at absolute time t on behalf of the actor with this rank. */
  at(t: Ps, rank: number, fn: () => void): TimerHandle {
    if (!Number.isInteger(t) || t < this.now) throw new Error(`scheduler: bad time ${t} (now ${this.now})`);
    const seq = (this.seqByRank[rank] = (this.seqByRank[rank] ?? 0) + 1);
    const e: Entry = { t, rank, seq, fn, dead: false };
    this.push(e);
    return { cancel: () => { e.dead = true; } };
  }

  after(delay: Ps, rank: number, fn: () => void): TimerHandle {
    return this.at(this.now + Math.max(0, Math.round(delay)), rank, fn);
  }

  /** Run until the queue is empty or virtual time would pass `until`. */
  run(until: Ps): void {
    const h = this.heap;
    while (h.length > 0) {
      const top = h[0];
      if (top.t > until) break;
      this.pop();
      if (top.dead) continue;
      this.now = top.t;
      this.delivered++;
      top.fn();
    }
    if (this.now < until) this.now = until;
  }

  pendingCount(): number { return this.heap.length; }

  private less(a: Entry, b: Entry): boolean {
    return a.t !== b.t ? a.t < b.t : a.rank !== b.rank ? a.rank < b.rank : a.seq < b.seq;
  }
  private push(e: Entry): void {
    const h = this.heap;
    h.push(e);
    let i = h.length - 1;
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (!this.less(h[i], h[p])) break;
      [h[i], h[p]] = [h[p], h[i]];
      i = p;
    }
  }
  private pop(): void {
    const h = this.heap;
    const last = h.pop()!;
    if (h.length === 0) return;
    h[0] = last;
    let i = 0;
    for (;;) {
      const l = 2 * i + 1, r = l + 1;
      let m = i;
      if (l < h.length && this.less(h[l], h[m])) m = l;
      if (r < h.length && this.less(h[r], h[m])) m = r;
      if (m === i) break;
      [h[i], h[m]] = [h[m], h[i]];
      i = m;
    }
  }
}
