/**
 * What runs on each CPU next. A Dispatcher fills an Exec with one slice of
 * work, the CPU is busy for the cycles charged, and at completion (a CPU_DONE
 * message to the owning actor, delivered through the scheduler) the slice's
 * effects happen and the next slice is chosen. Bare metal and Xen differ only
 * in how fill() chooses.
 */
import type { ActorLike, ActorSystem, Msg } from '../actors/runtime.js';
import type { Cpu } from './cpu.js';
import type { Exec, Host, Vcpu } from '../core/exec.js';
import { CpuExec } from './exec.js';
import type { CostTable } from '../model/costs.js';
import type { Counters } from '../model/counters.js';

const IDLE = { type: 'IDLE' } as const;

export abstract class Dispatcher implements Host {
  private inflight: (Exec | null)[];
  /** Each CPU's scheduling actor (pcpu under Xen, cpu on bare metal), told what every slice is. */
  private cpuActors: ActorLike[] = [];
  constructor(
    protected readonly sys: ActorSystem,
    readonly actorName: string,
    readonly cpus: Cpu[],
    readonly costs: CostTable,
    readonly counters: Counters,
  ) {
    this.inflight = cpus.map(() => null);
  }

  /** The CPUs' actors, spawned after every other actor (build.ts). */
  attachCpus(actors: ActorLike[]): void { this.cpuActors = actors; }
  /** Mirror a scheduling decision on CPU c's actor (direct, untraced: not a message between components). */
  protected tellCpu(c: number, e: Msg): void { this.cpuActors[c]?.send(e); }
  /** A domain actor's own lifecycle change (direct, untraced). */
  protected tellDomain(k: Vcpu, e: Msg): void { this.sys.entry(k.name).actor.send(e); }

  /** Boot done: the owning actor starts taking CPU completions and the first kernel is unpaused. */
  boot(): void { this.sys.entry(this.actorName).actor.send({ type: 'BOOTED' }); }

  /** `from`: the CPU whose work woke k, when known (Xen's cross-CPU notification; bare metal ignores it). */
  wake(k: Vcpu, _from?: number): void {
    this.noteWake(k);
    this.kick(k.cpuIndex);
  }
  /** Keep the domain actor's state in step with the scheduler; only real changes are messages. */
  protected setRunState(k: Vcpu, s: 'blocked' | 'runnable' | 'running'): void {
    if (k.runState === s) return;
    const type = s === 'running' ? 'RUN' : s === 'blocked' ? 'BLOCK' : k.runState === 'running' ? 'PREEMPT' : 'WAKE';
    k.runState = s;
    this.sys.deliverNow(this.actorName, k.name, { type });
  }
  protected noteWake(k: Vcpu): void { if (k.runState === 'blocked') this.setRunState(k, 'runnable'); }

  kick(c: number): void {
    if (!this.cpus[c].busy) this.dispatch(c);
  }

  protected newExec(c: number, k: Vcpu | null): Exec {
    return new CpuExec(this.cpus[c], k, this.costs, this.counters);
  }

  /** Run the kernel's next piece of work: a pending upcall first, then its queues. */
  protected runKernel(x: Exec, k: Vcpu): void {
    if (k.evtchn.upcallPending) {
      this.counters.upcalls++;
      x.touch('evtchn');
      x.cost('evtchnUpcall');
      k.evtchn.dispatch(x);
      return;
    }
    const t = k.nextTask();
    if (t) t.run(x);
  }

  protected abstract fill(c: number): Exec | null;

  private dispatch(c: number): void {
    const cpu = this.cpus[c];
    cpu.busy = true; // guard re-entrant wakes while the slice is being built
    const x = this.fill(c);
    if (!x) { cpu.busy = false; this.tellCpu(c, IDLE); return; }
    this.inflight[c] = x;
    const d = cpu.psFor(x.cycles);
    const now = this.sys.sched.now;
    cpu.bookSlice(now, now + d);
    this.sys.send(this.actorName, this.actorName, { type: 'CPU_DONE', cpu: c }, d);
  }

  /**
   * Told as each slice completes, before its effects (`xennet stress` counts slices against its
   * livelock budget here: a livelock that burns no virtual time never returns from the scheduler).
   */
  onSliceDone: ((c: number) => void) | null = null;

  /** Called by the owning actor on CPU_DONE. */
  complete(c: number): void {
    if (this.onSliceDone !== null) this.onSliceDone(c);
    const x = this.inflight[c];
    this.inflight[c] = null;
    this.cpus[c].busy = false;
    if (x) for (const f of x.effects) f();
    this.kick(c);
  }
}
