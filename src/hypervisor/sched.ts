/**
 * Xen's scheduler interface (xen/common/schedule.c and struct scheduler): the
 * mechanism (xen.ts: per-CPU current vCPU, context switch, idle, IPIs) asks a
 * policy what each CPU runs next; the policy owns its own per-domain state
 * (BVT's round-robin position, credit's credits and priorities). One vCPU per
 * domain, pinned to one physical CPU (scenario `placement`): each CPU's run
 * queue holds the vCPUs pinned to it, and no vCPU migrates.
 */
import type { Ps } from '../actors/scheduler.js';
import type { Vcpu } from '../core/exec.js';

/** What a policy may read of the mechanism, and the one thing it may ask of it. */
export interface SchedView<V extends Vcpu = Vcpu> {
  /** Virtual time now. */
  now(): Ps;
  /** The domains whose vCPU is pinned to CPU c, in creation (domid) order. */
  onCpu(c: number): readonly V[];
  /** May this vCPU run (it has work and is neither paused nor destroyed)? */
  canRun(k: V): boolean;
  /** The domain CPU c runs (null: the idle vCPU). */
  current(c: number): V | null;
  /** When the current domain began its uninterrupted run on CPU c. */
  sliceStart(c: number): Ps;
  /** Make CPU c look at its run queue again at time t (a timer: a parked vCPU may become eligible then). */
  recheckAt(c: number, t: Ps): void;
}

/** A scheduling policy (Xen's `struct scheduler` hooks, reduced to what one pinned vCPU per domain needs). */
export interface SchedPolicy<V extends Vcpu = Vcpu> {
  readonly name: 'bvt' | 'credit';
  /** do_schedule: what CPU c runs from now on (null: idle). Called at every slice boundary of c. */
  pick(c: number): V | null;
  /** vcpu_wake of a blocked vCPU (before it is marked runnable). */
  wake?(k: V): void;
  /** k ran on CPU c over [t0, t1) of virtual time (burn its credits). */
  ran?(k: V, c: number, t0: Ps, t1: Ps): void;
  /**
   * The share of its CPU the policy promises k while every domain pinned there wants to run, over the
   * period the policy shares by (what the stress checks hold honest progress to, docs/stress.md).
   */
  guaranteedShare(k: V): number;
  /** Tickle: would k, just woken, take CPU c from what it runs now (so Xen interrupts that CPU)? */
  preempts(k: V, c: number): boolean;
}
