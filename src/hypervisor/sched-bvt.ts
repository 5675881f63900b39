/**
 * The BVT-like policy of Xen 2.0 as the paper ran it (xen/common/sched_bvt.c,
 * reduced): domains on a CPU take turns round robin; the running domain keeps
 * the CPU while it has work until another domain is runnable and it has had
 * its context-switch allowance (`xen.ctxAllowUs`, bvt's ctx_allow), so a woken
 * domain preempts once that allowance is used up. Ties: round robin from the
 * domain that ran last, in creation (domid) order.
 */
import { PS_PER_US } from '../actors/scheduler.js';
import type { Vcpu } from '../core/exec.js';
import type { SchedPolicy, SchedView } from './sched.js';

export class BvtPolicy<V extends Vcpu = Vcpu> implements SchedPolicy<V> {
  readonly name = 'bvt' as const;
  /** Per CPU: index (in onCpu order) of the domain that ran last. */
  private readonly rr: number[];
  private readonly allowPs: number;
  constructor(private readonly v: SchedView<V>, cpus: number, ctxAllowUs: number) {
    this.rr = new Array<number>(cpus).fill(0);
    this.allowPs = ctxAllowUs * PS_PER_US;
  }

  pick(c: number): V | null {
    const v = this.v;
    const cur = v.current(c);
    const mine = v.onCpu(c);
    let anyWork = false;
    let othersWork = false;
    for (const d of mine) if (v.canRun(d)) { anyWork = true; if (d !== cur) { othersWork = true; break; } }
    if (!anyWork) return null;
    const ran = v.now() - v.sliceStart(c);
    let next = cur!;
    let at = -1;
    if (!(cur && v.canRun(cur) && (!othersWork || ran < this.allowPs))) {
      // Round robin from the last domain that ran, so equal domains share the CPU fairly.
      const start = this.rr[c];
      for (let i = 1; i <= mine.length; i++) {
        const j = (start + i) % mine.length;
        const d = mine[j];
        if (v.canRun(d) && (d !== cur || !othersWork)) { next = d; at = j; break; }
      }
    }
    this.rr[c] = at >= 0 ? at : mine.indexOf(next);
    return next;
  }

  /** Round robin with one allowance for all: equal shares among the domains pinned to k's CPU. */
  guaranteedShare(k: V): number { return 1 / this.v.onCpu(k.cpuIndex).length; }

  /** bvt_wake: the woken domain gets the CPU at the next decision once the running one has had its allowance. */
  preempts(_k: V, c: number): boolean {
    const v = this.v;
    return v.current(c) === null || v.now() - v.sliceStart(c) >= this.allowPs;
  }
}
