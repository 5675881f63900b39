/**
 * Interleaving mode: the split driver's notification protocol with the frontend, the backend and
 * the event-channel upcalls running as interleaved steps at shared-memory access points.
 *
 * The emulator runs each actor's step atomically, so a race between two CPUs (the classic lost
 * wakeup between re-arming `rsp_event`/`req_event` and the final check, or an event that becomes
 * pending while masked) cannot happen in a normal run. Here the real ring (src/channels/ring.ts) and
 * the real 2-level port tables (src/hypervisor/event-channel.ts) are driven by three threads that
 * follow the drivers' loops on one TX ring:
 *   - `xmit` (netfront start_xmit): put a batch of requests, RING_PUSH_REQUESTS_AND_CHECK_NOTIFY,
 *     notify the backend if asked;
 *   - `netback` (its interrupt with late EOI, src/channels/netback/interface.ts): the port is masked
 *     while the ring is served; consume, answer, RING_PUSH_RESPONSES_AND_CHECK_NOTIFY, repeat while
 *     RING_FINAL_CHECK_FOR_REQUESTS finds more; then unmask (EOI);
 *   - `tx-irq` (netfront's TX completion, netfront.ts xennet_tx_buf_gc): consume responses while
 *     RING_FINAL_CHECK_FOR_RESPONSES finds more; freed slots let `xmit` go on.
 * `xmit` and `tx-irq` share netfront's tx_lock, so they never preempt each other; the backend runs
 * on another CPU.
 *
 * Scheduling is PCT (Burckhardt et al., ASPLOS 2010): each thread gets a random priority, and d-1
 * random steps are priority change points where the running thread drops below all others. The
 * highest-priority runnable thread runs; at every access point (the rings' and port tables'
 * `onAccess`) a higher-priority runnable thread preempts the running one: its whole next section
 * runs right there, nested (a thread on the stack cannot be resumed until the nested one finishes,
 * so every interleaving in which one thread's section falls between two accesses of another is
 * reachable).
 *
 * Checked at quiescence (no thread can run): every request was answered and every answer consumed;
 * otherwise a wakeup was lost. Cases are a function of (base seed, index) only.
 */
import { xoroshiro128plus, unsafeUniformIntDistribution as uniform } from 'pure-rand';
import { BackRing, FrontRing, SharedRing } from '../channels/ring.js';
import { PortTable, type Port } from '../hypervisor/event-channel.js';
import type { Exec } from '../core/exec.js';
import { caseSeed } from './case.js';

/** What the harness builds the protocol from: the real classes, or a test double (a mutant). */
export interface InterleaveDeps {
  frontRing: (s: SharedRing<number, number>) => FrontRing<number, number>;
  backRing: (s: SharedRing<number, number>) => BackRing<number, number>;
  portTable: (kick: () => void) => PortTable;
}
export const realDeps: InterleaveDeps = {
  frontRing: (s) => new FrontRing(s),
  backRing: (s) => new BackRing(s),
  portTable: (kick) => new PortTable(kick),
};

export interface InterleaveCase {
  ringSize: number;
  requests: number;
  /** Requests xmit puts before each push (netif_tx batching, xmit_more). */
  batch: number;
  /** PCT depth: d - 1 priority change points. */
  depth: number;
  /** Steps over which the change points are spread. */
  horizon: number;
}

export interface InterleaveResult {
  ok: boolean;
  failures: string[];
  steps: number;
  preemptions: number;
  /** Sections run, thread by thread, with '>' marking a preemption into a nested section (first 200). */
  schedule: string;
}

/** Steps after which a case is a livelock. */
const STEP_BUDGET = 200_000;

export function sampleInterleaveCase(base: number, index: number): { c: InterleaveCase; seed: number } {
  const seed = caseSeed(base ^ 0x1e7e, index);
  const rng = xoroshiro128plus(seed);
  const pick = (lo: number, hi: number) => uniform(lo, hi, rng);
  const ringSize = 2 ** pick(0, 4);
  const requests = pick(1, 2 * ringSize + 2);
  const c: InterleaveCase = { ringSize, requests, batch: pick(1, Math.min(4, ringSize)), depth: pick(2, 4), horizon: 1 };
  // PCT spreads the change points over the k steps a run takes: k from a run without change points.
  c.horizon = Math.max(1, runInterleaveCase({ ...c, depth: 1 }, seed).steps);
  return { seed, c };
}

interface Thread {
  name: string;
  /** Threads that hold the same lock never preempt each other. */
  lock: string;
  prio: number;
  runnable(): boolean;
  section(): void;
}

/** A PCT schedule: the threads' initial priorities (xmit, netback, tx-irq) and the change points (step -> new priority). */
export interface PctPlan { prios: number[]; changes: Array<[number, number]> }

/** The schedule PCT draws for a case from its seed. */
export function pctPlan(c: InterleaveCase, seed: number): PctPlan {
  const rng = xoroshiro128plus(seed >>> 0);
  const prios = [0, 1, 2].map((i) => c.depth + 1 + i);
  for (let i = prios.length - 1; i > 0; i--) { const j = uniform(0, i, rng); [prios[i], prios[j]] = [prios[j], prios[i]]; }
  const changes: Array<[number, number]> = [];
  for (let k = 1; k < c.depth; k++) changes.push([uniform(1, c.horizon, rng), c.depth - k]);
  return { prios, changes };
}

export function runInterleaveCase(c: InterleaveCase, seed: number, deps: InterleaveDeps = realDeps, plan: PctPlan = pctPlan(c, seed)): InterleaveResult {
  const failures: string[] = [];
  const sring = new SharedRing<number, number>(c.ringSize);
  const front = deps.frontRing(sring);
  const back = deps.backRing(sring);
  // Two domains' shared_info: the frontend's and the backend's pending/mask bits (kick = upcall flag set).
  const ftable = deps.portTable(() => {});
  const btable = deps.portTable(() => {});
  const none = undefined as unknown as Exec; // the handlers here charge no cycles
  let sent = 0, answered = 0, completed = 0;
  // The interdomain channel: EVTCHNOP_send on one end sets pending on the other.
  let fport: Port, bport: Port;
  const threads: Thread[] = [];
  const xmit: Thread = {
    name: 'xmit', lock: 'tx_lock', prio: 0,
    runnable: () => sent < c.requests && front.freeRequests() > 0,
    section: () => {
      for (let i = 0; i < c.batch && sent < c.requests && !front.full(); i++) front.putRequest(sent++);
      if (front.pushRequests().notify) btable.setPending(bport);
    },
  };
  const netback: Thread = {
    name: 'netback', lock: 'dom0', prio: 0,
    runnable: () => btable.upcallPending,
    section: () => { btable.dispatch(none); },
  };
  const txIrq: Thread = {
    name: 'tx-irq', lock: 'tx_lock', prio: 0,
    runnable: () => ftable.upcallPending,
    section: () => { ftable.dispatch(none); },
  };
  bport = btable.alloc('netback', () => {
    btable.mask(bport); // late EOI: masked while the ring is served
    let more: boolean;
    do {
      while (back.unconsumedRequests() > 0) {
        const id = back.takeRequest();
        back.putResponse(id);
        answered++;
      }
      if (back.pushResponses().notify) ftable.setPending(fport);
      more = back.finalCheckForRequests();
    } while (more);
    btable.unmask(bport); // xen_irq_lateeoi
  });
  fport = ftable.alloc('netfront', () => {
    do {
      while (front.unconsumedResponses() > 0) { front.takeResponse(); completed++; }
    } while (front.finalCheckForResponses());
  });
  threads.push(xmit, netback, txIrq);

  threads.forEach((t, i) => { t.prio = plan.prios[i]; });
  const changeAt = new Map<number, number>();
  for (const [step, prio] of plan.changes) if (!changeAt.has(step)) changeAt.set(step, prio);

  let steps = 0, preemptions = 0;
  const stack: Thread[] = [];
  const log: string[] = [];
  const runSection = (t: Thread, nested: boolean) => {
    if (log.length < 200) log.push(`${nested ? '>' : ''}${t.name}`);
    stack.push(t);
    try { t.section(); } finally { stack.pop(); }
  };
  /**
   * A point. Steps count only where another thread could come in (PCT's k is then the number of real
   * choices, not of accesses): apply a change point, and let a higher-priority thread in.
   */
  const point = () => {
    const cur = stack[stack.length - 1];
    const best = pickBest(threads, stack, cur);
    if (!best) return;
    if (++steps > STEP_BUDGET) throw new Livelock();
    const drop = changeAt.get(steps);
    if (drop !== undefined && cur) cur.prio = drop;
    // The highest-priority runnable thread runs: each one above us gets its section here, in turn.
    if (cur && best.prio > cur.prio) { preemptions++; runSection(best, true); }
  };
  sring.onAccess = point;
  ftable.onAccess = point;
  btable.onAccess = point;

  try {
    for (;;) {
      const t = pickBest(threads, stack, undefined);
      if (!t) break;
      if (++steps > STEP_BUDGET) throw new Livelock();
      const drop = changeAt.get(steps);
      if (drop !== undefined) t.prio = drop;
      runSection(t, false);
    }
  } catch (e) {
    if (!(e instanceof Livelock)) throw e;
    failures.push(`livelock: more than ${STEP_BUDGET} steps`);
  }
  if (!failures.length) {
    // Quiescence: nothing can run. Anything left over is a wakeup that was lost.
    if (sent < c.requests) failures.push(`lost wakeup: xmit stopped after ${sent} of ${c.requests} requests with the ring full (${completed} answers consumed)`);
    if (answered < sent) failures.push(`lost wakeup: ${sent - answered} request(s) left in the ring, backend event ${bport.pending ? 'pending but masked' : 'not pending'}`);
    if (completed < answered) failures.push(`lost wakeup: ${answered - completed} response(s) never consumed, frontend event ${fport.pending ? 'pending but masked' : 'not pending'}`);
    if (bport.masked) failures.push('the backend port was left masked (no EOI)');
  }
  return { ok: failures.length === 0, failures, steps, preemptions, schedule: log.join(' ') };
}

class Livelock extends Error {}

/** The highest-priority runnable thread that is not on the stack and holds no lock a thread on the stack holds. */
function pickBest(threads: Thread[], stack: Thread[], cur: Thread | undefined): Thread | undefined {
  let best: Thread | undefined;
  for (const t of threads) {
    if (t === cur || stack.includes(t) || stack.some((s) => s.lock === t.lock)) continue;
    if (!t.runnable()) continue;
    if (!best || t.prio > best.prio) best = t;
  }
  return best;
}

export interface InterleaveReport { index: number; seed: number; c: InterleaveCase; result: InterleaveResult }

/** A campaign: cases [from, from + runs) of a base seed, in order (each case takes microseconds: no workers needed). */
export function* interleaveCampaign(base: number, runs: number, deps: InterleaveDeps = realDeps, from = 0): Generator<InterleaveReport> {
  for (let index = from; index < from + runs; index++) {
    const { c, seed } = sampleInterleaveCase(base, index);
    yield { index, seed, c, result: runInterleaveCase(c, seed, deps) };
  }
}
