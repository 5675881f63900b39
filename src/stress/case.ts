/**
 * Random stress cases (fast-check arbitraries): a scenario small enough to run
 * in well under a second (a few ms of virtual time, few guests on average),
 * with random packet and ring sizes, offload and optimization switches, NIC
 * faults, and (with --hostile) one adversarial guest from the catalogue.
 *
 * A case is a function of (base seed, case index) only: its fast-check seed is
 * derived from both, so any worker count runs exactly the same cases.
 */
import fc from 'fast-check';
import { BEHAVIOURS } from '../hostile/behaviours.js';
import type { ScenarioInput } from '../scenario/schema.js';
import { lifeEventArb, lifeEvents, type LifeDraw } from './life-events.js';

/** The scenario file a case runs (plain data: it can be printed as YAML and replayed): a scenario file as the schema reads it. */
export type CaseScenario = Omit<ScenarioInput, 'machine'> & { machine: Omit<CaseMachine, 'nic'> & { nic: NonNullable<CaseMachine['nic']> } };
type CaseMachine = NonNullable<ScenarioInput['machine']>;

/** FNV-1a over the base seed and the case index: the case's own seed. */
export function caseSeed(base: number, index: number): number {
  let h = 0x811c9dc5;
  for (const v of [base >>> 0, Math.floor(base / 2 ** 32) >>> 0, index >>> 0]) {
    for (let i = 0; i < 4; i++) { h ^= (v >>> (8 * i)) & 0xff; h = Math.imul(h, 0x01000193); }
  }
  return h >>> 0;
}

/**
 * ... and, under the credit scheduler, when the measured window spans at least this many accounting
 * periods. Credit shares the CPU by weight only over accounting periods: a spinning vCPU may carry up
 * to a time slice of credit at UNDER while the driver domain, which burns CPU for every guest's I/O, is
 * OVER; an OVER vCPU is neither boosted on wake-up nor allowed to preempt, so dom0 can be held off for
 * about three periods (credit carried, one time slice, the next accounting) before its share returns
 * (docs/stress.md). Stress cases scale the credit periods to their window accordingly (creditPeriods); run.ts applies the rule.
 */
export const I2_CREDIT_PERIODS = 10;

/**
 * Credit scheduler periods of a case: Xen's (10 ms tick, 30 ms time slice and accounting period) scaled
 * to a run of a few milliseconds, 250 us ticks; a hostile case's shorter still, so that its measured
 * window spans I2_CREDIT_PERIODS accounting periods, the least over which I2 judges honest progress
 * under credit (run.ts).
 */
export function creditPeriods(hostile: boolean, windowUs: number): { tickUs: number; ticksPerAcct: number; tsliceUs: number } {
  const ticksPerAcct = 3;
  const tickUs = hostile ? Math.min(250, Math.floor(windowUs / (ticksPerAcct * I2_CREDIT_PERIODS))) : 250;
  return { tickUs, ticksPerAcct, tsliceUs: ticksPerAcct * tickUs };
}

const small = fc.oneof(
  { weight: 6, arbitrary: fc.integer({ min: 1, max: 3 }) },
  { weight: 3, arbitrary: fc.integer({ min: 4, max: 8 }) },
  { weight: 1, arbitrary: fc.integer({ min: 9, max: 16 }) },
);

/**
 * One case. `hostile` puts one adversary (from `only`, or any behaviour) on one of at least two guests;
 * hostile cases carry no NIC faults, so the honest guests' progress can be compared with a control run.
 */
export function caseArb(hostile: boolean, only?: string[], pin?: HostilePair, lifecycle = false): fc.Arbitrary<CaseScenario> {
  const behaviours = pin ? [pin.behaviour] : only?.length ? only : BEHAVIOURS.map((b) => b.id);
  const draws = {
    topology: hostile || lifecycle ? fc.constant('guest' as const) : fc.oneof({ weight: 6, arbitrary: fc.constant('guest' as const) }, { weight: 1, arbitrary: fc.constant('native' as const) }, { weight: 1, arbitrary: fc.constant('driver' as const) }),
    direction: fc.constantFrom('tx' as const, 'rx' as const),
    seed: fc.integer({ min: 0, max: 0xffff }),
    trafficUs: hostile ? fc.integer({ min: 3000, max: 6000 }) : fc.integer({ min: 1500, max: 3500 }),
    guests: hostile ? fc.integer({ min: 2, max: 4 }) : small,
    nics: fc.integer({ min: 1, max: 4 }),
    cpus: fc.constantFrom(1, 1, 2),
    vifRingSize: fc.constantFrom(32, 64, 128, 256),
    // Hostile cases stay loss-free without the adversary (NIC ring and windows that fit), so comparing the
    // honest guests' progress with a control run measures the adversary, not TCP loss recovery.
    nicRing: hostile ? fc.constant(256) : fc.constantFrom(16, 32, 64, 128, 256),
    mss: hostile ? fc.constantFrom(1448, 4000, 8948) : fc.constantFrom(536, 1000, 1448, 1448, 4000, 8948),
    sndBufKiB: hostile ? fc.constant(64) : fc.constantFrom(32, 64, 128),
    opt: fc.record({
      vnicOffload: fc.boolean(), txNoRemap: fc.boolean(), rxCopy: fc.boolean(),
      rxCopyVia: fc.constantFrom('map' as const, 'gnttab' as const), superpages: fc.boolean(), globalPages: fc.boolean(),
    }),
    nic: fc.record({ csumOffload: fc.boolean(), tso: fc.boolean(), sg: fc.boolean() }),
    faults: fc.array(fc.record({
      at: fc.double({ min: 0.05, max: 0.95, noNaN: true }),
      nic: fc.nat(3),
      kind: fc.constantFrom('link-down' as const, 'link-up' as const, 'dma-error' as const),
      count: fc.integer({ min: 1, max: 20 }),
    }), { maxLength: hostile ? 0 : 4 }),
    adversary: fc.record({
      guest: fc.nat(15),
      behaviour: fc.constantFrom(...behaviours),
      variant: pin ? fc.constant(pin.variant) : fc.nat(31),
      startUs: fc.integer({ min: 100, max: 1500 }),
      periodUs: fc.integer({ min: 100, max: 400 }),
    }),
    lateEoiTickUs: fc.constantFrom(250, 500, 1000),
    // Drawn last, so the draws above are those of the cases before placement and scheduler were drawn.
    pins: fc.array(fc.nat(1), { minLength: 17, maxLength: 17 }),
    roundRobin: fc.boolean(),
    scheduler: fc.constantFrom('bvt' as const, 'bvt' as const, 'credit' as const),
    credit: fc.array(fc.record({ weight: fc.constantFrom(128, 256, 512), cap: fc.constantFrom(0, 0, 0, 40) }), { minLength: 16, maxLength: 16 }),
    // TCP loss recovery, netback's pending-slot pools, and (honest cases) a transmit rate limit on guest 1.
    cc: fc.constantFrom('newreno' as const, 'newreno' as const, 'none' as const),
    pendingRing: fc.constantFrom('shared' as const, 'per-vif' as const),
    rate: hostile ? fc.constant(null) : fc.option(fc.record({ mbps: fc.integer({ min: 20, max: 800 }), intervalUs: fc.integer({ min: 200, max: 2000 }) }), { freq: 4 }),
  };
  // A lifecycle campaign draws its events after everything else (the other draws stay those of a campaign without).
  const drawn = lifecycle
    ? fc.record({ ...draws, life: fc.array(LIFE_EVENT, { minLength: 1, maxLength: 3 }) })
    : fc.record(draws).map((r) => ({ ...r, life: [] as LifeDraw[] }));
  return drawn.map((r): CaseScenario => ({
    name: 'stress',
    topology: r.topology,
    direction: r.direction,
    seed: r.seed,
    // Hostile cases measure the honest guests' progress after a 2 ms start-up (warm-up).
    run: { durationMs: r.trafficUs / 1000, warmupMs: hostile ? 2 : 0 },
    machine: {
      cpus: r.cpus, nics: r.nics, vifRingSize: r.vifRingSize, memoryMiB: 2048,
      nic: { ringSize: r.nicRing, csumOffload: r.nic.csumOffload, tso: r.nic.tso, sg: r.nic.sg },
    },
    guests: r.topology === 'guest' ? r.guests : 1,
    placement: {
      dom0: r.pins[0] % r.cpus,
      guests: r.topology !== 'guest' || r.roundRobin ? 'round-robin' : r.pins.slice(1, 1 + r.guests).map((c) => c % r.cpus),
    },
    xen: {
      scheduler: r.scheduler,
      // Credit periods scaled to the run (hostile: to its measured window); weights and caps only on hostile-free cases' guests.
      credit: {
        ...creditPeriods(hostile && r.scheduler === 'credit', r.trafficUs),
        // Hostile cases keep equal weights and no caps: invariant I2 measures the honest guests against an equal share.
        guests: r.scheduler === 'credit' && r.topology === 'guest' ? r.credit.slice(0, r.guests).map((c) => ({ weight: hostile ? 256 : c.weight, cap: hostile ? 0 : c.cap })) : [],
      },
    },
    optimizations: r.opt,
    tcp: { mss: r.mss, sndBufKiB: r.sndBufKiB, rcvBufKiB: r.sndBufKiB, appChunkKiB: 16, congestionControl: r.cc },
    // Linux's timeouts scaled to a run of a few milliseconds.
    netback: {
      rxDrainMs: 1, rxStallMs: 2, rxPollMs: 0.5, lateEoiTickUs: r.lateEoiTickUs, pendingRing: r.pendingRing,
      rateLimits: r.topology === 'guest' && r.rate ? [{ guest: 1, mbps: r.rate.mbps, intervalMs: r.rate.intervalUs / 1000 }] : [],
    },
    faults: r.faults.map((f) => ({ atUs: Math.round(f.at * r.trafficUs), nic: f.nic % r.nics, kind: f.kind, count: f.count })).sort((a, b) => a.atUs - b.atUs),
    hostile: hostile ? [{
      guest: 1 + (r.adversary.guest % r.guests), vif: 0, behaviour: r.adversary.behaviour, variant: r.adversary.variant,
      startUs: r.adversary.startUs, periodUs: r.adversary.periodUs,
    }] : [],
    ...(lifecycle ? { events: lifeEvents(r.life, r.trafficUs, {
      guests: Array.from({ length: r.guests }, (_, g) => `guest${g + 1}`),
      hostile: hostile ? `guest${1 + (r.adversary.guest % r.guests)}` : null,
      destinations: () => [],
    }) } : {}),
  }));
}

/** What a one-host lifecycle case draws (replug weighs double): every verb but migrate (one host has nowhere to go). */
const LIFE_EVENT = lifeEventArb(['unplug', 'replug', 'replug', 'destroy', 'crash', 'save']);

/** One adversary: a behaviour of the catalogue and one of its variants. */
export interface HostilePair { behaviour: string; variant: number }

/** Every (behaviour, variant) pair of the catalogue (or of `only`), in catalogue order. */
export function hostilePairs(only?: string[]): HostilePair[] {
  const out: HostilePair[] = [];
  for (const b of BEHAVIOURS) {
    if (only?.length && !only.includes(b.id)) continue;
    for (let v = 0; v < b.variants; v++) out.push({ behaviour: b.id, variant: v });
  }
  return out;
}

/**
 * The arbitrary case `index` of a campaign draws from. A hostile campaign first enumerates every
 * (behaviour, variant) pair, one per case (case i < pairs has pair i; the rest of the case stays
 * random), then samples: a campaign of at least that many cases covers the whole catalogue.
 */
export function caseArbAt(index: number, hostile: boolean, only?: string[], lifecycle = false): fc.Arbitrary<CaseScenario> {
  if (!hostile) return caseArb(false, undefined, undefined, lifecycle);
  const pairs = hostilePairs(only);
  return caseArb(true, only, index < pairs.length ? pairs[index] : undefined, lifecycle);
}

/** The case a (base seed, index) pair stands for (the first value fast-check draws from its seed). */
export function sampleCase(base: number, index: number, hostile: boolean, only?: string[], lifecycle = false): CaseScenario {
  return fc.sample(caseArbAt(index, hostile, only, lifecycle), { seed: caseSeed(base, index), numRuns: 1 })[0];
}
