/**
 * Turn a scenario into a running system of actors: CPUs and memory, the
 * hypervisor (or bare metal), kernels, NICs and their drivers, the bridge,
 * netfront/netback pairs with their rings and event channels, and the
 * external clients. Actor creation order is fixed here, which fixes ranks
 * and therefore the tie-break order of simultaneous events.
 */
import { ActorSystem, type Interpreter } from '../actors/runtime.js';
import { PS_PER_US } from '../actors/scheduler.js';
import { Cpu } from '../hardware/cpu.js';
import type { FrameOracle } from '../hardware/tlb.js';
import { MachineMemory } from '../hardware/memory.js';
import { NicModel, nicMachine } from '../hardware/nic.js';
import { ClientModel, clientMachine } from '../hardware/client.js';
import { Kernel, type Exec } from '../domains/kernel.js';
import { domainMachine } from '../domains/domain.js';
import { NetStack } from '../domains/netstack.js';
import { spawnTcpEndpoint } from '../domains/tcp-machine.js';
import type { TcpReceiver, TcpSender } from '../domains/tcp.js';
import { NicDriver } from '../domains/nic-driver.js';
import { Qdisc } from '../domains/netdev.js';
import { Bridge } from '../domains/bridge.js';
import { BareMetal, cpuMachine } from '../domains/native.js';
import { Xen, hypervisorMachine, type XenConfig } from '../hypervisor/xen.js';
import { CSCHED_DEFAULT_WEIGHT } from '../hypervisor/sched-credit.js';
import type { GrantOps } from '../hypervisor/grant-table.js';
import { pcpuMachine } from '../hypervisor/pcpu.js';
import { eventChannelMachine } from '../hypervisor/event-channel.js';
import { Netfront } from '../channels/netfront.js';
import { Netback, PendingPool, type NetbackClock } from '../channels/netback.js';
import { TxCredit, creditFor } from '../channels/netback/credit.js';
import { netbackMachine } from '../channels/netback/machine.js';
import { netback_probe, xenbus_read_driver_state } from '../channels/netback/xenbus.js';
import { netfrontMachine } from '../channels/netfront-machine.js';
import { VifRings, XenbusState, negotiate, type VifFeatures } from '../channels/netif.js';
import { XenStore, type Xs } from '../domains/xenstored.js';
import type { SharedRing } from '../channels/ring.js';
import { createHostile, type Hostile } from '../hostile/netfront.js';
import { defaultCosts, FOOTPRINT, type CostTable, type Footprint } from '../model/costs.js';
import { newCounters, note, type Counters } from '../model/counters.js';
import { StreamCheck } from '../model/integrity.js';
import { HDR_LEN, resetPacketIds } from '../domains/packet.js';
import { PAGE_SIZE } from '../hardware/memory.js';
import type { Dispatcher } from '../hardware/dispatch.js';
import { rrWorkload, type Scenario } from './schema.js';
import { RrLog } from '../domains/netperf-rr.js';

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
  /** Number of TCP flows (flow f belongs to guest f mod guests in topology guest). */
  flows: number;
  start(): void;
  /** Stop the traffic sources (applications, clients, adversaries) and the fault injector, so the run can drain. */
  stopSources(): void;
}

export interface VifInfo {
  guest: Kernel; vif: number; flow: number; nf: Netfront; nb: Netback; rings: VifRings; front: string; back: string; hostile: Hostile | null;
  /** The guest stack's queue in front of netfront, and the bridge port's queue in front of netback. */
  stackQ: Qdisc; bridgeQ: Qdisc;
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

export function build(sc: Scenario, opts: { interpreter?: Interpreter } = {}): Built {
  resetPacketIds();
  const sys = new ActorSystem(sc.seed, opts.interpreter ?? 'compiled');
  const counters = newCounters();
  const costs = { ...defaultCosts(), ...sc.costs } as CostTable;
  const footprint = { ...FOOTPRINT, ...sc.footprint } as Footprint;
  const m = sc.machine;
  const mem = new MachineMemory((m.memoryMiB * 1024 * 1024) / 4096);
  // A domain may reach a frame it owns or holds a live grant mapping of; a TLB hit through an entry
  // for any other frame is a stale translation (a flush missing after a flip or an unmap).
  const staleTranslations: string[] = [];
  let xenGrants: GrantOps | null = null;
  const frameOracle: FrameOracle = {
    reachable: (dom, mfn) => mem.ownerOf(mfn) === dom || (xenGrants !== null && xenGrants.mapsFrame(dom, mfn)),
    stale: (dom, frame, mfn, tag) => {
      note(counters, 'stale-translation');
      if (staleTranslations.length < 16) {
        const owner = mem.ownerOf(frame);
        staleTranslations.push(`domain ${dom} hit TLB entry ${tag.toString(16)} for frame ${frame} (owner ${owner ?? 'none'}, not mapped by it)` +
          `${frame !== mfn ? ` wanting frame ${mfn}` : ''} at ${sys.sched.now} ps`);
      }
    },
  };
  const streams = new StreamCheck(counters, () => sys.sched.now);
  const cpus = Array.from({ length: m.cpus }, (_, i) => new Cpu(i, m.cpuGhz * 1e9, m.tlbEntries, frameOracle, m.itlbEntries, m.tlbReplacement, footprint));
  const opt = sc.optimizations;
  const xenstore = new XenStore(sys);
  const poolPages = 1024;

  const native = sc.topology === 'native';
  const host: Dispatcher = native ? new BareMetal(sys, cpus, costs, counters) : new Xen(sys, cpus, costs, counters, mem, xenConfig(sc));
  sys.spawn(host.actorName, 'hypervisor', hypervisorMachine, { host });
  const xen = native ? null : (host as Xen);
  xenGrants = xen?.grants ?? null;

  // Kernels: native Linux maps its kernel with superpages and global pages; Xen 2.0 allows neither
  // unless the paper's virtual-memory optimizations are on.
  const vm = native ? { superpages: true, globalPages: true } : { superpages: opt.superpages, globalPages: opt.globalPages };
  const kernels: Kernel[] = [];
  const mkKernel = (name: string, domid: number, cpu: number) => {
    const k = new Kernel(name, domid, cpu, !native, vm, mem, poolPages, footprint);
    sys.spawn(name, 'domain', domainMachine, { name });
    if (native) (host as BareMetal).attach(k); else xen!.addDomain(k);
    kernels.push(k);
    return k;
  };
  const dom0 = mkKernel(native ? 'linux' : 'dom0', 0, cpuOf(sc, 0));
  const guests = sc.topology === 'guest'
    ? Array.from({ length: sc.guests }, (_, g) => mkKernel(`domU${g + 1}`, g + 1, cpuOf(sc, g + 1)))
    : [];

  const timerFor = (k: Kernel) => (delayUs: number, fn: (x: Exec) => void) =>
    sys.sched.after(delayUs * PS_PER_US, sys.rankOf(k.name), () => k.post({ name: 'timer', run: fn }, 'irq'));
  // TCP MSS negotiation: a receiver advertises what fits its MTU. Receive buffers here are one page
  // each (a NIC rx buffer, a netfront RX slot: multi-slot receive is not modelled), so a frame bigger
  // than a page could not be received whole; in receive scenarios the sender's MSS is capped to fit.
  const rr = rrWorkload(sc);
  const rrLog = rr ? new RrLog() : null;
  // RR responses come back to the endpoint: its receive buffers are as in an rx stream.
  const mss = sc.direction === 'rx' || rr ? Math.min(sc.tcp.mss, PAGE_SIZE - HDR_LEN) : sc.tcp.mss;
  const stackCfg = {
    mss, sndBuf: sc.tcp.sndBufKiB * 1024, rcvBuf: sc.tcp.rcvBufKiB * 1024,
    appChunk: sc.tcp.appChunkKiB * 1024, delAckUs: 40_000, rtoUs: 200_000, congestionControl: sc.tcp.congestionControl,
  };
  const stacks = new Map<Kernel, NetStack>();
  const stackOf = (k: Kernel) => {
    let s = stacks.get(k);
    if (!s) {
      s = new NetStack(k, mem, counters, stackCfg, timerFor(k), streams);
      if (rr) s.rr = { cfg: rr, log: rrLog!, now: () => sys.sched.now };
      stacks.set(k, s);
    }
    return s;
  };

  // Physical NICs owned by the native kernel / driver domain.
  const nics: NicModel[] = [];
  const drivers: NicDriver[] = [];
  for (let i = 0; i < m.nics; i++) {
    const nic = new NicModel(`eth${i}`, {
      mbps: m.nic.mbps, ringSize: m.nic.ringSize, itrUs: m.nic.itrUs, latencyUs: m.nic.latencyUs,
      features: { csum: m.nic.csumOffload, tso: m.nic.tso && m.nic.sg, sg: m.nic.sg },
      irqJitterUs: sc.variability.irqJitterUs, wireJitterNs: sc.variability.wireJitterNs,
    }, counters, mem, sys.rng.for(`eth${i}-timing`));
    sys.spawn(nic.name, 'nic', nicMachine, { model: nic, sys });
    let eoi: ((x: Exec) => void) | null = null;
    if (xen) eoi = (x) => x.hypercall(() => {}); // PHYSDEVOP_eoi re-enables the line
    const drv = new NicDriver(dom0, nic, sys, counters, 64, eoi);
    if (native) {
      nic.raiseIrq = () => {
        counters.interrupts++;
        dom0.post({ name: `${nic.name}-irq`, run: (x) => { x.touch('irq'); x.cost('interruptEntry'); drv.interrupt(x); } }, 'irq');
      };
    } else {
      const port = dom0.evtchn.alloc(`pirq-${nic.name}`, (x) => drv.interrupt(x));
      nic.raiseIrq = () => xen!.physicalIrq(dom0, port);
    }
    drv.init();
    nics.push(nic);
    drivers.push(drv);
  }

  // One netperf stream per flow: at least one per NIC and one per guest. Flow f leaves through
  // NIC f mod nics; in the guest topology it belongs to guest f mod guests, over its own vif.
  const bridge = sc.topology === 'guest' ? new Bridge(counters) : null;
  const netfronts: Netfront[] = [];
  const netbacks: Netback[] = [];
  const vifs: VifInfo[] = [];
  const hostiles: Hostile[] = [];
  const handshakes: Array<{
    front: string; back: string; offer: VifFeatures; nb: Netback; nf: Netfront; bxs: Xs; fxs: Xs;
    frontendChanged: () => void; backendChanged: () => void;
  }> = [];
  const ringPages = new Map<number, SharedRing<unknown, unknown>>();
  const flows = sc.topology === 'guest' ? Math.max(m.nics, guests.length) : m.nics;
  const nicQ = drivers.map((d) => new Qdisc(d, counters));
  const qdiscs: Qdisc[] = [...nicQ];
  const vifsOf = new Map<Kernel, number>();
  // One pending-slot pool for every vif (Xen 2.0), or one each (netback.pendingRing per-vif).
  const shared = sc.topology === 'guest' && sc.netback.pendingRing === 'shared' ? new PendingPool(dom0) : null;
  const pending: PendingPool[] = shared ? [shared] : [];
  const poolFor = (): PendingPool => { if (shared) return shared; const p = new PendingPool(dom0); pending.push(p); return p; };
  const clockFor = (k: Kernel): NetbackClock => ({ now: () => sys.sched.now, after: (ps, fn) => { sys.sched.after(ps, sys.rankOf(k.name), fn); } });
  const nbOpts = {
    rxDrainUs: sc.netback.rxDrainMs * 1000, rxStallUs: sc.netback.rxStallMs * 1000,
    rxPollUs: sc.netback.rxPollMs * 1000, lateEoiTickUs: sc.netback.lateEoiTickUs,
  };
  for (let f = 0; f < flows; f++) {
    const n = f % m.nics;
    const drv = drivers[n];
    if (sc.topology !== 'guest') {
      const q = nicQ[n];
      stackOf(dom0).attach(f, drv, q, rr ? 'rr' : sc.direction === 'tx' ? 'sender' : 'receiver');
      continue;
    }
    const guest = guests[f % guests.length];
    const vif = vifsOf.get(guest) ?? 0;
    vifsOf.set(guest, vif + 1);
    const rings = new VifRings(m.vifRingSize);
    const front = `/local/domain/${guest.domid}/device/vif/${vif}`;
    const back = `/local/domain/0/backend/vif/${guest.domid}/${vif}`;
    const offer = { sg: opt.vnicOffload, csum: opt.vnicOffload, tso: opt.vnicOffload, rxCopy: opt.rxCopy };
    const feat = negotiate(offer, { sg: opt.vnicOffload, csum: opt.vnicOffload, tso: opt.vnicOffload, rxCopy: opt.rxCopy });
    const chan = `evtchn-vif${guest.domid}.${vif}`;
    const gt = xen!.grantTables.get(guest.domid)!;
    const refs = 2 * rings.tx.size + 3; // TX + RX buffers in flight per vif, and the ring pages
    if (8 + (vif + 1) * refs > gt.entries.length) throw new Error(`domain ${guest.domid}: too many vifs for its grant table`);
    const spec = sc.hostile.find((h) => h.guest === guest.domid && h.vif === vif) ?? null;
    const name = `vif${guest.domid}.${vif}-front`;
    const hostile = spec ? createHostile(spec, name, guest, xen!, gt, 0, rings, feat, chan, counters, 8 + vif * refs) : null;
    const nf = hostile ? hostile.nf : new Netfront(name, guest, xen!, gt, 0, rings, feat, chan, counters, 8 + vif * refs);
    nf.flows = new Set([f]);
    // Every flow an adversary's own stack ends: it may write what it likes into its own buffers.
    if (sc.hostile.some((h) => h.guest === guest.domid)) streams.adversaryFlows.add(f);
    const nb = new Netback(`vif${guest.domid}.${vif}`, dom0, xen!, guest.domid, rings, feat, opt.txNoRemap ? 'noremap' : 'map', opt.rxCopyVia, chan, counters, poolFor());
    nb.clock = clockFor(dom0);
    const rate = sc.netback.rateLimits.find((r) => r.guest === guest.domid);
    if (rate) { const c = creditFor(rate.mbps, rate.intervalMs * 1000); nb.credit = new TxCredit(c.bytes, c.usec, 0); }
    nb.opts = { ...nbOpts };
    nb.adversary = hostile !== null;
    const gPort = guest.evtchn.alloc(`${nf.name}`, (x) => nf.onEvent(x));
    const bPort = dom0.evtchn.alloc(`${nb.name}`, (x) => nb.onEvent(x));
    nb.port = bPort;
    nb.portTable = dom0.evtchn;
    xen!.registerChannel(gPort, chan, 'a');
    xen!.registerChannel(bPort, chan, 'b');
    sys.spawn(chan, 'evtchn', eventChannelMachine, {
      a: { table: guest.evtchn, port: gPort, domain: guest.name },
      b: { table: dom0.evtchn, port: bPort, domain: dom0.name },
    });
    bridge!.addUplink(f, drv, nicQ[n]);
    const bq = new Qdisc(nb, counters);
    bridge!.addVif(f, nb, bq);
    const sq = new Qdisc(nf, counters);
    stackOf(guest).attach(f, nf, sq, rr ? 'rr' : sc.direction === 'tx' ? 'sender' : 'receiver');
    qdiscs.push(bq, sq);
    netfronts.push(nf);
    netbacks.push(nb);
    // The ring pages are real guest frames granted to the backend in the XenBus handshake (taken from
    // the top of memory so that every other allocation is as without them).
    rings.txFrame = mem.allocHigh(guest.domid);
    rings.rxFrame = mem.allocHigh(guest.domid);
    ringPages.set(rings.txFrame, rings.tx as SharedRing<unknown, unknown>);
    ringPages.set(rings.rxFrame, rings.rx as SharedRing<unknown, unknown>);
    const mac = `00:16:3e:${[guest.domid >> 8, guest.domid & 255, vif].map((v) => (v & 255).toString(16).padStart(2, '0')).join(':')}`;
    const info: VifInfo = { guest, vif, flow: f, nf, nb, rings, front, back, hostile, stackQ: sq, bridgeQ: bq };
    vifs.push(info);
    // Each end's connection to xenstored, from its own domain.
    const bxs = xenstore.domain(dom0.name), fxs = xenstore.domain(guest.name);
    const connect = () => nb.connect(bxs, front, back, xen!.grants, (fr) => ringPages.get(fr), gPort.port);
    if (hostile) {
      hostiles.push(hostile);
      hostile.attach({
        sys, xen: xen!, xs: fxs, front, back, rings, ringPages, port: gPort, mac, dom0, kernels,
        switchState: (st) => { nf.switchState(st); fxs.write(`${front}/state`, st); },
        probe: info,
      });
    }
    handshakes.push({
      front, back, offer, nb, nf,
      // What each end's XenBus driver does when its watch on the other end's state node fires.
      frontendChanged: () => nb.frontendChanged(bxs, back, xenbus_read_driver_state(bxs, front), connect, null),
      backendChanged: () => nf.backendChanged(fxs, front, back, () => (hostile ? hostile.publish() : nf.publish(fxs, front, rings, gPort.port, mac))),
      bxs, fxs,
    });
  }

  // External client machines, one per NIC, each running the far ends of that NIC's flows.
  const clients: ClientModel[] = [];
  for (let n = 0; n < m.nics; n++) {
    const c = new ClientModel(`client${n}`, sc.direction === 'tx' ? 'receiver' : 'sender', {
      mbps: m.nic.mbps, latencyUs: m.nic.latencyUs, turnaroundUs: sc.variability.clientTurnaroundUs, mss,
      sndBuf: sc.tcp.sndBufKiB * 1024, rcvBuf: sc.tcp.rcvBufKiB * 1024, rtoUs: 200_000, delAckUs: 40_000,
      congestionControl: sc.tcp.congestionControl,
    }, sys, counters, streams);
    c.rr = rr;
    for (let f = n; f < flows; f += m.nics) c.addFlow(f);
    c.peerNic = nics[n].name;
    nics[n].peer = c.name;
    sys.spawn(c.name, 'client', clientMachine, { model: c });
    clients.push(c);
  }

  // One actor per TCP flow endpoint, holding its control state; spawned after every other actor.
  // A TCP_RR end has both halves (its receiver's actor is `...-tcpN-rx`); a UDP_RR end has none.
  const spawnEnds = (name: string, e: { sender?: TcpSender | null; receiver?: TcpReceiver<unknown> | null }) => {
    if (e.sender && e.receiver) { spawnTcpEndpoint(sys, name, e.sender); spawnTcpEndpoint(sys, `${name}-rx`, e.receiver); }
    else if (e.sender ?? e.receiver) spawnTcpEndpoint(sys, name, (e.sender ?? e.receiver)!);
  };
  for (const [k, st] of stacks) for (const s of st.socks.values()) spawnEnds(`${k.name}-tcp${s.flow}`, s);
  for (const c of clients) for (const f of c.flows()) spawnEnds(`${c.name}-tcp${f}`, c.endpoint(f)!);

  // The vifs' control state as actors, spawned after every other actor (ranks of the rest unchanged).
  // Each is the watcher of its XenBus driver's watch on the other end's state node.
  handshakes.forEach((h) => {
    h.nb.actor = sys.spawn(`${h.nb.name}-back`, 'netback', netbackMachine, { name: h.nb.name, frontendChanged: h.frontendChanged });
  });
  handshakes.forEach((h) => {
    h.nf.actor = sys.spawn(h.nf.name, 'netfront', netfrontMachine, { name: h.nf.name, backendChanged: h.backendChanged });
  });

  // Each CPU's scheduling actor, created after the others so that every other actor keeps its rank.
  host.attachCpus(cpus.map((c) => native
    ? sys.spawn(`cpu${c.index}`, 'cpu', cpuMachine, { cpu: c.index })
    : sys.spawn(`cpu${c.index}`, 'pcpu', pcpuMachine, { cpu: c.index })));

  // xenstored (in dom0, so only under Xen), created last.
  if (!native) xenstore.spawn();

  // NIC fault injection, in the NICs' own time line.
  let faultsOn = true;
  for (const fault of sc.faults) {
    const nic = nics[fault.nic];
    const at = Math.round(fault.atUs * PS_PER_US);
    sys.sched.at(at, sys.rankOf(nic.name), () => {
      if (!faultsOn) return;
      if (fault.kind === 'dma-error') nic.dmaFaults += fault.count;
      else sys.deliverNow(nic.name, nic.name, { type: fault.kind === 'link-down' ? 'LINK_DOWN' : 'LINK_UP' });
    });
  }

  const endpoint = sc.topology === 'guest' ? guests[0] : dom0;
  const flowGoodput = (flow: number): number => {
    if (sc.direction === 'tx') return clients[flow % m.nics].flowReceived(flow);
    const k = sc.topology === 'guest' ? guests[flow % guests.length] : dom0;
    return stacks.get(k)?.flowDelivered(flow) ?? 0;
  };
  return {
    sc, sys, cpus, mem, counters, costs, host, kernels, endpoint, stacks, clients, nics, netfronts, netbacks, xenstore,
    vifs, qdiscs, drivers, pending, xen, ringPages, flowGoodput, flows, rr: rrLog, staleTranslations, mss, streams,
    goodputBytes: () => sc.direction === 'tx'
      ? clients.reduce((n, c) => n + c.received, 0)
      : [...stacks.values()].reduce((n, s) => n + s.delivered(), 0),
    start: () => {
      // The XenBus handshake (2.9), through xenstored at virtual time 0, before anything runs: the
      // toolstack creates both directories (state Initialising); netback_probe advertises the backend's
      // features, goes to InitWait and watches the frontend's state; netfront_probe watches the
      // backend's. The rest follows from the watch events (messages): the frontend, seeing InitWait,
      // writes its keys and Connected; the backend, seeing Connected, maps the rings and connects.
      const toolstack = xenstore.domain(dom0.name);
      for (const h of handshakes) {
        const fdom = h.front.split('/')[3], bdom = h.back.split('/')[3];
        toolstack.write(`${h.front}/backend`, h.back);
        toolstack.write(`${h.front}/backend-id`, bdom);
        toolstack.write(`${h.front}/state`, XenbusState.Initialising);
        toolstack.write(`${h.back}/frontend`, h.front);
        toolstack.write(`${h.back}/frontend-id`, fdom);
        toolstack.write(`${h.back}/state`, XenbusState.Initialising);
      }
      for (const h of handshakes) {
        netback_probe(h.nb, h.bxs, h.front, h.back, h.offer, `${h.nb.name}-back`);
        h.nf.probe(h.fxs, h.back, h.nf.name);
      }
      sys.sched.run(0);
      for (const h of handshakes) {
        if (!h.nb.adversary && !h.nb.connected) throw new Error(`${h.nb.name}: XenBus handshake did not connect (${h.nb.error ?? `backend state ${h.nb.state}`})`);
      }

      // Boot ends (dom0 unpaused), then the toolstack unpauses the guests it built.
      host.boot();
      for (const g of guests) xen!.unpauseDomain(g.domid);
      // Frontends post their receive buffers, then the applications start.
      for (const nf of netfronts) nf.kernel.post({ name: `${nf.name}-connect`, run: (x) => nf.refill(x) }, 'irq');
      for (const s of stacks.values()) s.start();
      for (const c of clients) sys.send(c.name, c.name, { type: 'START' });
      for (const h of hostiles) h.start();
    },
    stopSources: () => {
      for (const s of stacks.values()) s.stop();
      for (const c of clients) c.stop();
      for (const h of hostiles) h.stop();
      // Connections of an adversary's domain may never complete (it broke its own channels): both ends
      // give up on them (tcp_retries2, much shortened), so the honest rest of the run can drain.
      for (const v of vifs) {
        if (!sc.hostile.some((h) => h.guest === v.guest.domid)) continue;
        stacks.get(v.guest)?.abort(v.flow);
        clients[v.flow % m.nics].abort(v.flow);
      }
      faultsOn = false;
      for (const nic of nics) {
        nic.dmaFaults = 0;
        if (!nic.linkUp) sys.deliverNow(nic.name, nic.name, { type: 'LINK_UP' });
      }
    },
  };
}

