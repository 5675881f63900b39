/**
 * The Xen hypervisor: domain lifecycle (created paused, unpause, pause,
 * destroy), the scheduling mechanism of each physical CPU (what runs, context
 * switches, idle; the policy that chooses is a module of its own:
 * sched-bvt.ts, Xen 2.0's BVT-like default, or sched-credit.ts), cross-CPU
 * notification by IPI, physical interrupt routing to the driver domain, and
 * the hypercalls the network path uses (grant table, mmu_update, memory
 * reservation, event channel send). Each hypercall charges its cost rows to
 * the "xen" account on the calling CPU.
 */
import { setup } from 'xstate';
import type { ActorSystem } from '../actors/runtime.js';
import type { Ps } from '../actors/scheduler.js';
import type { Cpu } from '../hardware/cpu.js';
import { Dispatcher } from '../hardware/dispatch.js';
import type { MachineMemory } from '../hardware/memory.js';
import type { Exec, Kernel } from '../domains/kernel.js';
import type { CostTable } from '../model/costs.js';
import type { Counters } from '../model/counters.js';
import { GrantOps, GrantTable, GNTMAP, GNTST } from './grant-table.js';
import type { Port } from './event-channel.js';
import type { SchedPolicy, SchedView } from './sched.js';
import { BvtPolicy } from './sched-bvt.js';
import { CreditPolicy, type CreditConfig } from './sched-credit.js';

const ENTER_XEN = { type: 'ENTER_XEN' } as const;
const RUN = { type: 'RUN' } as const;
const EINVAL = -22;
const ESRCH = -3;

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
}
/** Maptrack handles per mapping domain: Xen's default opt_max_maptrack_frames (1024) frames of 256 16-byte entries. */
export const MAPTRACK_PER_DOMAIN = 1024 * 256;

export class Xen extends Dispatcher {
  readonly domains: Kernel[] = [];
  readonly grantTables = new Map<number, GrantTable>();
  readonly grants: GrantOps;
  private readonly current: (Kernel | null)[];
  private readonly sliceStart: Ps[];
  private readonly xenQ: Array<Array<(x: Exec) => void>>;
  /** The scheduling policy (what each CPU runs next); this class is the mechanism. */
  readonly policy: SchedPolicy;
  /** More than one CPU: notifications may cross CPUs (IPIs). */
  private readonly smp: boolean;
  /** Per CPU: an IPI is on its way (a second one coalesces, as cpu_raise_softirq does). */
  private readonly ipiPending: boolean[];
  /** Per CPU: the domain whose vCPU time is being burnt, and since when (credit accounting, runstate time). */
  private readonly burning: (Kernel | null)[];
  private readonly burnFrom: Ps[];
  /** vCPU time per domain up to its last decision (runstate_info time[RUNSTATE_running]). */
  private readonly runningPs = new Map<Kernel, Ps>();
  /** Controller pause count per domain (a domain is created with one, and runs when it drops to zero). */
  private readonly pauseCount = new Map<Kernel, number>();
  /** Domains whose vCPU may not run (RUNSTATE_offline): created, paused, dying or dead. */
  private readonly offline = new Set<Kernel>();
  /** Domains destroyed (dying or dead), by domid. */
  private readonly destroyed = new Set<number>();
  /** Dead domains' frames still pinned by others' grant mappings, freed as the mappings go. */
  private readonly zombieFrames = new Map<number, Set<number>>();

  constructor(sys: ActorSystem, cpus: Cpu[], costs: CostTable, counters: Counters,
    readonly mem: MachineMemory, readonly cfg: XenConfig) {
    super(sys, 'xen', cpus, costs, counters);
    this.current = cpus.map(() => null);
    this.sliceStart = cpus.map(() => 0);
    this.xenQ = cpus.map(() => []);
    this.smp = cpus.length > 1;
    this.ipiPending = cpus.map(() => false);
    this.burning = cpus.map(() => null);
    this.burnFrom = cpus.map(() => 0);
    const view: SchedView = {
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
    this.grants = new GrantOps(this.grantTables, {
      ownerOf: (m) => mem.ownerOf(m),
      refCount: (m) => mem.refCount(m),
      transfer: (m, from, to) => mem.transfer(m, from, to),
      domainExists: (d) => this.grantTables.has(d),
      belowMaxPages: (d) => mem.belowMax(d) && !this.destroyed.has(d), // gnttab_transfer refuses a dying recipient
      unpinned: (m) => { if (this.zombieFrames.size) this.putPage(m); },
    }, MAPTRACK_PER_DOMAIN);
  }

  addDomain(k: Kernel): void {
    k.host = this;
    this.domains.push(k);
    (this.perCpu[k.cpuIndex] ??= []).push(k);
    this.grantTables.set(k.domid, new GrantTable(k.domid, 4096, MAPTRACK_PER_DOMAIN));
    // domain_create: built paused; Xen unpauses dom0 at the end of boot, the toolstack the others.
    this.pauseCount.set(k, 1);
    this.offline.add(k);
  }

  /** End of __start_xen: the system is up and dom0 is unpaused. */
  boot(): void {
    super.boot();
    if (this.domains.length) this.unpause(this.domains[0]);
  }

  private byId(domid: number): Kernel | undefined { return this.domains.find((k) => k.domid === domid); }
  /** May this domain's vCPU run now (it has work and is neither paused nor destroyed)? */
  private canRun(k: Kernel): boolean { return k.hasWork() && (this.offline.size === 0 || !this.offline.has(k)); }

  // ---------------- domain lifecycle (XEN_DOMCTL_*, issued by the toolstack in dom0) ----------------
  // Control operations, not on the data path: they charge no cycles. dom0 cannot pause or destroy itself.

  /** XEN_DOMCTL_pausedomain: the vCPU goes offline once its current slice ends; events stay pending. */
  pauseDomain(domid: number): number {
    const k = this.byId(domid);
    if (!k || this.destroyed.has(domid)) return ESRCH;
    if (domid === 0) return EINVAL;
    const n = this.pauseCount.get(k)!;
    this.pauseCount.set(k, n + 1);
    if (n === 0) {
      this.offline.add(k);
      k.runState = 'blocked'; // its actor leaves the runstate region; unpausing re-enters it at blocked
      this.tellDomain(k, { type: 'PAUSE' });
    }
    return 0;
  }
  /** XEN_DOMCTL_unpausedomain: drops one pause; at zero the vCPU is back and woken if it has work. */
  unpauseDomain(domid: number): number {
    const k = this.byId(domid);
    if (!k || this.destroyed.has(domid)) return ESRCH;
    if (domid === 0 || this.pauseCount.get(k) === 0) return EINVAL;
    this.unpause(k);
    return 0;
  }
  private unpause(k: Kernel): void {
    const n = this.pauseCount.get(k)! - 1;
    this.pauseCount.set(k, n);
    if (n > 0) return;
    this.offline.delete(k);
    this.tellDomain(k, { type: 'UNPAUSE' });
    if (k.hasWork()) this.wake(k); // vcpu_wake
  }
  /**
   * XEN_DOMCTL_destroydomain (domain_kill): the domain never runs again; its event channels are
   * closed (interdomain peers revert to unbound), the grant mappings it holds are released, and
   * its memory is relinquished by Xen on its CPU. Frames still mapped by another domain's grant
   * mappings stay allocated to it until unmapped (a zombie's pages).
   */
  destroyDomain(domid: number): number {
    const k = this.byId(domid);
    if (!k || this.destroyed.has(domid)) return ESRCH;
    if (domid === 0) return EINVAL;
    this.destroyed.add(domid);
    this.offline.add(k);
    k.runState = 'blocked';
    this.tellDomain(k, { type: 'DESTROY' });
    // What the guest kernel had queued dies with its vCPU.
    k.irqQ.length = 0;
    k.procQ.length = 0;
    k.evtchn.upcallPending = false;
    // evtchn_destroy
    for (const p of k.evtchn.ports) {
      if (p.closed) continue;
      const b = this.closePort(k, p);
      if (b) this.sys.send(this.actorName, b.channel, { type: 'CLOSE', from: b.end });
    }
    // gnttab_release_mappings
    this.grants.releaseMappings(domid);
    // domain_relinquish_resources: Xen's own work on the domain's CPU; then DOMDYING_dead.
    const c = k.cpuIndex;
    this.xenQ[c].push((x) => {
      x.touch('xen');
      const frames = this.mem.framesOf(domid);
      x.cost('reservationPerPage', frames.length);
      this.zombieFrames.set(domid, new Set(frames));
      for (const f of frames) this.putPage(f);
      x.later(() => this.tellDomain(k, { type: 'RELINQUISHED' }));
    });
    this.kick(c);
    return 0;
  }
  /**
   * put_page for a destroyed domain's frame: once nothing pins it, it goes back to Xen's heap. The
   * last one gone frees the domain itself (its grant table goes; a zombie until then).
   */
  private putPage(mfn: number): void {
    const domid = this.mem.ownerOf(mfn);
    const frames = domid === undefined ? undefined : this.zombieFrames.get(domid);
    if (!frames || !frames.has(mfn) || this.grants.pinned(mfn) || this.mem.refCount(mfn) > 0) return;
    this.mem.release(mfn);
    frames.delete(mfn);
    if (frames.size) return;
    this.zombieFrames.delete(domid!);
    this.grantTables.delete(domid!);
  }

  /**
   * A physical NIC interrupt: Xen acks the line and sets the driver domain's PIRQ port pending. It
   * arrives on the driver domain's CPU (pirq_guest_bind points the IRQ's affinity there) unless the
   * scenario sends it elsewhere (`placement.irqCpu`), and then waking dom0 takes an IPI.
   */
  physicalIrq(dom0: Kernel, port: Port): void {
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
  wake(k: Kernel, from?: number): void {
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
  vcpuTime(k: Kernel): Ps {
    let t = this.runningPs.get(k) ?? 0;
    const c = this.burning.indexOf(k);
    if (c >= 0) t += this.sys.sched.now - this.burnFrom[c];
    return t;
  }

  /** vcpu_wake: a paused or destroyed domain's vCPU stays offline (its events stay pending). */
  protected noteWake(k: Kernel): void {
    if (this.offline.size !== 0 && this.offline.has(k)) return;
    if (k.runState === 'blocked' && this.policy.wake !== undefined) this.policy.wake(k);
    super.noteWake(k);
  }

  private last: (Kernel | null)[] = [];
  /** Xen's own random stream for the cache-refill variation. */
  private readonly refillRng = this.sys.rng.for('xen-cache-refill');
  /** Each CPU's run queue: the domains whose vCPU is pinned to it, in creation order (the round-robin order). */
  private readonly perCpu: Kernel[][] = [];
  private lastRun(c: number): Kernel | null { return this.last[c] ?? null; }

  private switchTo(x: Exec, c: number, cur: Kernel | null, next: Kernel): void {
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

  // ---------------- hypercalls used by the split drivers ----------------

  /** GNTTABOP_map_grant_ref batch (host mapping: installs a PTE per page). */
  grantMap(x: Exec, caller: Kernel, ops: Array<{ dom: number; ref: number; readonly: boolean }>) {
    return this.grantMapFlags(x, caller, ops.map((op) => ({ dom: op.dom, ref: op.ref, flags: GNTMAP.host_map | (op.readonly ? GNTMAP.readonly : 0) })));
  }
  /** GNTMAP_device_map only: pin for DMA, no CPU mapping, so no PTE and no TLB flush later. */
  grantDeviceMap(x: Exec, caller: Kernel, ops: Array<{ dom: number; ref: number }>) {
    return x.hypercall(() => ops.map((op) => {
      this.counters.grantDeviceMaps++;
      x.cost('grantValidatePerOp');
      return this.grants.map(caller.domid, { dom: op.dom, ref: op.ref, flags: 1 | 4 });
    }));
  }
  /** GNTTABOP_unmap_grant_ref batch; a batch that removed host mappings ends with a TLB flush. */
  grantUnmap(x: Exec, caller: Kernel, handles: number[], hostMapped: boolean) {
    const res = x.hypercall(() => handles.map((h) => {
      this.counters.grantUnmaps++;
      x.cost(hostMapped ? 'grantUnmapPerOp' : 'grantValidatePerOp');
      return this.grants.unmap(caller.domid, h);
    }));
    if (hostMapped && handles.length) x.flushTlb();
    return res;
  }
  /** GNTTABOP_copy batch: Xen copies the bytes, so the copy cycles are Xen's. */
  grantCopy(x: Exec, caller: Kernel, ops: Array<Parameters<GrantOps['copy']>[1] & { cold?: boolean; dstCold?: boolean }>) {
    return x.hypercall(() => ops.map((op) => {
      this.counters.grantCopies++;
      x.cost('grantCopyPerOp');
      const r = this.grants.copy(caller.domid, op);
      if (r.status === GNTST.okay) {
        x.copy(op.len, op.cold, op.dstCold);
        if (r.srcFrame !== undefined && r.destFrame !== undefined) this.mem.copy(r.srcFrame, op.source.offset, r.destFrame, op.dest.offset, op.len);
      }
      return r;
    }));
  }
  /** GNTTABOP_transfer batch (page flip). The caller's TLB is flushed once the frames left its physmap. */
  grantTransfer(x: Exec, caller: Kernel, ops: Array<{ mfn: number; domid: number; ref: number }>) {
    const res = x.hypercall(() => ops.map((op) => {
      this.counters.pageFlips++;
      x.cost('pageTransfer');
      const r = this.grants.transfer(caller.domid, op);
      if (r.status !== GNTST.bad_page) { caller.forget(op.mfn); x.cpu.tlb.invalidate(caller.frameTag(op.mfn)); }
      return r;
    }));
    if (ops.length) x.flushTlb();
    return res;
  }
  /** mmu_update / update_va_mapping batch of n PTEs. */
  mmuUpdate(x: Exec, n: number): void {
    if (n <= 0) return;
    x.hypercall(() => { this.counters.mmuUpdates += n; x.cost('mmuUpdatePerPte', n); });
  }
  /** XENMEM_decrease_reservation: hand frames back to Xen (the balloon side of page flipping). */
  decreaseReservation(x: Exec, k: Kernel, frames: number[]): void {
    if (!frames.length) return;
    x.hypercall(() => {
      x.cost('reservationPerPage', frames.length);
      for (const f of frames) { k.forget(f); this.mem.release(f); x.cpu.tlb.invalidate(k.frameTag(f)); }
    });
  }
  /** XENMEM_increase_reservation: take fresh frames from Xen. */
  increaseReservation(x: Exec, k: Kernel, n: number): number[] {
    if (n <= 0) return [];
    return x.hypercall(() => {
      x.cost('reservationPerPage', n);
      const out: number[] = [];
      for (let i = 0; i < n; i++) out.push(this.mem.alloc(k.domid));
      return out;
    });
  }
  /** EVTCHNOP_send: the set-pending happens when the slice completes (message to the channel actor). */
  evtchnSend(x: Exec, from: Kernel, channel: string, end: 'a' | 'b'): void {
    this.counters.notificationsSent++;
    x.hypercall(() => x.cost('evtchnSend'));
    x.later(() => this.sys.send(from.name, channel, this.smp ? { type: 'SEND', from: end, cpu: x.cpu.index } : { type: 'SEND', from: end }));
  }

  // ------- the rest of the guest-visible hypercall surface (used by adversarial guests) -------
  // Every argument a guest passes is validated the way Xen does; errors are return codes, never throws.

  /** Which interdomain channel actor (and which end) a domain's port is bound to. */
  private readonly bound = new Map<Port, { channel: string; end: 'a' | 'b' }>();
  registerChannel(port: Port, channel: string, end: 'a' | 'b'): void { this.bound.set(port, { channel, end }); }
  /** NR_VIRQS; VIRQs below it can be bound once per domain (4.4). */
  static readonly NR_VIRQS = 24;

  /** EVTCHNOP_send on a port number: interdomain -> peer pending; unbound -> dropped; closed, out of range, VIRQ/PIRQ -> -EINVAL. */
  evtchnSendPort(x: Exec, caller: Kernel, port: number): number {
    return x.hypercall(() => {
      x.cost('evtchnSend');
      const p = caller.evtchn.lookup(port);
      if (!p || p.virq !== undefined) return -22;
      const b = this.bound.get(p);
      if (!b) return 0; // unbound: silently dropped
      this.counters.notificationsSent++;
      x.later(() => this.sys.send(caller.name, b.channel, this.smp ? { type: 'SEND', from: b.end, cpu: x.cpu.index } : { type: 'SEND', from: b.end }));
      return 0;
    });
  }
  /** EVTCHNOP_close: the peer end of an interdomain channel reverts to unbound. */
  evtchnClose(x: Exec, caller: Kernel, port: number): number {
    return x.hypercall(() => {
      const p = caller.evtchn.lookup(port);
      if (!p) return -22;
      const b = this.closePort(caller, p);
      if (b) x.later(() => this.sys.send(caller.name, b.channel, { type: 'CLOSE', from: b.end }));
      return 0;
    });
  }
  /** Close one of k's ports; returns its interdomain binding, whose channel actor the caller tells. */
  private closePort(k: Kernel, p: Port) {
    const b = this.bound.get(p);
    this.bound.delete(p);
    k.evtchn.close(p);
    return b;
  }
  /** EVTCHNOP_unmask: only the caller's own open ports. */
  evtchnUnmask(x: Exec, caller: Kernel, port: number): number {
    return x.hypercall(() => {
      const p = caller.evtchn.lookup(port);
      if (!p) return -22;
      caller.evtchn.unmask(p);
      return 0;
    });
  }
  /** EVTCHNOP_alloc_unbound in the caller itself (unprivileged): -ENOSPC once every port is in use. */
  evtchnAllocUnbound(x: Exec, caller: Kernel, remoteDom: number): number {
    return x.hypercall(() => {
      if (!this.grantTables.has(remoteDom)) return -3; // -ESRCH
      const p = caller.evtchn.tryAlloc(`unbound-${remoteDom}`, () => {});
      return p ? p.port : -28;
    });
  }
  /** EVTCHNOP_bind_virq: virq in range and not yet bound, else -EINVAL/-EEXIST; port exhaustion leaves nothing half-bound (XSA-496). */
  evtchnBindVirq(x: Exec, caller: Kernel, virq: number): number {
    return x.hypercall(() => {
      if (!Number.isInteger(virq) || virq < 0 || virq >= Xen.NR_VIRQS) return -22;
      if (caller.evtchn.ports.some((q) => !q.closed && q.virq === virq)) return -17;
      const p = caller.evtchn.tryAlloc(`virq-${virq}`, () => {});
      if (!p) return -28;
      p.virq = virq;
      return p.port;
    });
  }
  /** EVTCHNOP_reset of the caller's own table: every port closed (interdomain peers revert to unbound). */
  evtchnReset(x: Exec, caller: Kernel): number {
    for (const p of caller.evtchn.ports) if (!p.closed) this.evtchnClose(x, caller, p.port);
    return 0;
  }
  /** GNTTABOP_map_grant_ref with the guest's own flags (host and/or device map, readonly). */
  grantMapFlags(x: Exec, caller: Kernel, ops: Array<{ dom: number; ref: number; flags: number }>) {
    return x.hypercall(() => ops.map((op) => {
      this.counters.grantMaps++;
      x.cost('grantMapPerOp');
      return this.grants.map(caller.domid, op);
    }));
  }
  /** GNTTABOP_set_version. */
  grantSetVersion(x: Exec, caller: Kernel, version: number): number {
    return x.hypercall(() => this.grants.setVersion(caller.domid, version));
  }
  /** Ops per slice before a long grant batch is preempted and continued (hypercall_preempt_check). */
  static readonly GNTTAB_PREEMPT_OPS = 128;
  /**
   * GNTTABOP_copy with a batch of any length: Xen works through it in chunks and, when preempted,
   * creates a continuation, so the caller's vCPU re-enters later and other domains get the CPU in
   * between (XSA-318: every op's status is written; a continuation resumes, it never reports success
   * for work not done). `done` gets every status, in order.
   */
  grantCopyBatch(x: Exec, caller: Kernel, ops: Array<Parameters<GrantOps['copy']>[1]>, done: (res: Array<{ status: number }>) => void, acc: Array<{ status: number }> = []): void {
    const chunk = ops.slice(0, Xen.GNTTAB_PREEMPT_OPS);
    for (const r of this.grantCopy(x, caller, chunk)) acc.push({ status: r.status });
    const rest = ops.slice(chunk.length);
    if (rest.length) caller.post({ name: 'gnttab-continuation', run: (cx) => this.grantCopyBatch(cx, caller, rest, done, acc) }, 'irq');
    else done(acc);
  }
}

/**
 * The hypervisor actor: it owns the CPUs' completion events and the IPIs between CPUs. `booting` while
 * the machine is put together (Xen's SYS_STATE_boot: domains are built, dom0
 * is constructed paused); `running` (SYS_STATE_active) from the end of boot,
 * when dom0 is unpaused and the CPUs start taking slices.
 */
export const hypervisorMachine = setup({
  types: {
    context: {} as { host: Dispatcher },
    input: {} as { host: Dispatcher },
    events: {} as { type: 'CPU_DONE'; cpu: number } | { type: 'IPI'; cpu: number } | { type: 'BOOTED' },
  },
  actions: {
    complete: ({ context, event }) => { if (event.type === 'CPU_DONE') context.host.complete(event.cpu); },
    ipi: ({ context, event }) => { if (event.type === 'IPI' && context.host instanceof Xen) context.host.ipiArrived(event.cpu); },
  },
}).createMachine({
  id: 'hypervisor',
  context: ({ input }) => ({ host: input.host }),
  initial: 'booting',
  states: {
    booting: { on: { BOOTED: 'running' } },
    running: { on: { CPU_DONE: { actions: 'complete' }, IPI: { actions: 'ipi' } } },
  },
});
