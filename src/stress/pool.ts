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
import { caseArbAt, caseSeed, hostilePairs, type CaseScenario } from './case.js';
import { worldCaseArbAt } from './world-case.js';
import { runCase, type CaseResult } from './run.js';
import type { Interpreter } from '../actors/runtime.js';

export interface StressTask {
  base: number;
  index: number;
  hostile: boolean;
  only?: string[];
  /** Draw guest lifecycle events (vif unplug and plug, destroy, crash, save and restore; in worlds migrate too) into every case. */
  lifecycle?: boolean;
  /** Draw worlds of several hosts (world-case.ts) instead of one-host cases (case.ts). */
  worlds?: boolean;
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
  const arb = t.worlds ? worldCaseArbAt(t.index, t.hostile, t.only, t.lifecycle) : caseArbAt(t.index, t.hostile, t.only, t.lifecycle);
  if (t.path !== undefined) {
    // Replaying a counterexample: fast-check regenerates it from (seed, path).
    let found: { sc: CaseScenario; r: CaseResult } | null = null;
    fc.check(fc.property(arb, (sc) => { const r = runCase(sc, { replay: t.replay, interpreter: t.interpreter }); found = { sc, r }; return r.ok; }), { seed, path: t.path, numRuns: 1, endOnFailure: true });
    const f = found as { sc: CaseScenario; r: CaseResult } | null;
    if (!f) throw new Error(`no case at path ${t.path}`);
    return { index: t.index, seed, scenario: f.sc, result: f.r };
  }
  const scenario = fc.sample(arb, { seed, numRuns: 1 })[0]; // sampleCase's draw, from this task's arbitrary
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
  /** Hostile campaigns: (behaviour, variant) pairs of the catalogue (or of --only) and how many of them ran. */
  coverage: { pairs: number; covered: number } | null;
  /** World campaigns (--worlds): cases by number of hosts, those with a switch, and their flows: in all, between two hosts, and guest to guest on one host. */
  worlds?: { byHosts: Record<string, number>; withSwitch: number; flows: number; betweenHosts: number; vmToVm: number };
}

/** What a world case is made of, for the summary. */
function worldShape(sc: CaseScenario): { hosts: number; withSwitch: boolean; flows: number; betweenHosts: number; vmToVm: number } | null {
  if (!sc.hosts) return null;
  const flows = sc.flows ?? [];
  const host = (e: string) => e.split('/')[0];
  const guest = (e: string) => e.split('/')[1].startsWith('guest');
  return {
    hosts: Object.keys(sc.hosts).length, withSwitch: Object.keys(sc.switches ?? {}).length > 0, flows: flows.length,
    betweenHosts: flows.filter((f) => host(f.from) !== host(f.to)).length,
    vmToVm: flows.filter((f) => host(f.from) === host(f.to) && guest(f.from) && guest(f.to)).length,
  };
}

/** A running summary: feed reports in index order; memory does not grow with the number of cases. */
export class Summarizer {
  private h = createHash('sha256');
  private s: StressSummary;
  /** Pairs seen (at most the catalogue's ~140). */
  private seen = new Set<string>();
  private pairs: number;
  constructor(o: { runs: number; hostile: boolean; seed: number; only?: string[] }) {
    this.s = { runs: o.runs, hostile: o.hostile, seed: o.seed, passed: 0, failed: 0, hash: '', byBehaviour: {}, drops: {}, violations: {}, disabled: {}, worstHonestShare: null, worstGuestShare: null, nonQuiescent: 0, coverage: null };
    this.pairs = o.hostile ? hostilePairs(o.only).length : 0;
  }
  add(r: StressReport): void {
    const s = this.s;
    this.h.update(`${r.index}:${r.result.hash}:${r.result.ok ? 1 : 0}\n`);
    if (r.result.ok) s.passed++; else s.failed++;
    if (!r.result.quiescent) s.nonQuiescent++;
    const b = r.result.hostile?.split('/')[0];
    if (b) { const e = (s.byBehaviour[b] ??= { cases: 0, failed: 0 }); e.cases++; if (!r.result.ok) e.failed++; this.seen.add(r.result.hostile!); }
    for (const [k, v] of Object.entries(r.result.drops)) s.drops[k] = (s.drops[k] ?? 0) + v;
    for (const [k, v] of Object.entries(r.result.violations)) s.violations[k] = (s.violations[k] ?? 0) + v;
    for (const d of r.result.disabled) { const why = d.split(':').slice(1).join(':'); s.disabled[why] = (s.disabled[why] ?? 0) + 1; }
    const share = r.result.honestShare.all;
    if (share !== undefined && (s.worstHonestShare === null || share < s.worstHonestShare)) s.worstHonestShare = share;
    for (const [g, v] of Object.entries(r.result.honestShare)) if (g !== 'all' && (s.worstGuestShare === null || v < s.worstGuestShare)) s.worstGuestShare = v;
    const w = worldShape(r.scenario);
    if (w) {
      const t = (s.worlds ??= { byHosts: {}, withSwitch: 0, flows: 0, betweenHosts: 0, vmToVm: 0 });
      t.byHosts[w.hosts] = (t.byHosts[w.hosts] ?? 0) + 1;
      if (w.withSwitch) t.withSwitch++;
      t.flows += w.flows; t.betweenHosts += w.betweenHosts; t.vmToVm += w.vmToVm;
    }
  }
  done(): StressSummary {
    const s = { ...this.s };
    s.hash = this.h.digest('hex').slice(0, 16);
    if (s.hostile) s.coverage = { pairs: this.pairs, covered: this.seen.size };
    const sortObj = <T>(x: Record<string, T>) => Object.fromEntries(Object.entries(x).sort(([a], [b]) => a.localeCompare(b, 'en', { numeric: true })));
    s.byBehaviour = sortObj(s.byBehaviour);
    s.drops = sortObj(s.drops);
    s.violations = sortObj(s.violations);
    s.disabled = sortObj(s.disabled);
    return s;
  }
}

export function summarize(reports: Iterable<StressReport>, o: { runs: number; hostile: boolean; seed: number; only?: string[] }): StressSummary {
  const sum = new Summarizer(o);
  for (const r of reports) sum.add(r);
  return sum.done();
}

export interface StressOptions { seed: number; runs: number; from?: number; hostile: boolean; only?: string[]; lifecycle?: boolean; worlds?: boolean; replay: boolean; shrink: boolean; workers: number; interpreter?: Interpreter }

/**
 * Run cases [from, from + runs) on `workers` threads (in-process for one), streaming: tasks are
 * made as they are submitted, at most a window of cases is in flight or waiting, and `onReport`
 * sees every report in index order. Memory is constant in `runs`.
 */
export async function streamStress(o: StressOptions, onReport: (r: StressReport) => void): Promise<void> {
  const from = o.from ?? 0;
  const task = (i: number): StressTask => ({ base: o.seed, index: from + i, hostile: o.hostile, only: o.only, ...(o.lifecycle ? { lifecycle: true } : {}), ...(o.worlds ? { worlds: true } : {}), replay: o.replay, shrink: o.shrink, interpreter: o.interpreter });
  if (o.workers <= 1 || o.runs <= 1) {
    for (let i = 0; i < o.runs; i++) onReport(runStressCase(task(i)));
    return;
  }
  const { Piscina } = await import('piscina'); // only multi-worker runs need it
  const threads = Math.min(o.workers, o.runs);
  const pool = new Piscina({ filename: fileURLToPath(new URL('./worker.js', import.meta.url)), minThreads: threads, maxThreads: threads });
  // Reports that completed ahead of a slower one wait here; a case is started only while it is
  // within `window` of the next one to report, so this buffer stays bounded.
  const window = threads * 8;
  const waiting = new Map<number, StressReport>();
  let next = 0; // next index to submit
  let emit = 0; // next index to report
  let failure: unknown = null;
  try {
    await new Promise<void>((resolveAll, rejectAll) => {
      const pump = () => {
        if (failure) return;
        while (emit < o.runs && waiting.has(emit)) { const r = waiting.get(emit)!; waiting.delete(emit); emit++; try { onReport(r); } catch (e) { failure = e; rejectAll(e); return; } }
        if (emit >= o.runs) { resolveAll(); return; }
        while (next < o.runs && next < emit + window) {
          const i = next++;
          pool.run(task(i)).then((r: StressReport) => { waiting.set(i, r); pump(); }, (e: unknown) => { failure = e; rejectAll(e); });
        }
      };
      pump();
    });
  } finally {
    await pool.destroy();
  }
}

/** Every report of cases [from, from + runs), in index order (small campaigns and tests; the CLI streams). */
export async function runStress(o: StressOptions, onDone: (r: StressReport) => void = () => {}): Promise<StressReport[]> {
  const out: StressReport[] = [];
  await streamStress(o, (r) => { out.push(r); onDone(r); });
  return out;
}
