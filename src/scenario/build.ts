/**
 * Turn a scenario into a running system: a host built by the toolstack (CPUs
 * and memory, Xen or bare metal, dom0 and the guests, NICs, vifs, the peers on
 * the links), and on it the scenario's workload: one netperf flow per NIC and
 * per guest, with its TCP ends, and the NIC faults. Actor creation order is
 * fixed here, which fixes ranks and therefore the tie-break order of
 * simultaneous events.
 */
import type { Interpreter } from '../actors/runtime.js';
import { resetPacketIds } from '../core/packet.js';
import type { Xen } from '../hypervisor/xen.js';
import type { Kernel } from '../domains/kernel.js';
import type { NicDriver } from '../domains/nic-driver.js';
import { Qdisc } from '../domains/netdev.js';
import { Bridge } from '../domains/bridge.js';
import { PendingPool } from '../channels/netback.js';
import { StreamCheck } from '../model/integrity.js';
import { spawnCpusAndXenstored, type PhysicalHost } from '../toolstack/host.js';
import { attachVif, connectVifs, spawnVifActors } from '../toolstack/vif.js';
import { attachPeer, peerMac } from '../toolstack/peer.js';
import { type Scenario } from './schema.js';
import { buildWorld } from './world.js';
import { abandonLostFlows, attachLifecycle, scenarioEvents } from './lifecycle-host.js';
import { attachImages } from './migrate-host.js';
import { abortAdversaryFlows, abortFlow, buildHost, flowEnds, peerFor, plugFlows, plugVifs, scheduleFaults, spawnTcpEnds, startTraffic, stopTraffic, vifConfig, workload, type Built, type VifInfo, type WorldFlow, type Workload } from './host.js';

export type { Built, VifInfo } from './host.js';

export function build(sc: Scenario, opts: { interpreter?: Interpreter } = {}): Built {
  resetPacketIds();
  if (sc.hosts) return buildWorld(sc, opts.interpreter ?? 'compiled');
  const m = sc.machine;
  const { h, dom0, guests, nics, drivers, nicQ } = buildHost(sc, opts.interpreter ?? 'compiled');
  const { sys, counters } = h;
  const streams = new StreamCheck(counters, () => sys.sched.now);
  const w = workload(sc, h, streams);
  const world = sc.flows ? flowEnds(sc.flows) : null;
  const flows = world ? world.length : sc.topology === 'guest' ? Math.max(m.nics, guests.length) : m.nics;
  const vifs = world ? plugWorld(sc, h, dom0, guests, world, drivers, nicQ, w, streams)
    : sc.topology === 'guest' ? plugGuests(sc, h, dom0, guests, flows, drivers, nicQ, w, streams) : { vifs: [], pending: [], qdiscs: [], bridge: null, shared: null };
  if (sc.topology !== 'guest') for (let f = 0; f < flows; f++) w.stackOf(dom0).attach(f, drivers[f % m.nics], nicQ[f % m.nics], w.role);
  // External client machines, one per NIC, each running the far ends of that NIC's flows.
  const clients = nics.map((nic, n) => {
    const c = peerFor(sc, h, nic, `client${n}`, w, streams);
    c.rr = w.rr;
    if (world) {
      // The peer's ends of the flows that reach it: netserver, a stream's receiver or its sender.
      world.forEach((e, f) => { if (e.to.peer === n) c.addFlow(f, { role: 'receiver', rr: e.rr }); else if (e.from.peer === n) c.addFlow(f, { role: 'sender', rr: null }); });
    } else for (let f = n; f < flows; f += m.nics) c.addFlow(f);
    return attachPeer(h, nic, c);
  });
  spawnTcpEnds(h, w.stacks, clients);
  spawnVifActors(h, vifs.vifs);
  spawnCpusAndXenstored(h);
  const faults = scheduleFaults(sc, h, nics);
  const delivered = (k: Kernel, flow: number): number => {
    const st = w.stacks.get(k);
    if (st && !st.receives(flow) && built.migrations) for (const o of w.stacks.values()) if (o.receives(flow)) return o.flowDelivered(flow); // its guest was restored
    return st?.flowDelivered(flow) ?? 0;
  };
  const flowGoodput = (flow: number): number => {
    if (world) {
      // At the end that consumes the flow's data: a stream's receiver, or netperf reading its responses.
      const e = world[flow], at = e.rr ? e.from : e.to;
      return at.peer >= 0 ? clients[at.peer].flowReceived(flow) : delivered(at.dom0 ? dom0 : guests[at.guest], flow);
    }
    if (sc.direction === 'tx') return clients[flow % m.nics].flowReceived(flow);
    return delivered(sc.topology === 'guest' ? guests[flow % guests.length] : dom0, flow);
  };
  const hostiles = vifs.vifs.flatMap((v) => (v.hostile ? [v.hostile] : []));
  const events = scenarioEvents(sc);
  let schedule: (() => void) | null = null;
  const built: Built = {
    sc, sys, cpus: h.cpus, mem: h.mem, counters, costs: h.costs, host: h.dispatcher, kernels: h.kernels, endpoint: sc.topology === 'guest' ? guests[0] : dom0,
    stacks: w.stacks, clients, nics, netfronts: vifs.vifs.map((v) => v.nf), netbacks: vifs.vifs.map((v) => v.nb), xenstore: h.xenstore, vifs: vifs.vifs,
    qdiscs: [...nicQ, ...vifs.qdiscs], drivers, pending: vifs.pending, xen: h.xen, ringPages: h.ringPages, flowGoodput, flows, rr: w.rrLog,
    staleTranslations: h.staleTranslations, mss: w.mss, streams,
    goodputBytes: world ? () => { let n = 0; for (let f = 0; f < flows; f++) n += flowGoodput(f); return n; } : () => sc.direction === 'tx' ? clients.reduce((n, c) => n + c.received, 0) : [...w.stacks.values()].reduce((n, s) => n + s.delivered(), 0),
    start: () => {
      connectVifs(h, dom0, vifs.vifs);
      // Boot ends (dom0 unpaused), then the toolstack unpauses the guests it built.
      h.dispatcher.boot();
      for (const g of guests) h.xen!.unpauseDomain(g.domid);
      startTraffic(sys, vifs.vifs, w, clients, hostiles, schedule);
    },
    stopSources: () => {
      stopTraffic(w, clients, hostiles);
      // Connections of an adversary's domain may never complete (it broke its own channels): both ends
      // give up on them (tcp_retries2, much shortened), so the honest rest of the run can drain.
      if (world) abortAdversaryFlows(sc, vifs.vifs, w, clients);
      else {
        for (const v of vifs.vifs) {
          if (!sc.hostile.some((a) => a.guest === v.guest.domid)) continue;
          w.stacks.get(v.guest)?.abort(v.flow);
          clients[v.flow % m.nics].abort(v.flow);
        }
      }
      // So do the ends of flows whose vif (or domain) went away for good.
      abandonLostFlows(built, (flow) => abortFlow(w, clients, flow));
      faults.stop();
    },
  };
  // A toolstack that acts during the run: for the scenario's events, and to destroy an adversary's guest when it crashes.
  if ((events.length || sc.hostile.length) && vifs.bridge) {
    const parts = [{ host: null, sc, h, dom0, guests, bridge: vifs.bridge, vifs: vifs.vifs, w, shared: vifs.shared }];
    schedule = attachLifecycle(built, parts, events);
    if (events.some((e) => e.verb === 'save')) attachImages(built, parts, { streams: new Map(), addressing: null, macNumber: () => 0 });
  }
  return built;
}

/**
 * Flow f leaves through NIC f mod nics and belongs to guest f mod guests, over its own vif: the
 * toolstack attaches the vif (an adversary in place of netfront where the scenario says so), the
 * bridge joins it to the NIC, and the guest's stack runs the flow's end.
 */
function plugGuests(sc: Scenario, h: PhysicalHost, dom0: Kernel, guests: Kernel[], flows: number, drivers: NicDriver[], nicQ: Qdisc[],
  w: ReturnType<typeof workload>, streams: StreamCheck) {
  const { counters } = h;
  const bridge = new Bridge(counters, dom0);
  drivers.forEach((d, n) => bridge.addPort(d, nicQ[n], [peerMac(n)]));
  const vifs: VifInfo[] = [];
  const qdiscs: Qdisc[] = [];
  // One pending-slot pool for every vif (Xen 2.0), or one each (netback.pendingRing per-vif).
  const shared = sc.netback.pendingRing === 'shared' ? new PendingPool(dom0) : null;
  const pending: PendingPool[] = shared ? [shared] : [];
  const vifsOf = new Map<Kernel, number>();
  for (let f = 0; f < flows; f++) {
    const n = f % drivers.length;
    const guest = guests[f % guests.length];
    const vif = vifsOf.get(guest) ?? 0;
    vifsOf.set(guest, vif + 1);
    const adversary = sc.hostile.find((a) => a.guest === guest.domid && a.vif === vif) ?? null;
    const pool = shared ?? new PendingPool(dom0);
    if (!shared) pending.push(pool);
    const v = attachVif(h, dom0, guest, vif, vifConfig(sc, guest, pool, adversary));
    v.nf.flows = new Set([f]);
    // Every flow an adversary's own stack ends: it may write what it likes into its own buffers.
    if (sc.hostile.some((a) => a.guest === guest.domid)) streams.adversaryFlows.add(f);
    const bq = new Qdisc(v.nb, counters);
    const port = bridge.addPort(v.nb, bq, [v.mac]);
    bridge.addFlow(f, v.mac, peerMac(n));
    const sq = new Qdisc(v.nf, counters);
    w.stackOf(guest).attach(f, v.nf, sq, w.role);
    qdiscs.push(bq, sq);
    vifs.push(Object.assign(v, { flow: f, flows: [f], stackQ: sq, bridgeQ: bq, port }));
  }
  return { vifs, pending, qdiscs, bridge, shared };
}

/** The MAC of dom0's own interface on its bridge (br0), locally administered. */
const DOM0_MAC = '02:00:00:00:ff:ff';

/** The flow list of a scenario of one host: its vifs and flows on its bridge. */
function plugWorld(sc: Scenario, h: PhysicalHost, dom0: Kernel, guests: Kernel[], world: WorldFlow[], drivers: NicDriver[], nicQ: Qdisc[], w: Workload, streams: StreamCheck) {
  const p = plugVifs(sc, h, dom0, guests, world, 0, drivers, nicQ, { peer: peerMac, dom0: DOM0_MAC }, streams);
  plugFlows(p, dom0, guests, world, 0, w, (e) => (e.dom0 ? DOM0_MAC : e.guest >= 0 ? p.vifOf(e).mac : peerMac(e.peer)));
  return { ...p, shared: sc.netback.pendingRing === 'shared' ? p.pending[0] : null };
}
