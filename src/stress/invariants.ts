/**
 * The invariants a stress case is checked against (docs/protocol.md 5.3), each a function of the
 * built system that appends what it finds wrong: packet conservation, page ownership, grants,
 * quiescence, stream progress and integrity, and the always-true bounds. src/stress/run.ts runs a
 * case and calls them mid-run and at quiescence. In a world of hosts the checks of a host's own
 * memory, grants, domains and vifs run host by host and name the host; packet conservation and the
 * wire are the world's (its hosts share one packet ledger).
 */
import type { Built } from '../scenario/build.js';
import { flowEnds, hostViews, type End, type HostView } from '../scenario/host.js';
import { BACKEND_EDGES, XEN_NETBK_MAX_HASH_KEY_SIZE, XEN_NETBK_MAX_HASH_MAPPING_SIZE, XEN_NETBK_MCAST_MAX, XenbusState } from '../channels/netif.js';
import { GTF } from '../hypervisor/grant-table.js';
import { PS_PER_MS } from '../actors/scheduler.js';
import { GARP_FLOW_BASE } from '../scenario/migrate-host.js';
import type { NetStack } from '../domains/netstack.js';

type Socket = NonNullable<ReturnType<NetStack['socks']['get']>>;

export const sum = (xs: number[]) => xs.reduce((a, b) => a + b, 0);

/** Packet-ledger units in flight, place by place. */
function inFlight(b: Built): Record<string, number> {
  const parts: Record<string, number> = {
    qdiscs: sum(b.qdiscs.map((q) => q.queue.length)),
    txRings: 0, rxRings: 0,
    netbackRxQueues: sum(b.netbacks.map((nb) => nb.rxQueueLength())),
    nics: sum(b.nics.map((n) => n.unitsHeld())),
    drivers: sum(b.drivers.map((d) => d.unitsHeld())),
    wire: b.counters.wire.sent - b.counters.wire.arrived,
    // A world's switches: frames in the forwarding pipeline or in an output queue.
    ...(b.switches ? { switches: sum(b.switches.map((s) => s.unitsHeld())) } : {}),
  };
  for (const v of b.vifs) {
    if (v.hostile) continue; // the adversary's rings are outside the ledger (units are counted at netback)
    parts.txRings += v.nf.txUnits - v.nb.txUnits;
    parts.rxRings += v.nb.rxUnitsOk - v.nf.rxUnitsTaken;
  }
  return parts;
}

export function checkConservation(b: Built, when: string, out: string[]): void {
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

/** A failure of one host's check: named after the host in a world (`host2: ...`), as it was on one host. */
const hostOut = (h: HostView, out: string[]) => (h.name ? { push: (m: string) => out.push(`${h.name}: ${m}`) } : out);
/** The domains (ids, on this host) whose vif runs an adversary. */
const adversaryDoms = (h: HostView) => new Set(h.vifs.filter((v) => v.hostile).map((v) => v.guest.domid));

export function checkPages(b: Built, out: string[]): void {
  for (const h of hostViews(b)) checkHostPages(b, h, hostOut(h, out));
}

function checkHostPages(b: Built, h: HostView, out: Pick<string[], 'push'>): void {
  const mem = h.mem;
  const owned = sum(h.kernels.map((k) => mem.pages(k.domid)));
  if (owned + mem.freeFrames() > mem.frames) out.push(`pages: ${owned} owned + ${mem.freeFrames()} free > ${mem.frames} frames`);
  // Holder census for the driver domain and the honest guests (a destroyed domain holds nothing: checkReleased).
  const hostileDoms = adversaryDoms(h);
  for (const k of b.lifecycle?.goneDomains ?? []) if (k.mem === h.mem) hostileDoms.add(k.domid);
  const holder = new Map<number, string>();
  const hold = (frame: number, who: string, dom: number) => {
    const prev = holder.get(frame);
    if (prev !== undefined) { out.push(`frame ${frame} held twice: ${prev} and ${who}`); return; }
    holder.set(frame, who);
    const o = mem.ownerOf(frame);
    if (o !== dom) out.push(`frame ${frame} held by ${who} (domain ${dom}) but owned by ${o ?? 'nobody'}`);
  };
  for (const k of h.kernels) {
    if (hostileDoms.has(k.domid)) continue;
    for (const f of k.pooledFrames()) hold(f, `${k.name} pool`, k.domid);
    const st = b.stacks.get(k);
    if (st) for (const s of st.socks.values()) for (const f of s.rxFrames) hold(f, `${k.name} socket ${s.flow}`, k.domid);
  }
  const dom0 = h.kernels[0];
  for (const n of h.nics) {
    for (const f of n.rxBuffers) hold(f, `${n.name} rx ring`, dom0.domid);
    for (const p of n.rxDone) for (const f of p.frames) hold(f, `${n.name} rx done`, dom0.domid);
  }
  for (const v of h.vifs) {
    if (v.hostile) continue;
    for (const f of v.nf.postedRxFrames()) hold(f, `${v.nf.name} rx buffer`, v.guest.domid);
    for (const f of [v.rings.txFrame, v.rings.rxFrame]) if (f >= 0) hold(f, `${v.nf.name} ring page`, v.guest.domid);
  }
  for (const k of h.kernels) {
    if (hostileDoms.has(k.domid)) continue;
    const mine = mem.pages(k.domid);
    let held = 0;
    for (const [f] of holder) if (mem.ownerOf(f) === k.domid) held++;
    if (held !== mine) out.push(`page leak: ${k.name} owns ${mine} frames, ${held} of them held by anything`);
  }
}

export function checkGrants(b: Built, out: string[]): void {
  for (const h of hostViews(b)) checkHostGrants(h, hostOut(h, out));
}

function checkHostGrants(h: HostView, out: Pick<string[], 'push'>): void {
  const xen = h.xen;
  if (!xen) return;
  const gops = xen.grants;
  const rings = sum(h.vifs.map((v) => v.nb.ringMappings()));
  const dom0Maps = gops.activeMappings(0);
  if (dom0Maps !== rings) out.push(`grant leak: the driver domain holds ${dom0Maps} mappings, ${rings} of them ring pages`);
  for (const k of h.kernels.slice(1)) if (!h.vifs.some((v) => v.hostile && v.guest === k) && gops.activeMappings(k.domid) !== 0) out.push(`grant leak: ${k.name} holds ${gops.activeMappings(k.domid)} mappings`);
  for (const p of h.pending) if (p.free !== p.size) out.push(`pending slots leaked: ${p.size - p.free}`);
  const hostileDoms = adversaryDoms(h);
  for (const [dom, t] of xen.grantTables) {
    if (hostileDoms.has(dom)) continue; // the adversary scribbles on its own entries
    for (let r = 0; r < t.entries.length; r++) {
      const e = t.entries[r];
      const p = t.pins(r);
      if ((e.flags & 3) !== GTF.permit_access) { if (p.read + p.write) out.push(`I6: d${dom} ref ${r} pinned but not an access grant`); continue; }
      if (!!(e.flags & GTF.reading) !== p.read + p.write > 0 || !!(e.flags & GTF.writing) !== p.write > 0) out.push(`I6: d${dom} ref ${r} flags ${e.flags} with ${p.read} read / ${p.write} write pins`);
    }
  }
  for (const v of h.vifs) if (!v.hostile && v.nf.leakedRefs) out.push(`${v.nf.name}: ${v.nf.leakedRefs} grants the backend kept after answering`);
}

/** Quiescence: nothing left anywhere means no wakeup was lost (I9) and every request got its answer (I4). */
export function checkQuiet(b: Built, out: string[]): void {
  const parts = inFlight(b);
  // An adversary's own stack may keep packets its netfront refuses: that queue is the adversary's business.
  // So is what waits on the adversary domain's other vifs: it can break its own event channels (H18's
  // EVTCHNOP_reset closes every port of the domain), and then nothing wakes either end of those rings.
  const hosts = hostViews(b);
  const ownBusiness = new Set(hosts.flatMap((h) => { const d = adversaryDoms(h); return h.vifs.filter((v) => v.hostile !== null || d.has(v.guest.domid)); }));
  for (const v of b.vifs) {
    if (!ownBusiness.has(v)) continue;
    parts.qdiscs -= v.stackQ.queue.length;
    if (!v.hostile) { parts.txRings -= v.nf.txUnits - v.nb.txUnits; parts.rxRings -= v.nb.rxUnitsOk - v.nf.rxUnitsTaken; }
  }
  for (const [k, v] of Object.entries(parts)) if (v !== 0) out.push(`lost wakeup: ${v} packet(s) left in ${k} at quiescence`);
  for (const v of b.vifs) {
    const nb = v.nb;
    if (nb.tx.rspProdPvt !== nb.tx.reqCons) out.push(`I4: ${nb.name} consumed ${nb.tx.reqCons - nb.tx.rspProdPvt} TX requests without answering them`);
    if (nb.rxr.rspProdPvt !== nb.rxr.reqCons) out.push(`I4: ${nb.name} consumed RX requests without answering them`);
    if (ownBusiness.has(v)) continue;
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
export function checkStreams(b: Built, out: string[]): void {
  const sc = b.sc;
  if (sc.flows) { checkFlowList(b, out); return; }
  const hostileDoms = new Set(b.vifs.filter((v) => v.hostile).map((v) => v.guest.domid));
  const flows = sc.topology === 'guest' ? b.vifs.map((v) => ({ flow: v.flow, k: v.guest })) : [...b.stacks.values()].flatMap((st) => [...st.socks.keys()].map((flow) => ({ flow, k: st.kernel })));
  for (const { flow, k } of flows) {
    if (hostileDoms.has(k.domid) || b.lifecycle?.abandoned.has(flow)) continue;
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

/**
 * The same bound for a flow list, flow by flow, at the ends the flow names (on whichever host):
 * a stream's sender and receiver, or netperf's requests and netserver's responses. A flow with an
 * end in an adversary's domain is the adversary's business.
 */
function checkFlowList(b: Built, out: string[]): void {
  const hosts = hostViews(b);
  const world = flowEnds(b.sc.flows!, b.hosts ? hosts.map((h) => h.name) : []);
  const kernelOf = (e: End) => (e.peer >= 0 ? null : hosts[e.host].kernels[e.dom0 ? 0 : e.guest + 1]);
  const adversary = (e: End) => e.guest >= 0 && adversaryDoms(hosts[e.host]).has(e.guest + 1);
  const clientOf = (f: number) => b.clients.find((c) => c.endpoint(f) !== undefined);
  /** A kernel end's socket of flow f (a restored or migrated guest's in its new domain's stack: NetStack.adopt moved it). */
  const sockOf = (e: End, f: number, from: boolean): Socket | undefined => {
    const own = b.stacks.get(kernelOf(e)!)?.socks.get(f);
    if (own || !b.lifecycle || e.guest < 0) return own;
    const mine = (s: Socket) => (s.rr ? s.rr.server === !from : from ? !s.receiver : !!s.receiver);
    for (const st of b.stacks.values()) { const s = st.socks.get(f); if (s && mine(s)) return s; }
    return undefined;
  };
  /** The end's TCP ends of flow f: its socket, or the peer's. */
  const ends = (e: End, f: number, from: boolean) => (kernelOf(e) ? sockOf(e, f, from) : clientOf(f)?.endpoint(f));
  world.forEach((e, f) => {
    // A flow with an end in an adversary's domain is the adversary's business; one whose end went for good (its vif unplugged, its guest destroyed) cannot complete.
    if (adversary(e.from) || adversary(e.to) || b.lifecycle?.abandoned.has(f)) return;
    const what = `flow ${f} (${b.sc.flows![f].from} -> ${b.sc.flows![f].to})`;
    const got = b.flowGoodput(f);
    if (!e.rr) {
      const snd = ends(e.from, f, true)?.sender;
      if (!snd) { out.push(`progress: ${what} has no sender`); return; }
      if (snd.sndUna !== snd.written || got !== snd.written) out.push(`progress: ${what}: the application wrote ${snd.written} bytes; ${snd.sndUna} acknowledged, ${got} delivered after draining`);
      return;
    }
    const req = ends(e.from, f, true)?.sender, resp = ends(e.to, f, false)?.sender;
    const server = kernelOf(e.to) ? sockOf(e.to, f, false) : undefined;
    const atServer = server ? server.receiver?.delivered ?? server.rr?.delivered ?? 0 : kernelOf(e.to) ? 0 : clientOf(f)?.flowReceived(f) ?? 0;
    if (req && resp) {
      if (req.sndUna !== req.written || atServer !== req.written) out.push(`progress: ${what}: netperf wrote ${req.written} request bytes; ${req.sndUna} acknowledged, ${atServer} at netserver after draining`);
      if (resp.sndUna !== resp.written || got !== resp.written) out.push(`progress: ${what}: netserver wrote ${resp.written} response bytes; ${resp.sndUna} acknowledged, ${got} at netperf after draining`);
      return;
    }
    // UDP_RR: netperf (never a peer) has no retransmission; with no packet dropped, every datagram arrived.
    const n = (kernelOf(e.from) && sockOf(e.from, f, true)?.rr?.sentAt.length) || 0;
    if (b.counters.pkt.dropped === 0 && n > 0) out.push(`progress: ${what}: ${n} UDP_RR transaction(s) open after draining with no packet dropped`);
  });
}

export function checkAlways(b: Built, out: string[]): void {
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
  // I1: a packet in an honest guest's page is one of that guest's flows (host by host: each has its own memory).
  for (const h of hostViews(b)) {
    const flowsOf = new Map<number, Set<number>>();
    const hostileDoms = adversaryDoms(h);
    // A guest's flows are those of its vifs, and of the vifs it had (their packets may still be in its pages).
    for (const v of [...h.vifs, ...(b.lifecycle?.goneVifs ?? []).filter((g) => g.guest.mem === h.mem)]) { let s = flowsOf.get(v.guest.domid); if (!s) flowsOf.set(v.guest.domid, (s = new Set())); for (const f of v.flows) s.add(f); }
    for (const [f, p] of h.mem.contents) {
      const o = h.mem.ownerOf(f);
      if (o === undefined || o === 0 || hostileDoms.has(o)) continue;
      const mine = flowsOf.get(o);
      // (A resumed guest's gratuitous ARP is its own frame: flow GARP_FLOW_BASE + the event's index.)
      if (mine && !mine.has(p.flow) && p.flow < GARP_FLOW_BASE) { hostOut(h, out).push(`I1: frame ${f} of domain ${o} holds a packet of flow ${p.flow}`); break; }
    }
  }
}

/**
 * Lifecycle events (--lifecycle): everything a vif the toolstack unplugged held was released when it
 * went (src/toolstack/release.ts, recorded then), everything a migrated or saved guest held on its
 * source host when the source released it, and, at quiescence, everything each destroyed or crashed
 * domain held on its host (Xen has relinquished its memory by then). Each finding names the host (in
 * its actors' names) and the event it follows. A run that did not quiesce reports what its
 * destroyed domains still hold then, and each migration or save whose source never let go.
 */
export function checkReleased(b: Built, out: string[], quiescent: boolean): void {
  const l = b.lifecycle;
  if (!l) return;
  for (const ts of l.toolstacks) {
    const records = [...ts.released, ...(quiescent ? ts.checkDestroyed() : [])];
    for (const r of records) { const after = afterEvent(b, ts, r.what, r.at); for (const p of r.problems.slice(0, 4)) out.push(`release: ${p}${after}`); }
    if (quiescent) continue;
    for (const r of ts.checkDestroyed()) { const after = afterEvent(b, ts, r.what, Infinity); for (const p of r.problems.slice(0, 2)) out.push(`release: at the drain limit: ${p}${after}`); }
  }
  for (const m of b.migrations ?? []) {
    const what = `${m.kind} of ${m.guest} from ${m.from} at ${m.startMs} ms`;
    for (const p of (m.sourceLeft ?? []).slice(0, 4)) out.push(`release: ${m.from}: ${p} (after the ${what})`);
    if (m.sourceLeft === null && !quiescent) out.push(`release: ${m.from}: the source never released ${m.guest} (after the ${what})`);
  }
}

/** The event a release record (of `what`, at `at` ps) follows (` (after detach host1/guest1 at 1 ms)`): the last of its guest's events on its host by then. */
function afterEvent(b: Built, ts: NonNullable<Built['lifecycle']>['toolstacks'][number], what: string, at: number): string {
  const l = b.lifecycle!;
  const k = ts.x.guests.find((g) => g.name === what) ?? l.goneVifs.find((v) => v.nf.name === what)?.guest;
  const n = k ? ts.x.guests.indexOf(k) + 1 : 0;
  const e = l.events.filter((q) => q.host === ts.x.host && q.guest === n && q.verb !== 'attach' && q.verb !== 'restore' && q.atMs * PS_PER_MS <= at).at(-1);
  return e ? ` (after ${e.verb} ${e.host ? `${e.host}/` : ''}guest${e.guest} at ${e.atMs} ms)` : '';
}
