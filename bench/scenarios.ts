/**
 * Scenario speed, default interpreter vs xstate, on a warm JIT and paired.
 * Per scenario: one short warm-up run per interpreter (runScenario, the whole path), then PAIRS
 * pairs of measured runs, alternating which interpreter goes first. A measured run builds the
 * scenario, runs its simulated warm-up untimed, then times a WINDOW_MS window of simulated time
 * (the same window for both interpreters: how busy a window is depends on where it is, e.g. TCP
 * ramp-up, so different lengths would not compare). Both interpreters must give the same trace.
 */
import { join } from 'node:path';
import { PS_PER_MS } from '../src/actors/scheduler.js';
import { loadScenario } from '../src/scenario/schema.js';
import { build } from '../src/scenario/build.js';
import { runScenario } from '../src/scenario/run.js';
import { scenarioDir } from '../src/paper/configs.js';
import { DEFAULT_INTERPRETER, XSTATE, median, type Interpreter } from './interpreters.js';

export const BASE_SCENARIOS = ['linux-tx', 'linux-rx', 'driver-tx', 'driver-rx', 'guest-tx', 'guest-rx'];
const WINDOW_MS = 40;
const PAIRS = 5;
const JIT_WARMUP = { warmupMs: 5, durationMs: 5 };

const load = (name: string) => loadScenario(join(scenarioDir(), `${name}.yaml`));

function measuredRun(name: string, interpreter: Interpreter) {
  const sc = load(name);
  const t0 = performance.now();
  const b = build(sc, { interpreter });
  b.start();
  const warm = Math.round(sc.run.warmupMs * PS_PER_MS);
  b.sys.sched.run(warm);
  const e0 = b.sys.sched.delivered;
  const t1 = performance.now();
  b.sys.sched.run(warm + Math.round(WINDOW_MS * PS_PER_MS));
  const t2 = performance.now();
  const r = { warmupMs: sc.run.warmupMs, events: b.sys.sched.delivered - e0, windowWallS: (t2 - t1) / 1000, wholeWallS: (t2 - t0) / 1000, traceHash: b.sys.traceHash() };
  b.sys.stop();
  return r;
}

function scenario(name: string) {
  const sc = load(name);
  sc.run = { ...JIT_WARMUP };
  for (const interpreter of [DEFAULT_INTERPRETER, XSTATE]) runScenario(sc, { interpreter });
  const runs: Record<string, Array<ReturnType<typeof measuredRun>>> = { [DEFAULT_INTERPRETER]: [], [XSTATE]: [] };
  for (let p = 0; p < PAIRS; p++) {
    const order = p % 2 ? [XSTATE, DEFAULT_INTERPRETER] : [DEFAULT_INTERPRETER, XSTATE];
    for (const i of order) runs[i].push(measuredRun(name, i));
  }
  const all = Object.values(runs).flat();
  const rate = (r: ReturnType<typeof measuredRun>) => WINDOW_MS / 1000 / r.windowWallS;
  const summary = (i: Interpreter) => ({
    simSecondsPerWallSecond: +median(runs[i].map(rate)).toFixed(4),
    eventsPerS: Math.round(median(runs[i].map((r) => r.events / r.windowWallS))),
    // Build + simulated warm-up + window, as one whole run would see it.
    wholeRunSimSecondsPerWallSecond: +median(runs[i].map((r) => (r.warmupMs + WINDOW_MS) / 1000 / r.wholeWallS)).toFixed(4),
  });
  return {
    scenario: name,
    simulatedWindowMs: WINDOW_MS,
    afterSimulatedWarmupMs: all[0].warmupMs,
    pairs: PAIRS,
    eventsInWindow: all[0].events,
    sameTrace: all.every((r) => r.traceHash === all[0].traceHash && r.events === all[0].events),
    [DEFAULT_INTERPRETER]: summary(DEFAULT_INTERPRETER),
    [XSTATE]: summary(XSTATE),
    // Median over pairs of (default rate / xstate rate): > 1 means the default is faster.
    ratio: +median(runs[DEFAULT_INTERPRETER].map((r, k) => rate(r) / rate(runs[XSTATE][k]))).toFixed(3),
  };
}

export function scenariosPart() {
  return BASE_SCENARIOS.map(scenario);
}
