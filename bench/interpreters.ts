/** The interpreter names the benches use, from src/actors. */
import { INTERPRETERS, type Interpreter } from '../src/actors/runtime.js';

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
