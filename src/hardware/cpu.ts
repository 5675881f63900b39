/**
 * A physical CPU: clock, TLB, and cycle accounting by (account, category).
 * An account is a domain name or "xen"; a category is the cost-model row (or
 * "tlbMiss") that consumed the cycles, so breakdowns come from the ledger.
 */
import { Tlb } from './tlb.js';
import { PS_PER_S, type Ps } from '../actors/scheduler.js';

export class Cpu {
  readonly tlb: Tlb;
  readonly ledger = new Map<string, Map<string, number>>();
  busy = false;
  constructor(readonly index: number, readonly hz: number, tlbEntries: number) {
    this.tlb = new Tlb(tlbEntries);
  }
  psFor(cycles: number): Ps { return Math.round((cycles * PS_PER_S) / this.hz); }
  charge(account: string, category: string, cycles: number): void {
    let m = this.ledger.get(account);
    if (!m) { m = new Map(); this.ledger.set(account, m); }
    m.set(category, (m.get(category) ?? 0) + cycles);
  }
  /** Forget what happened during warm-up. */
  resetLedger(): void {
    this.ledger.clear();
    const s = this.tlb.stats;
    s.hits = s.misses = s.flushes = s.fullFlushes = 0;
  }
}
