/**
 * Xen's credit scheduler (xen/common/sched_credit.c, Xen 3.0 onwards), for one
 * vCPU per domain pinned to one CPU.
 *
 * - Each domain has a weight (default 256) and a cap (% of one CPU, 0 = none).
 * - Credits are CPU time: 10 credits per ms (CSCHED_CREDITS_PER_MSEC). The
 *   running vCPU is debited for the time it runs (burn_credits, exact to the
 *   picosecond rather than sampled at ticks as Xen 3.0 did).
 * - Every tick (10 ms) the running vCPU loses BOOST and joins the active set
 *   (csched_vcpu_acct); every `ticksPerAcct` ticks (3: 30 ms) csched_acct
 *   shares one accounting period of CPU time among the active vCPUs by weight,
 *   at most cap% of a period to a capped one. Then credit < 0 is OVER (and a
 *   capped vCPU below -cap's credit is parked: it may not run until an
 *   accounting leaves it at credit >= 0); credit >= 0 is UNDER; credit above
 *   one time slice's worth makes the vCPU inactive with its credit reset to 0
 *   (it earns nothing until it runs at a tick again); after the parking
 *   check, credit is clamped at minus one time slice.
 * - A vCPU woken from blocked while UNDER is BOOSTed (csched_vcpu_wake).
 * - The run queue is ordered by priority BOOST > UNDER > OVER, FIFO within a
 *   priority: a vCPU enters at the end of its class when it wakes and when it
 *   is descheduled while still runnable. The running vCPU keeps the CPU until
 *   a runnable vCPU of higher priority appears (tickle), or its 30 ms time
 *   slice ends and one of equal or higher priority waits, or it blocks.
 *   Work-conserving: an OVER vCPU runs when nothing else can, unless parked.
 *
 * Simplifications (docs/smp.md): vCPUs are pinned, so each CPU is its own
 * accounting pool (as a one-CPU cpupool is: its CPU's credit is shared among
 * the vCPUs pinned to it; Xen 3's single pool would also count credit a domain
 * cannot use on another CPU); ticks and accounting are computed lazily at each
 * scheduling decision of the CPU, in order, which gives the same credits as
 * timers would; a priority change at accounting takes effect at the CPU's next
 * decision (slice boundary) rather than at the end of the time slice.
 */
import { PS_PER_MS, PS_PER_US, type Ps } from '../actors/scheduler.js';
import type { Vcpu } from '../core/exec.js';
import type { SchedPolicy, SchedView } from './sched.js';

export const CSCHED_DEFAULT_WEIGHT = 256;
/** 10 credits per ms of CPU time: credits are kept in picoseconds of CPU time, one credit = 100 us. */
export const PS_PER_CREDIT = PS_PER_MS / 10;

export const PRI = { BOOST: 0, UNDER: -1, OVER: -2 } as const;
export type Pri = typeof PRI[keyof typeof PRI];
export const PRI_NAME: Record<Pri, string> = { 0: 'BOOST', [-1]: 'UNDER', [-2]: 'OVER' } as Record<Pri, string>;

export interface CreditConfig {
  /** Scheduler tick, us (CSCHED_MSECS_PER_TICK: 10 ms). */
  tickUs: number;
  /** Ticks per accounting period (CSCHED_TICKS_PER_ACCT: 3). */
  ticksPerAcct: number;
  /** Time slice, us (CSCHED_MSECS_PER_TSLICE: 30 ms). */
  tsliceUs: number;
  /** Weight and cap by domid (missing: weight 256, no cap). */
  params: (domid: number) => { weight: number; cap: number };
}

/** One vCPU's scheduler state (struct csched_vcpu). */
export interface CreditVcpu {
  /** Credit, in ps of CPU time (may be negative). */
  credit: number;
  pri: Pri;
  /** On the active list: earns credit at accounting. */
  active: boolean;
  /** CSCHED_FLAG_VCPU_PARKED: a capped vCPU over its cap, held off the CPU. */
  parked: boolean;
  /** Position in its priority class (lower runs first): a counter stamped when it (re)enters the run queue. */
  queued: number;
  weight: number;
  cap: number;
  /** CPU time it got (ps), for reports and tests. */
  ranPs: number;
}

export class CreditPolicy<V extends Vcpu = Vcpu> implements SchedPolicy<V> {
  readonly name = 'credit' as const;
  private readonly st = new Map<V, CreditVcpu>();
  private readonly tickPs: number;
  private readonly tslicePs: number;
  private readonly acctPs: number;
  /** Per CPU: the next tick to process, its index, and when the running vCPU's time slice began. */
  private readonly nextTick: Ps[];
  private readonly tickNo: number[];
  private readonly tsliceFrom: Ps[];
  private seq = 0;

  constructor(private readonly v: SchedView<V>, cpus: number, private readonly cfg: CreditConfig) {
    this.tickPs = Math.round(cfg.tickUs * PS_PER_US);
    this.tslicePs = Math.round(cfg.tsliceUs * PS_PER_US);
    this.acctPs = this.tickPs * cfg.ticksPerAcct;
    this.nextTick = new Array<Ps>(cpus).fill(this.tickPs);
    this.tickNo = new Array<number>(cpus).fill(0);
    this.tsliceFrom = new Array<Ps>(cpus).fill(0);
  }

  /** The vCPU's state (created on first use: credit 0, UNDER, inactive, as csched_alloc_vdata leaves it). */
  vcpu(k: V): CreditVcpu {
    let s = this.st.get(k);
    if (!s) {
      const p = this.cfg.params(k.domid);
      s = { credit: 0, pri: PRI.UNDER, active: false, parked: false, queued: ++this.seq, weight: p.weight, cap: p.cap, ranPs: 0 };
      this.st.set(k, s);
    }
    return s;
  }

  /** csched_vcpu_wake: an UNDER vCPU woken from blocked is boosted, and joins the end of its class. */
  wake(k: V): void {
    const s = this.vcpu(k);
    if (s.pri === PRI.UNDER && !s.parked) s.pri = PRI.BOOST;
    s.queued = ++this.seq;
  }

  /** burn_credits over [t0, t1), with the ticks that fall inside it seeing k running. */
  ran(k: V, c: number, t0: Ps, t1: Ps): void {
    const s = this.vcpu(k);
    s.ranPs += t1 - t0;
    let t = t0;
    while (this.nextTick[c] <= t1) {
      const T = this.nextTick[c];
      if (T > t) { s.credit -= T - t; t = T; }
      this.tick(c, k);
    }
    if (t1 > t) s.credit -= t1 - t;
  }

  /** Ticks of CPU c up to now that no vCPU was running for (idle, or Xen's own work). */
  private catchUp(c: number): void {
    const now = this.v.now();
    while (this.nextTick[c] <= now) this.tick(c, null);
  }

  /** csched_tick on CPU c: csched_vcpu_acct for the running vCPU, and every ticksPerAcct ticks csched_acct. */
  private tick(c: number, running: V | null): void {
    if (running) {
      const s = this.vcpu(running);
      if (s.pri === PRI.BOOST) s.pri = PRI.UNDER;
      s.active = true;
    }
    this.nextTick[c] += this.tickPs;
    if (++this.tickNo[c] % this.cfg.ticksPerAcct === 0) this.acct(c);
  }

  /** csched_acct for CPU c's pool: one period of one CPU's time shared by weight among the active vCPUs. */
  private acct(c: number): void {
    const mine = this.v.onCpu(c);
    let weightTotal = 0;
    for (const k of mine) { const s = this.vcpu(k); if (s.active) weightTotal += s.weight; }
    if (weightTotal === 0) return;
    for (const k of mine) {
      const s = this.vcpu(k);
      if (!s.active) continue;
      let fair = Math.ceil((this.acctPs * s.weight) / weightTotal);
      const capPs = s.cap > 0 ? Math.ceil((this.acctPs * s.cap) / 100) : Infinity;
      if (fair > capPs) fair = capPs;
      s.credit += fair;
      if (s.credit < 0) {
        s.pri = PRI.OVER;
        // Parking looks at the credit before the lower bound (csched_acct's order): clamped first,
        // a debt beyond a cap of one time slice or more could never park.
        if (s.cap > 0 && s.credit < -capPs) s.parked = true;
        if (s.credit < -this.tslicePs) s.credit = -this.tslicePs;
      } else {
        s.pri = PRI.UNDER;
        s.parked = false;
        // Upper bound on credits: the vCPU is not using its share, it stops earning.
        if (s.credit > this.tslicePs) { s.active = false; s.credit = 0; }
      }
    }
  }

  /** csched_acct with every vCPU on k's CPU active: its weight over their weights, at most its cap. */
  guaranteedShare(k: V): number {
    let weightTotal = 0;
    // Read-only: the parameters, without creating a vCPU's state (which would stamp its queue position).
    const params = (d: V) => this.st.get(d) ?? this.cfg.params(d.domid);
    for (const d of this.v.onCpu(k.cpuIndex)) weightTotal += params(d).weight;
    const s = params(k);
    const fair = s.weight / weightTotal;
    return s.cap > 0 ? Math.min(fair, s.cap / 100) : fair;
  }

  private eligible(k: V): boolean { return this.v.canRun(k) && !this.vcpu(k).parked; }

  /** csched_schedule: the highest-priority eligible vCPU, FIFO within a priority; the running one keeps its slice. */
  pick(c: number): V | null {
    const v = this.v;
    this.catchUp(c);
    const now = v.now();
    const cur = v.current(c);
    let best: V | null = null;
    let bs: CreditVcpu | null = null;
    let parkedWork = false;
    for (const k of v.onCpu(c)) {
      if (k === cur) continue;
      if (!v.canRun(k)) continue;
      const s = this.vcpu(k);
      if (s.parked) { parkedWork = true; continue; }
      if (!bs || s.pri > bs.pri || (s.pri === bs.pri && s.queued < bs.queued)) { best = k; bs = s; }
    }
    if (cur && this.eligible(cur)) {
      const cs = this.vcpu(cur);
      const expired = now - this.tsliceFrom[c] >= this.tslicePs;
      if (!bs || bs.pri < cs.pri || (bs.pri === cs.pri && !expired)) {
        if (expired) this.tsliceFrom[c] = now; // a new slice: nobody else is waiting at its priority
        return cur;
      }
      cs.queued = ++this.seq; // descheduled while runnable: to the end of its class
    } else if (cur && v.canRun(cur)) parkedWork = true;
    if (!best) {
      // Only parked vCPUs have work: look again when the next accounting may unpark them.
      if (parkedWork) v.recheckAt(c, this.nextAcct(c));
      return null;
    }
    this.tsliceFrom[c] = now;
    return best;
  }

  /** Virtual time of CPU c's next accounting. */
  private nextAcct(c: number): Ps {
    const left = this.cfg.ticksPerAcct - (this.tickNo[c] % this.cfg.ticksPerAcct);
    return this.nextTick[c] + (left - 1) * this.tickPs;
  }

  /** __runq_tickle: a woken vCPU interrupts CPU c if it outranks what runs there (or c is idle). */
  preempts(k: V, c: number): boolean {
    const cur = this.v.current(c);
    if (!cur) return true;
    const s = this.vcpu(k);
    return !s.parked && s.pri > this.vcpu(cur).pri;
  }

  /** Each vCPU's state, for reports and tests. */
  state(k: V): Readonly<CreditVcpu> { return this.vcpu(k); }
}
