/**
 * Run one stress case and check the invariants of docs/protocol.md 5.3 on it.
 *
 * The case runs its traffic phase, then its sources stop (applications,
 * clients, the adversary, the fault injector) and it drains until no event is
 * left (quiescence). Checked:
 *   - packet conservation (the ledger in Counters.pkt): created + split + injected
 *     = delivered + dropped (each with a reason) + sunk + in flight, with the units
 *     in flight counted place by place (queues, rings, NICs, wire), mid-run and at the end;
 *   - page ownership: every frame has one owner, and at quiescence every frame an honest
 *     domain owns is held by exactly one of its holders (no leak, no double use) (I1, I5);
 *   - no grant leak after quiescence: only ring pages stay mapped, the pending pool is full,
 *     GTF_reading/writing match the live pins (I5, I6);
 *   - exactly one response per consumed request, in the right slot (I4);
 *   - no lost wakeup: at quiescence no ring, queue or NIC holds work (I9);
 *   - progress: every byte each honest flow's application wrote is acknowledged and delivered by then;
 *   - bounded work per pass and bounded per-vif state (I3, I8);
 *   - backend state changes along the allowed edges (I11);
 *   - honest vifs never disabled, packets never cross to another guest (I1, I2);
 *   - no stale translation: no TLB hit through an entry for a data frame its domain no longer owns
 *     or maps by grant (a flush missing after a page flip or a grant unmap) (I1);
 *   - data integrity end to end: every segment an honest TCP receiver hands its application holds
 *     its own stream's bytes from the offset delivered (src/model/integrity.ts);
 *   - the adversary's own expectations (src/hostile) and the honest guests' progress;
 *   - determinism: a replay gives the same result hash (I12).
 */
import { createHash } from 'node:crypto';
import { PS_PER_MS } from '../actors/scheduler.js';
import { build, type Built } from '../scenario/build.js';
import { flowEnds, hostViews } from '../scenario/host.js';
import type { Kernel } from '../domains/kernel.js';
import type { Interpreter } from '../actors/runtime.js';
import { parseScenario, type Scenario } from '../scenario/schema.js';
import { sum, checkConservation, checkPages, checkGrants, checkQuiet, checkStreams, checkAlways, checkReleased } from './invariants.js';
import { I2_CREDIT_PERIODS, type CaseScenario } from './case.js';

/**
 * Honest-progress thresholds, against a control run of the same case where the adversary's guest is
 * honest, over the same measured window (after a 2 ms start-up): together the honest guests move at
 * least HONEST_SHARE of their control goodput, and none of them falls below HONEST_GUEST_SHARE of its
 * own (no starvation). An adversary may legitimately use its share of the CPU and of a shared link
 * (e.g. sending at line rate); it must not take the driver domain or another guest's vif down.
 */
export const HONEST_SHARE = 1 / 3;
export const HONEST_GUEST_SHARE = 0.2;
/** ... applied when the control run moved at least this many MSS segments (smaller samples are noise). */
export const HONEST_MIN_SEGMENTS = 20;
export { I2_CREDIT_PERIODS };
/** Virtual time allowed for draining after the sources stop: long enough for TCP to repair a loss by many timeouts (200 ms each, backed off). */
const DRAIN_PS = 30_000 * PS_PER_MS;

export interface CaseResult {
  ok: boolean;
  failures: string[];
  /** Hash of everything the case produced (trace, counters, per-guest goodput): equal for a replay. */
  hash: string;
  quiescent: boolean;
  traceHash: string;
  events: number;
  goodput: Record<string, number>;
  drops: Record<string, number>;
  violations: Record<string, number>;
  disabled: string[];
  hostile: string | null;
  /** Honest goodput / control goodput, per honest guest (hostile cases). */
  honestShare: Record<string, number>;
  /** Checks that did not apply to this case, and why. */
  notes: string[];
}

/**
 * Why I2's honest-progress thresholds do not apply to this scenario (null: they do): under the credit
 * scheduler a window shorter than I2_CREDIT_PERIODS accounting periods is one over which Xen promises
 * no share (a scenario file may have one; generated cases do not).
 */
export function i2NotJudged(sc: Scenario): string | null {
  if (sc.xen.scheduler !== 'credit') return null;
  const acctUs = sc.xen.credit.tickUs * sc.xen.credit.ticksPerAcct;
  const periods = (sc.run.durationMs * 1000) / acctUs;
  if (periods >= I2_CREDIT_PERIODS) return null;
  return `I2 honest progress not judged: the measured window (${sc.run.durationMs} ms) spans ${periods.toFixed(1)} credit accounting periods of ${acctUs} us; the credit scheduler shares the CPU by weight over ${I2_CREDIT_PERIODS} or more`;
}

/**
 * How much of its control goodput an honest guest can be expected to keep, by what the scheduler
 * guarantees (docs/stress.md): its traffic needs CPU from dom0 (netback, for every guest) and from
 * itself; with a flow list, also from the other end of each of its (honest) `flows` and that end's
 * dom0, on whichever host (in a world, an adversary may load the far host's dom0). A domain that
 * used a share u of its CPU in the control run and is guaranteed g by its host's scheduler
 * (SchedPolicy.guaranteedShare) may be held to g, so it keeps at least min(1, g / u) of its work
 * rate; the guest keeps the smallest of these. I2's thresholds are scaled by it.
 */
export interface I2Expectation { fraction: number; why: string }
function i2Expected(b: Built, control: Map<Kernel, number>, guest: Kernel, flows: readonly number[] = []): I2Expectation {
  const hosts = hostViews(b);
  const hostOf = (k: Kernel) => hosts.find((h) => h.kernels.includes(k))!;
  // The guest's own dom0 (the driver domain of its vif) and itself, then the far ends of its flows.
  const need = [hostOf(guest).kernels[0], guest];
  if (b.sc.flows) {
    const world = flowEnds(b.sc.flows, b.hosts ? hosts.map((h) => h.name) : []);
    for (const e of flows.flatMap((f) => [world[f].from, world[f].to])) {
      const h = hosts[e.host];
      for (const k of [h.kernels[0], e.peer >= 0 ? null : h.kernels[e.dom0 ? 0 : e.guest + 1]]) if (k && !need.includes(k)) need.push(k);
    }
  }
  let fraction = 1, why = '';
  for (const k of need) {
    const policy = hostOf(k).xen?.policy;
    const used = control.get(k);
    if (!policy || used === undefined) continue;
    const g = policy.guaranteedShare(k);
    const f = Math.min(1, g / used);
    if (f < fraction) { fraction = f; why = `${k.name} is guaranteed ${(100 * g).toFixed(0)}% of its CPU by ${policy.name} and used ${(100 * used).toFixed(0)}% without the adversary`; }
  }
  return { fraction, why };
}

/** Goodput (bytes) per guest (of every flow its vifs carry), or per server for native/driver. */
function goodputByGuest(b: Built): Record<string, number> {
  const out: Record<string, number> = {};
  if (!b.vifs.length) { out[b.endpoint.name] = b.goodputBytes(); return out; }
  for (const v of b.vifs) for (const f of v.flows) out[v.guest.name] = (out[v.guest.name] ?? 0) + b.flowGoodput(f);
  return out;
}

/** Goodput (bytes) per flow. */
function goodputByFlow(b: Built): number[] {
  return Array.from({ length: b.flows }, (_, f) => b.flowGoodput(f));
}

/**
 * Work one case may do without progress (no byte delivered to any application): events (a normal
 * case takes under 100 000 in all), CPU slices, and TX ring slots taken by the driver domain (a few
 * tens of thousands). Beyond any, something livelocks (unbounded work, I3). Counted from the last
 * progress, so a slow but live drain (TCP repairing losses at an overloaded receiver) is not one.
 */
export const EVENT_BUDGET = 1_000_000;
export const SLOT_BUDGET = 1_000_000;
class Livelock extends Error {}
/** The work counters at the last progress. */
interface Progress { goodput: number; events: number; slots: number; slices: number; sliceCount: number }
function noteProgress(b: Built, p: Progress): void {
  const g = b.goodputBytes();
  if (g === p.goodput) return;
  p.goodput = g;
  p.events = b.sys.sched.delivered;
  p.slots = sum(b.netbacks.map((nb) => nb.stats.slotsTaken));
  p.slices = p.sliceCount;
}
/** Run the scheduler to `until` in small steps, so a livelock is caught by the work budget rather than hanging. */
function runFor(b: Built, until: number, p: Progress): void {
  const s = b.sys.sched;
  while (s.now < until) {
    s.run(Math.min(until, s.now + 0.05 * PS_PER_MS));
    noteProgress(b, p);
    const at = `by ${(s.now / PS_PER_MS).toFixed(3)} ms`;
    if (s.delivered - p.events > EVENT_BUDGET) throw new Livelock(`I3: livelock: more than ${EVENT_BUDGET} events without progress ${at}`);
    const slots = sum(b.netbacks.map((nb) => nb.stats.slotsTaken)) - p.slots;
    if (slots > SLOT_BUDGET) throw new Livelock(`I3: livelock: the driver domain took ${slots} TX slots without progress ${at}`);
    if (s.pendingCount() === 0) { s.run(until); break; }
  }
}

/**
 * Phase of a run: its system, goodput per guest over the measured window, and each domain's vCPU time
 * over that window as a share of its CPU (Xen only).
 */
interface Phase { b: Built; goodput: Record<string, number>; flowGoodput: number[]; cpuShare: Map<Kernel, number>; quiescent: boolean; failures: string[] }

/** vCPU time per domain now, each by its own host's Xen (empty on bare metal). */
function vcpuTimes(b: Built): Map<Kernel, number> {
  return new Map(hostViews(b).flatMap((h) => { const xen = h.xen; return xen ? h.kernels.map((k) => [k, xen.vcpuTime(k)] as const) : []; }));
}

/** Run a built system's traffic phase, optionally drain and check. */
function execute(sc: Scenario, b: Built, checks: boolean): Phase {
  const failures: string[] = [];
  // Count CPU slices: a livelock that burns no virtual time never returns from the scheduler otherwise.
  const progress: Progress = { goodput: 0, events: 0, slots: 0, slices: 0, sliceCount: 0 };
  b.host.onSliceDone = () => {
    if (++progress.sliceCount - progress.slices > EVENT_BUDGET) throw new Livelock(`I3: livelock: more than ${EVENT_BUDGET} CPU slices without progress by ${(b.sys.sched.now / PS_PER_MS).toFixed(3)} ms`);
  };
  try {
    b.start();
    // Traffic: warm-up, then the measured window (goodput is what each guest moved in the window).
    const warm = Math.round(sc.run.warmupMs * PS_PER_MS);
    runFor(b, warm, progress);
    const before = goodputByGuest(b);
    const flows0 = goodputByFlow(b);
    const ran0 = vcpuTimes(b);
    const trafficEnd = warm + Math.round(sc.run.durationMs * PS_PER_MS);
    runFor(b, trafficEnd, progress);
    const goodput = goodputByGuest(b);
    for (const k of Object.keys(goodput)) goodput[k] -= before[k] ?? 0;
    const flowGoodput = goodputByFlow(b).map((g, f) => g - flows0[f]);
    const cpuShare = new Map([...vcpuTimes(b)].map(([k, t]) => [k, (t - ran0.get(k)!) / (trafficEnd - warm)]));
    if (!checks) return { b, goodput, flowGoodput, cpuShare, quiescent: false, failures };
    checkConservation(b, 'end of traffic', failures);
    b.stopSources();
    const limit = trafficEnd + DRAIN_PS;
    while (b.sys.sched.pendingCount() > 0 && b.sys.sched.now < limit) runFor(b, Math.min(limit, b.sys.sched.now + 100 * PS_PER_MS), progress);
    const quiescent = b.sys.sched.pendingCount() === 0;
    checkConservation(b, 'after drain', failures);
    checkAlways(b, failures);
    checkReleased(b, failures, quiescent);
    if (quiescent) {
      checkQuiet(b, failures);
      checkStreams(b, failures);
      checkPages(b, failures);
      checkGrants(b, failures);
    } else {
      failures.push(`did not quiesce within ${DRAIN_PS / PS_PER_MS} ms of virtual time after the sources stopped (${b.sys.sched.pendingCount()} events pending)`);
      // What is still waiting says why (e.g. TCP retransmitting for ever into a ring nobody serves).
      const stuck: string[] = [];
      checkQuiet(b, stuck);
      for (const f of stuck.slice(0, 5)) failures.push(`at the drain limit: ${f}`);
    }
    return { b, goodput, flowGoodput, cpuShare, quiescent, failures };
  } catch (e) {
    failures.push(e instanceof Livelock ? e.message : `crash: ${(e as Error).message}`);
    return { b, goodput: {}, flowGoodput: [], cpuShare: new Map(), quiescent: false, failures };
  } finally {
    b.sys.stop();
  }
}

function resultHash(p: Phase): string {
  const c = p.b.counters;
  const h = createHash('sha256');
  h.update(JSON.stringify([p.b.sys.traceHash(), p.b.sys.sched.delivered, c.pkt, c.wire, c.drops, c.violations, p.goodput, p.failures]));
  return h.digest('hex').slice(0, 16);
}

export interface RunCaseOptions {
  /** Run the case twice and require the same result hash (I12). */
  replay?: boolean;
  /** Statechart interpreter (results are the same on both; see test/actors/statechart.test.ts). */
  interpreter?: Interpreter;
}

/*
 * runCase is three public steps: build the case's system (buildCase), run and check it (runBuilt), then
 * judge the run (judgeCase: the adversary's expectations, honest progress against a control run, and
 * a replay's hash). A caller that wants to watch or wrap part of the system (a test double) does so
 * between the first two, through the system's own interfaces.
 */

/** A stress case as the checks run it: validated, with every default filled in (throws on an invalid case). */
export function caseScenario(cs: CaseScenario | Scenario): Scenario {
  return parseScenario(structuredClone(cs), 'stress case');
}

/** The system a case runs on (not started). */
export function buildCase(sc: Scenario, interpreter?: Interpreter): Built {
  return build(sc, { interpreter });
}

/** One checked run of a built case: its system, goodput and CPU shares over the measured window, and what failed. */
export type CaseRun = Phase;

/** Run a built case's traffic phase, drain it and check every invariant. */
export function runBuilt(sc: Scenario, b: Built): CaseRun {
  return execute(sc, b, true);
}

/** A run that crashed is not replayed or judged against the adversary's expectations. */
const crashed = (failures: string[]) => failures.some((f) => f.startsWith('crash'));

/** Run one case with every check. */
export function runCase(cs: CaseScenario | Scenario, opts: RunCaseOptions = {}): CaseResult {
  let sc: Scenario;
  try { sc = caseScenario(cs); } catch (e) {
    return { ok: false, failures: [`invalid case: ${(e as Error).message}`], hash: '', quiescent: false, traceHash: '', events: 0, goodput: {}, drops: {}, violations: {}, disabled: [], hostile: null, honestShare: {}, notes: [] };
  }
  const p = runBuilt(sc, buildCase(sc, opts.interpreter));
  const again = opts.replay && !crashed(p.failures) ? runBuilt(sc, buildCase(sc, opts.interpreter)) : undefined;
  return judgeCase(sc, p, { again, interpreter: opts.interpreter });
}

/**
 * Judge a checked run: the adversary's own expectations, the honest guests' progress against a control
 * run of the same case without the adversary, and, given a second run of the same case, determinism (I12).
 */
export function judgeCase(sc: Scenario, p: CaseRun, opts: { again?: CaseRun; interpreter?: Interpreter } = {}): CaseResult {
  const failures = [...p.failures];
  const hostile = sc.hostile[0] ?? null;
  const honestShare: Record<string, number> = {};
  const notes: string[] = [];
  if (hostile && !crashed(failures)) {
    // The adversary's own expectations.
    // Its vif, still there, or gone with its domain (a crashed adversary is destroyed by the toolstack).
    const v = [...p.b.vifs, ...p.b.lifecycle?.goneVifs ?? []].find((q) => q.hostile);
    // An adversary whose guest the scenario's events destroy or crash may never get to attack: what it expects is not judged.
    const target = `${hostile.host ? `${hostile.host}/` : ''}guest${hostile.guest}`; // (named after its host in a world)
    const ended = sc.events.find((e) => e.destroy === target || e.crash === target);
    if (ended) notes.push(`${hostile.behaviour}: the adversary's expectations not judged: its guest is ${ended.crash ? 'crashed' : 'destroyed'} by the scenario's events at ${ended.at} ms`);
    else if (v && v.hostile) {
      // Mappings of the adversary's grants beyond its (still mapped) ring pages, by its own host's dom0.
      const xen = hostViews(p.b).find((h) => h.vifs.includes(v))?.xen ?? p.b.xen;
      const rings = sum(p.b.vifs.filter((q) => q.guest === v.guest).map((q) => q.nb.ringMappings()));
      const dom0Mappings = xen ? xen.grants.mappingsOn(0, v.guest.domid) - rings : 0;
      const fails = v.hostile.behaviour.expect({ h: v.hostile, nb: v.nb, back: v.back, counters: p.b.counters, quiescent: p.quiescent, dom0Mappings });
      for (const f of fails) failures.push(`${hostile.behaviour}/${v.hostile.variant}: ${f}`);
    }
    // Honest guests keep making progress: compare with the same case where the adversary is honest.
    const controlSc = { ...sc, hostile: [] };
    const control = execute(controlSc, buildCase(controlSc, opts.interpreter), false);
    const mss = sc.tcp.mss;
    const notJudged = i2NotJudged(sc);
    if (notJudged) notes.push(notJudged);
    const judge = (bytes: number) => !notJudged && bytes >= HONEST_MIN_SEGMENTS * mss;
    // Thresholds scaled by what the scheduler guarantees the domains each guest's traffic needs.
    const scaled = (t: number, e: I2Expectation) => e.fraction < 1 ? `threshold ${(100 * t * e.fraction).toFixed(0)}% = ${(100 * t).toFixed(0)}% x ${e.fraction.toFixed(2)}: ${e.why}` : `threshold ${(100 * t).toFixed(0)}%`;
    let got = 0, base = 0, expected = 0, worst: I2Expectation = { fraction: 1, why: '' };
    // The adversary's domain (named after its host in a world), and its flows: an honest guest's
    // progress is that of its flows with honest ends (on one host, the guest's own flows).
    const adversaryName = v?.guest.name ?? `domU${hostile.guest}`;
    const adversaryFlows = new Set(p.b.vifs.filter((q) => q.guest.name === adversaryName).flatMap((q) => q.flows));
    const honestFlows = (ph: CaseRun, g: string) => ph.b.vifs.filter((q) => q.guest.name === g).flatMap((q) => q.flows).filter((f) => !adversaryFlows.has(f));
    const honestBytes = (ph: CaseRun, g: string) => sum(honestFlows(ph, g).map((f) => ph.flowGoodput[f] ?? 0));
    for (const g of Object.keys(control.goodput)) {
      if (g === adversaryName) continue;
      const want = sc.flows ? honestBytes(control, g) : control.goodput[g];
      const have = sc.flows ? honestBytes(p, g) : p.goodput[g] ?? 0;
      const guest = control.b.kernels.find((k) => k.name === g);
      const e = guest ? i2Expected(control.b, control.cpuShare, guest, sc.flows ? honestFlows(control, g) : []) : { fraction: 1, why: '' };
      if (e.fraction < worst.fraction) worst = e;
      got += have;
      base += want;
      expected += want * e.fraction;
      honestShare[g] = want > 0 ? Math.round((have / want) * 1000) / 1000 : 1;
      if (judge(want) && have < HONEST_GUEST_SHARE * e.fraction * want) failures.push(`I2: honest ${g} starved: ${have} bytes in the measured window, ${(100 * have / want).toFixed(0)}% of its ${want} without the adversary (${scaled(HONEST_GUEST_SHARE, e)})`);
    }
    honestShare.all = base > 0 ? Math.round((got / base) * 1000) / 1000 : 1;
    const all = { fraction: base > 0 ? expected / base : 1, why: worst.why };
    if (judge(base) && got < HONEST_SHARE * all.fraction * base) {
      failures.push(`I2: the honest guests moved ${got} bytes, ${(100 * got / base).toFixed(0)}% of their ${base} without the adversary (${scaled(HONEST_SHARE, all)})`);
    }
  }
  if (opts.again && !crashed(failures) && resultHash(opts.again) !== resultHash(p)) failures.push('I12: a replay of the same case gave a different result');
  const c = p.b.counters;
  return {
    ok: failures.length === 0,
    failures,
    hash: resultHash({ ...p, failures }),
    quiescent: p.quiescent,
    traceHash: p.b.sys.traceHash(),
    events: p.b.sys.sched.delivered,
    goodput: p.goodput,
    drops: { ...c.drops },
    violations: { ...c.violations },
    disabled: p.b.netbacks.filter((nb) => nb.disabled).map((nb) => `${nb.name}:${nb.disabled}`),
    hostile: hostile ? `${hostile.behaviour}/${[...p.b.vifs, ...p.b.lifecycle?.goneVifs ?? []].find((q) => q.hostile)?.hostile?.variant ?? hostile.variant}` : null,
    honestShare,
    notes,
  };
}
