/**
 * One host's toolstack at run time (xl and libxl in dom0), driven by the scenario's events through
 * its actor (lifecycle.ts). Each verb does what libxl does, through the same calls as at boot:
 *
 * - attach (xl network-attach, libxl__device_nic_add): attachVif, the bridge port (the hotplug
 *   script vif-bridge online), the XenBus handshake through xenstored; the frontend posts its
 *   receive buffers once the backend is Connected; the guest's flows of that vif use it again.
 * - detach (xl network-detach, libxl__initiate_device_generic_remove): `online` 0 and the backend's
 *   state Closing in XenStore; the frontend closes (Closing, Closed), netback follows (Closed) and
 *   netback_remove tears the vif down (xenvif_disconnect_data, then xenvif_free once nothing is in
 *   flight: rings unmapped, grant mappings ended, pending slots back, event channel closed); then the
 *   hotplug script takes the port off the bridge, libxl removes both directories, and the frontend,
 *   seeing its device gone, runs xennet_remove (TX buffers released, grants ended, ring pages
 *   freed, event channel closed). What the vif's rings and queues still held is lost with it.
 * - destroy (xl destroy, libxl__destroy_domid): the domain is paused; each vif is removed by force
 *   (`online` 0, the frontend's directory removed: netback sees the frontend gone, closes and
 *   netback_remove runs); once every backend is released, XEN_DOMCTL_destroydomain (its event
 *   channels closed, its own mappings released, its memory relinquished) and the domain's XenStore
 *   directory removed.
 * - crash: Xen's domain_crash; xenstored fires @releaseDomain (VIRQ_DOM_EXC), and the toolstack,
 *   seeing the domain shut down by a crash, destroys it as xl destroy does (on_crash=destroy).
 *
 * A verb is added in TOOLSTACK_VERBS (and in src/scenario/events.ts).
 */
import type { Exec } from '../core/exec.js';
import type { Kernel } from '../domains/kernel.js';
import type { Xs } from '../domains/xenstored.js';
import { XenbusState } from '../channels/netif.js';
import type { PhysicalHost } from './host.js';
import { startHandshake, type Vif } from './vif.js';
import { spawnToolstack, type EventVerb, type LifecycleEvent, type ToolstackActor, type VerbHandler } from './lifecycle.js';
import { domainReleased, vifReleased } from './release.js';

/** What the run built on a host and how the toolstack changes it (src/scenario/lifecycle-host.ts gives it). */
export interface XlHost<V extends Vif = Vif> {
  /** The host's name in a world (null: the scenario's one host). */
  host: string | null;
  h: PhysicalHost;
  dom0: Kernel;
  guests: Kernel[];
  /** The host's vifs as the run knows them (the toolstack adds and removes entries). */
  vifs: V[];
  /** xl network-attach's device setup (attachVif with the scenario's vif configuration), its bridge port, and the guest's flows on it; `instance` keeps actor names unique. */
  plug(guest: Kernel, vif: number, instance: string, mac?: string): V;
  /** The hotplug script's remove (run in dom0): the vif's bridge port and what waits in its queue go. */
  unbridge(v: V, x: Exec): void;
  /** The vif is gone: the run forgets it (its rings' and queues' units counted as lost with it, in `x`'s kernel). */
  forget(v: V, x: Exec | null): void;
  /** A domain is gone: the run forgets it (its flows can no longer complete). */
  forgetDomain(k: Kernel): void;
}

/** What the toolstack found released, or not, once a vif or a domain was gone (read by the stress invariants). */
export interface ReleaseRecord { what: string; at: number; problems: string[] }

/**
 * Save, restore and live migration: the run's side (src/scenario/migrate-host.ts) moves the guest's
 * pages and sockets, which the toolstack layer does not see; it drives this toolstack's calls.
 */
export interface ImageOps {
  migrate(ts: Xl, e: LifecycleEvent): void;
  save(ts: Xl, e: LifecycleEvent): void;
  restore(ts: Xl, e: LifecycleEvent): void;
}

const images = (ts: Xl): ImageOps => {
  if (!ts.images) throw new Error(`${ts.name}: no save/restore/migration on this run`);
  return ts.images;
};

/** The verbs: what the toolstack does for each. */
export const TOOLSTACK_VERBS: Record<EventVerb, VerbHandler<Xl>> = {
  attach: (ts, e) => ts.networkAttach(ts.guest(e.guest), e.vif!),
  detach: (ts, e) => ts.networkDetach(ts.vifOf(ts.guest(e.guest), e.vif!)),
  destroy: (ts, e) => ts.destroy(ts.guest(e.guest)),
  crash: (ts, e) => ts.crash(ts.guest(e.guest)),
  migrate: (ts, e) => images(ts).migrate(ts, e),
  save: (ts, e) => images(ts).save(ts, e),
  restore: (ts, e) => images(ts).restore(ts, e),
};

export class Xl<V extends Vif = Vif> implements ToolstackActor {
  readonly name: string;
  readonly xs: Xs;
  /** Every vif and domain released during the run, with what was found still held (empty: all released). */
  readonly released: ReleaseRecord[] = [];
  /** Domains being destroyed: the vifs whose backends are still being removed. */
  private readonly dying = new Map<Kernel, Set<V>>();
  /** Domains destroyed (from the toolstack's side: destroydomain issued). */
  readonly destroyed = new Set<Kernel>();
  /** How often each vif number of each guest was plugged (for unique actor names). */
  private readonly plugs = new Map<string, number>();
  /** Save, restore and migration, when the run has them. */
  images: ImageOps | null = null;

  constructor(readonly x: XlHost<V>, private readonly events: () => readonly LifecycleEvent[]) {
    this.name = `${x.h.prefix}toolstack`;
    this.xs = x.h.xenstore.domain(x.dom0.name);
    for (const v of x.vifs) {
      this.plugs.set(`${v.guest.domid}.${v.vif}`, 1);
      if (!v.hostile) this.manage(v);
    }
  }

  /** Spawn the actor (after every other) and watch @releaseDomain, as libxl's domain death watch does. */
  spawn(): void {
    spawnToolstack(this.x.h.sys, this, this.events);
    this.xs.watch('@releaseDomain', this.name);
    const xen = this.x.h.xen!;
    xen.domExc = () => this.x.h.xenstore.domain_exc();
  }

  run(e: LifecycleEvent): void { TOOLSTACK_VERBS[e.verb](this, e); }

  watchFired(path: string): void {
    if (path !== '@releaseDomain') return;
    // libxl's domain death watch: a domain shut down by a crash is destroyed (on_crash=destroy).
    const xen = this.x.h.xen!;
    for (const k of this.x.guests) if (xen.isCrashed(k.domid) && !this.dying.has(k)) this.destroy(k);
  }

  guest(n: number): Kernel { return this.x.guests[n - 1]; }
  vifOf(k: Kernel, n: number): V {
    const v = this.x.vifs.find((q) => q.guest === k && q.vif === n);
    if (!v) throw new Error(`${this.name}: ${k.name} has no vif ${n}`);
    return v;
  }

  /** The vif may be unplugged: its XenBus drivers act on closing and removal, and the toolstack hears of each step. */
  private manage(v: V, hotplug = false, then?: (x: Exec) => void): void {
    let refill: (() => void) | null = null;
    if (hotplug) refill = () => v.nf.kernel.post({ name: `${v.nf.name}-connect`, run: (x) => { v.nf.refill(x); then?.(x); } }, 'irq');
    v.life = {
      connected: refill,
      backendRemoved: () => this.backendRemoved(v),
      removed: () => v.guest.post({ name: `${v.nf.name}-remove`, run: (x) => this.frontendRemoved(v, x) }, 'irq'),
    };
  }

  /** Attaches waiting for the device of the same number to finish going (its XenStore directories, grant refs and names). */
  private readonly waitingAttach = new Map<V, () => void>();

  networkAttach(k: Kernel, n: number): void {
    if (this.dying.has(k)) return; // the domain is being destroyed (a deferred attach finds it gone)
    const old = this.x.vifs.find((q) => q.guest === k && q.vif === n);
    if (old) { this.waitingAttach.set(old, () => this.networkAttach(k, n)); return; }
    const key = `${k.domid}.${n}`;
    const times = (this.plugs.get(key) ?? 0) + 1;
    this.plugs.set(key, times);
    const v = this.x.plug(k, n, times > 1 ? `r${times}` : '');
    this.manage(v, true);
    startHandshake(this.x.h, this.x.dom0, [v]);
  }

  /**
   * A resumed guest's vif (after a restore or a migration): the same device setup as a hot-plug with
   * the guest's own MAC; netfront's resume connects it (talk_to_netback: new rings, grants and
   * event channel) and, once the backend is Connected, posts its receive buffers and runs `then`.
   * `resume` runs first, on the new device before its handshake (netfront_resume's walk of the old rings).
   */
  resumeVif(k: Kernel, n: number, mac: string, resume: (v: V) => void, then: (v: V, x: Exec) => void): V {
    const key = `${k.domid}.${n}`;
    const times = (this.plugs.get(key) ?? 0) + 1;
    this.plugs.set(key, times);
    const v = this.x.plug(k, n, times > 1 ? `r${times}` : '', mac);
    resume(v);
    this.manage(v, true, (x) => then(v, x));
    startHandshake(this.x.h, this.x.dom0, [v]);
    return v;
  }

  networkDetach(v: V): void {
    this.xs.transaction((t) => {
      t.write(`${v.back}/online`, 0);
      t.write(`${v.back}/state`, XenbusState.Closing);
    });
  }

  /** udev's remove event after xenvif_free: the hotplug script takes the port off the bridge, then libxl removes both directories. */
  private backendRemoved(v: V): void {
    // The device is unregistered: xenbus drops its watch on the other end (free_otherend_watch).
    v.handshake.bxs.unwatch(`${v.front}/state`, `${v.nb.name}-back`);
    this.x.dom0.post({ name: `${v.nb.name}-hotplug-remove`, run: (x) => {
      this.x.unbridge(v, x);
      this.xs.rm(v.back);
      this.xs.rm(v.front);
      this.unplugged.add(v);
      // A dying guest runs no xennet_remove: the vif is gone with the backend.
      if (this.dying.has(v.guest)) this.vifGone(v, x);
    } }, 'irq');
  }
  /** Vifs whose backend is gone and off the bridge (only the guest's teardown, if it runs, is left). */
  private readonly unplugged = new Set<V>();

  /** xennet_remove in the guest: its device is gone. */
  private frontendRemoved(v: V, x: Exec): void {
    v.handshake.fxs.unwatch(`${v.back}/state`, v.nf.name);
    this.unshare(v);
    v.nf.disconnectBackend(x, v.ports.front.port, v.rings);
    this.vifGone(v, x);
  }

  /** The ring pages are no longer shared pages of the host. */
  private unshare(v: V): void {
    for (const fr of [v.rings.txFrame, v.rings.rxFrame]) if (fr >= 0) this.x.h.ringPages.delete(fr);
  }

  private vifGone(v: V, x: Exec): void {
    if (!this.x.vifs.includes(v)) return; // already gone (a guest's slice may end after its destroy began)
    const h = this.x.h;
    this.unshare(v);
    this.x.forget(v, x);
    const attach = this.waitingAttach.get(v);
    this.waitingAttach.delete(v);
    const dying = this.dying.get(v.guest);
    if (!dying) {
      this.released.push({ what: `${v.nf.name}`, at: h.sys.sched.now, problems: vifReleased(h, v) });
      attach?.();
      return;
    }
    dying.delete(v);
    if (!dying.size) this.destroyDomain(v.guest);
  }

  destroy(k: Kernel): void {
    if (this.dying.has(k)) return;
    const xen = this.x.h.xen!;
    if (!xen.isCrashed(k.domid)) xen.pauseDomain(k.domid);
    const vifs = new Set(this.x.vifs.filter((v) => v.guest === k));
    this.dying.set(k, vifs);
    if (!vifs.size) { this.destroyDomain(k); return; }
    for (const v of vifs) {
      // The paused (or crashed) guest's xenbus never handles another watch event.
      v.handshake.fxs.unwatch(`${v.back}/state`, v.nf.name);
      if (!v.life) this.manage(v);
      // A vif already being detached: its backend is gone (only the guest's teardown was left), or
      // netback_remove will finish it (backendRemoved sees the guest dying).
      if (this.unplugged.has(v)) { this.x.dom0.post({ name: `${v.nb.name}-gone`, run: (x) => this.vifGone(v, x) }, 'irq'); continue; }
      if (v.nb.removing) continue;
      // Forced removal: the frontend's directory goes, so netback sees the frontend gone (Unknown) and closes.
      this.xs.write(`${v.back}/online`, 0);
      this.xs.rm(v.front);
    }
  }

  crash(k: Kernel): void { this.x.h.xen!.crashDomain(k.domid); }

  /** Every backend is released: XEN_DOMCTL_destroydomain, and the domain's XenStore directory goes. */
  private destroyDomain(k: Kernel): void {
    const h = this.x.h;
    h.xen!.destroyDomain(k.domid);
    this.xs.rm(`/local/domain/${k.domid}`);
    this.destroyed.add(k);
    this.x.forgetDomain(k);
  }

  /** The release check of every destroyed domain (run once Xen has relinquished its memory, e.g. at quiescence). */
  checkDestroyed(): ReleaseRecord[] {
    return [...this.destroyed].map((k) => ({ what: k.name, at: this.x.h.sys.sched.now, problems: domainReleased(this.x.h, k, this.x.dom0) }));
  }
}
