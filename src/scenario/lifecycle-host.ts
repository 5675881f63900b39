/**
 * What the toolstack changes in a running scenario when it plugs or unplugs a vif or destroys a
 * domain (src/toolstack/xl.ts): the run's lists of vifs, queues and pending pools, the bridge's
 * ports, the guests' sockets, and the packet ledger (what a vif's rings and queues held when it went
 * is lost with it, counted as dropped `vif-unplugged`). Built only for scenarios with events.
 */
import type { Packet } from '../core/packet.js';
import { free_packet } from '../channels/netback/rx.js';
import type { Kernel } from '../domains/kernel.js';
import { Qdisc } from '../domains/netdev.js';
import type { Bridge } from '../domains/bridge.js';
import { PendingPool } from '../channels/netback.js';
import { drop } from '../model/counters.js';
import type { PhysicalHost } from '../toolstack/host.js';
import { attachVif, spawnVifActors } from '../toolstack/vif.js';
import { Xl, type XlHost } from '../toolstack/xl.js';
import { scheduleEvents } from '../toolstack/lifecycle.js';
import { lifecycleEvents, type LifecycleEvent } from './events.js';
import { hostScenario, vifsOfGuest, type Scenario } from './schema.js';
import { maxVifsPerGuest } from '../toolstack/vif.js';
import { vifConfig, type Built, type Lifecycle, type VifInfo, type Workload } from './host.js';

/** The scenario's events, resolved (src/scenario/events.ts), or an empty list. */
export function scenarioEvents(sc: Scenario): LifecycleEvent[] {
  if (!sc.events.length) return [];
  return lifecycleEvents({
    topology: sc.topology, events: sc.events, run: sc.run, ...(sc.hosts ? { hosts: sc.hosts } : {}),
    guestsOf: (h) => hostScenario(sc, h).guests, bootVifs: (h, g) => vifsOfGuest(hostScenario(sc, h), g),
    maxVifs: maxVifsPerGuest(sc.machine.vifRingSize),
  });
}

/** One host as the toolstack sees it (see XlHost); `b` is filled in once the run is built. */
export interface HostParts {
  host: string | null; sc: Scenario; h: PhysicalHost; dom0: Kernel; guests: Kernel[]; bridge: Bridge;
  vifs: VifInfo[]; w: Workload;
  /** The shared pending pool, or null for one per vif. */
  shared: PendingPool | null;
  /** A vif's MAC when the world fixes one (xl's default otherwise). */
  mac?: (domid: number, vif: number) => string | undefined;
}

/** The toolstack's view of one host, changing the built run `b()`. */
export function xlHost(p: HostParts, b: () => Built & { lifecycle: Lifecycle }): XlHost<VifInfo> {
  const { h, dom0, bridge, w } = p;
  // The flows each vif number of each guest carried at boot: a vif plugged again carries them again.
  const carried = new Map(p.vifs.map((v) => [`${v.guest.domid}.${v.vif}`, v.flows]));
  const remove = <T>(list: T[], x: T) => { const i = list.indexOf(x); if (i >= 0) list.splice(i, 1); };
  return {
    host: p.host, h, dom0, guests: p.guests, vifs: p.vifs,
    plug: (guest, vif, instance, macOverride) => {
      const built = b();
      const pool = p.shared ?? new PendingPool(dom0);
      if (!p.shared) built.pending.push(pool);
      const mac = macOverride ?? p.mac?.(guest.domid, vif);
      const v = attachVif(h, dom0, guest, vif, { ...vifConfig(p.sc, guest, pool, null), instance, ...(mac ? { mac } : {}) });
      const flows = carried.get(`${guest.domid}.${vif}`) ?? [];
      v.nf.flows = new Set(flows);
      const bq = new Qdisc(v.nb, h.counters), sq = new Qdisc(v.nf, h.counters);
      const port = bridge.replug(v.nb, bq, [v.mac]);
      for (const f of flows) w.stackOf(guest).rebind(f, v.nf, sq);
      const info = Object.assign(v, { flow: flows[0] ?? -1, flows, stackQ: sq, bridgeQ: bq, port });
      p.vifs.push(info);
      if (p.vifs !== built.vifs) built.vifs.push(info);
      built.netfronts.push(v.nf);
      built.netbacks.push(v.nb);
      built.qdiscs.push(bq, sq);
      spawnVifActors(h, [v]);
      return info;
    },
    unbridge: (v, x) => {
      if (v.port) bridge.removePort(v.port);
      // What waits for the vif is freed as netback frees a packet it cannot deliver.
      purge(v.bridgeQ, (p) => free_packet(v.nb, x, p));
    },
    forget: (v, x) => {
      const built = b();
      // What the rings still held is lost with the vif (an adversary's rings are outside the ledger).
      if (!v.hostile) drop(h.counters, 'vif-unplugged', (v.nf.txUnits - v.nb.txUnits) + (v.nb.rxUnitsOk - v.nf.rxUnitsTaken));
      purge(v.stackQ, (p) => { if (x) p.release?.(x); });
      remove(p.vifs, v);
      remove(built.vifs, v);
      remove(built.netfronts, v.nf);
      remove(built.netbacks, v.nb);
      remove(built.qdiscs, v.bridgeQ);
      remove(built.qdiscs, v.stackQ);
      if (!p.shared) remove(built.pending, v.nb.pending);
      built.lifecycle.goneVifs.push(v);
      built.lifecycle.abandon?.(lostFlows(built));
    },
    forgetDomain: (k) => { b().lifecycle.goneDomains.add(k); },
  };
}

/** A queue in front of a device that went: its packets are dropped and freed. */
function purge(q: Qdisc, free: (p: Packet) => void): void {
  const lost = q.queue.splice(0);
  if (!lost.length) return;
  drop(q.counters, 'vif-unplugged', lost.length);
  for (const p of lost) free(p);
}

/**
 * Give a built run its toolstacks (one per host) and the dispatcher of its events: called by the
 * builders after every other actor is spawned; `start` then schedules the events.
 */
export function attachLifecycle(built: Built, hosts: HostParts[], events: LifecycleEvent[]): () => void {
  const b = built as Built & { lifecycle: Lifecycle };
  b.lifecycle = { events, toolstacks: [], goneVifs: [], goneDomains: new Set(), abandon: null, abandoned: new Set() };
  for (const p of hosts) {
    const xl = new Xl(xlHost(p, () => b), () => events);
    xl.spawn();
    b.lifecycle.toolstacks.push(xl);
  }
  const byHost = new Map(hosts.map((p, i) => [p.host, b.lifecycle.toolstacks[i]]));
  return () => scheduleEvents(b.sys, events, (host) => byHost.get(host)!.name, (e) => byHost.get(e.host)!.guest(e.guest).name);
}

/**
 * The traffic sources stopped: the ends of every flow that lost its vif for good give up (tcp_done
 * after the retries, much shortened, so the run can drain), now and for each vif that goes later.
 */
export function abandonLostFlows(b: Built, abort: (flow: number) => void): void {
  if (!b.lifecycle) return;
  const l = b.lifecycle;
  l.abandon = (flows) => { for (const f of flows) { l.abandoned.add(f); abort(f); } };
  l.abandon(lostFlows(b));
  l.sourcesStopped?.();
}

/**
 * Flows whose vif (or domain) went away and that no vif of the same end carries now (one with the
 * gone vif's MAC: plugged again): they cannot complete. In a world the flow's other end may be a
 * guest whose vif still carries it. A guest that a `restore` brings back, or that migrates, is not lost.
 */
export function lostFlows(b: Built): number[] {
  const l = b.lifecycle;
  if (!l) return [];
  const live = new Set(b.vifs.flatMap((v) => v.flows.map((f) => `${v.mac} ${f}`)));
  // (A resumed vif takes on the guest's flows once it is connected: until then only its guest says it will carry them.)
  const resumed = new Set(l.events.filter((e) => e.verb === 'restore' || e.verb === 'migrate').map((e) => l.toolstacks.find((ts) => ts.x.host === e.host)?.guest(e.guest)));
  const lost = l.goneVifs.filter((v) => !resumed.has(v.guest)).flatMap((v) => v.flows.filter((f) => !live.has(`${v.mac} ${f}`)));
  return [...new Set(lost)].sort((a, c) => a - c);
}
