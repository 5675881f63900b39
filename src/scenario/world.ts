/**
 * A world of several Xen hosts (scenario `hosts`, `links`, `flows`): every host is built by the same
 * toolstack calls (buildHost, plugVifs, plugFlows), its actors named after it (`host1/dom0`,
 * `host1/eth0`, `host1/vif1.0-back`); NICs named under `links` are cabled to each other, every other
 * NIC has an external peer host on its link (`host1/client0`). A flow between guests of two hosts
 * leaves through the first host's bridge and NIC, crosses the cable, and enters the other's.
 *
 * Each host's bridge learns, on the NIC cabled to another host, every MAC of that host (its guests'
 * vifs and the peers on its other links), so a frame for it goes out there. MACs are unique across
 * the world: a vif is 00:16:3e:HH:DD:VV (host HH, domain DD, vif VV), a peer 02:00:00:HH:00:NN.
 *
 * A native Linux host (`native: true`) has no Xen and no bridge: its one kernel (`c1/linux`) runs its
 * flows on its own stack, each out of the NIC toward the flow's other end (its first cable to that
 * host, or the peer's NIC), with that NIC's MAC, 02:00:00:HH:fe:NN; it forwards nothing.
 *
 * Actor creation order, which fixes the tie-break order of simultaneous events: each host in turn
 * (hypervisor, domains, NICs, vifs' event channels), then every peer, every TCP end, every vif's
 * actors, and each host's CPUs and xenstored.
 */
import type { Interpreter } from '../actors/runtime.js';
import { ActorSystem } from '../actors/runtime.js';
import { cable, FlowMacs, type Mac } from '../hardware/link.js';
import { createSwitch } from '../toolstack/switch.js';
import { StreamCheck } from '../model/integrity.js';
import { newCounters } from '../model/counters.js';
import type { ClientModel } from '../peer/client.js';
import { spawnCpusAndXenstored } from '../toolstack/host.js';
import { connectVifs, spawnVifActors } from '../toolstack/vif.js';
import { attachPeer } from '../toolstack/peer.js';
import { abortAdversaryFlows, abortFlow, buildHost, flowEnds, peerFor, plugFlows, plugVifs, scheduleFaults, spawnTcpEnds, startTraffic, stopTraffic, workload, type Built, type End, type WorldFlow } from './host.js';
import { hostScenario, linkBetween, type Scenario } from './schema.js';
import { abandonLostFlows, attachLifecycle, scenarioEvents } from './lifecycle-host.js';
import { attachImages } from './migrate-host.js';
import type { LifecycleEvent } from '../toolstack/lifecycle.js';

const hex = (v: number) => (v & 255).toString(16).padStart(2, '0');
/** MACs unique across a world: host index (from 1), then the domain and vif, or the peer's NIC. */
const vifMac = (host: number, domid: number, vif: number) => `00:16:3e:${hex(host + 1)}:${hex(domid)}:${hex(vif)}`;
const worldPeerMac = (host: number, nic: number) => `02:00:00:${hex(host + 1)}:00:${hex(nic)}`;
const worldDom0Mac = (host: number) => `02:00:00:${hex(host + 1)}:ff:ff`;
const nativeMac = (host: number, nic: number) => `02:00:00:${hex(host + 1)}:fe:${hex(nic)}`;
/** A MAC as the switch keeps it (a 48-bit number). */
const macNumber = (m: string): Mac => parseInt(m.replace(/:/g, ''), 16);

export function buildWorld(sc: Scenario, interpreter: Interpreter): Built {
  const names = Object.keys(sc.hosts!);
  const sys = new ActorSystem(sc.seed, interpreter);
  const counters = newCounters();
  const staleTranslations: string[] = [];
  const streams = new StreamCheck(counters, () => sys.sched.now);
  const w = workload(sc, { sys, counters }, streams);
  const world = flowEnds(sc.flows!, names);
  const events = scenarioEvents(sc);
  // Each live migration's stream: a TCP flow from the source's dom0 to the destination's, after the scenario's flows.
  const migStreams = migrationStreams(events, names, world);
  const migrating = events.some((e) => e.verb === 'migrate' || e.verb === 'save');
  const swNames = Object.keys(sc.switches);
  // What each cabled NIC (`host/nic`, indices) is cabled to: another host's NIC, or a switch port.
  type Far = { host: number; nic: number } | { sw: number; port: number };
  const cabled = new Map<string, Far>();
  const at = (e: string): Far => {
    const [box, port] = e.split('/');
    return port.startsWith('eth') ? { host: names.indexOf(box), nic: Number(port.slice(3)) } : { sw: swNames.indexOf(box), port: Number(port.slice(1)) };
  };
  for (const l of sc.links) {
    const a = at(l.a), b = at(l.b);
    if ('host' in a) cabled.set(`${a.host}/${a.nic}`, b);
    if ('host' in b) cabled.set(`${b.host}/${b.nic}`, a);
  }
  // Every host by the same calls.
  const hosts = names.map((name, i) => {
    const hs = hostScenario(sc, name);
    const parts = buildHost(hs, interpreter, { prefix: `${name}/`, sys, counters, staleTranslations });
    // A native host has no bridge: its stack sits on its NICs.
    const plugged = hs.topology === 'native' ? null : plugVifs(hs, parts.h, parts.dom0, parts.guests, world, i, parts.drivers, parts.nicQ,
      { vif: (domid, n) => vifMac(i, domid, n), peer: (n) => worldPeerMac(i, n), dom0: worldDom0Mac(i) }, streams);
    return { name, hs, ...parts, plugged };
  });
  // A native host's Linux sends each flow out of the NIC toward its other end: the peer's, or its first cable to the other host.
  for (const e of world) {
    for (const [end, other] of [[e.from, e.to], [e.to, e.from]]) {
      if (end.dom0 && !hosts[end.host].plugged) end.nic = other.host === end.host ? other.peer : linkBetween(sc, names[end.host], names[other.host])![0];
    }
  }
  const macOf = (e: End) => (e.dom0 ? (hosts[e.host].plugged ? worldDom0Mac(e.host) : nativeMac(e.host, e.nic!))
    : e.guest >= 0 ? vifMac(e.host, hosts[e.host].guests[e.guest].domid, e.vif) : worldPeerMac(e.host, e.peer));
  // The switches, then the cables; each host's bridge learns, on a cabled NIC, the MACs of every host beyond it.
  const macsOf = (i: number): string[] => [
    worldDom0Mac(i),
    ...hosts[i].plugged!.vifs.map((v) => v.mac),
    ...hosts[i].nics.flatMap((_, n) => (cabled.has(`${i}/${n}`) ? [] : [worldPeerMac(i, n)])),
  ];
  // The MACs reached through NIC n of host i: everything its bridge forwards to, or only a native host's own NIC.
  const macsBehind = (i: number, n: number): string[] => (hosts[i].plugged ? macsOf(i) : [nativeMac(i, n)]);
  const addressing = new FlowMacs();
  world.forEach((e, f) => addressing.set(f, macNumber(macOf(e.from)), macNumber(macOf(e.to))));
  const switches = swNames.map((name, k) => {
    const c = sc.switches[name];
    const onPort = [...cabled].flatMap(([key, far]) => ('sw' in far && far.sw === k ? [{ at: key.split('/').map(Number), port: far.port }] : []));
    const table = new Map(onPort.flatMap(({ at: [host, nic], port }) => macsBehind(host, nic).map((m) => [macNumber(m), port] as const)));
    return createSwitch(sys, name, {
      ports: Array.from({ length: c.ports }, () => ({ mbps: c.mbps, queueBytes: c.queueKiB * 1024, latencyUs: c.latencyUs })),
      forwardUs: c.forwardUs, fdb: c.fdb === 'static' ? { kind: 'static', table } : { kind: 'learning' },
    }, addressing, counters);
  });
  for (const [key, far] of cabled) {
    const [i, n] = key.split('/').map(Number);
    const p = hosts[i].plugged;
    if ('host' in far) {
      if (i < far.host) cable(hosts[i].nics[n], 0, hosts[far.host].nics[far.nic], 0);
      if (p) for (const mac of macsBehind(far.host, far.nic)) p.bridge.learn(mac, p.nicPorts[n]);
    } else {
      cable(hosts[i].nics[n], 0, switches[far.sw], far.port);
      if (p) {
        for (const [key2, far2] of cabled) {
          const [j, m] = key2.split('/').map(Number);
          if (j !== i && 'sw' in far2 && far2.sw === far.sw) for (const mac of macsBehind(j, m)) p.bridge.learn(mac, p.nicPorts[n]);
        }
      }
    }
  }
  hosts.forEach((x, i) => {
    if (x.plugged) { plugFlows(x.plugged, x.dom0, x.guests, world, i, w, macOf); return; }
    // Native Linux: netperf or netserver on its own stack, on the flow's NIC; frames for no socket of it are dropped there.
    const stack = w.stackOf(x.dom0);
    world.forEach((e, f) => {
      if (e.from.host === i && e.from.dom0) stack.attach(f, x.drivers[e.from.nic!], x.nicQ[e.from.nic!], e.rr ? 'rr' : 'sender', e.rr);
      if (e.to.host === i && e.to.dom0) stack.attach(f, x.drivers[e.to.nic!], x.nicQ[e.to.nic!], e.rr ? 'rr-server' : 'receiver', e.rr);
    });
    for (const d of x.drivers) d.rx = (ex, pkt) => stack.receive(ex, pkt);
  });
  // An external peer on every NIC not cabled to another host, with the far ends of the flows that reach it.
  const peers: Array<{ host: number; nic: number; c: ClientModel }> = [];
  hosts.forEach((x, i) => x.nics.forEach((nic, n) => {
    if (cabled.has(`${i}/${n}`)) return;
    const c = peerFor(x.hs, x.h, nic, `${x.name}/client${n}`, w, streams);
    world.forEach((e, f) => {
      if (e.to.host === i && e.to.peer === n) c.addFlow(f, { role: 'receiver', rr: e.rr });
      else if (e.from.host === i && e.from.peer === n) c.addFlow(f, { role: 'sender', rr: null });
    });
    peers.push({ host: i, nic: n, c: attachPeer(x.h, nic, c) });
  }));
  const clients = peers.map((p) => p.c);
  spawnTcpEnds(hosts[0].h, w.stacks, clients);
  for (const x of hosts) if (x.plugged) spawnVifActors(x.h, x.plugged.vifs);
  for (const x of hosts) spawnCpusAndXenstored(x.h);
  // Each host's NIC faults and adversaries (its own entries of the scenario's `faults` and `hostile`).
  const faults = hosts.map((x) => scheduleFaults(x.hs, x.h, x.nics));
  const hostiles = hosts.flatMap((x) => (x.plugged?.vifs ?? []).flatMap((v) => (v.hostile ? [v.hostile] : [])));

  const flowGoodput = (flow: number): number => {
    // At the end that consumes the flow's data: a stream's receiver, or netperf reading its responses.
    const e = world[flow], at = e.rr ? e.from : e.to;
    if (at.peer >= 0) return peers.find((p) => p.host === at.host && p.nic === at.peer)!.c.flowReceived(flow);
    const st = w.stacks.get(at.dom0 ? hosts[at.host].dom0 : hosts[at.host].guests[at.guest]);
    if (st && !st.receives(flow) && migrating) for (const o of w.stacks.values()) if (o.receives(flow)) return o.flowDelivered(flow); // its guest migrated
    return st?.flowDelivered(flow) ?? 0;
  };
  const listed = sc.flows!.length; // the scenario's flows (migration streams are not its traffic)
  const vifs = hosts.flatMap((x) => x.plugged?.vifs ?? []);
  const first = hosts[0];
  let schedule: (() => void) | null = null;
  const built: Built = {
    sc, sys, cpus: hosts.flatMap((x) => x.h.cpus), mem: first.h.mem, counters, costs: first.h.costs, host: first.h.dispatcher,
    kernels: hosts.flatMap((x) => x.h.kernels), endpoint: first.guests[0] ?? first.dom0, stacks: w.stacks, clients, nics: hosts.flatMap((x) => x.nics),
    netfronts: vifs.map((v) => v.nf), netbacks: vifs.map((v) => v.nb), xenstore: first.h.xenstore, vifs,
    qdiscs: hosts.flatMap((x) => [...x.nicQ, ...(x.plugged?.qdiscs ?? [])]), drivers: hosts.flatMap((x) => x.drivers), pending: hosts.flatMap((x) => x.plugged?.pending ?? []),
    xen: first.h.xen, ringPages: first.h.ringPages, flowGoodput, flows: listed, rr: w.rrLog, staleTranslations, mss: w.mss, streams,
    hosts: hosts.map((x) => ({
      name: x.name, cpus: x.h.cpus, dispatcher: x.h.dispatcher, mem: x.h.mem, xen: x.h.xen, kernels: x.h.kernels, nics: x.nics, drivers: x.drivers,
      vifs: x.plugged?.vifs ?? [], pending: x.plugged?.pending ?? [], qdiscs: [...x.nicQ, ...(x.plugged?.qdiscs ?? [])],
    })), switches,
    flowMacs: world.map((e) => ({ from: macOf(e.from), to: macOf(e.to) })),
    goodputBytes: () => { let n = 0; for (let f = 0; f < listed; f++) n += flowGoodput(f); return n; },
    start: () => {
      for (const x of hosts) if (x.plugged) connectVifs(x.h, x.dom0, x.plugged.vifs);
      // Each host boots (dom0 unpaused), then its toolstack unpauses the guests it built.
      for (const x of hosts) {
        x.h.dispatcher.boot();
        for (const g of x.guests) x.h.xen!.unpauseDomain(g.domid);
      }
      startTraffic(sys, vifs, w, clients, hostiles, schedule);
    },
    stopSources: () => {
      stopTraffic(w, clients, hostiles);
      for (const x of hosts) abortAdversaryFlows(x.hs, x.plugged?.vifs ?? [], w, clients);
      for (const f of faults) f.stop();
      // The ends of flows whose vif (or domain) went away for good give up.
      abandonLostFlows(built, (flow) => abortFlow(w, clients, flow));
    },
  };
  if (events.length) {
    // Native hosts have no toolstack of Xen's: the schema gives events Xen hosts' guests only.
    const parts = hosts.flatMap((x, i) => (x.plugged ? [{
      host: x.name, sc: x.hs, h: x.h, dom0: x.dom0, guests: x.guests, bridge: x.plugged.bridge, vifs: x.plugged.vifs, w,
      shared: x.hs.netback.pendingRing === 'shared' ? x.plugged.pending[0] : null,
      mac: (domid: number, vif: number) => vifMac(i, domid, vif),
    }] : []));
    schedule = attachLifecycle(built, parts, events);
    if (migrating) {
      hosts.forEach((x) => x.plugged?.nicPorts.forEach((port) => x.plugged!.bridge.markUplink(port)));
      attachImages(built, parts, { streams: migStreams, addressing, macNumber });
    }
  }
  return built;
}

/** A flow from dom0 to dom0 for each migrate event (its index -> the flow's number), appended to `world`. */
function migrationStreams(events: readonly LifecycleEvent[], names: readonly string[], world: WorldFlow[]): Map<number, number> {
  const out = new Map<number, number>();
  const dom0 = (host: number): End => ({ host, dom0: true, guest: -1, peer: -1, vif: 0 });
  for (const e of events) {
    if (e.verb !== 'migrate') continue;
    out.set(e.index, world.length);
    world.push({ from: dom0(names.indexOf(e.host!)), to: dom0(names.indexOf(e.to!)), rr: null });
  }
  return out;
}
