/** Run the paper's configurations (the library side of `xennet paper`). */
import { paperConfigs, scenarioFor, type PaperConfig } from './configs.js';
import { contributions, toRow, type Contribution, type PaperRow } from './report.js';
import { runMany, defaultWorkers } from '../workers/pool.js';
import type { Override } from '../scenario/schema.js';
import type { Interpreter } from '../actors/runtime.js';
import type { RunResult } from '../scenario/run.js';
import { repSeeds, summarizeReps, type Figure, type Stat } from '../scenario/reps.js';

export interface PaperOptions {
  /** Configuration ids to run (default: all, in the paper's order). */
  only?: string[];
  /** Worker threads (results do not depend on it). */
  workers?: number;
  /** Changes applied to every configuration's scenario, e.g. `{ path: 'seed', value: 2, flag: 'my-sweep' }`. */
  overrides?: Override[];
  interpreter?: Interpreter;
  /** Called as each run finishes (in completion order). */
  onDone?: (config: PaperConfig, result: RunResult) => void;
  /** Run each configuration under this many seeds (its own, then +1, +2, ...): rows gain `reps` statistics. */
  reps?: number;
}

export interface PaperResult { configurations: Array<PaperRow & { reps?: RepStats }>; contributions: Contribution[] }
export interface RepStats { seeds: number[]; stats: Record<Figure, Stat> }

/** Unknown ids are refused with the list of known ones. */
export function selectConfigs(only?: string[]): PaperConfig[] {
  const all = paperConfigs();
  if (!only?.length) return all;
  const bad = only.filter((w) => !all.some((c) => c.id === w));
  if (bad.length) throw new RangeError(`unknown configuration ${bad[0]} (known: ${all.map((c) => c.id).join(', ')})`);
  return all.filter((c) => only.includes(c.id));
}

export async function runPaper(o: PaperOptions = {}): Promise<PaperResult> {
  const cfgs = selectConfigs(o.only);
  const n = o.reps ?? 1;
  // Configuration i's repetition k is run i * n + k; repetition 0 is the configuration as given.
  const scs = cfgs.flatMap((c) => { const sc = scenarioFor(c, o.overrides ?? []); return repSeeds(sc.seed, n).map((seed) => ({ ...structuredClone(sc), seed })); });
  const results = await runMany(scs, o.workers ?? defaultWorkers(), (i, r) => o.onDone?.(cfgs[Math.floor(i / n)], r), o.interpreter);
  const rows: PaperResult['configurations'] = cfgs.map((c, i) => toRow(c, results[i * n]));
  if (o.reps !== undefined) {
    rows.forEach((row, i) => {
      const rs = results.slice(i * n, i * n + n);
      row.reps = { seeds: rs.map((r) => r.seed), stats: summarizeReps(rs) };
    });
  }
  return { configurations: rows, contributions: contributions(rows) };
}
