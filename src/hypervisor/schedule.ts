/**
 * Xen's scheduling mechanism (xen/common/schedule.c): per physical CPU, what
 * runs (the current vCPU, context switches, idle, Xen's own queued work), the
 * cross-CPU notification by IPI, and physical interrupt routing to the driver
 * domain. The policy that chooses is a module of its own (sched-bvt.ts, Xen
 * 2.0's BVT-like default, or sched-credit.ts); the domain lifecycle
 * (domctl.ts) and the hypercall surface (xen.ts) build on this class.
 */
import type { ActorSystem } from '../actors/runtime.js';
import type { Ps } from '../actors/scheduler.js';
import type { Cpu } from '../hardware/cpu.js';
import { Dispatcher } from '../hardware/dispatch.js';
import type { Exec } from '../core/exec.js';
import type { XenDomain } from './domain.js';
import type { CostTable } from '../model/costs.js';
import type { Counters } from '../model/counters.js';
import type { Port } from './event-channel.js';
import type { SchedPolicy, SchedView } from './sched.js';
import { BvtPolicy } from './sched-bvt.js';
import { CreditPolicy, type CreditConfig } from './sched-credit.js';

const ENTER_XEN = { type: 'ENTER_XEN' } as const;
const RUN = { type: 'RUN' } as const;

export interface XenConfig {
  ctxAllowUs: number; sliceUs: number;
  /** Run-to-run variation of the cache refill after a domain switch, +-% (scenario `variability`). */
  cacheRefillPct?: number;
  /** Scheduling policy (default bvt). */
  scheduler?: 'bvt' | 'credit';
  /** The credit scheduler's periods and each domain's weight and cap (scheduler credit). */
  credit?: CreditConfig;
  /** The CPU physical interrupts are delivered to (default: the driver domain's). */
  irqCpu?: number;
  /** The hypervisor's actor (default `xen`; `host1/xen` for a host of a world of several). */
  name?: string;
}

export abstract class XenSchedule extends Dispatcher {
  private readonly current: (XenDomain | null)[];
  private readonly sliceStart: Ps[];
  protected readonly xenQ: Array<Array<(x: Exec) => void>>;
  /** The scheduling policy (what each CPU runs next); this class is the mechanism. */
  readonly policy: SchedPolicy<XenDomain>;
  /** More than one CPU: notifications may cross CPUs (IPIs). */
  protected readonly smp: boolean;
  /** Per CPU: an IPI is on its way (a second one coalesces, as cpu_raise_softirq does). */
  private readonly ipiPending: boolean[];
  /** Per CPU: the domain whose vCPU time is being burnt, and since when (credit accounting, runstate time). */
  private readonly burning: (XenDomain | null)[];
  private readonly burnFrom: Ps[];
  /** vCPU time per domain up to its last decision (runstate_info time[RUNSTATE_running]). */
  private readonly runningPs = new Map<XenDomain, Ps>();
  /** Domains whose vCPU may not run (RUNSTATE_offline): created, paused, dying or dead. */
  protected readonly offline = new Set<XenDomain>();

  constructor(sys: ActorSystem, cpus: Cpu[], costs: CostTable, counters: Counters, readonly cfg: XenConfig) {
    super(sys, cfg.name ?? 'xen', cpus, costs, counters);
    this.current = cpus.map(() => null);
    this.sliceStart = cpus.map(() => 0);
    this.xenQ = cpus.map(() => []);
    this.smp = cpus.length > 1;
    this.ipiPending = cpus.map(() => false);
    this.burning = cpus.map(() => null);
    this.burnFrom = cpus.map(() => 0);
    const view: SchedView<XenDomain> = {
      now: () => this.sys.sched.now,
      onCpu: (c) => this.perCpu[c] ?? [],
      canRun: (k) => this.canRun(k),
      current: (c) => this.current[c],
      sliceStart: (c) => this.sliceStart[c],
      recheckAt: (c, t) => { this.sys.sched.at(Math.max(t, this.sys.sched.now), this.sys.rankOf(this.actorName), () => this.kick(c)); },
    };
    this.policy = cfg.scheduler === 'credit' && cfg.credit
      ? new CreditPolicy(view, cpus.length, cfg.credit)
      : new BvtPolicy(view, cpus.length, cfg.ctxAllowUs);
  }

  /** May this domain's vCPU run now (it has work and is neither paused nor destroyed)? */
  protected canRun(k: XenDomain): boolean { return k.hasWork() && (this.offline.size === 0 || !this.offline.has(k)); }

  /**
   * A physical NIC interrupt: Xen acks the line and sets the driver domain's PIRQ port pending. It
   * arrives on the driver domain's CPU (pirq_guest_bind points the IRQ's affinity there) unless the
   * scenario sends it elsewhere (`placement.irqCpu`), and then waking dom0 takes an IPI.
   */
  physicalIrq(dom0: XenDomain, port: Port): void {
    const c = this.cfg.irqCpu ?? dom0.cpuIndex;
    const from = this.cfg.irqCpu === undefined ? undefined : c;
    this.xenQ[c].push((x) => {
      this.counters.interrupts++;
      x.touch('xen');
      x.cost('pirqRoute');
      dom0.evtchn.setPending(port, from);
    });
    this.kick(c);
  }

  /**
   * vcpu_kick / vcpu_wake of k by something running on CPU `from` (an event-channel send, a routed
   * interrupt). On k's own CPU, or with no CPU named, the CPU just looks at its run queue. From
   * another CPU, Xen interrupts k's CPU with an IPI when that CPU must act now: it is idle, it runs
   * k (which must notice the event), or the woken k preempts what it runs (the policy's tickle);
   * otherwise k waits in the run queue for that CPU's next decision.
   */
  wake(k: XenDomain, from?: number): void {
    const c = k.cpuIndex;
    if (from === undefined || from === c) { super.wake(k); return; }
    const wasBlocked = k.runState === 'blocked';
    const running = k.runState === 'running';
    this.noteWake(k);
    if (!this.canRun(k)) return;
    if (running || !this.cpus[c].busy || (wasBlocked && this.policy.preempts(k, c))) this.sendIpi(from, c);
  }

  /** smp_send_event_check_cpu: charged on the sender's CPU; the target takes it after the IPI latency. */
  private sendIpi(from: number, to: number): void {
    if (this.ipiPending[to]) return;
    this.ipiPending[to] = true;
    this.counters.ipis++;
    this.xenQ[from].push((x) => { x.touch('xen'); x.cost('ipiSend'); });
    this.kick(from);
    this.sys.send(this.actorName, this.actorName, { type: 'IPI', cpu: to }, this.cpus[from].psFor(this.costs.ipiLatency));
  }
  /** The IPI reaches CPU c (event_check_interrupt): Xen's entry, then c's scheduler looks at its run queue. */
  ipiArrived(c: number): void {
    this.ipiPending[c] = false;
    this.xenQ[c].push((x) => { x.touch('xen'); x.cost('ipiReceive'); });
    this.kick(c);
  }

  protected fill(c: number): Exec | null {
    const now = this.sys.sched.now;
    const policy = this.policy;
    // The vCPU time since the last decision on c goes to the domain that had it (Xen's slices don't).
    const b = this.burning[c];
    if (b) {
      this.runningPs.set(b, (this.runningPs.get(b) ?? 0) + now - this.burnFrom[c]);
      policy.ran?.(b, c, this.burnFrom[c], now);
    }
    this.burning[c] = null;
    const job = this.xenQ[c].shift();
    if (job) {
      const x = this.newExec(c, null);
      job(x);
      this.tellCpu(c, ENTER_XEN);
      return x;
    }
    const cur = this.current[c];
    const next = policy.pick(c);
    if (!next) {
      if (cur) this.setRunState(cur, this.canRun(cur) ? 'runnable' : 'blocked');
      this.current[c] = null; // the idle domain runs; it keeps the last CR3 (lazy switch)
      return null;
    }
    this.burning[c] = next;
    this.burnFrom[c] = now;
    const x = this.newExec(c, next);
    if (next !== this.lastRun(c)) {
      this.switchTo(x, c, cur, next);
      this.tellCpu(c, { type: 'CONTEXT_SWITCH', to: next.name });
    } else if (next !== cur) this.sliceStart[c] = now;
    this.tellCpu(c, RUN);
    this.setRunState(next, 'running');
    this.current[c] = next;
    this.runKernel(x, next);
    return x;
  }

  /**
   * vCPU time k has had up to now (Xen's runstate time in RUNSTATE_running: the domain's own work and
   * the hypercalls it makes, not Xen's work on no domain's behalf such as IPIs and the idle loop).
   */
  vcpuTime(k: XenDomain): Ps {
    let t = this.runningPs.get(k) ?? 0;
    const c = this.burning.indexOf(k);
    if (c >= 0) t += this.sys.sched.now - this.burnFrom[c];
    return t;
  }

  /** vcpu_wake: a paused or destroyed domain's vCPU stays offline (its events stay pending). */
  protected noteWake(k: XenDomain): void {
    if (this.offline.size !== 0 && this.offline.has(k)) return;
    if (k.runState === 'blocked' && this.policy.wake !== undefined) this.policy.wake(k);
    super.noteWake(k);
  }

  private last: (XenDomain | null)[] = [];
  /** Xen's own random stream for the cache-refill variation. */
  private readonly refillRng = this.sys.rng.for('xen-cache-refill');
  /** Each CPU's run queue: the domains whose vCPU is pinned to it, in creation order (the round-robin order). */
  protected readonly perCpu: XenDomain[][] = [];
  private lastRun(c: number): XenDomain | null { return this.last[c] ?? null; }

  private switchTo(x: Exec, c: number, cur: XenDomain | null, next: XenDomain): void {
    const prev = this.lastRun(c);
    this.counters.domainSwitches++;
    x.as('xen', () => {
      x.touch('xen');
      x.cost('domainSwitch');
      // CR3 write drops non-global entries; if either side maps its kernel global,
      // Xen must also toggle CR4.PGE so one domain's global entries cannot leak into another.
      if (next.vm.globalPages || (prev?.vm.globalPages ?? false)) this.cpus[c].tlb.flushAll();
      else this.cpus[c].tlb.flushNonGlobal();
    });
    // Charged to the incoming domain, which does the refetching; how much was evicted varies.
    const v = (this.cfg.cacheRefillPct ?? 0) / 100;
    if (v > 0) x.charge('cacheRefillPerSwitch', Math.round(x.costs.cacheRefillPerSwitch * (1 + v * (2 * this.refillRng.float() - 1))));
    else x.cost('cacheRefillPerSwitch');
    if (cur && cur !== next) this.setRunState(cur, this.canRun(cur) ? 'runnable' : 'blocked');
    this.last[c] = next;
    this.sliceStart[c] = this.sys.sched.now;
  }

}
