/**
 * Run independent scenarios on piscina worker threads. Results come back in
 * input order whatever the completion order, so output is identical for any
 * worker count; with one worker we run in-process (no thread start-up cost).
 */
import { availableParallelism } from 'node:os';
import { fileURLToPath } from 'node:url';
import type { Scenario } from '../scenario/schema.js';
import { runScenario, type RunResult } from '../scenario/run.js';
import type { Interpreter } from '../actors/runtime.js';

export function defaultWorkers(): number { return Math.max(1, Math.min(availableParallelism(), 8)); }

export async function runMany(
  scenarios: Scenario[],
  workers = defaultWorkers(),
  onDone: (i: number, r: RunResult) => void = () => {},
  interpreter?: Interpreter,
): Promise<RunResult[]> {
  if (workers <= 1 || scenarios.length <= 1) {
    return scenarios.map((s, i) => { const r = runScenario(s, { interpreter }); onDone(i, r); return r; });
  }
  const { Piscina } = await import('piscina'); // only multi-worker runs need it
  const pool = new Piscina({
    filename: fileURLToPath(new URL('./run-worker.js', import.meta.url)),
    minThreads: Math.min(workers, scenarios.length),
    maxThreads: Math.min(workers, scenarios.length),
  });
  try {
    return await Promise.all(scenarios.map(async (s, i) => {
      const r = (await pool.run({ scenario: s, where: s.name, interpreter })) as RunResult;
      onDone(i, r);
      return r;
    }));
  } finally {
    await pool.destroy();
  }
}

/**
 * Run scenarios drawn one at a time from an iterator, at most `workers * 2` in flight, so a long
 * sweep is never expanded in memory; results are returned in input order.
 */
export async function runStream(
  scenarios: Iterator<Scenario>,
  workers = defaultWorkers(),
  onDone: (i: number, r: RunResult) => void = () => {},
  interpreter?: Interpreter,
): Promise<RunResult[]> {
  const results: RunResult[] = [];
  if (workers <= 1) {
    for (let i = 0, n = scenarios.next(); !n.done; i++, n = scenarios.next()) {
      results.push(runScenario(n.value, { interpreter }));
      onDone(i, results[i]);
    }
    return results;
  }
  const { Piscina } = await import('piscina');
  const pool = new Piscina({ filename: fileURLToPath(new URL('./run-worker.js', import.meta.url)), minThreads: workers, maxThreads: workers });
  try {
    let next = 0;
    let done = false;
    const lane = async (): Promise<void> => {
      for (;;) {
        if (done) return;
        const n = scenarios.next();
        if (n.done) { done = true; return; }
        const i = next++;
        const s = n.value;
        results[i] = (await pool.run({ scenario: s, where: s.name, interpreter })) as RunResult;
        onDone(i, results[i]);
      }
    };
    await Promise.all(Array.from({ length: workers * 2 }, lane));
    return results;
  } finally {
    await pool.destroy();
  }
}
