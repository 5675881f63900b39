/**
 * This build against another checkout of xennet (e.g. the previous main), in one process on a
 * warm JIT: `node dist/bench/bench.js previous /path/to/other/checkout` (the other checkout must
 * be built: its dist/ is imported). Per base scenario: one warm-up run on each build, then PAIRS
 * pairs of measured 40 ms windows after the scenario's warm-up, alternating which build goes
 * first; reports the median simulated seconds per wall second of each and the median paired
 * ratio (> 1: this build is faster), and whether both gave the same trace hash.
 */
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { loadScenario } from '../src/scenario/schema.js';
import { build } from '../src/scenario/build.js';
import { runScenario } from '../src/scenario/run.js';
import { scenarioDir } from '../src/paper/configs.js';
import { median, timeWindow } from './interpreters.js';
import { BASE_SCENARIOS } from './scenarios.js';

const WINDOW_MS = 40;
const PAIRS = 5;

interface Sim {
  build: (sc: any) => { start(): void; sys: { sched: { run(t: number): void; delivered: number }; traceHash(): string; stop(): void } };
  runScenario: (sc: any) => unknown;
  loadScenario: (f: string) => any;
}

function window(sim: Sim, file: string): { rate: number; trace: string } {
  const sc = sim.loadScenario(file);
  const b = sim.build(sc);
  const wall = timeWindow(b, sc.run.warmupMs, WINDOW_MS);
  const trace = b.sys.traceHash();
  b.sys.stop();
  return { rate: WINDOW_MS / 1000 / wall, trace };
}

export async function previousPart(dir: string | undefined) {
  if (!dir) return { error: 'usage: bench.js previous <other checkout with dist/>' };
  const root = resolve(dir);
  const imp = (p: string) => import(pathToFileURL(join(root, 'dist', p)).href);
  const other: Sim = { build: (await imp('src/scenario/build.js')).build, runScenario: (await imp('src/scenario/run.js')).runScenario, loadScenario: (await imp('src/scenario/schema.js')).loadScenario };
  const self: Sim = { build: build as Sim['build'], runScenario, loadScenario };
  return {
    other: root,
    windowMs: WINDOW_MS,
    pairs: PAIRS,
    scenarios: BASE_SCENARIOS.map((name) => {
      const file = join(scenarioDir(), `${name}.yaml`);
      for (const sim of [self, other]) { const sc = sim.loadScenario(file); sc.run = { warmupMs: 5, durationMs: 5 }; sim.runScenario(sc); }
      const mine: number[] = [], theirs: number[] = [], ratio: number[] = [];
      let sameTrace = true;
      for (let p = 0; p < PAIRS; p++) {
        const [a, b] = p % 2 ? [window(other, file), window(self, file)].reverse() : [window(self, file), window(other, file)];
        mine.push(a.rate); theirs.push(b.rate); ratio.push(a.rate / b.rate);
        sameTrace &&= a.trace === b.trace;
      }
      return { scenario: name, simSecondsPerWallSecond: +median(mine).toFixed(4), otherSimSecondsPerWallSecond: +median(theirs).toFixed(4), ratio: +median(ratio).toFixed(3), sameTrace };
    }),
  };
}
