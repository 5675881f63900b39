/**
 * Stress campaigns: N cases derived from (base seed, index), run on piscina
 * worker threads, reported in index order. A failing case is shrunk with
 * fast-check (in the worker that found it) to a smaller failing scenario.
 * The summary hash is a hash over the per-case result hashes in index order,
 * so it is the same for any number of workers.
 */
import { createHash } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import fc from 'fast-check';
import { caseArb, caseSeed, sampleCase, type CaseScenario } from './case.js';
import { runCase, type CaseResult } from './run.js';
import type { Interpreter } from '../actors/runtime.js';

export interface StressTask {
  base: number;
  index: number;
  hostile: boolean;
  only?: string[];
  /** Run every case twice and require the same result (determinism under replay, I12). */
  replay: boolean;
  /** Shrink a failing case (fast-check) and report the smallest failing scenario found. */
  shrink: boolean;
  /** Replay a shrunk counterexample directly: fast-check's path from the case seed. */
  path?: string;
  interpreter?: Interpreter;
}

export interface StressReport {
  index: number;
  seed: number;
  scenario: CaseScenario;
  result: CaseResult;
  shrunk?: { scenario: CaseScenario; path: string; failures: string[]; runs: number };
}

/** Wall-clock budget for shrinking one failing case. */
const SHRINK_MS = 60_000;

export function runStressCase(t: StressTask): StressReport {
  const seed = caseSeed(t.base, t.index);
  const arb = caseArb(t.hostile, t.only);
  if (t.path !== undefined) {
    // Replaying a counterexample: fast-check regenerates it from (seed, path).
    let found: { sc: CaseScenario; r: CaseResult } | null = null;
    fc.check(fc.property(arb, (sc) => { const r = runCase(sc, { replay: t.replay, interpreter: t.interpreter }); found = { sc, r }; return r.ok; }), { seed, path: t.path, numRuns: 1, endOnFailure: true });
    const f = found as { sc: CaseScenario; r: CaseResult } | null;
    if (!f) throw new Error(`no case at path ${t.path}`);
    return { index: t.index, seed, scenario: f.sc, result: f.r };
  }
  const scenario = sampleCase(t.base, t.index, t.hostile, t.only);
  const result = runCase(scenario, { replay: t.replay, interpreter: t.interpreter });
  const rep: StressReport = { index: t.index, seed, scenario, result };
  if (!result.ok && t.shrink) {
    let runs = 0;
    let last: { sc: CaseScenario; failures: string[] } = { sc: scenario, failures: result.failures };
    const out = fc.check(fc.property(arb, (sc) => {
      runs++;
      const r = runCase(sc, { interpreter: t.interpreter });
      if (!r.ok) last = { sc, failures: r.failures };
      return r.ok;
    }), { seed, numRuns: 1, interruptAfterTimeLimit: SHRINK_MS });
    if (out.failed && out.counterexamplePath) {
      rep.shrunk = { scenario: out.counterexample![0] as CaseScenario, path: out.counterexamplePath, failures: last.failures, runs };
    }
  }
  return rep;
}

export interface StressSummary {
  runs: number;
  hostile: boolean;
  seed: number;
  passed: number;
  failed: number;
  hash: string;
  byBehaviour: Record<string, { cases: number; failed: number }>;
  drops: Record<string, number>;
  violations: Record<string, number>;
  disabled: Record<string, number>;
  /** Lowest honest-progress ratio seen (hostile campaigns). */
  worstHonestShare: number | null;
  /** Lowest single honest guest's ratio. */
  worstGuestShare: number | null;
  nonQuiescent: number;
}

export function summarize(reports: StressReport[], o: { runs: number; hostile: boolean; seed: number }): StressSummary {
  const h = createHash('sha256');
  const s: StressSummary = { ...o, passed: 0, failed: 0, hash: '', byBehaviour: {}, drops: {}, violations: {}, disabled: {}, worstHonestShare: null, worstGuestShare: null, nonQuiescent: 0 };
  for (const r of reports) {
    h.update(`${r.index}:${r.result.hash}:${r.result.ok ? 1 : 0}\n`);
    if (r.result.ok) s.passed++; else s.failed++;
    if (!r.result.quiescent) s.nonQuiescent++;
    const b = r.result.hostile?.split('/')[0];
    if (b) { const e = (s.byBehaviour[b] ??= { cases: 0, failed: 0 }); e.cases++; if (!r.result.ok) e.failed++; }
    for (const [k, v] of Object.entries(r.result.drops)) s.drops[k] = (s.drops[k] ?? 0) + v;
    for (const [k, v] of Object.entries(r.result.violations)) s.violations[k] = (s.violations[k] ?? 0) + v;
    for (const d of r.result.disabled) { const why = d.split(':').slice(1).join(':'); s.disabled[why] = (s.disabled[why] ?? 0) + 1; }
    const share = r.result.honestShare.all;
    if (share !== undefined && (s.worstHonestShare === null || share < s.worstHonestShare)) s.worstHonestShare = share;
    for (const [g, v] of Object.entries(r.result.honestShare)) if (g !== 'all' && (s.worstGuestShare === null || v < s.worstGuestShare)) s.worstGuestShare = v;
  }
  s.hash = h.digest('hex').slice(0, 16);
  const sortObj = <T>(x: Record<string, T>) => Object.fromEntries(Object.entries(x).sort(([a], [b]) => a.localeCompare(b, 'en', { numeric: true })));
  s.byBehaviour = sortObj(s.byBehaviour);
  s.drops = sortObj(s.drops);
  s.violations = sortObj(s.violations);
  s.disabled = sortObj(s.disabled);
  return s;
}

/** Run cases [from, from + runs) on `workers` threads (in-process for one); `onDone` sees each report as it completes. */
export async function runStress(
  o: { seed: number; runs: number; from?: number; hostile: boolean; only?: string[]; replay: boolean; shrink: boolean; workers: number; interpreter?: Interpreter },
  onDone: (r: StressReport) => void = () => {},
): Promise<StressReport[]> {
  const from = o.from ?? 0;
  const tasks: StressTask[] = Array.from({ length: o.runs }, (_, i) => ({ base: o.seed, index: from + i, hostile: o.hostile, only: o.only, replay: o.replay, shrink: o.shrink, interpreter: o.interpreter }));
  if (o.workers <= 1 || tasks.length <= 1) return tasks.map((t) => { const r = runStressCase(t); onDone(r); return r; });
  const { Piscina } = await import('piscina'); // only multi-worker runs need it
  const pool = new Piscina({
    filename: fileURLToPath(new URL('./worker.js', import.meta.url)),
    minThreads: Math.min(o.workers, tasks.length),
    maxThreads: Math.min(o.workers, tasks.length),
  });
  try {
    return await Promise.all(tasks.map(async (t) => {
      const r = (await pool.run(t)) as StressReport;
      onDone(r);
      return r;
    }));
  } finally {
    await pool.destroy();
  }
}
