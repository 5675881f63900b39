/**
 * Repetitions: the same scenario under several seeds, and the statistics of each figure over them
 * (mean, sample standard deviation, 95% confidence interval of the mean from Student's t).
 *
 * Repetition k of a run with seed s uses seed s + k (k = 0 is the run itself), so `--reps 5 --seed 1`
 * and `--reps 5 --seed 3` share repetitions 3..5 and any repetition can be rerun on its own.
 */
import type { RunResult } from './run.js';

export function repSeeds(seed: number, reps: number): number[] {
  return Array.from({ length: reps }, (_, k) => seed + k);
}

export interface Stat { n: number; mean: number; std: number; ci95: [number, number] }

/** t(0.975, df) for df = 1..30 (two-sided 95%); the normal 1.96 beyond. */
const T975 = [12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228, 2.201, 2.179, 2.160, 2.145, 2.131,
  2.120, 2.110, 2.101, 2.093, 2.086, 2.080, 2.074, 2.069, 2.064, 2.060, 2.056, 2.052, 2.048, 2.045, 2.042];
export function t975(df: number): number { return df < 1 ? NaN : df <= 30 ? T975[df - 1] : 1.96; }

export function stat(xs: number[]): Stat {
  const n = xs.length;
  const mean = xs.reduce((a, b) => a + b, 0) / n;
  const std = n > 1 ? Math.sqrt(xs.reduce((a, x) => a + (x - mean) ** 2, 0) / (n - 1)) : 0;
  const half = n > 1 ? t975(n - 1) * std / Math.sqrt(n) : 0;
  return { n, mean, std, ci95: [mean - half, mean + half] };
}

/** The figures a run reports that repetitions summarise. */
export const FIGURES = {
  throughputMbps: (r: RunResult) => r.throughputMbps,
  cpuPct: (r: RunResult) => r.cpuUtilPct.total,
  cyclesPerPacket: (r: RunResult) => r.cyclesPerPacket.total,
} as const;
export type Figure = keyof typeof FIGURES;

/**
 * The figures of request/response runs: their Mb/s is request and response bytes and their cycles
 * per MSS segment divide by next to no segments, so they are summarised by rate, latency and cycles
 * per transaction instead.
 */
export const RR_FIGURES = {
  tps: (r: RunResult) => r.latency!.tps,
  meanUs: (r: RunResult) => r.latency!.meanUs,
  p99Us: (r: RunResult) => r.latency!.p99Us,
  cpuPct: (r: RunResult) => r.cpuUtilPct.total,
  cyclesPerTransaction: (r: RunResult) => r.latency!.perTransaction.cycles,
} as const;

/** The figures that describe these runs: RR_FIGURES when every one is a request/response run, else FIGURES. */
export function figuresFor(rs: RunResult[]): Record<string, (r: RunResult) => number> {
  return rs.length > 0 && rs.every((r) => r.latency) ? RR_FIGURES : FIGURES;
}

/** Each figure over the runs (by default the ones figuresFor(rs) picks). */
export function summarizeFigures(rs: RunResult[], figures = figuresFor(rs)): Record<string, Stat> {
  return Object.fromEntries(Object.entries(figures).map(([k, f]) => [k, stat(rs.map(f))]));
}

export function summarizeReps(rs: RunResult[]): Record<Figure, Stat> {
  const out = {} as Record<Figure, Stat>;
  for (const [k, f] of Object.entries(FIGURES) as Array<[Figure, (r: RunResult) => number]>) out[k] = stat(rs.map(f));
  return out;
}

/** "738.4 ± 3.1" (mean ± half-width of the 95% CI), at the given decimals. */
export function fmtStat(s: Stat, digits = 1): string {
  return `${s.mean.toFixed(digits)} ± ${((s.ci95[1] - s.ci95[0]) / 2).toFixed(digits)}`;
}
