/**
 * A physical CPU: clock, TLB, and cycle accounting by (account, category).
 * An account is a domain name or "xen"; a category is the cost-model row (or
 * "tlbMiss") that consumed the cycles, so breakdowns come from the ledger.
 *
 * A slice's cycles are charged while it is built, before its length is known;
 * the dispatcher then books the slice over its busy interval, and only the
 * part of that interval inside the measured window counts (a slice straddling
 * the window's start or end contributes its share inside), so utilisation
 * over the window can never exceed 100%.
 */
import { CpuTlbs, PageSet, TAG, tlbTag, type FrameOracle, type TlbReplacement } from './tlb.js';
import { FOOTPRINT, type Component, type Footprint } from '../model/costs.js';
import type { ComponentTags } from '../core/exec.js';
import { ChargeLog, Ledger } from './ledger.js';
import { PS_PER_S, type Ps } from '../actors/scheduler.js';

/** Share of the busy interval [t0, t1) inside [a, b); an instantaneous slice counts wholly if t0 is inside. */
export function shareInside(t0: Ps, t1: Ps, a: Ps, b: Ps): number {
  if (t1 <= t0) return t0 >= a && t0 < b ? 1 : 0;
  const lo = t0 > a ? t0 : a, hi = t1 < b ? t1 : b;
  if (hi <= lo) return 0;
  return lo === t0 && hi === t1 ? 1 : (hi - lo) / (t1 - t0);
}

export class Cpu {
  readonly tlb: CpuTlbs;
  /** TLB tags of Xen's own text and data per component: one layout on every CPU, mapped global everywhere. */
  readonly xenTags: ComponentTags<PageSet>;
  private readonly cycles = new Ledger();
  /** The slice being built, and in-window parts of slices booked before the window's ledger reset. */
  private readonly slice = new ChargeLog();
  private readonly carry = new ChargeLog();
  /** The measured window [start, end) of virtual time; unbounded unless a run sets it. */
  private window = { start: 0, end: Infinity };
  /** Whether the ledger holds the measured window (until resetLedger it holds the warm-up). */
  private measuring = true;
  busy = false;
  /** `frames` answers, on a TLB hit through a data-frame entry, whether its domain may still reach the frame. */
  constructor(readonly index: number, readonly hz: number, dtlbEntries: number, frames: FrameOracle | null = null,
    itlbEntries = 64, replacement: TlbReplacement = 'plru', footprint: Footprint = FOOTPRINT) {
    this.tlb = new CpuTlbs(itlbEntries, dtlbEntries, frames, replacement);
    this.xenTags = componentTags(footprint, (_c, vpn) => tlbTag(0, TAG.xen, vpn));
  }
  psFor(cycles: number): Ps { return Math.round((cycles * PS_PER_S) / this.hz); }
  /** Account and category ids come from accountId() and CATEGORY (ledger.ts). */
  charge(account: number, category: number, cycles: number): void { this.slice.add(account, category, cycles); }
  /** The slice just built keeps this CPU busy over [t0, t1): book its cycles by where that time falls. */
  bookSlice(t0: Ps, t1: Ps): void {
    const { start, end } = this.window;
    const inside = shareInside(t0, t1, start, end);
    if (this.measuring) {
      if (inside > 0) this.slice.bookInto(this.cycles, inside);
    } else {
      const before = shareInside(t0, t1, -Infinity, start);
      if (before > 0) this.slice.bookInto(this.cycles, before);
      if (inside > 0) this.slice.appendTo(this.carry, inside);
    }
    this.slice.clear();
  }
  /** Account name -> (category -> cycles) since the last reset, both in first-charge order. */
  get ledger(): Map<string, Map<string, number>> { return this.cycles.entries(); }
  /** Add each account's cycles since the last reset into `into` (a sampler's read, no maps built), the hypervisor's under `xenName`. */
  addAccountTotals(into: Record<string, number>, xenName?: string): void { this.cycles.addTotals(into, xenName); }
  /** The run measures [start, end): set before the system starts, so slices straddling `start` are split. */
  measureWindow(start: Ps, end: Ps): void {
    this.window = { start, end };
    this.measuring = false;
  }
  /** Forget what happened during warm-up: the ledger now holds the measured window. */
  resetLedger(): void {
    this.cycles.clear();
    this.carry.bookInto(this.cycles, 1);
    this.carry.clear();
    this.measuring = true;
    this.tlb.resetStats();
  }
}

/**
 * Lay a footprint out in one virtual address space: every component's code pages first (the kernel's
 * text), then every component's data pages; `tag` names virtual page vpn of component c.
 */
export function componentTags(fp: Footprint, tag: (c: Component, vpn: number) => number): ComponentTags<PageSet> {
  const out: ComponentTags<PageSet> = { code: new Map(), data: new Map() };
  let vpn = 0;
  for (const kind of ['code', 'data'] as const) {
    for (const c of Object.keys(fp) as Component[]) {
      const tags = new Float64Array(fp[c][kind]);
      for (let i = 0; i < tags.length; i++) tags[i] = tag(c, vpn + i);
      out[kind].set(c, new PageSet(tags));
      vpn += fp[c][kind];
    }
  }
  return out;
}
