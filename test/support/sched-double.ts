/**
 * A scheduler test double: the mechanism side of Xen's scheduler interface (SchedView) without a
 * machine. Domains are plain records pinned to a CPU with a "has work" flag and a paused flag; the
 * double makes scheduling decisions the way xen.ts's fill does (the vCPU time since the last
 * decision goes to whoever had the CPU, then the policy picks), wakes a blocked vCPU the way
 * vcpu_wake does (the policy hears of it before the vCPU is runnable), and keeps its own record of
 * who ran when, independent of the policy's bookkeeping.
 */
import type { Ps } from '../../src/actors/scheduler.js';
import type { Kernel } from '../../src/domains/kernel.js';
import type { SchedPolicy, SchedView } from '../../src/hypervisor/sched.js';

export interface Dom { domid: number; name: string; cpu: number; work: boolean; paused: boolean }

export function schedDouble(cpus: number, placement: number[]) {
  let t: Ps = 0;
  const doms: Dom[] = placement.map((cpu, domid) => ({ domid, name: `d${domid}`, cpu, work: false, paused: false }));
  const k = (d: Dom) => d as unknown as Kernel;
  const current: (Dom | null)[] = new Array(cpus).fill(null);
  const sliceStart: Ps[] = new Array(cpus).fill(0);
  const burning: (Dom | null)[] = new Array(cpus).fill(null);
  const burnFrom: Ps[] = new Array(cpus).fill(0);
  const rechecks: Array<{ cpu: number; at: Ps; now: Ps }> = [];
  /** CPU time each domain got, by the double's own clock. */
  const ran = new Map<Dom, Ps>(doms.map((d) => [d, 0]));
  const view: SchedView = {
    now: () => t,
    onCpu: (c) => doms.filter((d) => d.cpu === c).map(k),
    canRun: (x) => { const d = x as unknown as Dom; return d.work && !d.paused; },
    current: (c) => (current[c] ? k(current[c]!) : null),
    sliceStart: (c) => sliceStart[c],
    recheckAt: (c, at) => { rechecks.push({ cpu: c, at, now: t }); },
  };
  let policy: SchedPolicy | null = null;
  const self = {
    view, doms, k, rechecks, ran,
    now: () => t,
    attach(p: SchedPolicy) { policy = p; },
    /** Set the clock (a decision-free step of virtual time). */
    at(v: Ps) { t = v; },
    current: (c: number) => current[c],
    /** One decision on CPU c at time `at` (xen.ts fill): burn the elapsed vCPU time, then pick. */
    decide(c: number, at: Ps): Dom | null {
      t = at;
      const b = burning[c];
      if (b) { policy!.ran?.(k(b), c, burnFrom[c], at); ran.set(b, ran.get(b)! + at - burnFrom[c]); }
      burning[c] = null;
      const next = policy!.pick(c) as unknown as Dom | null;
      if (next) {
        if (next !== current[c]) sliceStart[c] = at;
        burning[c] = next;
        burnFrom[c] = at;
      }
      current[c] = next;
      return next;
    },
    /** Decisions on CPU c every `step` ps over [from, to); returns who ran each step. */
    run(c: number, from: Ps, to: Ps, step: Ps): Array<Dom | null> {
      const out: Array<Dom | null> = [];
      for (let at = from; at < to; at += step) out.push(self.decide(c, at));
      return out;
    },
    /** vcpu_wake of a blocked domain: the policy hears of it, then it is runnable. */
    wake(d: Dom) { if (!d.work) policy!.wake?.(k(d)); d.work = true; },
    block(d: Dom) { d.work = false; },
  };
  return self;
}
export type SchedDouble = ReturnType<typeof schedDouble>;
