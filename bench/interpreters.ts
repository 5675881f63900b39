/**
 * The interpreter names the benches use, all taken from src/actors: the type is whatever
 * ActorSystem's constructor accepts, and the default is what ActorSystem picks when given none.
 * A rename in src/actors therefore needs no change here (at most the XSTATE line).
 */
import { ActorSystem } from '../src/actors/runtime.js';

export type Interpreter = NonNullable<ConstructorParameters<typeof ActorSystem>[2]>;

/** ActorSystem's default interpreter (read from an ActorSystem built without one). */
export const DEFAULT_INTERPRETER: Interpreter = new ActorSystem(0).interpreter;
/** xstate's general interpreter for every machine: the reference the default is compared with. */
export const XSTATE: Interpreter = 'xstate';
export const INTERPRETERS: readonly Interpreter[] = [DEFAULT_INTERPRETER, XSTATE];

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
