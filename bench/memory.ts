/** Heap per idle domain actor, for each interpreter (run with --expose-gc for a clean figure). */
import { ActorSystem } from '../src/actors/runtime.js';
import { domainMachine } from '../src/domains/domain.js';
import { INTERPRETERS, gc, type Interpreter } from './interpreters.js';

function idleActorBytes(interpreter: Interpreter, n = 20_000) {
  gc();
  const before = process.memoryUsage().heapUsed;
  const sys = new ActorSystem(1, interpreter);
  for (let i = 0; i < n; i++) sys.spawn(`d${i}`, 'domain', domainMachine, { name: `d${i}` });
  gc();
  const after = process.memoryUsage().heapUsed;
  if (sys.actors.size !== n) throw new Error('actors lost'); // keeps sys alive across the measurement
  return { interpreter, actors: n, bytesPerIdleActor: Math.round((after - before) / n), gcExposed: typeof (globalThis as { gc?: unknown }).gc === 'function' };
}

export function memoryPart() {
  return INTERPRETERS.map((i) => idleActorBytes(i));
}
