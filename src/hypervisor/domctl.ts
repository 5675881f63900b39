/**
 * Xen's domain lifecycle (xen/common/domain.c, domctl.c): a domain is created
 * paused, with its grant table; the toolstack in dom0 unpauses, pauses and
 * destroys it (its event channels closed, its grant mappings released, its
 * memory relinquished, frames others still map kept as a zombie's). Control
 * operations, not on the data path: they charge no cycles but for the
 * relinquishing Xen does on the dying domain's CPU.
 */
import type { ActorSystem } from '../actors/runtime.js';
import type { Cpu } from '../hardware/cpu.js';
import type { MachineMemory } from '../hardware/memory.js';
import type { XenDomain } from './domain.js';
import type { CostTable } from '../model/costs.js';
import type { Counters } from '../model/counters.js';
import { GrantOps, GrantTable, GNTTAB_ENTRIES } from './grant-table.js';
import type { Port } from './event-channel.js';
import { XenSchedule, type XenConfig } from './schedule.js';

const EINVAL = -22;
const ESRCH = -3;

/** Maptrack handles per mapping domain: Xen's default opt_max_maptrack_frames (1024) frames of 256 16-byte entries. */
export const MAPTRACK_PER_DOMAIN = 1024 * 256;

export abstract class XenDomctl extends XenSchedule {
  readonly domains: XenDomain[] = [];
  readonly grantTables = new Map<number, GrantTable>();
  readonly grants: GrantOps;
  /** Controller pause count per domain (a domain is created with one, and runs when it drops to zero). */
  private readonly pauseCount = new Map<XenDomain, number>();
  /** Domains destroyed (dying or dead), by domid. */
  private readonly destroyed = new Set<number>();
  /** Dead domains' frames still pinned by others' grant mappings, freed as the mappings go. */
  private readonly zombieFrames = new Map<number, Set<number>>();
  /** Which interdomain channel actor (and which end) a domain's port is bound to. */
  protected readonly bound = new Map<Port, { channel: string; end: 'a' | 'b' }>();

  constructor(sys: ActorSystem, cpus: Cpu[], costs: CostTable, counters: Counters,
    readonly mem: MachineMemory, cfg: XenConfig) {
    super(sys, cpus, costs, counters, cfg);
    this.grants = new GrantOps(this.grantTables, {
      ownerOf: (m) => mem.ownerOf(m),
      refCount: (m) => mem.refCount(m),
      transfer: (m, from, to) => mem.transfer(m, from, to),
      domainExists: (d) => this.grantTables.has(d),
      belowMaxPages: (d) => mem.belowMax(d) && !this.destroyed.has(d), // gnttab_transfer refuses a dying recipient
      unpinned: (m) => { if (this.zombieFrames.size) this.putPage(m); },
    }, MAPTRACK_PER_DOMAIN);
  }

  addDomain(k: XenDomain): void {
    k.host = this;
    this.domains.push(k);
    (this.perCpu[k.cpuIndex] ??= []).push(k);
    this.grantTables.set(k.domid, new GrantTable(k.domid, GNTTAB_ENTRIES, MAPTRACK_PER_DOMAIN));
    // domain_create: built paused; Xen unpauses dom0 at the end of boot, the toolstack the others.
    this.pauseCount.set(k, 1);
    this.offline.add(k);
  }

  /** End of __start_xen: the system is up and dom0 is unpaused. */
  boot(): void {
    super.boot();
    if (this.domains.length) this.unpause(this.domains[0]);
  }

  protected byId(domid: number): XenDomain | undefined { return this.domains.find((k) => k.domid === domid); }

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
  private unpause(k: XenDomain): void {
    const n = this.pauseCount.get(k)! - 1;
    this.pauseCount.set(k, n);
    if (n > 0) return;
    this.offline.delete(k);
    this.tellDomain(k, { type: 'UNPAUSE' });
    if (k.hasWork()) this.wake(k); // vcpu_wake
  }
  /** Domains shut down by domain_crash, not yet destroyed. */
  private readonly crashed = new Set<number>();
  /** VIRQ_DOM_EXC, bound by xenstored in dom0: a domain shut down (it fires @releaseDomain). */
  domExc: (() => void) | null = null;
  /**
   * domain_crash (xen/common/domain.c): the domain is shut down with SHUTDOWN_crash. Its vCPU never
   * runs again (what it had queued dies with it), it keeps everything it holds until the toolstack
   * destroys it, and dom0 is told (VIRQ_DOM_EXC). Called for a guest kernel's own fault (an oops
   * with panic_on_oops, a triple fault) as for a crash the scenario injects.
   */
  crashDomain(domid: number): number {
    const k = this.byId(domid);
    if (!k || this.destroyed.has(domid) || this.crashed.has(domid)) return ESRCH;
    if (domid === 0) return EINVAL;
    this.crashed.add(domid);
    this.offline.add(k);
    k.runState = 'blocked';
    k.irqQ.length = 0;
    k.procQ.length = 0;
    k.evtchn.upcallPending = false;
    this.tellDomain(k, { type: 'CRASH' });
    this.domExc?.();
    return 0;
  }
  /** XEN_DOMCTL_getdomaininfo's shutdown flag: crashed and not yet destroyed. */
  isCrashed(domid: number): boolean { return this.crashed.has(domid); }
  /** Destroyed (dying or dead). */
  isDestroyed(domid: number): boolean { return this.destroyed.has(domid); }
  /** Dead and gone: its last page is back on Xen's heap and its grant table freed. */
  isReleased(domid: number): boolean { return this.destroyed.has(domid) && !this.grantTables.has(domid); }

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
    this.crashed.delete(domid);
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


  registerChannel(port: Port, channel: string, end: 'a' | 'b'): void { this.bound.set(port, { channel, end }); }
  /** Close one of k's ports; returns its interdomain binding, whose channel actor the caller tells. */
  protected closePort(k: XenDomain, p: Port) {
    const b = this.bound.get(p);
    this.bound.delete(p);
    k.evtchn.close(p);
    return b;
  }
}
