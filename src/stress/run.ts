/**
 * Run one stress case and check the invariants of docs/protocol.md 5.3 on it.
 *
 * The case runs its traffic phase, then its sources stop (applications,
 * clients, the adversary, the fault injector) and it drains until no event is
 * left (quiescence). Checked:
 *   - packet conservation (the ledger in Counters.pkt): created + split + injected
 *     = delivered + dropped (each with a reason) + sunk + in flight, with the units
 *     in flight counted place by place (queues, rings, NICs, wire), mid-run and at the end;
 *   - page ownership: every frame has one owner, and at quiescence every frame an honest
 *     domain owns is held by exactly one of its holders (no leak, no double use) (I1, I5);
 *   - no grant leak after quiescence: only ring pages stay mapped, the pending pool is full,
 *     GTF_reading/writing match the live pins (I5, I6);
 *   - exactly one response per consumed request, in the right slot (I4);
 *   - no lost wakeup: at quiescence no ring, queue or NIC holds work (I9);
 *   - progress: every byte each honest flow's application wrote is acknowledged and delivered by then;
 *   - bounded work per pass and bounded per-vif state (I3, I8);
 *   - backend state changes along the allowed edges (I11);
 *   - honest vifs never disabled, packets never cross to another guest (I1, I2);
 *   - no stale translation: no TLB hit through an entry for a data frame its domain no longer owns
 *     or maps by grant (a flush missing after a page flip or a grant unmap) (I1);
 *   - data integrity end to end: every segment an honest TCP receiver hands its application holds
 *     its own stream's bytes from the offset delivered (src/model/integrity.ts);
 *   - the adversary's own expectations (src/hostile) and the honest guests' progress;
 *   - determinism: a replay gives the same result hash (I12).
 */
import { createHash } from 'node:crypto';
import { PS_PER_MS } from '../actors/scheduler.js';
import { build, type Built } from '../scenario/build.js';
import type { Kernel } from '../domains/kernel.js';
import type { Interpreter } from '../actors/runtime.js';
import { parseScenario, type Scenario } from '../scenario/schema.js';
import { BACKEND_EDGES, XEN_NETBK_MAX_HASH_KEY_SIZE, XEN_NETBK_MAX_HASH_MAPPING_SIZE, XEN_NETBK_MCAST_MAX, XenbusState } from '../channels/netif.js';
import { GTF } from '../hypervisor/grant-table.js';
import { I2_CREDIT_PERIODS, type CaseScenario } from './case.js';

/**
 * Honest-progress thresholds, against a control run of the same case where the adversary's guest is
 * honest, over the same measured window (after a 2 ms start-up): together the honest guests move at
 * least HONEST_SHARE of their control goodput, and none of them falls below HONEST_GUEST_SHARE of its
 * own (no starvation). An adversary may legitimately use its share of the CPU and of a shared link
 * (e.g. sending at line rate); it must not take the driver domain or another guest's vif down.
 */
export const HONEST_SHARE = 1 / 3;
export const HONEST_GUEST_SHARE = 0.2;
/** ... applied when the control run moved at least this many MSS segments (smaller samples are noise). */
export const HONEST_MIN_SEGMENTS = 20;
export { I2_CREDIT_PERIODS };
/** Virtual time allowed for draining after the sources stop: long enough for TCP to repair a loss by many timeouts (200 ms each, backed off). */
const DRAIN_PS = 30_000 * PS_PER_MS;

export interface CaseResult {
  ok: boolean;
  failures: string[];
  /** Hash of everything the case produced (trace, counters, per-guest goodput): equal for a replay. */
  hash: string;
  quiescent: boolean;
  traceHash: string;
  events: number;
  goodput: Record<string, number>;
  drops: Record<string, number>;
  violations: Record<string, number>;
  disabled: string[];
  hostile: string | null;
  /** Honest goodput / control goodput, per honest guest (hostile cases). */
  honestShare: Record<string, number>;
  /** Checks that did not apply to this case, and why. */
  notes: string[];
}

const sum = (xs: number[]) => xs.reduce((a, b) => a + b, 0);

/** Packet-ledger units in flight, place by place. */
export function inFlight(b: Built): Record<string, number> {
  const parts: Record<string, number> = {
    qdiscs: sum(b.qdiscs.map((q) => q.queue.length)),
    txRings: 0, rxRings: 0,
    netbackRxQueues: sum(b.netbacks.map((nb) => nb.rxQueueLength())),
    nics: sum(b.nics.map((n) => n.unitsHeld())),
    drivers: sum(b.drivers.map((d) => d.unitsHeld())),
    wire: b.counters.wire.sent - b.counters.wire.arrived,
  };
  for (const v of b.vifs) {
    if (v.hostile) continue; // the adversary's rings are outside the ledger (units are counted at netback)
    parts.txRings += v.nf.txUnits - v.nb.txUnits;
    parts.rxRings += v.nb.rxUnitsOk - v.nf.rxUnitsTaken;
  }
  return parts;
}

function checkConservation(b: Built, when: string, out: string[]): void {
  const c = b.counters.pkt;
  const parts = inFlight(b);
  for (const [k, v] of Object.entries(parts)) if (v < 0) out.push(`${when}: negative in-flight count ${k} = ${v}`);
  const flight = sum(Object.values(parts));
  const lhs = c.created + c.split + c.injected;
  const rhs = c.delivered + c.dropped + c.sunk + flight;
  if (lhs !== rhs) {
    out.push(`${when}: packet conservation broken: created ${c.created} + split ${c.split} + injected ${c.injected} != delivered ${c.delivered} + dropped ${c.dropped} + sunk ${c.sunk} + in flight ${flight} ${JSON.stringify(parts)} (off by ${lhs - rhs})`);
  }
}

function checkPages(b: Built, out: string[]): void {
  const mem = b.mem;
  const owned = sum(b.kernels.map((k) => mem.pages(k.domid)));
  if (owned + mem.freeFrames() > mem.frames) out.push(`pages: ${owned} owned + ${mem.freeFrames()} free > ${mem.frames} frames`);
  // Holder census for the driver domain and the honest guests.
  const hostileDoms = new Set(b.vifs.filter((v) => v.hostile).map((v) => v.guest.domid));
  const holder = new Map<number, string>();
  const hold = (frame: number, who: string, dom: number) => {
    const prev = holder.get(frame);
    if (prev !== undefined) { out.push(`frame ${frame} held twice: ${prev} and ${who}`); return; }
    holder.set(frame, who);
    const o = mem.ownerOf(frame);
    if (o !== dom) out.push(`frame ${frame} held by ${who} (domain ${dom}) but owned by ${o ?? 'nobody'}`);
  };
  for (const k of b.kernels) {
    if (hostileDoms.has(k.domid)) continue;
    for (const f of k.pooledFrames()) hold(f, `${k.name} pool`, k.domid);
    const st = b.stacks.get(k);
    if (st) for (const s of st.socks.values()) for (const f of s.rxFrames) hold(f, `${k.name} socket ${s.flow}`, k.domid);
  }
  const dom0 = b.kernels[0];
  for (const n of b.nics) {
    for (const f of n.rxBuffers) hold(f, `${n.name} rx ring`, dom0.domid);
    for (const p of n.rxDone) for (const f of p.frames) hold(f, `${n.name} rx done`, dom0.domid);
  }
  for (const v of b.vifs) {
    if (v.hostile) continue;
    for (const f of v.nf.postedRxFrames()) hold(f, `${v.nf.name} rx buffer`, v.guest.domid);
    for (const f of [v.rings.txFrame, v.rings.rxFrame]) if (f >= 0) hold(f, `${v.nf.name} ring page`, v.guest.domid);
  }
  for (const k of b.kernels) {
    if (hostileDoms.has(k.domid)) continue;
    const mine = mem.pages(k.domid);
    let held = 0;
    for (const [f] of holder) if (mem.ownerOf(f) === k.domid) held++;
    if (held !== mine) out.push(`page leak: ${k.name} owns ${mine} frames, ${held} of them held by anything`);
  }
}

function checkGrants(b: Built, out: string[]): void {
  const xen = b.xen;
  if (!xen) return;
  const gops = xen.grants;
  const rings = sum(b.netbacks.map((nb) => nb.ringMappings()));
  const dom0Maps = gops.activeMappings(0);
  if (dom0Maps !== rings) out.push(`grant leak: the driver domain holds ${dom0Maps} mappings, ${rings} of them ring pages`);
  for (const k of b.kernels.slice(1)) if (!b.vifs.some((v) => v.hostile && v.guest === k) && gops.activeMappings(k.domid) !== 0) out.push(`grant leak: ${k.name} holds ${gops.activeMappings(k.domid)} mappings`);
  for (const p of b.pending) if (p.free !== p.size) out.push(`pending slots leaked: ${p.size - p.free}`);
  const hostileDoms = new Set(b.vifs.filter((v) => v.hostile).map((v) => v.guest.domid));
  for (const [dom, t] of xen.grantTables) {
    if (hostileDoms.has(dom)) continue; // the adversary scribbles on its own entries
    for (let r = 0; r < t.entries.length; r++) {
      const e = t.entries[r];
      const p = t.pins(r);
      if ((e.flags & 3) !== GTF.permit_access) { if (p.read + p.write) out.push(`I6: d${dom} ref ${r} pinned but not an access grant`); continue; }
      if (!!(e.flags & GTF.reading) !== p.read + p.write > 0 || !!(e.flags & GTF.writing) !== p.write > 0) out.push(`I6: d${dom} ref ${r} flags ${e.flags} with ${p.read} read / ${p.write} write pins`);
    }
  }
  for (const v of b.vifs) if (!v.hostile && v.nf.leakedRefs) out.push(`${v.nf.name}: ${v.nf.leakedRefs} grants the backend kept after answering`);
}

/** Quiescence: nothing left anywhere means no wakeup was lost (I9) and every request got its answer (I4). */
function checkQuiet(b: Built, out: string[]): void {
  const parts = inFlight(b);
  // An adversary's own stack may keep packets its netfront refuses: that queue is the adversary's business.
  // So is what waits on the adversary domain's other vifs: it can break its own event channels (H18's
  // EVTCHNOP_reset closes every port of the domain), and then nothing wakes either end of those rings.
  const hostileDoms = new Set(b.vifs.filter((v) => v.hostile).map((v) => v.guest.domid));
  const ownBusiness = (v: Built['vifs'][number]) => v.hostile !== null || hostileDoms.has(v.guest.domid);
  for (const v of b.vifs) {
    if (!ownBusiness(v)) continue;
    parts.qdiscs -= v.stackQ.queue.length;
    if (!v.hostile) { parts.txRings -= v.nf.txUnits - v.nb.txUnits; parts.rxRings -= v.nb.rxUnitsOk - v.nf.rxUnitsTaken; }
  }
  for (const [k, v] of Object.entries(parts)) if (v !== 0) out.push(`lost wakeup: ${v} packet(s) left in ${k} at quiescence`);
  for (const v of b.vifs) {
    const nb = v.nb;
    if (nb.tx.rspProdPvt !== nb.tx.reqCons) out.push(`I4: ${nb.name} consumed ${nb.tx.reqCons - nb.tx.rspProdPvt} TX requests without answering them`);
    if (nb.rxr.rspProdPvt !== nb.rxr.reqCons) out.push(`I4: ${nb.name} consumed RX requests without answering them`);
    if (ownBusiness(v)) continue;
    if (!nb.connected || nb.disabled) continue;
    if (nb.tx.unconsumedRequests() > 0) out.push(`lost wakeup: ${nb.name} left ${nb.tx.unconsumedRequests()} TX requests in the ring`);
    if (v.nf.tx.unconsumedResponses() > 0 || v.nf.rxr.unconsumedResponses() > 0) out.push(`lost wakeup: ${v.nf.name} left responses unread`);
    if (v.nf.outstandingTx() > 0) out.push(`I4: ${v.nf.name} has ${v.nf.outstandingTx()} packets never answered`);
  }
  for (const n of b.nics) if (n.txRing.length || n.txDone.length || n.rxDone.length) out.push(`lost wakeup: ${n.name} holds ${n.txRing.length}/${n.txDone.length}/${n.rxDone.length} packets`);
}

/**
 * Progress against a bound that does not come from the code under test: every byte an honest flow's
 * application wrote is, once the sources stop and the run drains, acknowledged to the sender and
 * delivered to the receiving application (TCP retransmits whatever was lost). A flow stuck for ever
 * (a lost wakeup inside TCP, a packet lost without retransmission, a starved queue) leaves bytes behind.
 */
function checkStreams(b: Built, out: string[]): void {
  const sc = b.sc;
  const hostileDoms = new Set(b.vifs.filter((v) => v.hostile).map((v) => v.guest.domid));
  const flows = sc.topology === 'guest' ? b.vifs.map((v) => ({ flow: v.flow, k: v.guest })) : [...b.stacks.values()].flatMap((st) => [...st.socks.keys()].map((flow) => ({ flow, k: st.kernel })));
  for (const { flow, k } of flows) {
    if (hostileDoms.has(k.domid)) continue;
    const client = b.clients[flow % sc.machine.nics].endpoint(flow);
    if (b.rr) { checkRr(b, flow, k, out); continue; }
    const snd = sc.direction === 'tx' ? b.stacks.get(k)?.socks.get(flow)?.sender : client?.sender;
    if (!snd) { out.push(`progress: flow ${flow} has no sender`); continue; }
    const got = b.flowGoodput(flow);
    if (snd.sndUna !== snd.written || got !== snd.written) {
      out.push(`progress: flow ${flow} (${k.name}): the application wrote ${snd.written} bytes; ${snd.sndUna} acknowledged, ${got} delivered after draining`);
    }
  }
}

/**
 * The same bound for netperf RR: after draining, every request netperf wrote reached netserver and
 * every response netserver wrote reached netperf, each acknowledged (TCP_RR). UDP_RR has no
 * retransmission: with no packet dropped, every datagram arrived.
 */
function checkRr(b: Built, flow: number, k: Built['kernels'][number], out: string[]): void {
  const client = b.clients[flow % b.sc.machine.nics];
  const sock = b.stacks.get(k)?.socks.get(flow);
  const req = sock?.sender, resp = client.endpoint(flow)?.sender;
  if (req && resp) {
    if (req.sndUna !== req.written || client.flowReceived(flow) !== req.written) out.push(`progress: flow ${flow} (${k.name}): netperf wrote ${req.written} request bytes; ${req.sndUna} acknowledged, ${client.flowReceived(flow)} at netserver after draining`);
    const got = b.flowGoodput(flow);
    if (resp.sndUna !== resp.written || got !== resp.written) out.push(`progress: flow ${flow} (${k.name}): netserver wrote ${resp.written} response bytes; ${resp.sndUna} acknowledged, ${got} at netperf after draining`);
  } else if (b.counters.pkt.dropped === 0 && sock?.rr && sock.rr.sentAt.length > 0) {
    out.push(`progress: flow ${flow} (${k.name}): ${sock.rr.sentAt.length} UDP_RR transaction(s) open after draining with no packet dropped`);
  }
}

function checkAlways(b: Built, out: string[]): void {
  // I1: no access through a TLB entry for a frame the domain no longer owns or maps (a flush missing after a flip or an unmap).
  const stale = b.counters.violations['stale-translation'] ?? 0;
  if (stale) out.push(`I1: ${stale} stale translation${stale > 1 ? 's' : ''}: ${b.staleTranslations.join('; ')}`);
  // End to end: every byte an honest TCP receiver handed its application was its stream's (an adversary's own flows excepted).
  const corrupt = b.counters.violations['data-integrity'] ?? 0;
  if (corrupt) out.push(`data integrity: ${corrupt} segment${corrupt > 1 ? 's' : ''} delivered with the wrong bytes: ${b.streams.mismatches.join('; ')}`);
  for (const v of b.vifs) {
    const nb = v.nb;
    const size = nb.tx.size;
    if (nb.stats.maxTxSlotsPerPass > size) out.push(`I3: ${nb.name} took ${nb.stats.maxTxSlotsPerPass} slots in one pass (ring ${size})`);
    if (nb.stats.maxGrantOpsPerPass > 3 * size) out.push(`I3: ${nb.name} issued ${nb.stats.maxGrantOpsPerPass} grant ops in one pass`);
    if (nb.stats.maxRxPerPass > nb.budget) out.push(`I3: ${nb.name} delivered ${nb.stats.maxRxPerPass} packets in one pass`);
    if (nb.stats.maxRxQueue > nb.rxQueueLimit) out.push(`I8: ${nb.name} queued ${nb.stats.maxRxQueue} packets`);
    if (nb.mcast.size > XEN_NETBK_MCAST_MAX || nb.hash.mapping.length > XEN_NETBK_MAX_HASH_MAPPING_SIZE || nb.hash.key.length > XEN_NETBK_MAX_HASH_KEY_SIZE) out.push(`I8: ${nb.name} per-vif tables out of bounds`);
    for (const [a, z] of nb.transitions) if (!(BACKEND_EDGES[a] ?? []).includes(z)) out.push(`I11: ${nb.name} went from state ${a} to ${z}`);
    if (v.hostile) continue;
    if (nb.disabled) out.push(`I2: honest ${nb.name} disabled (${nb.disabled})`);
    if (!nb.connected || nb.state !== XenbusState.Connected) out.push(`I11: honest ${nb.name} not connected (state ${nb.state}${nb.error ? `, ${nb.error}` : ''})`);
    const errs = Object.entries(v.nf.protocolErrors);
    if (errs.length) out.push(`I4/I1: ${v.nf.name} saw ${errs.map(([k, n]) => `${k} x${n}`).join(', ')}`);
  }
  // I1: a packet in an honest guest's page is one of that guest's flows.
  const flowsOf = new Map<number, Set<number>>();
  const hostileDoms = new Set(b.vifs.filter((v) => v.hostile).map((v) => v.guest.domid));
  for (const v of b.vifs) { let s = flowsOf.get(v.guest.domid); if (!s) flowsOf.set(v.guest.domid, (s = new Set())); s.add(v.flow); }
  for (const [f, p] of b.mem.contents) {
    const o = b.mem.ownerOf(f);
    if (o === undefined || o === 0 || hostileDoms.has(o)) continue;
    const mine = flowsOf.get(o);
    if (mine && !mine.has(p.flow)) { out.push(`I1: frame ${f} of domain ${o} holds a packet of flow ${p.flow}`); break; }
  }
}

/**
 * Why I2's honest-progress thresholds do not apply to this scenario (null: they do): under the credit
 * scheduler a window shorter than I2_CREDIT_PERIODS accounting periods is one over which Xen promises
 * no share (a scenario file may have one; generated cases do not).
 */
export function i2NotJudged(sc: Scenario): string | null {
  if (sc.xen.scheduler !== 'credit') return null;
  const acctUs = sc.xen.credit.tickUs * sc.xen.credit.ticksPerAcct;
  const periods = (sc.run.durationMs * 1000) / acctUs;
  if (periods >= I2_CREDIT_PERIODS) return null;
  return `I2 honest progress not judged: the measured window (${sc.run.durationMs} ms) spans ${periods.toFixed(1)} credit accounting periods of ${acctUs} us; the credit scheduler shares the CPU by weight over ${I2_CREDIT_PERIODS} or more`;
}

/**
 * How much of its control goodput an honest guest can be expected to keep, by what the scheduler
 * guarantees (docs/stress.md): its traffic needs CPU from dom0 (netback, for every guest) and from
 * itself. A domain that used a share u of its CPU in the control run and is guaranteed g
 * (SchedPolicy.guaranteedShare) may be held to g, so it keeps at least min(1, g / u) of its work rate;
 * the guest keeps the smaller of the two. I2's thresholds are scaled by it.
 */
export interface I2Expectation { fraction: number; why: string }
function i2Expected(b: Built, control: Map<Kernel, number>, guest: Kernel): I2Expectation {
  const policy = b.xen?.policy;
  let fraction = 1, why = '';
  for (const k of [b.kernels[0], guest]) {
    const used = control.get(k);
    if (!policy || used === undefined) continue;
    const g = policy.guaranteedShare(k);
    const f = Math.min(1, g / used);
    if (f < fraction) { fraction = f; why = `${k.name} is guaranteed ${(100 * g).toFixed(0)}% of its CPU by ${policy.name} and used ${(100 * used).toFixed(0)}% without the adversary`; }
  }
  return { fraction, why };
}

/** Goodput (bytes) per guest, or per server for native/driver. */
function goodputByGuest(b: Built): Record<string, number> {
  const out: Record<string, number> = {};
  if (!b.vifs.length) { out[b.endpoint.name] = b.goodputBytes(); return out; }
  for (const v of b.vifs) out[v.guest.name] = (out[v.guest.name] ?? 0) + b.flowGoodput(v.flow);
  return out;
}

/**
 * Work one case may do without progress (no byte delivered to any application): events (a normal
 * case takes under 100 000 in all), CPU slices, and TX ring slots taken by the driver domain (a few
 * tens of thousands). Beyond any, something livelocks (unbounded work, I3). Counted from the last
 * progress, so a slow but live drain (TCP repairing losses at an overloaded receiver) is not one.
 */
export const EVENT_BUDGET = 1_000_000;
export const SLOT_BUDGET = 1_000_000;
class Livelock extends Error {}
/** The work counters at the last progress. */
interface Progress { goodput: number; events: number; slots: number; slices: number; sliceCount: number }
function noteProgress(b: Built, p: Progress): void {
  const g = b.goodputBytes();
  if (g === p.goodput) return;
  p.goodput = g;
  p.events = b.sys.sched.delivered;
  p.slots = sum(b.netbacks.map((nb) => nb.stats.slotsTaken));
  p.slices = p.sliceCount;
}
/** Run the scheduler to `until` in small steps, so a livelock is caught by the work budget rather than hanging. */
function runFor(b: Built, until: number, p: Progress): void {
  const s = b.sys.sched;
  while (s.now < until) {
    s.run(Math.min(until, s.now + 0.05 * PS_PER_MS));
    noteProgress(b, p);
    const at = `by ${(s.now / PS_PER_MS).toFixed(3)} ms`;
    if (s.delivered - p.events > EVENT_BUDGET) throw new Livelock(`I3: livelock: more than ${EVENT_BUDGET} events without progress ${at}`);
    const slots = sum(b.netbacks.map((nb) => nb.stats.slotsTaken)) - p.slots;
    if (slots > SLOT_BUDGET) throw new Livelock(`I3: livelock: the driver domain took ${slots} TX slots without progress ${at}`);
    if (s.pendingCount() === 0) { s.run(until); break; }
  }
}

/**
 * Phase of a run: its system, goodput per guest over the measured window, and each domain's vCPU time
 * over that window as a share of its CPU (Xen only).
 */
interface Phase { b: Built; goodput: Record<string, number>; cpuShare: Map<Kernel, number>; quiescent: boolean; failures: string[] }

/** vCPU time per domain now (empty on bare metal). */
function vcpuTimes(b: Built): Map<Kernel, number> {
  const xen = b.xen;
  return new Map(xen ? b.kernels.map((k) => [k, xen.vcpuTime(k)]) : []);
}

/** Run a built system's traffic phase, optionally drain and check. */
function execute(sc: Scenario, b: Built, checks: boolean): Phase {
  const failures: string[] = [];
  // Count CPU slices: a livelock that burns no virtual time never returns from the scheduler otherwise.
  const progress: Progress = { goodput: 0, events: 0, slots: 0, slices: 0, sliceCount: 0 };
  b.host.onSliceDone = () => {
    if (++progress.sliceCount - progress.slices > EVENT_BUDGET) throw new Livelock(`I3: livelock: more than ${EVENT_BUDGET} CPU slices without progress by ${(b.sys.sched.now / PS_PER_MS).toFixed(3)} ms`);
  };
  try {
    b.start();
    // Traffic: warm-up, then the measured window (goodput is what each guest moved in the window).
    const warm = Math.round(sc.run.warmupMs * PS_PER_MS);
    runFor(b, warm, progress);
    const before = goodputByGuest(b);
    const ran0 = vcpuTimes(b);
    const trafficEnd = warm + Math.round(sc.run.durationMs * PS_PER_MS);
    runFor(b, trafficEnd, progress);
    const goodput = goodputByGuest(b);
    for (const k of Object.keys(goodput)) goodput[k] -= before[k] ?? 0;
    const cpuShare = new Map([...vcpuTimes(b)].map(([k, t]) => [k, (t - ran0.get(k)!) / (trafficEnd - warm)]));
    if (!checks) return { b, goodput, cpuShare, quiescent: false, failures };
    checkConservation(b, 'end of traffic', failures);
    b.stopSources();
    const limit = trafficEnd + DRAIN_PS;
    while (b.sys.sched.pendingCount() > 0 && b.sys.sched.now < limit) runFor(b, Math.min(limit, b.sys.sched.now + 100 * PS_PER_MS), progress);
    const quiescent = b.sys.sched.pendingCount() === 0;
    checkConservation(b, 'after drain', failures);
    checkAlways(b, failures);
    if (quiescent) {
      checkQuiet(b, failures);
      checkStreams(b, failures);
      checkPages(b, failures);
      checkGrants(b, failures);
    } else {
      failures.push(`did not quiesce within ${DRAIN_PS / PS_PER_MS} ms of virtual time after the sources stopped (${b.sys.sched.pendingCount()} events pending)`);
      // What is still waiting says why (e.g. TCP retransmitting for ever into a ring nobody serves).
      const stuck: string[] = [];
      checkQuiet(b, stuck);
      for (const f of stuck.slice(0, 5)) failures.push(`at the drain limit: ${f}`);
    }
    return { b, goodput, cpuShare, quiescent, failures };
  } catch (e) {
    failures.push(e instanceof Livelock ? e.message : `crash: ${(e as Error).message}`);
    return { b, goodput: {}, cpuShare: new Map(), quiescent: false, failures };
  } finally {
    b.sys.stop();
  }
}

function resultHash(p: Phase): string {
  const c = p.b.counters;
  const h = createHash('sha256');
  h.update(JSON.stringify([p.b.sys.traceHash(), p.b.sys.sched.delivered, c.pkt, c.wire, c.drops, c.violations, p.goodput, p.failures]));
  return h.digest('hex').slice(0, 16);
}

export interface RunCaseOptions {
  /** Run the case twice and require the same result hash (I12). */
  replay?: boolean;
  /** Statechart interpreter (results are the same on both; see test/actors/statechart.test.ts). */
  interpreter?: Interpreter;
}

/*
 * runCase is three public steps: build the case's system (buildCase), run and check it (runBuilt), then
 * judge the run (judgeCase: the adversary's expectations, honest progress against a control run, and
 * a replay's hash). A caller that wants to watch or wrap part of the system (a test double) does so
 * between the first two, through the system's own interfaces.
 */

/** A stress case as the checks run it: validated, with every default filled in (throws on an invalid case). */
export function caseScenario(cs: CaseScenario | Scenario): Scenario {
  return parseScenario(structuredClone(cs), 'stress case');
}

/** The system a case runs on (not started). */
export function buildCase(sc: Scenario, interpreter?: Interpreter): Built {
  return build(sc, { interpreter });
}

/** One checked run of a built case: its system, goodput and CPU shares over the measured window, and what failed. */
export type CaseRun = Phase;

/** Run a built case's traffic phase, drain it and check every invariant. */
export function runBuilt(sc: Scenario, b: Built): CaseRun {
  return execute(sc, b, true);
}

/** A run that crashed is not replayed or judged against the adversary's expectations. */
const crashed = (failures: string[]) => failures.some((f) => f.startsWith('crash'));

/** Run one case with every check. */
export function runCase(cs: CaseScenario | Scenario, opts: RunCaseOptions = {}): CaseResult {
  let sc: Scenario;
  try { sc = caseScenario(cs); } catch (e) {
    return { ok: false, failures: [`invalid case: ${(e as Error).message}`], hash: '', quiescent: false, traceHash: '', events: 0, goodput: {}, drops: {}, violations: {}, disabled: [], hostile: null, honestShare: {}, notes: [] };
  }
  const p = runBuilt(sc, buildCase(sc, opts.interpreter));
  const again = opts.replay && !crashed(p.failures) ? runBuilt(sc, buildCase(sc, opts.interpreter)) : undefined;
  return judgeCase(sc, p, { again, interpreter: opts.interpreter });
}

/**
 * Judge a checked run: the adversary's own expectations, the honest guests' progress against a control
 * run of the same case without the adversary, and, given a second run of the same case, determinism (I12).
 */
export function judgeCase(sc: Scenario, p: CaseRun, opts: { again?: CaseRun; interpreter?: Interpreter } = {}): CaseResult {
  const failures = [...p.failures];
  const hostile = sc.hostile[0] ?? null;
  const honestShare: Record<string, number> = {};
  const notes: string[] = [];
  if (hostile && !crashed(failures)) {
    // The adversary's own expectations.
    const v = p.b.vifs.find((q) => q.hostile);
    if (v && v.hostile) {
      // Mappings of the adversary's grants beyond its (still mapped) ring pages.
      const rings = sum(p.b.vifs.filter((q) => q.guest === v.guest).map((q) => q.nb.ringMappings()));
      const dom0Mappings = p.b.xen ? p.b.xen.grants.mappingsOn(0, v.guest.domid) - rings : 0;
      const fails = v.hostile.behaviour.expect({ h: v.hostile, nb: v.nb, back: v.back, counters: p.b.counters, quiescent: p.quiescent, dom0Mappings });
      for (const f of fails) failures.push(`${hostile.behaviour}/${v.hostile.variant}: ${f}`);
    }
    // Honest guests keep making progress: compare with the same case where the adversary is honest.
    const controlSc = { ...sc, hostile: [] };
    const control = execute(controlSc, buildCase(controlSc, opts.interpreter), false);
    const mss = sc.tcp.mss;
    const notJudged = i2NotJudged(sc);
    if (notJudged) notes.push(notJudged);
    const judge = (bytes: number) => !notJudged && bytes >= HONEST_MIN_SEGMENTS * mss;
    // Thresholds scaled by what the scheduler guarantees the domains each guest's traffic needs.
    const scaled = (t: number, e: I2Expectation) => e.fraction < 1 ? `threshold ${(100 * t * e.fraction).toFixed(0)}% = ${(100 * t).toFixed(0)}% x ${e.fraction.toFixed(2)}: ${e.why}` : `threshold ${(100 * t).toFixed(0)}%`;
    let got = 0, base = 0, expected = 0, worst: I2Expectation = { fraction: 1, why: '' };
    for (const [g, want] of Object.entries(control.goodput)) {
      if (g === `domU${hostile.guest}`) continue;
      const have = p.goodput[g] ?? 0;
      const guest = control.b.kernels.find((k) => k.name === g);
      const e = guest ? i2Expected(control.b, control.cpuShare, guest) : { fraction: 1, why: '' };
      if (e.fraction < worst.fraction) worst = e;
      got += have;
      base += want;
      expected += want * e.fraction;
      honestShare[g] = want > 0 ? Math.round((have / want) * 1000) / 1000 : 1;
      if (judge(want) && have < HONEST_GUEST_SHARE * e.fraction * want) failures.push(`I2: honest ${g} starved: ${have} bytes in the measured window, ${(100 * have / want).toFixed(0)}% of its ${want} without the adversary (${scaled(HONEST_GUEST_SHARE, e)})`);
    }
    honestShare.all = base > 0 ? Math.round((got / base) * 1000) / 1000 : 1;
    const all = { fraction: base > 0 ? expected / base : 1, why: worst.why };
    if (judge(base) && got < HONEST_SHARE * all.fraction * base) {
      failures.push(`I2: the honest guests moved ${got} bytes, ${(100 * got / base).toFixed(0)}% of their ${base} without the adversary (${scaled(HONEST_SHARE, all)})`);
    }
  }
  if (opts.again && !crashed(failures) && resultHash(opts.again) !== resultHash(p)) failures.push('I12: a replay of the same case gave a different result');
  const c = p.b.counters;
  return {
    ok: failures.length === 0,
    failures,
    hash: resultHash({ ...p, failures }),
    quiescent: p.quiescent,
    traceHash: p.b.sys.traceHash(),
    events: p.b.sys.sched.delivered,
    goodput: p.goodput,
    drops: { ...c.drops },
    violations: { ...c.violations },
    disabled: p.b.netbacks.filter((nb) => nb.disabled).map((nb) => `${nb.name}:${nb.disabled}`),
    hostile: hostile ? `${hostile.behaviour}/${p.b.vifs.find((q) => q.hostile)?.hostile?.variant ?? hostile.variant}` : null,
    honestShare,
    notes,
  };
}
