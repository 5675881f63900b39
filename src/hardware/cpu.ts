/**
 * A physical CPU: clock, TLB, and cycle accounting by (account, category).
 * An account is a domain name or "xen"; a category is the cost-model row (or
 * "tlbMiss") that consumed the cycles, so breakdowns come from the ledger.
 */
import { Tlb, type FrameOracle } from './tlb.js';
import { Ledger } from './ledger.js';
import { PS_PER_S, type Ps } from '../actors/scheduler.js';

export class Cpu {
  readonly tlb: Tlb;
  private readonly cycles = new Ledger();
  busy = false;
  /** `frames` answers, on a TLB hit through a data-frame entry, whether its domain may still reach the frame. */
  constructor(readonly index: number, readonly hz: number, tlbEntries: number, frames: FrameOracle | null = null) {
    this.tlb = new Tlb(tlbEntries, frames);
  }
  psFor(cycles: number): Ps { return Math.round((cycles * PS_PER_S) / this.hz); }
  /** Account and category ids come from accountId() and CATEGORY (ledger.ts). */
  charge(account: number, category: number, cycles: number): void { this.cycles.charge(account, category, cycles); }
  /** Account name -> (category -> cycles) since the last reset, both in first-charge order. */
  get ledger(): Map<string, Map<string, number>> { return this.cycles.entries(); }
  /** Forget what happened during warm-up. */
  resetLedger(): void {
    this.cycles.clear();
    const s = this.tlb.stats;
    s.hits = s.misses = s.flushes = s.fullFlushes = 0;
  }
}
