/** The interpreter names the benches use, from src/actors, and helpers the bench parts share. */
import { INTERPRETERS, type Interpreter } from '../src/actors/runtime.js';
import { PS_PER_MS } from '../src/actors/scheduler.js';

export { INTERPRETERS, type Interpreter };
export const DEFAULT_INTERPRETER: Interpreter = 'compiled';
/** xstate's general interpreter for every machine: the reference the default is compared with. */
export const XSTATE: Interpreter = 'xstate';

export function parseInterpreter(s: string | undefined): Interpreter {
  if (s === undefined) return DEFAULT_INTERPRETER;
  const i = INTERPRETERS.find((x) => x === s);
  if (!i) throw new Error(`unknown interpreter ${s} (known: ${INTERPRETERS.join(', ')})`);
  return i;
}

export const median = (xs: number[]): number => {
  const v = [...xs].sort((a, b) => a - b);
  const m = v.length >> 1;
  return v.length % 2 ? v[m] : (v[m - 1] + v[m]) / 2;
};

export const gc = (): void => (globalThis as { gc?: () => void }).gc?.();

/** What timeWindow needs of a built system (this build's or another checkout's). */
export interface Startable { start(): void; sys: { sched: { run(t: number): void } } }

/** Start a built system, run `warmupMs` of simulated time untimed, then time the next `windowMs`: wall seconds. */
export function timeWindow(b: Startable, warmupMs: number, windowMs: number): number {
  b.start();
  const warm = Math.round(warmupMs * PS_PER_MS);
  b.sys.sched.run(warm);
  const t0 = performance.now();
  b.sys.sched.run(warm + Math.round(windowMs * PS_PER_MS));
  return (performance.now() - t0) / 1000;
}
