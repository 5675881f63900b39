/** Run the paper's configurations (the library side of `xennet paper`). */
import { paperConfigs, scenarioFor, type PaperConfig } from './configs.js';
import { contributions, toRow, type Contribution, type PaperRow } from './report.js';
import { runMany, defaultWorkers } from '../workers/pool.js';
import type { Override } from '../scenario/schema.js';
import type { Interpreter } from '../actors/runtime.js';
import type { RunResult } from '../scenario/run.js';

export interface PaperOptions {
  /** Configuration ids to run (default: all, in the paper's order). */
  only?: string[];
  /** Worker threads (results do not depend on it). */
  workers?: number;
  /** Changes applied to every configuration's scenario, e.g. `{ path: 'seed', value: 2, flag: 'my-sweep' }`. */
  overrides?: Override[];
  interpreter?: Interpreter;
  /** Called as each configuration finishes (in completion order). */
  onDone?: (config: PaperConfig, result: RunResult) => void;
}

export interface PaperResult { configurations: PaperRow[]; contributions: Contribution[] }

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
  const scs = cfgs.map((c) => scenarioFor(c, o.overrides ?? []));
  const results = await runMany(scs, o.workers ?? defaultWorkers(), (i, r) => o.onDone?.(cfgs[i], r), o.interpreter);
  const rows = cfgs.map((c, i) => toRow(c, results[i]));
  return { configurations: rows, contributions: contributions(rows) };
}
