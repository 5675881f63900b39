/**
 * PHOLD, the same model as the peers in bench/peers (ns-3 and SimPy):
 * 1024 logical processes, 4 initial events per LP at Exp(1), every event sends one event to a
 * uniformly random LP after 0.1 + Exp(1), run to time 200. Each LP is an actor (an xstate
 * machine run by the chosen interpreter), so events go through the full actor path: scheduler,
 * delivery, trace hash, interpreter, action.
 */
import { setup } from 'xstate';
import { ActorSystem } from '../src/actors/runtime.js';
import type { Rng } from '../src/actors/rng.js';
import { DEFAULT_INTERPRETER, INTERPRETERS, gc, type Interpreter } from './interpreters.js';

export interface PholdModel { lps: number; initialPerLp: number; lookahead: number; endUnits: number; seed: number }
export const PEER_MODEL: PholdModel = { lps: 1024, initialPerLp: 4, lookahead: 0.1, endUnits: 200, seed: 1 };

/** Picoseconds per PHOLD time unit: run end 2e8 ps; rounding to 1 ps moves a time by <= 5e-7 units. */
const UNIT = 1_000_000;

/** Exp(1) by inverse CDF; u in [0, 1), so 1 - u is in (0, 1]. */
const exp1 = (r: Rng): number => -Math.log(1 - r.float());

/**
 * Expected event count (renewal theory): each of lps * initialPerLp events starts a chain, a
 * delayed renewal process with first time Exp(1) (mean 1) and gaps lookahead + Exp(1)
 * (mean mu, second moment 1 + mu^2): E[N(t)] ~ (t - 1)/mu + (1 + mu^2)/(2 mu^2), Var ~ t/mu^3.
 */
export function expectedEvents(m: PholdModel = PEER_MODEL): { mean: number; sd: number } {
  const chains = m.lps * m.initialPerLp, mu = m.lookahead + 1;
  const per = (m.endUnits - 1) / mu + (1 + mu * mu) / (2 * mu * mu);
  return { mean: Math.round(chains * per), sd: Math.round(Math.sqrt((chains * m.endUnits) / mu ** 3)) };
}

export function phold(interpreter: Interpreter, m: PholdModel = PEER_MODEL) {
  const { lps, initialPerLp, lookahead, endUnits, seed } = m;
  const sys = new ActorSystem(seed, interpreter);
  const rngs: Rng[] = [];
  let processed = 0;
  const EV = { type: 'EV' } as const;
  const lp = setup({
    types: { context: {} as { id: number; count: number }, input: {} as { id: number }, events: {} as { type: 'EV' } },
    actions: {
      forward: ({ context }) => {
        processed++;
        context.count++;
        const r = rngs[context.id];
        const to = r.int(0, lps - 1);
        sys.sendRef(entries[context.id], entries[to], EV, Math.round((lookahead + exp1(r)) * UNIT));
      },
    },
  }).createMachine({ context: ({ input }) => ({ id: input.id, count: 0 }), initial: 'active', states: { active: { on: { EV: { actions: 'forward' } } } } });
  for (let i = 0; i < lps; i++) { sys.spawn(`lp${i}`, 'lp', lp, { id: i }); rngs.push(sys.rng.for(`lp${i}`)); }
  const entries = Array.from({ length: lps }, (_, i) => sys.entry(`lp${i}`));
  for (let i = 0; i < lps; i++) for (let k = 0; k < initialPerLp; k++) sys.sendRef(entries[i], entries[i], EV, Math.round(exp1(rngs[i]) * UNIT));
  const t0 = performance.now();
  sys.sched.run(endUnits * UNIT);
  const wall = (performance.now() - t0) / 1000;
  return { interpreter, lps, initialPerLp, endTimeUnits: endUnits, seed, events: processed, wallS: +wall.toFixed(3), eventsPerS: Math.round(processed / wall), traceHash: sys.traceHash() };
}

/**
 * The engine's floor: the same model with events scheduled straight on the Scheduler (no actors,
 * no delivery, no trace hash, no interpreter), so the part of an event that is the event queue
 * itself can be told from the actor path.
 */
export function pholdSchedulerOnly(m: PholdModel = PEER_MODEL) {
  const sys = new ActorSystem(m.seed);
  const sched = sys.sched;
  const rngs = Array.from({ length: m.lps }, (_, i) => sys.rng.for(`lp${i}`));
  let processed = 0;
  const ev = (lp: number): void => {
    processed++;
    const r = rngs[lp];
    sched.call(sched.now + Math.round((m.lookahead + exp1(r)) * UNIT), lp, ev, r.int(0, m.lps - 1), undefined, undefined);
  };
  for (let i = 0; i < m.lps; i++) for (let k = 0; k < m.initialPerLp; k++) sched.call(Math.round(exp1(rngs[i]) * UNIT), i, ev, i, undefined, undefined);
  const t0 = performance.now();
  sched.run(m.endUnits * UNIT);
  const wall = (performance.now() - t0) / 1000;
  return { events: processed, wallS: +wall.toFixed(3), eventsPerS: Math.round(processed / wall) };
}

/** A quarter-length run with another seed: warms the JIT on the same code path. */
function warmUp(interpreter: Interpreter): void {
  phold(interpreter, { ...PEER_MODEL, endUnits: PEER_MODEL.endUnits / 4, seed: PEER_MODEL.seed + 1 });
  gc();
}

/** `phold` part: each interpreter, one warm-up run then one measured run. */
export function pholdPart() {
  const runs = INTERPRETERS.map((i) => { warmUp(i); const r = phold(i); gc(); return r; });
  pholdSchedulerOnly({ ...PEER_MODEL, endUnits: PEER_MODEL.endUnits / 4 });
  const schedulerOnly = pholdSchedulerOnly();
  const exp = expectedEvents();
  return {
    model: 'peers (1024 LPs x 4 at Exp(1), delay 0.1 + Exp(1), end 200)',
    expectedEvents: exp.mean,
    expectedEventsSd: exp.sd,
    sameTrace: runs.every((r) => r.traceHash === runs[0].traceHash),
    runs,
    schedulerOnly,
  };
}

/** `phold-peer` part: one line in the peers' format, for compare.sh. */
export function pholdPeerLine(interpreter: Interpreter = DEFAULT_INTERPRETER): string {
  warmUp(interpreter);
  const r = phold(interpreter);
  return `xennet phold interpreter=${r.interpreter} N=${r.lps} P=${r.initialPerLp} events=${r.events} wall_s=${r.wallS.toFixed(3)} events_per_s=${r.eventsPerS} trace=${r.traceHash}`;
}
