/**
 * Dynamic rate limiting of the migration stream (Clark et al., "Live Migration of Virtual Machines",
 * NSDI 2005, section 5.1): pre-copy should not take the guest's network from it. The first round goes
 * at a minimum bandwidth; each later round's limit is the rate at which the guest dirtied pages during
 * the round before, plus a constant increment (50 Mb/s in the paper), so the stream keeps ahead of
 * the dirtying without running at full speed; pre-copy ends when that limit would exceed the
 * administrator's maximum (or, as ever, when the dirty set is small), and stop-and-copy runs at the
 * maximum, the guest being paused anyway.
 *
 * Xen's xc_linux_save (the Xen 3 series) carries the same mechanism: mbit_rate starts at START_MBIT_RATE, is
 * raised after each round (print_stats) to the round's dirtying rate + 50 when that exceeds it,
 * capped at MAX_MBIT_RATE (500), and the "no progress" end of pre-copy applies only once the rate is
 * at its maximum (RATE_IS_MAX). Its writer, ratewrite, sends in bursts of BURST_BUDGET (100 KiB), one
 * per slot of RATE_TO_BTU / mbit_rate microseconds. Xen 3.0 shipped with START_MBIT_RATE 0, which
 * turns the limit off (ratewrite writes straight through); later trees kept it under ADAPTIVE_SAVE,
 * 100 rising to 500, not compiled by default. Here the paper's rule: the limit follows the dirtying
 * rate down as well as up.
 */
import { PAGE_SIZE } from '../core/packet.js';

/** The limits, Mb/s: the first round's, the maximum (also stop-and-copy's), and the increment over the dirtying rate. */
export interface AdaptiveRate { startMbps: number; maxMbps: number; incrementMbps: number }
/** The paper's (and xc_linux_save's ADAPTIVE_SAVE) values. */
export const CLARK_RATE: Readonly<AdaptiveRate> = Object.freeze({ startMbps: 100, maxMbps: 500, incrementMbps: 50 });
/** The pacer's burst (xc_linux_save's BURST_BUDGET), bytes. */
export const BURST_BYTES = 100 * 1024;

/** A round's dirtying rate, Mb/s: the pages the guest dirtied during it over its duration. */
export function dirtyRateMbps(pages: number, durationUs: number): number {
  return durationUs > 0 ? (pages * PAGE_SIZE * 8) / durationUs : Infinity;
}

/** The next round's limit, Mb/s: the dirtying rate of the round before plus the increment (it may exceed the maximum). */
export function nextLimitMbps(r: AdaptiveRate, dirtyMbps: number): number {
  return dirtyMbps + r.incrementMbps;
}

/** Pre-copy ends when the next round would need more than the maximum. */
export function exceedsMax(r: AdaptiveRate, limitMbps: number): boolean {
  return limitMbps > r.maxMbps;
}

/** The gap between two bursts at `mbps`, ps (BURST_BYTES at exactly that rate). */
export function burstGapPs(mbps: number): number {
  return Math.round(((BURST_BYTES * 8) / (mbps * 1e6)) * 1e12);
}
