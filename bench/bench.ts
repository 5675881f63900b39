/**
 * xennet benchmarks (`npm run bench`): prints one JSON object.
 *  - phold: 1024 logical processes, each an xstate actor, 4 initial events each,
 *    run to 200 time units; events per wall second through the full actor path.
 *  - scenarios: the six base scenarios: simulated seconds per wall second, events/s.
 *  - idleActorBytes: heap per idle domain actor.
 *  - manyGuests: one run with 1000 guest domains: wall time and peak RSS.
 * Absolute times on shared machines are noisy; compare ratios from one run.
 * `node --expose-gc dist/bench/bench.js phold|scenarios|memory|guests` runs one part.
 */
import { join } from 'node:path';
import { setup } from 'xstate';
import { ActorSystem, type Interpreter } from '../src/actors/runtime.js';
import { domainMachine } from '../src/domains/domain.js';
import { loadScenario } from '../src/scenario/schema.js';
import { runScenario } from '../src/scenario/run.js';
import { scenarioDir } from '../src/paper/configs.js';

const UNIT = 1_000_000; // one PHOLD time unit, in ps

export function phold(interpreter: Interpreter, lps = 1024, initial = 4, endUnits = 200, seed = 1) {
  const sys = new ActorSystem(seed, false, interpreter);
  const rngs: Array<ReturnType<typeof sys.rng.for>> = [];
  let processed = 0;
  const EV = { type: 'EV' } as const;
  const lp = setup({
    types: { context: {} as { id: number; count: number }, input: {} as { id: number }, events: {} as { type: 'EV' } },
    actions: {
      // PHOLD: each event schedules one new event at a random LP, 0.1..1.1 time units ahead (with lookahead).
      forward: ({ context }) => {
        processed++;
        context.count++;
        const r = rngs[context.id];
        const to = r.int(0, lps - 1);
        sys.sendRef(entries[context.id], entries[to], EV, Math.round((0.1 + r.float()) * UNIT));
      },
    },
  }).createMachine({ context: ({ input }) => ({ id: input.id, count: 0 }), initial: 'active', states: { active: { on: { EV: { actions: 'forward' } } } } });
  for (let i = 0; i < lps; i++) { sys.spawn(`lp${i}`, 'lp', lp, { id: i }); rngs.push(sys.rng.for(`lp${i}`)); }
  const entries = Array.from({ length: lps }, (_, i) => sys.entry(`lp${i}`));
  for (let i = 0; i < lps; i++) for (let k = 0; k < initial; k++) sys.send(`lp${i}`, `lp${i}`, { type: 'EV' }, Math.round((k + rngs[i].float()) * UNIT / initial));
  const t0 = performance.now();
  sys.sched.run(endUnits * UNIT);
  const wall = (performance.now() - t0) / 1000;
  return { interpreter, lps, initialEventsPerLp: initial, endTimeUnits: endUnits, events: processed, wallS: +wall.toFixed(3), eventsPerS: Math.round(processed / wall), traceHash: sys.traceHash() };
}

function scenarios() {
  return ['linux-tx', 'linux-rx', 'driver-tx', 'driver-rx', 'guest-tx', 'guest-rx'].map((n) => {
    const sc = loadScenario(join(scenarioDir(), `${n}.yaml`));
    const t0 = performance.now();
    const r = runScenario(sc);
    const wall = (performance.now() - t0) / 1000;
    const simS = (sc.run.durationMs + sc.run.warmupMs) / 1000;
    return { scenario: n, simulatedS: simS, wallS: +wall.toFixed(3), simSecondsPerWallSecond: +(simS / wall).toFixed(4), events: r.events, eventsPerS: Math.round(r.events / wall), messages: r.events };
  });
}

function idleActorBytes(interpreter: Interpreter, n = 20_000) {
  const g = globalThis as { gc?: () => void };
  g.gc?.();
  const before = process.memoryUsage().heapUsed;
  const sys = new ActorSystem(1, false, interpreter);
  for (let i = 0; i < n; i++) sys.spawn(`d${i}`, 'domain', domainMachine, { name: `d${i}` });
  g.gc?.();
  const after = process.memoryUsage().heapUsed;
  if (sys.actors.size !== n) throw new Error('actors lost'); // keeps sys alive across the measurement
  return { interpreter, actors: n, bytesPerIdleActor: Math.round((after - before) / n), gcExposed: typeof g.gc === 'function' };
}

function manyGuests(guests = 1000) {
  const sc = loadScenario(join(scenarioDir(), 'guest-tx.yaml'));
  sc.guests = guests;
  sc.machine.memoryMiB = 16384;
  // Copying receive: booting 1000 flipping frontends alone would take ~170 ms of CPU.
  Object.assign(sc.optimizations, { vnicOffload: true, txNoRemap: true, rxCopy: true, superpages: true, globalPages: true });
  sc.run = { warmupMs: 100, durationMs: 20 };
  const t0 = performance.now();
  const r = runScenario(sc);
  return { guests, simulatedMs: 120, domainsThatRan: Object.keys(r.cpuUtilPct.byAccount).length - 2, wallS: +((performance.now() - t0) / 1000).toFixed(2), throughputMbps: r.throughputMbps, peakRssMiB: Math.round(process.resourceUsage().maxRSS / 1024) };
}

const only = process.argv[2];
const out: Record<string, unknown> = { node: process.version, cpus: (await import('node:os')).cpus().length };
if (!only || only === 'phold') out.phold = [phold('compiled'), phold('xstate')];
if (!only || only === 'scenarios') out.scenarios = scenarios();
if (!only || only === 'memory') out.idleActor = [idleActorBytes('compiled'), idleActorBytes('xstate')];
if (!only || only === 'guests') out.manyGuests = manyGuests();
console.log(JSON.stringify(out, null, 2));
