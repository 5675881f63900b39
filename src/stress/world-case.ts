/**
 * Random worlds for `xennet stress --worlds`: 1-4 Xen hosts of 0-3 guests each, cabled NIC to NIC
 * or all to one switch (random port count, output buffer and forwarding table), and flows between
 * random endpoints of the world (dom0, a guest, the external peer on an uncabled NIC) that can
 * reach each other: VM to VM on one host, east-west across a cable or the switch, to and from
 * peers; streams, TCP_RR and UDP_RR (through the switch too). Honest
 * worlds may carry NIC faults and a guest's rate limit; hostile ones an adversary on one guest.
 *
 * Like every case, a function of (base seed, case index) only (case.ts draws the seed).
 */
import fc from 'fast-check';
import { BEHAVIOURS } from '../hostile/behaviours.js';
import { HDR_LEN, PAGE_SIZE } from '../core/packet.js';
import { linkBetween } from '../scenario/schema.js';
import { creditPeriods, hostilePairs, type CaseScenario, type HostilePair } from './case.js';
import { lifeEventArb, lifeEvents, type LifeDraw } from './life-events.js';

/** Most hosts, guests per host and NICs per host a world case has. */
export const WORLD_HOSTS = 4;
export const WORLD_GUESTS = 3;
const WORLD_NICS = 3;
/** A UDP_RR datagram fits one frame of one page (schema.ts refuses more). */
const UDP_MAX = PAGE_SIZE - HDR_LEN;

type Flow = NonNullable<CaseScenario['flows']>[number];
type Link = NonNullable<CaseScenario['links']>[number];

/** A drawn flow: two endpoint indices (taken modulo the world's endpoints), a kind and RR sizes. */
interface FlowDraw { from: number; to: number; kind: 'stream' | 'tcp_rr' | 'udp_rr'; req: number; resp: number; burst: number }

/**
 * The world's cables: all hosts' eth0 to one switch, or NIC to NIC for the drawn pairs of hosts
 * that still have a NIC free (in pair order). Returns the links and each host's cabled NICs.
 */
export function cableWorld(nics: number[], fabric: 'switch' | 'direct', pairs: boolean[], sw: string): { links: Link[]; cabled: Set<string> } {
  const n = nics.length, links: Link[] = [], cabled = new Set<string>();
  if (n < 2) return { links, cabled };
  if (fabric === 'switch') {
    for (let i = 0; i < n; i++) { links.push({ a: `host${i + 1}/eth0`, b: `${sw}/p${i}` }); cabled.add(`host${i + 1}/eth0`); }
    return { links, cabled };
  }
  const next = nics.map(() => 0);
  let k = 0;
  for (let i = 0; i < n; i++) {
    for (let j = i + 1; j < n; j++, k++) {
      if (!pairs[k] || next[i] >= nics[i] || next[j] >= nics[j]) continue;
      const a = `host${i + 1}/eth${next[i]++}`, b = `host${j + 1}/eth${next[j]++}`;
      links.push({ a, b });
      cabled.add(a); cabled.add(b);
    }
  }
  return { links, cabled };
}

/** Every endpoint of the world: each host's dom0, its guests, and the peer on each NIC not cabled. */
export function worldEndpoints(guests: number[], nics: number[], cabled: Set<string>): string[] {
  return guests.flatMap((g, i) => {
    const h = `host${i + 1}`;
    return [`${h}/dom0`, ...Array.from({ length: g }, (_, k) => `${h}/guest${k + 1}`),
      ...Array.from({ length: nics[i] }, (_, n) => n).filter((n) => !cabled.has(`${h}/eth${n}`)).map((n) => `${h}/peer${n + 1}`)];
  });
}

/**
 * The drawn flows that the world can carry: two different endpoints, not both peers, on one host or
 * on two hosts with a route between them; an RR flow's netperf end not a peer (swapped); UDP_RR
 * sizes cut to one frame. At least one flow: when
 * no draw fits, host 1's dom0 to its first peer, or else to the dom0 its eth0 reaches.
 */
export function worldFlows(draws: FlowDraw[], ends: string[], links: Link[], mss: number): Flow[] {
  const host = (e: string) => e.split('/')[0];
  const peer = (e: string) => e.split('/')[1].startsWith('peer');
  const out: Flow[] = [];
  for (const d of draws) {
    let from = ends[d.from % ends.length], to = ends[d.to % ends.length];
    if (from === to || (peer(from) && peer(to))) continue;
    const route = host(from) === host(to) ? null : linkBetween({ links }, host(from), host(to));
    if (host(from) !== host(to) && !route) continue;
    const kind = d.kind;
    if (kind === 'stream') { out.push({ from, to, kind }); continue; }
    if (peer(from)) [from, to] = [to, from];
    const most = kind === 'udp_rr' ? Math.min(mss, UDP_MAX) : 65536;
    out.push({ from, to, kind, requestBytes: Math.min(d.req, most), responseBytes: Math.min(d.resp, most), transactionsInFlight: d.burst });
  }
  if (out.length) return out;
  const own = ends.find((e) => host(e) === 'host1' && peer(e));
  if (own) return [{ from: 'host1/dom0', to: own, kind: 'stream' }];
  const far = links.map((l) => [l.a, l.b]).find(([a]) => a === 'host1/eth0')?.[1] ?? '';
  const other = far.startsWith('host') ? host(far) : 'host2'; // cabled to a host, or to the switch every host is on
  return [{ from: 'host1/dom0', to: `${other}/dom0`, kind: 'stream' }];
}

/** A stream between the adversary's guest and another endpoint it can reach (its own host's dom0 at least), either way. */
export function adversaryFlow(adversary: string, d: { other: number; sends: boolean }, ends: string[], links: Link[]): Flow {
  const host = (e: string) => e.split('/')[0];
  const reach = ends.filter((e) => e !== adversary && (host(e) === host(adversary) || linkBetween({ links }, host(adversary), host(e)) !== null));
  const other = reach[d.other % reach.length];
  return d.sends ? { from: adversary, to: other, kind: 'stream' } : { from: other, to: adversary, kind: 'stream' };
}

/** What a world lifecycle case draws: every verb, migrate weighing double (a world is where a guest can go). */
const WORLD_LIFE_EVENT = lifeEventArb(['unplug', 'replug', 'destroy', 'crash', 'save', 'migrate', 'migrate']);

/**
 * Where a guest of the world may live-migrate: another host its dom0 reaches (the migration stream is
 * a TCP flow between the two dom0s) and from which every other end of the guest's flows is reachable
 * (on that host, or over a cable or the switch), as worldFlows asks of a flow; not through a switch
 * whose forwarding table is static.
 */
export function migrationDestinations(guest: string, hosts: number, links: Link[], flows: Flow[], staticSwitch = false): string[] {
  // A switch with a static forwarding table never moves the guest's MAC to its new port (it does not learn from the gratuitous ARP).
  if (staticSwitch) return [];
  const host = (e: string) => e.split('/')[0];
  const from = host(guest);
  const reach = (a: string, b: string) => a === b || linkBetween({ links }, a, b) !== null;
  const others = flows.flatMap((f) => (f.from === guest ? [host(f.to)] : f.to === guest ? [host(f.from)] : []));
  return Array.from({ length: hosts }, (_, i) => `host${i + 1}`)
    .filter((h) => h !== from && reach(from, h) && others.every((o) => reach(h, o)));
}

/**
 * One world case; `hostile` puts one adversary (from `only`, or any behaviour; `pin` fixes it) on one
 * guest; `lifecycle` draws lifecycle events (life-events.ts) after everything else, so that the
 * case's other draws are those of the same case without.
 */
export function worldCaseArb(hostile: boolean, only?: string[], pin?: HostilePair, lifecycle = false): fc.Arbitrary<CaseScenario> {
  const behaviours = pin ? [pin.behaviour] : only?.length ? only : BEHAVIOURS.map((b) => b.id);
  const opt = fc.record({
    vnicOffload: fc.boolean(), txNoRemap: fc.boolean(), rxCopy: fc.boolean(),
    rxCopyVia: fc.constantFrom('map' as const, 'gnttab' as const), superpages: fc.boolean(), globalPages: fc.boolean(),
  });
  const host = fc.record({
    // A hostile world has a guest on every host: the adversary's host needs one, the others honest ones.
    guests: fc.integer({ min: hostile ? 1 : 0, max: WORLD_GUESTS }),
    nics: fc.integer({ min: 1, max: WORLD_NICS }),
    cpus: fc.constantFrom(1, 1, 2),
    ownOpt: fc.boolean(), opt,
  });
  const draws = {
    hosts: fc.integer({ min: 1, max: WORLD_HOSTS }),
    host: fc.array(host, { minLength: WORLD_HOSTS, maxLength: WORLD_HOSTS }),
    fabric: fc.constantFrom('switch' as const, 'direct' as const),
    pairs: fc.array(fc.boolean(), { minLength: 6, maxLength: 6 }),
    sw: fc.record({
      extraPorts: fc.integer({ min: 0, max: 3 }),
      // Hostile worlds keep the control run loss-free (buffers that hold the windows), as hostile cases keep their NIC rings.
      queueKiB: hostile ? fc.constantFrom(256, 512) : fc.constantFrom(4, 8, 16, 32, 64, 128, 256),
      forwardUs: fc.integer({ min: 0, max: 5 }),
      fdb: fc.constantFrom('learning' as const, 'static' as const),
    }),
    flows: fc.array(fc.record({
      from: fc.nat(63), to: fc.nat(63),
      kind: fc.constantFrom('stream' as const, 'stream' as const, 'stream' as const, 'tcp_rr' as const, 'udp_rr' as const),
      req: fc.integer({ min: 1, max: 2000 }), resp: fc.integer({ min: 1, max: 2000 }), burst: fc.integer({ min: 1, max: 4 }),
    }), { minLength: 1, maxLength: 8 }),
    seed: fc.integer({ min: 0, max: 0xffff }),
    trafficUs: hostile ? fc.integer({ min: 3000, max: 5000 }) : fc.integer({ min: 1500, max: 3000 }),
    vifRingSize: fc.constantFrom(32, 64, 128, 256),
    nicRing: hostile ? fc.constant(256) : fc.constantFrom(32, 64, 128, 256),
    mss: fc.constantFrom(536, 1448, 1448, 4000, 8948),
    sndBufKiB: hostile ? fc.constant(64) : fc.constantFrom(32, 64, 128),
    nic: fc.record({ csumOffload: fc.boolean(), tso: fc.boolean(), sg: fc.boolean() }),
    faults: fc.array(fc.record({
      host: fc.nat(WORLD_HOSTS - 1), nic: fc.nat(WORLD_NICS - 1),
      at: fc.double({ min: 0.05, max: 0.95, noNaN: true }),
      kind: fc.constantFrom('link-down' as const, 'link-up' as const, 'dma-error' as const),
      count: fc.integer({ min: 1, max: 20 }),
    }), { maxLength: hostile ? 0 : 3 }),
    rate: hostile ? fc.constant(null) : fc.option(fc.record({ host: fc.nat(WORLD_HOSTS - 1), guest: fc.nat(WORLD_GUESTS - 1), mbps: fc.integer({ min: 20, max: 800 }), intervalUs: fc.integer({ min: 200, max: 2000 }) }), { freq: 4 }),
    adversary: fc.record({
      host: fc.nat(WORLD_HOSTS - 1), guest: fc.nat(WORLD_GUESTS - 1),
      // The adversary's own stack sends and receives as usual (the catalogue attacks with its traffic): a stream to or from it.
      other: fc.nat(63), sends: fc.boolean(),
      behaviour: fc.constantFrom(...behaviours), variant: pin ? fc.constant(pin.variant) : fc.nat(31),
      startUs: fc.integer({ min: 100, max: 1500 }), periodUs: fc.integer({ min: 100, max: 400 }),
    }),
    scheduler: fc.constantFrom('bvt' as const, 'bvt' as const, 'credit' as const),
    cc: fc.constantFrom('newreno' as const, 'newreno' as const, 'none' as const),
    pendingRing: fc.constantFrom('shared' as const, 'per-vif' as const),
    lateEoiTickUs: fc.constantFrom(250, 500, 1000),
  };
  const drawn = lifecycle
    ? fc.record({ ...draws, life: fc.array(WORLD_LIFE_EVENT, { minLength: 1, maxLength: 4 }) })
    : fc.record(draws).map((r) => ({ ...r, life: [] as LifeDraw[] }));
  return drawn.map((r): CaseScenario => {
    const hs = r.host.slice(0, r.hosts);
    const guests = hs.map((h) => h.guests), nics = hs.map((h) => h.nics);
    const ports = r.hosts + r.sw.extraPorts;
    const fabric = r.hosts > 1 ? r.fabric : 'direct';
    const { links, cabled } = cableWorld(nics, fabric, r.pairs, 'sw0');
    const machine = (h: typeof hs[number]) => ({
      cpus: h.cpus, nics: h.nics, vifRingSize: r.vifRingSize, memoryMiB: 512,
      nic: { ringSize: r.nicRing, csumOffload: r.nic.csumOffload, tso: r.nic.tso, sg: r.nic.sg },
    });
    const name = (i: number) => `host${i + 1}`;
    const rateHost = r.rate ? r.rate.host % r.hosts : 0;
    const advHost = r.adversary.host % r.hosts;
    const advGuest = 1 + (r.adversary.guest % Math.max(1, guests[advHost]));
    const ends = worldEndpoints(guests, nics, cabled);
    const flows = worldFlows(r.flows, ends, links, r.mss);
    if (hostile) flows.unshift(adversaryFlow(`${name(advHost)}/guest${advGuest}`, r.adversary, ends, links));
    const events = lifecycle ? lifeEvents(r.life, r.trafficUs, {
      guests: guests.flatMap((n, i) => Array.from({ length: n }, (_, g) => `${name(i)}/guest${g + 1}`)),
      hostile: hostile ? `${name(advHost)}/guest${advGuest}` : null,
      destinations: (g) => migrationDestinations(g, r.hosts, links, flows, fabric === 'switch' && r.sw.fdb === 'static'),
    }) : [];
    return {
      name: 'stress-world',
      topology: 'guest',
      seed: r.seed,
      run: { durationMs: r.trafficUs / 1000, warmupMs: hostile ? 2 : 0 },
      machine: machine(hs[0]),
      guests: 1,
      hosts: Object.fromEntries(hs.map((h, i) => [name(i), { guests: h.guests, machine: machine(h), ...(h.ownOpt ? { optimizations: h.opt } : {}) }])),
      ...(fabric === 'switch' ? { switches: { sw0: { ports, queueKiB: r.sw.queueKiB, forwardUs: r.sw.forwardUs, fdb: r.sw.fdb } } } : {}),
      links,
      flows,
      xen: { scheduler: r.scheduler, credit: { ...creditPeriods(hostile && r.scheduler === 'credit', r.trafficUs) } },
      optimizations: r.host[0].opt,
      tcp: { mss: r.mss, sndBufKiB: r.sndBufKiB, rcvBufKiB: r.sndBufKiB, appChunkKiB: 16, congestionControl: r.cc },
      netback: {
        rxDrainMs: 1, rxStallMs: 2, rxPollMs: 0.5, lateEoiTickUs: r.lateEoiTickUs, pendingRing: r.pendingRing,
        rateLimits: r.rate && guests[rateHost] > 0 ? [{ host: name(rateHost), guest: 1 + (r.rate.guest % guests[rateHost]), mbps: r.rate.mbps, intervalMs: r.rate.intervalUs / 1000 }] : [],
      },
      faults: r.faults.map((f) => {
        const i = f.host % r.hosts;
        return { host: name(i), atUs: Math.round(f.at * r.trafficUs), nic: f.nic % nics[i], kind: f.kind, count: f.count };
      }).sort((a, b) => a.atUs - b.atUs),
      hostile: hostile ? [{
        host: name(advHost), guest: advGuest, vif: 0, behaviour: r.adversary.behaviour,
        variant: r.adversary.variant, startUs: r.adversary.startUs, periodUs: r.adversary.periodUs,
      }] : [],
      ...(lifecycle ? { events } : {}),
    };
  });
}

/** The arbitrary world case `index` draws from: a hostile campaign enumerates every (behaviour, variant) pair first, as caseArbAt does. */
export function worldCaseArbAt(index: number, hostile: boolean, only?: string[], lifecycle = false): fc.Arbitrary<CaseScenario> {
  if (!hostile) return worldCaseArb(false, undefined, undefined, lifecycle);
  const pairs = hostilePairs(only);
  return worldCaseArb(true, only, index < pairs.length ? pairs[index] : undefined, lifecycle);
}
