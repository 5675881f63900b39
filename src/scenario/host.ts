/**
 * One host of a scenario as the toolstack builds it, and what the workload needs on it: the host's
 * toolstack sequence (buildHost), its peers, its guests' vifs on dom0's bridge and the flows of a
 * flow list on them (plugVifs, plugFlows), each kernel's TCP/IP stack (workload), and the TCP ends'
 * actors. build.ts composes these for a scenario of one host, world.ts for every host of a world.
 */
import type { ActorSystem, Interpreter } from '../actors/runtime.js';
import { PS_PER_US } from '../actors/scheduler.js';
import type { Cpu } from '../hardware/cpu.js';
import type { MachineMemory } from '../hardware/memory.js';
import { NicModel } from '../hardware/nic.js';
import type { SwitchModel } from '../hardware/switch.js';
import type { Dispatcher } from '../hardware/dispatch.js';
import type { Exec } from '../core/exec.js';
import { HDR_LEN, PAGE_SIZE } from '../core/packet.js';
import type { Xen } from '../hypervisor/xen.js';
import type { XenConfig } from '../hypervisor/schedule.js';
import { CSCHED_DEFAULT_WEIGHT } from '../hypervisor/sched-credit.js';
import type { Kernel } from '../domains/kernel.js';
import { NetStack } from '../domains/netstack.js';
import { spawnTcpEndpoint } from '../domains/tcp-machine.js';
import { TCP_TIMERS, type TcpReceiver, type TcpSender } from '../domains/tcp.js';
import type { NicDriver } from '../domains/nic-driver.js';
import { Qdisc } from '../domains/netdev.js';
import { Bridge, type BridgeDevice, type BridgePort } from '../domains/bridge.js';
import type { XenStore } from '../domains/xenstored.js';
import { RrLog } from '../domains/netperf-rr.js';
import type { Netfront } from '../channels/netfront.js';
import { PendingPool, type Netback } from '../channels/netback.js';
import type { SharedRing } from '../channels/ring.js';
import { ClientModel } from '../peer/client.js';
import { defaultCosts, FOOTPRINT, type CostTable, type Footprint } from '../model/costs.js';
import type { Counters } from '../model/counters.js';
import { StreamCheck } from '../model/integrity.js';
import { attachNic, createDomain, createHost, type HostConfig, type PhysicalHost } from '../toolstack/host.js';
import { attachVif, type Vif, type VifConfig } from '../toolstack/vif.js';
import { hostOfEndpoint, parseEndpoint, rrOfFlow, rrWorkload, type Scenario } from './schema.js';
import type { Xl } from '../toolstack/xl.js';
import type { LifecycleEvent } from '../toolstack/lifecycle.js';
import type { MigrationResult } from '../toolstack/migration.js';

export interface Built {
  sc: Scenario;
  sys: ActorSystem;
  cpus: Cpu[];
  mem: MachineMemory;
  counters: Counters;
  costs: CostTable;
  host: Dispatcher;
  kernels: Kernel[];
  endpoint: Kernel;           // where netperf runs on the server side
  stacks: Map<Kernel, NetStack>;
  clients: ClientModel[];
  nics: NicModel[];
  netfronts: Netfront[];
  netbacks: Netback[];
  /** xenstored's store (its actor, kind `xenstore`, is spawned last). */
  xenstore: XenStore;
  /** One entry per vif (guest topology): its guest, both ends, the flow it carries, and the adversary if any. */
  vifs: VifInfo[];
  /** Every transmit queue in the machine (stacks, bridge ports, NIC drivers). */
  qdiscs: Qdisc[];
  drivers: NicDriver[];
  /** The pending-slot pools: one shared by every vif, or one per vif (none without guests). */
  pending: PendingPool[];
  xen: Xen | null;
  /** Shared memory pages that hold rings, by machine frame. */
  ringPages: Map<number, SharedRing<unknown, unknown>>;
  /** The first stale translations the TLBs hit (counted as violations `stale-translation`), described. */
  staleTranslations: string[];
  /** The TCP MSS the flows use (the scenario's, capped in receive scenarios to what one receive buffer holds). */
  mss: number;
  /** The end-to-end data check of every TCP receiver (mismatches on honest flows count as violations `data-integrity`). */
  streams: StreamCheck;
  /** Goodput bytes so far at the receiving application. */
  goodputBytes(): number;
  /** Goodput bytes so far of one flow. */
  flowGoodput(flow: number): number;
  /** The transactions of a request/response workload (netperf TCP_RR / UDP_RR), or null for a stream. */
  rr: RrLog | null;
  /** Number of TCP flows (flow f belongs to guest f mod guests in topology guest, or is entry f of the scenario's flow list). */
  flows: number;
  /** A world of several hosts: each host's name, CPUs, hypervisor (or bare-metal dispatcher) and the rest of its machine, in the scenario's order (absent for one host). */
  hosts?: HostView[];
  /** A world's switches (absent for one host). */
  switches?: SwitchModel[];
  /** A world's flows: the MACs of each flow's two ends, as the bridges and switches address them (absent for one host). */
  flowMacs?: Array<{ from: string; to: string }>;
  start(): void;
  /** Stop the traffic sources (applications, clients, adversaries) and the fault injector, so the run can drain. */
  stopSources(): void;
  /** A scenario with lifecycle events: the toolstacks that run them, and the vifs and domains gone. */
  lifecycle?: Lifecycle;
  /** Each save or migration's account, as it goes (scenarios with save or migrate events). */
  migrations?: MigrationResult[];
}

/** The run's side of lifecycle events: each host's toolstack, and what has gone. */
export interface Lifecycle {
  events: LifecycleEvent[];
  toolstacks: Xl<VifInfo>[];
  /** Vifs unplugged (or of destroyed domains), in the order they went. */
  goneVifs: VifInfo[];
  /** Domains destroyed. */
  goneDomains: Set<Kernel>;
  /**
   * Once the sources stopped (Built.stopSources): make the ends of these flows give up (they lost
   * their vif for good). A vif that goes later has its flows given up then.
   */
  abandon: ((flows: number[]) => void) | null;
  /** Flows given up that way (their bytes cannot all arrive: the progress check leaves them out). */
  abandoned: Set<number>;
  /** The sources stopped: the migrations stop sampling their guests' flows (a flow with nothing left to send never moves again). */
  sourcesStopped?: () => void;
}

/** One host of a world as the checks see it: its CPUs, memory, hypervisor, domains (dom0 first), NICs with their drivers, vifs, pending pools and queues. */
export interface HostView {
  name: string; cpus: Cpu[]; dispatcher: Dispatcher; mem: MachineMemory; xen: Xen | null; kernels: Kernel[];
  nics: NicModel[]; drivers: NicDriver[]; vifs: VifInfo[]; pending: PendingPool[]; qdiscs: Qdisc[];
}

/** Every host of a built system: a world's hosts, or the one host (named ''). */
export function hostViews(b: Built): HostView[] {
  return b.hosts ?? [{ name: '', cpus: b.cpus, dispatcher: b.host, mem: b.mem, xen: b.xen, kernels: b.kernels, nics: b.nics, drivers: b.drivers, vifs: b.vifs, pending: b.pending, qdiscs: b.qdiscs }];
}

/** A vif as the scenario uses it: the toolstack's vif, the flow it carries and its queues. */
export interface VifInfo extends Vif {
  /** The flow it carries (with a flow list: the first of its guest's flows, -1 if none), and every flow it carries. */
  flow: number;
  flows: number[];
  /** The guest stack's queue in front of netfront, and the bridge port's queue in front of netback. */
  stackQ: Qdisc; bridgeQ: Qdisc;
  /** Its port on dom0's bridge. */
  port?: BridgePort;
}

/**
 * The CPU domain `domid`'s one vCPU is pinned to (scenario `placement`): dom0 (or native Linux) on
 * `placement.dom0`; guest domid on `placement.guests[domid - 1]`, or round robin, domid mod cpus.
 */
export function cpuOf(sc: Scenario, domid: number): number {
  const p = sc.placement;
  if (domid === 0) return p.dom0;
  return p.guests === 'round-robin' ? domid % sc.machine.cpus : p.guests[domid - 1];
}

/** The hypervisor's configuration from the scenario. */
function xenConfig(sc: Scenario): XenConfig {
  const cr = sc.xen.credit;
  return {
    ctxAllowUs: sc.xen.ctxAllowUs, sliceUs: sc.xen.sliceUs, cacheRefillPct: sc.variability.cacheRefillPct,
    scheduler: sc.xen.scheduler,
    ...(sc.placement.irqCpu !== undefined ? { irqCpu: sc.placement.irqCpu } : {}),
    ...(sc.xen.scheduler === 'credit' ? {
      credit: {
        tickUs: cr.tickUs, ticksPerAcct: cr.ticksPerAcct, tsliceUs: cr.tsliceUs,
        params: (domid: number) => (domid === 0 ? cr.dom0 : cr.guests[domid - 1]) ?? { weight: CSCHED_DEFAULT_WEIGHT, cap: 0 },
      },
    } : {}),
  };
}

/**
 * One physical host as the toolstack builds it, the same calls for every host of a world: power on
 * (CPUs, memory, Xen or bare metal), dom0 (or native Linux) and the guests, the NICs with their
 * drivers and queues. `world`: the prefix of its actors' names and what the world's hosts share.
 */
export function buildHost(sc: Scenario, interpreter: Interpreter, world?: HostConfig['world']) {
  const native = sc.topology === 'native', m = sc.machine, opt = sc.optimizations, pre = world?.prefix ?? '';
  const h = createHost({
    seed: sc.seed, interpreter,
    costs: { ...defaultCosts(), ...sc.costs } as CostTable, footprint: { ...FOOTPRINT, ...sc.footprint } as Footprint,
    cpus: m.cpus, cpuGhz: m.cpuGhz, memoryMiB: m.memoryMiB, tlbEntries: m.tlbEntries, itlbEntries: m.itlbEntries, tlbReplacement: m.tlbReplacement,
    xen: native ? null : xenConfig(sc),
    // Native Linux maps its kernel with superpages and global pages; Xen 2.0 allows neither unless the paper's optimizations are on.
    vm: native ? { superpages: true, globalPages: true } : { superpages: opt.superpages, globalPages: opt.globalPages },
    ...(world ? { world } : {}),
  });
  const { sys, counters } = h;
  const dom0 = createDomain(h, `${pre}${native ? 'linux' : 'dom0'}`, 0, cpuOf(sc, 0));
  const guests = sc.topology === 'guest' ? Array.from({ length: sc.guests }, (_, g) => createDomain(h, `${pre}domU${g + 1}`, g + 1, cpuOf(sc, g + 1))) : [];
  const nics = Array.from({ length: m.nics }, (_, i) => new NicModel(`${pre}eth${i}`, {
    mbps: m.nic.mbps, ringSize: m.nic.ringSize, itrUs: m.nic.itrUs, latencyUs: m.nic.latencyUs,
    features: { csum: m.nic.csumOffload, tso: m.nic.tso && m.nic.sg, sg: m.nic.sg },
    irqJitterUs: sc.variability.irqJitterUs, wireJitterNs: sc.variability.wireJitterNs,
  }, counters, h.mem, sys.rng.for(`${pre}eth${i}-timing`)));
  const drivers = nics.map((nic) => attachNic(h, dom0, nic, 64));
  const nicQ = drivers.map((d) => new Qdisc(d, counters));
  return { h, dom0, guests, nics, drivers, nicQ };
}

/** An external peer host on `nic`'s link, running the far ends of the flows it is given (flows are added by the caller). */
export function peerFor(sc: Scenario, h: PhysicalHost, nic: NicModel, name: string, w: Workload, streams: StreamCheck): ClientModel {
  const m = sc.machine;
  return new ClientModel(name, sc.direction === 'tx' ? 'receiver' : 'sender', {
    mbps: m.nic.mbps, latencyUs: m.nic.latencyUs, turnaroundUs: sc.variability.clientTurnaroundUs, mss: w.mss,
    sndBuf: sc.tcp.sndBufKiB * 1024, rcvBuf: sc.tcp.rcvBufKiB * 1024, ...TCP_TIMERS, congestionControl: sc.tcp.congestionControl,
  }, h.sys, h.counters, streams);
}

export type Workload = ReturnType<typeof workload>;
/** The workload's side of every kernel: one TCP/IP stack each (made on first use), the flows' MSS and role, the RR log. */
export function workload(sc: Scenario, h: Pick<PhysicalHost, 'sys' | 'counters'>, streams: StreamCheck) {
  const { sys, counters } = h;
  const rr = rrWorkload(sc);
  const anyRr = rr !== null || (sc.flows ?? []).some((f) => f.kind !== 'stream');
  const rrLog = anyRr ? new RrLog() : null;
  // TCP MSS negotiation: a receiver advertises what fits its MTU. Receive buffers here are one page
  // each (a NIC rx buffer, a netfront RX slot: multi-slot receive is not modelled), so a frame bigger
  // than a page could not be received whole; in receive scenarios (and RR responses, which come back
  // to the endpoint) the sender's MSS is capped to fit.
  // With a flow list, so is every flow that ends in this host (a guest's netfront posts one page per buffer),
  // and every flow between two hosts of a world (the far host's NIC receives it into one page).
  const capped = sc.direction === 'rx' || anyRr || (sc.flows ?? []).some((f) => parseEndpoint(f.to).kind !== 'peer' || hostOfEndpoint(f.from) !== hostOfEndpoint(f.to));
  const mss = capped ? Math.min(sc.tcp.mss, PAGE_SIZE - HDR_LEN) : sc.tcp.mss;
  const stackCfg = {
    mss, sndBuf: sc.tcp.sndBufKiB * 1024, rcvBuf: sc.tcp.rcvBufKiB * 1024,
    appChunk: sc.tcp.appChunkKiB * 1024, ...TCP_TIMERS, congestionControl: sc.tcp.congestionControl,
  };
  const timerFor = (k: Kernel) => (delayUs: number, fn: (x: Exec) => void) =>
    sys.sched.after(delayUs * PS_PER_US, sys.rankOf(k.name), () => k.post({ name: 'timer', run: fn }, 'irq'));
  const stacks = new Map<Kernel, NetStack>();
  const stackOf = (k: Kernel): NetStack => {
    let s = stacks.get(k);
    if (!s) {
      s = new NetStack(k, k.mem, counters, stackCfg, timerFor(k), streams);
      if (rrLog) s.rr = { cfg: rr, log: rrLog, now: () => sys.sched.now };
      stacks.set(k, s);
    }
    return s;
  };
  const role: 'rr' | 'sender' | 'receiver' = rr ? 'rr' : sc.direction === 'tx' ? 'sender' : 'receiver';
  return { rr, rrLog, mss, stacks, stackOf, role };
}

/**
 * One end of a flow of a flow list: its host's index in the world (0 for the one host), and the host's
 * own kernel (`dom0`: dom0, or a native host's Linux), a guest's index (or -1) or a peer's NIC (or -1).
 */
export interface End {
  host: number; dom0: boolean; guest: number; peer: number;
  /** A guest's end: which of its vifs (`guestN.V`; 0 for `guestN`). */
  vif: number;
  /** A native host's Linux: the NIC its stack sends the flow out of (set by the world, which knows the cables). */
  nic?: number;
}
/** Each flow of a flow list: its ends and its RR parameters (null for a stream). */
export type WorldFlow = { from: End; to: End; rr: ReturnType<typeof rrOfFlow> };
/** The flows of a flow list, their endpoints resolved against the world's host names (none: one host). */
export function flowEnds(list: NonNullable<Scenario['flows']>, hosts: readonly string[] = []): WorldFlow[] {
  const end = (e: string): End => {
    const p = parseEndpoint(e), hn = hostOfEndpoint(e);
    return { host: hn === null ? 0 : hosts.indexOf(hn), dom0: p.kind === 'dom0' || p.kind === 'linux', guest: p.kind === 'guest' ? p.n - 1 : -1, peer: p.kind === 'peer' ? p.n - 1 : -1, vif: p.vif };
  };
  return list.map((fl) => ({ from: end(fl.from), to: end(fl.to), rr: rrOfFlow(fl) }));
}

/** A Xen host's guests on dom0's bridge, each with its vifs (`vifs`, default one) carrying its flows of the flow list; dom0's own interface on the bridge and its queue. */
export interface PluggedHost {
  bridge: Bridge; vifs: VifInfo[]; pending: PendingPool[]; qdiscs: Qdisc[]; nicPorts: BridgePort[]; local: BridgeDevice; localQ: Qdisc;
  /** The vif a guest's end of a flow is on. */
  vifOf(e: End): VifInfo;
}

/**
 * The vifs of a flow list on host `hostIx`: every guest gets `vifs` vifs (default one), each carrying its flows whose endpoint names it (`guestN.V`, `guestN` for vif 0),
 * on the bridge with every NIC (the MACs of the peer on its link behind it); `mac` gives a guest's
 * vif MAC when the world needs one unique across hosts.
 */
export function plugVifs(sc: Scenario, h: PhysicalHost, dom0: Kernel, guests: Kernel[], world: WorldFlow[], hostIx: number, drivers: NicDriver[], nicQ: Qdisc[],
  macs: { vif?: (domid: number, vif: number) => string; peer: (nic: number) => string; dom0: string }, streams: StreamCheck): PluggedHost {
  const { counters } = h;
  const bridge = new Bridge(counters, dom0);
  const nicPorts = drivers.map((d, n) => bridge.addPort(d, nicQ[n], [macs.peer(n)], true));
  const local = bridge.addLocal(macs.dom0, dom0);
  const localQ = new Qdisc(local, counters);
  const shared = sc.netback.pendingRing === 'shared' ? new PendingPool(dom0) : null;
  const pending: PendingPool[] = shared ? [shared] : [];
  const vifs: VifInfo[] = [];
  const qdiscs: Qdisc[] = [];
  const perGuest = sc.vifs ?? 1;
  const here = (e: End, guest: number, vif: number) => e.host === hostIx && e.guest === guest && e.vif === vif;
  guests.forEach((guest, g) => {
    for (let n = 0; n < perGuest; n++) {
      const pool = shared ?? new PendingPool(dom0);
      if (!shared) pending.push(pool);
      // An adversary in place of netfront where the scenario (this host's `hostile`) says so.
      const adversary = sc.hostile.find((a) => a.guest === guest.domid && a.vif === n) ?? null;
      const v = attachVif(h, dom0, guest, n, { ...vifConfig(sc, guest, pool, adversary), ...(macs.vif ? { mac: macs.vif(guest.domid, n) } : {}) });
      const mine = world.flatMap((e, f) => (here(e.from, g, n) || here(e.to, g, n) ? [f] : []));
      v.nf.flows = new Set(mine);
      const bq = new Qdisc(v.nb, counters);
      const port = bridge.addPort(v.nb, bq, [v.mac]);
      const sq = new Qdisc(v.nf, counters);
      qdiscs.push(bq, sq);
      vifs.push(Object.assign(v, { flow: mine[0] ?? -1, flows: mine, stackQ: sq, bridgeQ: bq, port }));
    }
    // Every flow an adversary's own stack ends (on any of its vifs): it may write what it likes into its own buffers.
    if (sc.hostile.some((a) => a.guest === guest.domid)) for (const v of vifs) if (v.guest === guest) for (const f of v.flows) streams.adversaryFlows.add(f);
  });
  return { bridge, vifs, pending, qdiscs: [...qdiscs, localQ], nicPorts, local, localQ, vifOf: (e) => vifs[e.guest * perGuest + e.vif] };
}

/**
 * The flows with an end on host `hostIx`: the bridge learns each flow's two MACs (`macOf`), and a
 * guest's stack runs netperf at `from` (a stream's sender, or the end sending requests) or netserver at `to`.
 */
export function plugFlows(p: PluggedHost, dom0: Kernel, guests: Kernel[], world: WorldFlow[], hostIx: number, w: Workload, macOf: (e: End) => string): void {
  world.forEach((e, f) => {
    if (e.from.host !== hostIx && e.to.host !== hostIx) return;
    p.bridge.addFlow(f, macOf(e.from), macOf(e.to));
    const at = (end: End, role: 'rr' | 'sender' | 'rr-server' | 'receiver') => {
      if (end.host !== hostIx) return;
      if (end.guest >= 0) w.stackOf(guests[end.guest]).attach(f, p.vifOf(end).nf, p.vifOf(end).stackQ, role, e.rr);
      else if (end.dom0) w.stackOf(dom0).attach(f, p.local, p.localQ, role, e.rr);
    };
    at(e.from, e.rr ? 'rr' : 'sender');
    at(e.to, e.rr ? 'rr-server' : 'receiver');
  });
}

/** What the toolstack attaches a guest's vif with: ring size, the optimizations, its pending pool, rate limit, netback timeouts. */
export function vifConfig(sc: Scenario, guest: Kernel, pool: PendingPool, adversary: VifConfig['adversary']): VifConfig {
  const opt = sc.optimizations;
  return {
    ringSize: sc.machine.vifRingSize, offload: opt.vnicOffload, rxCopy: opt.rxCopy,
    txMode: opt.txNoRemap ? 'noremap' : 'map', rxCopyVia: opt.rxCopyVia, pending: pool,
    rate: sc.netback.rateLimits.find((r) => r.guest === guest.domid) ?? null,
    opts: {
      rxDrainUs: sc.netback.rxDrainMs * 1000, rxStallUs: sc.netback.rxStallMs * 1000,
      rxPollUs: sc.netback.rxPollMs * 1000, lateEoiTickUs: sc.netback.lateEoiTickUs, validate: sc.netback.validate,
    },
    adversary,
  };
}

/** One actor per TCP flow endpoint, holding its control state; spawned after every other actor but the vifs', CPUs' and xenstored. A TCP_RR end has both halves (its receiver's actor is `...-tcpN-rx`); a UDP_RR end has none. */
export function spawnTcpEnds(h: PhysicalHost, stacks: Map<Kernel, NetStack>, clients: ClientModel[]): void {
  const spawnEnds = (name: string, e: { sender?: TcpSender | null; receiver?: TcpReceiver<unknown> | null }) => {
    if (e.sender && e.receiver) { spawnTcpEndpoint(h.sys, name, e.sender); spawnTcpEndpoint(h.sys, `${name}-rx`, e.receiver); }
    else if (e.sender ?? e.receiver) spawnTcpEndpoint(h.sys, name, (e.sender ?? e.receiver)!);
  };
  for (const [k, st] of stacks) for (const s of st.socks.values()) spawnEnds(`${k.name}-tcp${s.flow}`, s);
  for (const c of clients) for (const f of c.flows()) spawnEnds(`${c.name}-tcp${f}`, c.endpoint(f)!);
}

/**
 * Connections of an adversary's domain may never complete (it broke its own channels): both ends of
 * each of its flows give up on them (tcp_retries2, much shortened), so the honest rest of the run can drain.
 */
export function abortAdversaryFlows(sc: Scenario, vifs: readonly VifInfo[], w: Workload, clients: readonly ClientModel[]): void {
  for (const v of vifs) {
    if (!sc.hostile.some((a) => a.guest === v.guest.domid)) continue;
    for (const f of v.flows) abortFlow(w, clients, f);
  }
}

/** Both ends of a flow give up on it: every stack and every external client that runs it. */
export function abortFlow(w: Workload, clients: readonly ClientModel[], flow: number): void {
  for (const s of w.stacks.values()) s.abort(flow);
  for (const c of clients) c.abort(flow);
}

type Adversary = NonNullable<VifInfo['hostile']>;

/**
 * The traffic starts, once every host has booted and unpaused its guests, in this order (it fixes the
 * order of simultaneous first events): each frontend posts its receive buffers, then the applications,
 * the external clients and the adversaries start; then the scenario's lifecycle events are scheduled.
 */
export function startTraffic(sys: ActorSystem, vifs: readonly VifInfo[], w: Workload, clients: readonly ClientModel[], hostiles: readonly Adversary[], schedule: (() => void) | null): void {
  for (const v of vifs) v.nf.kernel.post({ name: `${v.nf.name}-connect`, run: (x) => v.nf.refill(x) }, 'irq');
  for (const s of w.stacks.values()) s.start();
  for (const c of clients) sys.send(c.name, c.name, { type: 'START' });
  for (const a of hostiles) a.start();
  schedule?.();
}

/** The traffic sources stop (applications, external clients, adversaries), so the run can drain. */
export function stopTraffic(w: Workload, clients: readonly ClientModel[], hostiles: readonly Adversary[]): void {
  for (const s of w.stacks.values()) s.stop();
  for (const c of clients) c.stop();
  for (const a of hostiles) a.stop();
}

/** NIC fault injection, in the NICs' own time line; stop() ends it and brings every link back up. */
export function scheduleFaults(sc: Scenario, h: PhysicalHost, nics: NicModel[]) {
  const { sys } = h;
  let on = true;
  for (const fault of sc.faults) {
    const nic = nics[fault.nic];
    sys.sched.at(Math.round(fault.atUs * PS_PER_US), sys.rankOf(nic.name), () => {
      if (!on) return;
      if (fault.kind === 'dma-error') nic.dmaFaults += fault.count;
      else sys.deliverNow(nic.name, nic.name, { type: fault.kind === 'link-down' ? 'LINK_DOWN' : 'LINK_UP' });
    });
  }
  return {
    stop: () => {
      on = false;
      for (const nic of nics) {
        nic.dmaFaults = 0;
        if (!nic.linkUp) sys.deliverNow(nic.name, nic.name, { type: 'LINK_UP' });
      }
    },
  };
}
