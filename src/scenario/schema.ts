/** Scenario files (YAML), validated with zod; errors name every offending field with its line. */
import { z } from 'zod';
import { formatIssues, readYamlFile, ScenarioError, type Override, type YamlSource } from './issues.js';
import { HDR_LEN, PAGE_SIZE } from '../core/packet.js';
import { KERNEL_POOL_PAGES } from '../toolstack/host.js';
import { maxVifsPerGuest } from '../toolstack/vif.js';
import { EventsSchema, checkEvents } from './events.js';
import { costNames, componentNames, BEHAVIOURS, pow2, MIN_WINDOW_MS, MAX_RUN_US, MAX_COST_CYCLES, MachineSchema, PlacementSchema, ignoredByTopology, XenSchema, OptimizationsSchema, ENDPOINT_RE, ENDPOINT_MSG, HOST_RE, PORT_RE, PORT_MSG, SwitchSchema, HostSchema, timeMs } from './schema-parts.js';
export { MIN_WINDOW_MS, MAX_COST_CYCLES, TIME_FORMS, timeMs } from './schema-parts.js';

export const ScenarioSchema = z.strictObject({
  name: z.string().min(1).describe('Name of the run, reported as `scenario` in results.'),
  description: z.string().default('').describe('Free text: what this scenario models. Does not affect the run.'),
  topology: z.enum(['native', 'driver', 'guest']).describe('Where the TCP endpoint runs: `native` Linux on the bare machine; `driver` in the driver domain (dom0, owns the NICs); `guest` in unprivileged guests reaching the NICs through netfront/netback.'),
  direction: z.enum(['tx', 'rx']).optional().describe('Stream workload only (required there): `tx`: the endpoint sends (netperf TCP_STREAM out of the machine); `rx`: external clients send to it. Request/response workloads go both ways and take none.'),
  workload: z.strictObject({
    kind: z.enum(['stream', 'tcp_rr', 'udp_rr']).default('stream').describe('`stream`: netperf TCP_STREAM in `direction`; `tcp_rr` / `udp_rr`: netperf TCP_RR / UDP_RR, netperf on the endpoint sends a request and waits for the response that netserver on the external client sends back at once; results then carry a `latency` block. Default stream.'),
    requestBytes: z.number().int().min(1).max(65536).optional().describe('Request size, bytes (netperf -r, first value). RR workloads only; default 1. A UDP_RR request must fit one frame.'),
    responseBytes: z.number().int().min(1).max(65536).optional().describe('Response size, bytes (netperf -r, second value). RR workloads only; default 1. A UDP_RR response must fit one frame.'),
    transactionsInFlight: z.number().int().min(1).max(256).optional().describe('Transactions each flow keeps outstanding (netperf -b burst plus one; TCP_NODELAY as netperf -D, so requests are not coalesced). RR workloads only; default 1.'),
  }).prefault({}).describe('What netperf runs on every flow. Default: stream.'),
  seed: z.number().int().nonnegative().default(1).describe('Seed of every random choice; the same scenario and seed give byte-identical results. Default 1.'),
  run: z.strictObject({
    durationMs: z.number().min(MIN_WINDOW_MS).max(60_000).default(150).describe(`Measured window of virtual time, ms (after the warm-up), ${MIN_WINDOW_MS} to 60000: a shorter window holds too few frames for a throughput or CPU figure to mean anything. Default 150.`),
    warmupMs: z.number().nonnegative().max(60_000).default(30).describe('Virtual time run before measuring, ms; its costs and counts are discarded. Default 30.'),
  }).prefault({}).describe('How long to simulate.'),
  machine: MachineSchema,
  placement: PlacementSchema,
  xen: XenSchema,
  variability: z.strictObject({
    irqJitterUs: z.number().nonnegative().max(1000).default(2).describe('Interrupt delivery latency varies uniformly in [0, x] us on top of the NIC\'s moderation interval (interrupt controller and PCI posting latency, timer granularity). Default 2.'),
    wireJitterNs: z.number().nonnegative().max(100_000).default(200).describe('Each frame\'s arrival from a NIC at the far end varies uniformly in [0, x] ns (DMA fetch and bus contention on the NIC side; frames stay in order). Default 200.'),
    cacheRefillPct: z.number().nonnegative().max(100).default(10).describe('The cache refill after each domain switch costs its cost-table value times a factor uniform in [1 - x%, 1 + x%] (how much of the working set was evicted varies). Default 10.'),
    clientTurnaroundUs: z.number().nonnegative().max(1000).default(2).describe('The external client answers after a delay uniform in [0, x] us (its interrupt and scheduling jitter: the client\'s think time). Default 2.'),
  }).prefault({}).describe('Sources of run-to-run variation a real testbed has. Each is drawn from the run\'s seed on its own device\'s stream (one actor\'s draws never shift another\'s), so a seed gives one exact result and different seeds give a distribution (see --reps). All zero makes the run independent of the seed except the client\'s ACK timing.'),
  hosts: z.record(z.string().regex(HOST_RE, 'expected a host name: lower-case letters, digits and -, starting with a letter'), HostSchema).optional()
    .describe('A world of several hosts, by name (`host1: { guests: 2 }`): Xen hosts built alike by the toolstack, and native Linux hosts (`c1: { native: true }`); their actors are named `host1/dom0`, `host1/eth0`, `c1/linux`, ... Needs `flows` with endpoints `host1/guest2`, `host2/peer1`, `c1/linux`, and `links` between the hosts. Default: one host, the scenario itself.'),
  switches: z.record(z.string().regex(HOST_RE, 'expected a switch name: lower-case letters, digits and -, starting with a letter'), SwitchSchema).default({})
    .describe('Ethernet switches of a world, by name (`sw0`); their ports are cabled under links. Default none.'),
  links: z.array(z.strictObject({
    a: z.string().regex(PORT_RE, PORT_MSG).describe('One end: a NIC port `host1/eth0`, or a switch port `sw0/p3`.'),
    b: z.string().regex(PORT_RE, PORT_MSG).describe('The other end: a NIC port of another host, or a switch port.'),
  })).default([]).describe('Ethernet cables between ports of a world: NIC to NIC, or NIC to switch port. A NIC not cabled here has an external peer host on its link (`hostname/peerN` for NIC N-1). Default none.'),
  flows: z.array(z.strictObject({
    from: z.string().regex(ENDPOINT_RE, ENDPOINT_MSG).describe('Where netperf runs (the stream\'s sender, or the end that sends requests): `dom0`, `guestN` (guest N, 1-based) or `peerN` (the external host on NIC N, 1-based); in a world, after `hostname/`, and `hostname/linux` on a native host.'),
    to: z.string().regex(ENDPOINT_RE, ENDPOINT_MSG).describe('Where netserver runs (the stream\'s receiver, or the end that answers requests): `dom0`, `guestN` or `peerN` (`hostname/...` in a world; `hostname/linux` on a native host).'),
    kind: z.enum(['stream', 'tcp_rr', 'udp_rr']).default('stream').describe('`stream`: netperf TCP_STREAM from `from` to `to`; `tcp_rr` / `udp_rr`: netperf TCP_RR / UDP_RR, requests from `from`, responses from `to`. Default stream.'),
    requestBytes: z.number().int().min(1).max(65536).optional().describe('Request size, bytes (netperf -r, first value). RR flows only; default 1.'),
    responseBytes: z.number().int().min(1).max(65536).optional().describe('Response size, bytes (netperf -r, second value). RR flows only; default 1.'),
    transactionsInFlight: z.number().int().min(1).max(256).optional().describe('Transactions the flow keeps outstanding (netperf -b burst plus one). RR flows only; default 1.'),
  })).min(1).max(1024).optional().describe('The traffic, flow by flow, between any two endpoints of the host (topology guest): two guests of one host talk through the bridge in dom0 and never touch a NIC. Without it, the shorthand: one flow per NIC and guest between the guests and the external hosts, in `direction`, running `workload`. Each guest has one vif, which carries all its flows.'),
  vifs: z.number().int().min(1).max(64).optional().describe('Vifs of each guest, with a flow list (topology guest): endpoint `guestN.V` is guest N\'s vif V, from 0 (`guestN` is vif 0); each vif is its own port on dom0\'s bridge with its own rings, netback and MAC. Default 1. Without a flow list, flow f has a vif of its own on guest f mod guests.'),
  guests: z.number().int().min(1).max(1024).default(1).describe('Guest domains (topology guest); flow f belongs to guest f mod guests, with max(nics, guests) flows. Default 1.'),
  optimizations: OptimizationsSchema,
  tcp: z.strictObject({
    mss: z.number().int().min(536).max(9000).default(1448).describe('TCP maximum segment size, bytes. Default 1448 (1500-byte MTU with timestamps).'),
    sndBufKiB: z.number().int().min(8).max(16384).default(128).describe('Socket send buffer of each flow, KiB (SO_SNDBUF). Default 128.'),
    rcvBufKiB: z.number().int().min(8).max(16384).default(128).describe('Socket receive buffer of each flow, KiB (SO_RCVBUF). Default 128.'),
    appChunkKiB: z.number().int().min(1).max(1024).default(16).describe('Bytes the application passes to each send or receive call, KiB (netperf -m). Default 16.'),
    congestionControl: z.enum(['newreno', 'none']).default('newreno').describe('Loss recovery of every TCP sender (guest, driver domain, native and the external clients): `newreno` is congestion control with slow start, congestion avoidance, fast retransmit and NewReno fast recovery (RFC 5681, RFC 6582; initial window per RFC 3390), receivers keeping an out-of-order queue; `none` has no congestion window: go-back-N from the first unacknowledged byte on 3 duplicate ACKs or a timeout, receivers dropping segments beyond a hole. Default newreno (see docs/tcp.md).'),
  }).prefault({}).describe('The TCP flows.'),
  netback: z.strictObject({
    rxDrainMs: z.number().min(0.001).max(3_600_000).default(10_000).describe('Packets queued for a guest longer than this are dropped, ms, 0.001 to 3600000 (Linux netback rx_drain_timeout_msecs). Default 10000.'),
    rxStallMs: z.number().min(0.001).max(3_600_000).default(60_000).describe('A guest RX queue that cannot deliver for this long loses its carrier, ms, 0.001 to 3600000 (Linux netback rx_stall_timeout_msecs). Default 60000.'),
    rxPollMs: z.number().min(0.001).max(60_000).default(30).describe('Without feature-rx-notify netback re-checks the RX ring this often while packets wait, ms, 0.001 to 60000 (a shorter period would be a busy loop of events). Default 30.'),
    lateEoiTickUs: z.number().min(1).max(1_000_000).default(1000).describe('Delay unit of the late EOI for spurious events (xen_irq_lateeoi), us, 1 to 1000000: one jiffy. Default 1000.'),
    pendingRing: z.enum(['shared', 'per-vif']).default('shared').describe('Pending-request slots (MAX_PENDING_REQS = 256, a slot per guest TX data slot in flight to the NIC): `shared` is one pool for every vif, as in the single-threaded netback of Xen 2.0/3.0; `per-vif` gives each vif its own, as Linux\'s multi-queue xen-netback does. Default shared.'),
    rateLimits: z.array(z.strictObject({
      host: z.string().regex(HOST_RE, 'expected a host name: lower-case letters, digits and -, starting with a letter').optional().describe('The host of the guest, in a world of hosts (required there; not used on one host).'),
      guest: z.number().int().min(1).describe('Guest domain id, 1-based (at most `guests`); the limit applies to each of its vifs.'),
      mbps: z.number().positive().max(1_000_000).describe('Transmit credit of each of the guest\'s vifs, Mb/s of the packets the guest sends (txreq.size: headers included).'),
      intervalMs: z.number().min(0.01).max(10_000).default(50).describe('Credit window, ms, 0.01 to 10000 (credit_usec; a shorter window would be a busy loop of credit timers): every window the vif may send mbps x window bytes (credit_bytes); unused credit is kept up to one window or 128 KiB. Default 50 (the toolstack\'s default).'),
    })).default([]).describe('Per-vif transmit rate limits set by the toolstack (the vif\'s `rate` key: xen-netback credit_bytes / credit_usec with a credit timer). Default none: unlimited.'),
    validate: z.strictObject({
      producer: z.boolean().default(true).describe('A `req_prod` more than a ring ahead of the responses disables the vif ("Impossible number of requests"; Linux netback since XSA-39, 2013). Default true.'),
      slotLimits: z.boolean().default(true).describe('A packet of 19-20 following slots is dropped and one of more than 20 disables the vif (xenvif_count_requests, Linux 3.10, 2013). Default true.'),
      pageBounds: z.boolean().default(true).describe('A slot whose offset + size runs past its 4096-byte page disables the vif (fatal since XSA-39). Default true.'),
      extras: z.boolean().default(true).describe('An extra-info slot of an unknown type, or a GSO extra with size 0 or an unknown GSO type, disables the vif (fatal since XSA-39). Default true.'),
    }).prefault({}).describe('TX validations of docs/protocol.md 2.10 the backend performs, all on as in today\'s Linux. `false` models a backend without that check, e.g. to run the hostile catalogue (`stress --hostile`) against an unhardened netback.'),
  }).prefault({}).describe('Linux netback timeouts, pending-slot pool, transmit rate limits and TX validations.'),
  faults: z.array(z.strictObject({
    host: z.string().regex(HOST_RE, 'expected a host name: lower-case letters, digits and -, starting with a letter').optional().describe('The host of the NIC, in a world of hosts (required there; not used on one host).'),
    atUs: z.number().nonnegative().max(MAX_RUN_US).describe('When, in virtual time from the start of the run (warm-up included), us, at most 120000000 (the longest run).'),
    nic: z.number().int().nonnegative().describe('Which NIC, 0-based (below machine.nics).'),
    kind: z.enum(['link-down', 'link-up', 'dma-error']).describe('`link-down`/`link-up`: carrier lost or back; `dma-error`: the next `count` received frames fail their DMA.'),
    count: z.number().int().min(1).max(1_000_000).default(1).describe('Frames hit by a dma-error. Default 1.'),
  })).default([]).describe('NIC fault injection. Default none.'),
  hostile: z.array(z.strictObject({
    host: z.string().regex(HOST_RE, 'expected a host name: lower-case letters, digits and -, starting with a letter').optional().describe('The host of the guest, in a world of hosts (required there; not used on one host).'),
    guest: z.number().int().min(1).describe('Guest domain id, 1-based (at most `guests`).'),
    vif: z.number().int().nonnegative().default(0).describe('Which of the guest\'s vifs is hostile, 0-based. Default 0.'),
    behaviour: z.enum(BEHAVIOURS).describe('Adversary from the hostile-guest catalogue H1-H26 (docs/protocol.md 5.2, src/hostile/behaviours.ts).'),
    variant: z.number().int().nonnegative().default(0).describe('Sub-case of the behaviour, taken modulo its number of variants. Default 0.'),
    startUs: z.number().nonnegative().max(MAX_RUN_US).default(300).describe('When the adversary starts acting, virtual us, at most 120000000 (the longest run). Default 300.'),
    periodUs: z.number().min(1).max(MAX_RUN_US).default(200).describe('Interval between the adversary\'s steps, us, 1 to 120000000 (a shorter period would be a busy loop of steps). Default 200.'),
  })).default([]).describe('Guests whose vif runs an adversary instead of an honest netfront (topology guest). Default none.'),
  events: EventsSchema,
  costs: z.partialRecord(z.enum(costNames), z.number().nonnegative().max(MAX_COST_CYCLES).describe(`CPU cycles per operation of this row (its unit is in src/model/costs.ts), at most ${MAX_COST_CYCLES} (about 600 times the largest row: one operation longer than that outlasts any run).`)).default({})
    .describe('Overrides of rows of the cost table (src/model/costs.ts), CPU cycles per operation. Default: none, the table as documented in docs/cost-model.md.'),
  footprint: z.partialRecord(z.enum(componentNames), z.strictObject({
    code: z.number().int().nonnegative().max(4096).describe('Code pages (translated through the instruction TLB) the component touches per invocation.'),
    data: z.number().int().nonnegative().max(4096).describe('Data pages (translated through the data TLB) the component touches per invocation.'),
  })).default({}).describe('Overrides of the page footprints of the TLB model (FOOTPRINT in src/model/costs.ts), per component. Default: none.'),
  paper: z.strictObject({
    label: z.string().min(1).optional().describe('Name of the configuration in the paper\'s terms, as `xennet paper` prints it.'),
    mbps: z.number().positive().max(1_000_000).optional().describe('Throughput the paper measured for this configuration, Mb/s: results report the error against it.'),
    source: z.string().min(1).optional().describe('Where in the paper `mbps` comes from (table or figure).'),
  }).optional().describe('Metadata: the paper configuration this scenario reproduces. Does not affect the run.'),
}).superRefine((sc, ctx) => {
  checkWorkload(sc, ctx);
  checkWorld(sc, ctx);
  if (sc.machine.tlbReplacement === 'plru') {
    for (const f of ['tlbEntries', 'itlbEntries'] as const) {
      if (!pow2(sc.machine[f])) ctx.addIssue({ code: 'custom', path: ['machine', f], message: `${sc.machine[f]} entries: tree pseudo-LRU needs a power of two (or set machine.tlbReplacement: lru)` });
    }
  }
  if (sc.paper?.mbps !== undefined && sc.paper.source === undefined) ctx.addIssue({ code: 'custom', path: ['paper', 'source'], message: 'say where the paper\'s figure comes from (table or figure)' });
  if (sc.topology === 'guest') {
    // Each vif takes its grant references after the guest's own (the toolstack's layout, src/toolstack/vif.ts).
    const perGuest = vifsOfGuest(sc, 1);
    const maxVifs = maxVifsPerGuest(sc.machine.vifRingSize);
    if (perGuest > maxVifs && sc.flows) ctx.addIssue({ code: 'custom', path: ['vifs'], message: tooManyVifs(perGuest, maxVifs, sc.machine.vifRingSize) });
    else if (perGuest > maxVifs) {
      ctx.addIssue({ code: 'custom', path: ['machine', 'nics'], message: `${sc.machine.nics} NICs for ${sc.guests} guest(s) give guest 1 ${perGuest} vifs; its grant table holds at most ${maxVifs} with vifRingSize ${sc.machine.vifRingSize}` });
    }
  }
  const needMiB = sc.hosts ? 0 : memoryNeededMiB(sc); // a world's hosts are checked one by one (checkWorld)
  if (needMiB > sc.machine.memoryMiB) {
    const what = sc.topology === 'guest' ? `dom0 and ${sc.guests} guest(s)` : 'the kernel';
    ctx.addIssue({ code: 'custom', path: ['machine', 'memoryMiB'], message: `${sc.machine.memoryMiB} MiB is too small: ${what} with ${sc.machine.nics} NIC(s) need at least ${needMiB} MiB (reduce guests or raise machine.memoryMiB)` });
  }
  checkPlacement(sc, ctx);
  checkEvents({
    topology: sc.topology, events: sc.events, run: sc.run, ...(sc.hosts ? { hosts: sc.hosts } : {}),
    guestsOf: (h) => { const hs = hostScenario(sc, h); return hs.topology === 'native' ? 0 : hs.guests; }, bootVifs: (h, g) => vifsOfGuest(hostScenario(sc, h), g),
    maxVifs: maxVifsPerGuest(sc.machine.vifRingSize),
  }, ctx);
  checkHostEntries(sc, ctx);
});

export type Scenario = z.infer<typeof ScenarioSchema>;
/** A scenario as written in a file (fields with defaults may be left out). */
export type ScenarioInput = z.input<typeof ScenarioSchema>;

type Ctx = { addIssue(i: { code: 'custom'; path: PropertyKey[]; message: string }): void };
/** Every pinned CPU exists, one pin per guest, and credit parameters name existing guests. */
function checkPlacement(sc: z.infer<typeof ScenarioSchema>, ctx: Ctx): void {
  const cpus = sc.machine.cpus;
  const p = sc.placement;
  const noCpu = (v: number) => `no CPU ${v} (machine.cpus is ${cpus}: CPUs 0..${cpus - 1})`;
  if (p.dom0 >= cpus) ctx.addIssue({ code: 'custom', path: ['placement', 'dom0'], message: noCpu(p.dom0) });
  if (p.irqCpu !== undefined && p.irqCpu >= cpus) ctx.addIssue({ code: 'custom', path: ['placement', 'irqCpu'], message: noCpu(p.irqCpu) });
  if (p.irqCpu !== undefined && sc.topology === 'native') ctx.addIssue({ code: 'custom', path: ['placement', 'irqCpu'], message: 'IRQ routing by Xen needs topology driver or guest' });
  if (Array.isArray(p.guests)) {
    if (sc.topology !== 'guest') ctx.addIssue({ code: 'custom', path: ['placement', 'guests'], message: 'guest placement needs topology guest' });
    else if (p.guests.length !== sc.guests) ctx.addIssue({ code: 'custom', path: ['placement', 'guests'], message: `${p.guests.length} CPU(s) for ${sc.guests} guest(s): give one per guest, or round-robin` });
    p.guests.forEach((c, i) => { if (c >= cpus) ctx.addIssue({ code: 'custom', path: ['placement', 'guests', i], message: `guest ${i + 1}: ${noCpu(c)}` }); });
  }
  const cg = sc.xen.credit.guests;
  if (cg.length > 0 && sc.topology !== 'guest') ctx.addIssue({ code: 'custom', path: ['xen', 'credit', 'guests'], message: 'per-guest credit parameters need topology guest' });
  else if (cg.length > sc.guests) ctx.addIssue({ code: 'custom', path: ['xen', 'credit', 'guests'], message: `${cg.length} entries for ${sc.guests} guest(s)` });
}

/**
 * NIC faults, rate limits and hostile guests: each names its host in a world of hosts (and none on
 * one host), and a NIC, guest and vif that exist on that host.
 */
function checkHostEntries(sc: z.infer<typeof ScenarioSchema>, ctx: Ctx): void {
  const names = sc.hosts ? Object.keys(sc.hosts) : null;
  /** The scenario as the entry's host sees it, or null (the problem reported) when the entry names no host it may. */
  const hostOf = (host: string | undefined, path: PropertyKey[]): Scenario | null => {
    if (!names) {
      if (host === undefined) return sc;
      ctx.addIssue({ code: 'custom', path: [...path, 'host'], message: 'no hosts listed: remove host, or list the hosts under hosts' });
      return null;
    }
    if (host === undefined) ctx.addIssue({ code: 'custom', path: [...path, 'host'], message: `required in a world of hosts: name one of ${names.join(', ')}` });
    else if (!names.includes(host)) ctx.addIssue({ code: 'custom', path: [...path, 'host'], message: `no host ${host} (hosts: ${names.join(', ')})` });
    else return hostScenario(sc, host);
    return null;
  };
  const of = (host: string | undefined) => (host === undefined ? '' : ` of ${host}`);
  sc.faults.forEach((f, i) => {
    const hs = hostOf(f.host, ['faults', i]);
    if (hs && f.nic >= hs.machine.nics) ctx.addIssue({ code: 'custom', path: ['faults', i, 'nic'], message: `no NIC ${f.nic}${of(f.host)} (machine.nics is ${hs.machine.nics})` });
  });
  const limited = new Set<string>();
  sc.netback.rateLimits.forEach((r, i) => {
    const hs = hostOf(r.host, ['netback', 'rateLimits', i]);
    if (sc.topology !== 'guest' || hs?.topology === 'native') ctx.addIssue({ code: 'custom', path: ['netback', 'rateLimits', i], message: `rate limits apply to guests' vifs: they need topology guest${hs?.topology === 'native' ? ` (${r.host} is a native host)` : ''}` });
    else if (hs && r.guest > hs.guests) ctx.addIssue({ code: 'custom', path: ['netback', 'rateLimits', i, 'guest'], message: `no guest ${r.guest}${of(r.host)} (guests is ${hs.guests})` });
    const k = `${r.host ?? ''}/${r.guest}`;
    if (limited.has(k)) ctx.addIssue({ code: 'custom', path: ['netback', 'rateLimits', i, 'guest'], message: `guest ${r.guest}${of(r.host)} listed twice` });
    limited.add(k);
  });
  const seen = new Set<string>();
  sc.hostile.forEach((h, i) => {
    const hs = hostOf(h.host, ['hostile', i]);
    if (sc.topology !== 'guest' || hs?.topology === 'native') ctx.addIssue({ code: 'custom', path: ['hostile', i], message: `hostile guests need topology guest${hs?.topology === 'native' ? ` (${h.host} is a native host)` : ''}` });
    else if (!hs) { /* the host was reported */ }
    else if (h.guest > hs.guests) ctx.addIssue({ code: 'custom', path: ['hostile', i, 'guest'], message: `no guest ${h.guest}${of(h.host)} (guests is ${hs.guests})` });
    else if (h.vif >= vifsOfGuest(hs, h.guest)) ctx.addIssue({ code: 'custom', path: ['hostile', i, 'vif'], message: `guest ${h.guest}${of(h.host)} has no vif ${h.vif} (it has ${vifsOfGuest(hs, h.guest)}: vifs 0..${vifsOfGuest(hs, h.guest) - 1})` });
    const k = `${h.host ?? ''}/${h.guest}.${h.vif}`;
    if (seen.has(k)) ctx.addIssue({ code: 'custom', path: ['hostile', i], message: `guest ${h.guest}${of(h.host)} vif ${h.vif} listed twice` });
    seen.add(k);
  });
}

const tooManyVifs = (vifs: number, max: number, ring: number) => `${vifs} vifs per guest: a guest's grant table holds at most ${max} with vifRingSize ${ring}`;

/** A UDP_RR datagram goes in one frame: IP fragmentation is not modelled; frames hold one page (build.ts caps the MSS the same way). */
const UDP_MAX = PAGE_SIZE - HDR_LEN;
/** `direction` belongs to streams, the RR sizes to RR workloads; a UDP_RR datagram fits one frame. */
function checkWorkload(sc: z.infer<typeof ScenarioSchema>, ctx: z.RefinementCtx): void {
  const w = sc.workload;
  if (sc.flows) { checkFlows(sc, ctx); return; }
  if (sc.vifs !== undefined) ctx.addIssue({ code: 'custom', path: ['vifs'], message: 'only with a flow list (flows): without one, each flow has a vif of its own' });
  if (w.kind === 'stream') {
    if (sc.direction === undefined) ctx.addIssue({ code: 'custom', path: ['direction'], message: 'required for workload stream: tx or rx' });
    for (const f of ['requestBytes', 'responseBytes', 'transactionsInFlight'] as const) {
      if (w[f] !== undefined) ctx.addIssue({ code: 'custom', path: ['workload', f], message: `only for workload tcp_rr or udp_rr (kind is stream)` });
    }
    return;
  }
  if (sc.direction !== undefined) ctx.addIssue({ code: 'custom', path: ['direction'], message: `not used by workload ${w.kind}: a transaction goes both ways; remove it` });
  if (w.kind === 'udp_rr') {
    const max = Math.min(sc.tcp.mss, UDP_MAX);
    for (const f of ['requestBytes', 'responseBytes'] as const) {
      if ((w[f] ?? 1) > max) ctx.addIssue({ code: 'custom', path: ['workload', f], message: `${w[f]} bytes do not fit one frame (at most ${max}: tcp.mss, and one page; IP fragmentation is not modelled)` });
    }
  }
}

/** The parts of an endpoint name: `dom0`, `linux` (a native host's), `guestN`, `peerN`. */
export function parseEndpoint(e: string): { kind: 'dom0' | 'linux' | 'guest' | 'peer'; n: number; vif: number } {
  e = e.slice(e.indexOf('/') + 1);
  if (e === 'dom0' || e === 'linux') return { kind: e, n: 0, vif: 0 };
  const m = /^(guest|peer)(\d+)(?:\.(\d+))?$/.exec(e)!;
  return { kind: m[1] as 'guest' | 'peer', n: Number(m[2]), vif: Number(m[3] ?? 0) };
}

/** A flow list: endpoints that exist, two different ends inside reach of the bridge, options that fit the flow's kind. */
function checkFlows(sc: z.infer<typeof ScenarioSchema>, ctx: z.RefinementCtx): void {
  const w = sc.workload;
  if (sc.topology !== 'guest') ctx.addIssue({ code: 'custom', path: ['flows'], message: 'flows need topology guest (the bridge in dom0 joins their endpoints)' });
  if (sc.direction !== undefined) ctx.addIssue({ code: 'custom', path: ['direction'], message: 'not used with flows: each flow goes from its `from` to its `to`; remove it' });
  if (w.kind !== 'stream') ctx.addIssue({ code: 'custom', path: ['workload', 'kind'], message: 'not used with flows: each flow has its own kind; remove it' });
  for (const f of ['requestBytes', 'responseBytes', 'transactionsInFlight'] as const) {
    if (w[f] !== undefined) ctx.addIssue({ code: 'custom', path: ['workload', f], message: 'not used with flows: give it on the flow' });
  }
  sc.flows!.forEach((fl, i) => {
    if (!ENDPOINT_RE.test(fl.from) || !ENDPOINT_RE.test(fl.to)) return; // the field's own check said so
    const ends = { from: parseEndpoint(fl.from), to: parseEndpoint(fl.to) };
    const hostOf = { from: hostOfEndpoint(fl.from), to: hostOfEndpoint(fl.to) };
    let known = true;
    for (const side of ['from', 'to'] as const) {
      const hn = hostOf[side];
      if (sc.hosts && hn === null) { ctx.addIssue({ code: 'custom', path: ['flows', i, side], message: `name the host: ${Object.keys(sc.hosts)[0]}/${fl[side]} (a world of hosts)` }); known = false; }
      else if (!sc.hosts && hn !== null) { ctx.addIssue({ code: 'custom', path: ['flows', i, side], message: `no hosts listed: write ${fl[side].slice(hn.length + 1)}, or list the hosts under hosts` }); known = false; }
      else if (sc.hosts && hn !== null && !(hn in sc.hosts)) { ctx.addIssue({ code: 'custom', path: ['flows', i, side], message: `no host ${hn} (hosts: ${Object.keys(sc.hosts).join(', ')})` }); known = false; }
    }
    if (!known) return;
    const hostSc = { from: hostScenario(sc, hostOf.from), to: hostScenario(sc, hostOf.to) };
    const cabled = (hn: string | null, nic: number) => sc.links.find((l) => l.a === `${hn}/eth${nic}` || l.b === `${hn}/eth${nic}`);
    const route = hostOf.from !== hostOf.to ? linkBetween(sc, hostOf.from!, hostOf.to!) : null;
    if (hostOf.from !== hostOf.to && !route) {
      ctx.addIssue({ code: 'custom', path: ['flows', i, 'to'], message: `no link between ${hostOf.from} and ${hostOf.to}: cable two of their NICs, or both to one switch, under links` });
    }
    for (const side of ['from', 'to'] as const) {
      const e = ends[side], hs = hostSc[side], where = hostOf[side] ? ` of ${hostOf[side]}` : '';
      const bad = endOfKind(e.kind, hs.topology === 'native', hostOf[side]);
      if (bad) { ctx.addIssue({ code: 'custom', path: ['flows', i, side], message: bad }); continue; }
      if (e.kind === 'guest' && e.n > hs.guests) ctx.addIssue({ code: 'custom', path: ['flows', i, side], message: `no guest ${e.n}${where} (guests is ${hs.guests})` });
      else if (e.kind === 'guest' && e.vif >= (hs.vifs ?? 1)) ctx.addIssue({ code: 'custom', path: ['flows', i, side], message: `no vif ${e.vif} of guest ${e.n}${where} (vifs is ${hs.vifs ?? 1}: guest${e.n}.0..guest${e.n}.${(hs.vifs ?? 1) - 1})` });
      if (e.kind === 'peer' && e.n > hs.machine.nics) ctx.addIssue({ code: 'custom', path: ['flows', i, side], message: `no peer ${e.n}${where} (machine.nics is ${hs.machine.nics}: peers 1..${hs.machine.nics}, one on each NIC's link)` });
      else if (e.kind === 'peer' && cabled(hostOf[side], e.n - 1)) ctx.addIssue({ code: 'custom', path: ['flows', i, side], message: `no peer on ${hostOf[side]}/eth${e.n - 1}: it is cabled to another host (links)` });
    }
    // A native host forwards nothing: its peers talk to its own Linux only.
    for (const [side, other] of [['from', 'to'], ['to', 'from']] as const) {
      if (ends[side].kind === 'peer' && hostSc[side].topology === 'native' && !(ends[other].kind === 'linux' && hostOf[other] === hostOf[side])) {
        ctx.addIssue({ code: 'custom', path: ['flows', i, side], message: `${hostOf[side]} is a native host and forwards nothing: its peers talk to ${hostOf[side]}/linux only` });
      }
    }
    if (fl.from !== fl.to && hostOf.from === hostOf.to && ends.from.kind === 'guest' && ends.to.kind === 'guest' && ends.from.n === ends.to.n) ctx.addIssue({ code: 'custom', path: ['flows', i, 'to'], message: `guest ${ends.from.n} at both ends: a flow joins two different domains` });
    else if (fl.from === fl.to) ctx.addIssue({ code: 'custom', path: ['flows', i, 'to'], message: `the same endpoint as from (${fl.from}): a flow joins two endpoints` });
    else if (ends.from.kind === 'peer' && ends.to.kind === 'peer') ctx.addIssue({ code: 'custom', path: ['flows', i, 'to'], message: 'a flow between two peers does not cross a host: one end must be dom0 or a guest' });
    if (fl.kind === 'stream') {
      for (const f of ['requestBytes', 'responseBytes', 'transactionsInFlight'] as const) {
        if (fl[f] !== undefined) ctx.addIssue({ code: 'custom', path: ['flows', i, f], message: 'only for kind tcp_rr or udp_rr (kind is stream)' });
      }
      return;
    }
    if (ends.from.kind === 'peer') ctx.addIssue({ code: 'custom', path: ['flows', i, 'from'], message: 'an external peer runs netserver only: put it in `to`' });
    if (fl.kind === 'udp_rr') {
      const max = Math.min(sc.tcp.mss, UDP_MAX);
      for (const f of ['requestBytes', 'responseBytes'] as const) {
        if ((fl[f] ?? 1) > max) ctx.addIssue({ code: 'custom', path: ['flows', i, f], message: `${fl[f]} bytes do not fit one frame (at most ${max}: tcp.mss, and one page; IP fragmentation is not modelled)` });
      }
    }
  });
}

/** Why an endpoint of `kind` does not exist on its host (a native host, or a Xen host), or null. */
function endOfKind(kind: ReturnType<typeof parseEndpoint>['kind'], native: boolean, host: string | null): string | null {
  if (kind === 'linux' && !native) return host ? `${host} is a Xen host: its own kernel is ${host}/dom0 (linux names a native host's, hosts.${host}.native)` : 'linux names a native host of a world; this host\'s own kernel is dom0';
  if (native && (kind === 'dom0' || kind === 'guest')) return `${host} is a native Linux host (no Xen, no ${kind === 'dom0' ? 'dom0' : 'guests'}): its endpoint is ${host}/linux`;
  return null;
}

/** The host an endpoint names (`host1/guest2`: host1), or null for an endpoint of the one host. */
export function hostOfEndpoint(e: string): string | null {
  const k = e.indexOf('/');
  return k < 0 ? null : e.slice(0, k);
}

const NATIVE_PLACEMENT: Scenario['placement'] = { dom0: 0, guests: 'round-robin' };

/** The scenario as host `name` of a world sees it (its own guests, machine, placement, Xen and optimizations); the scenario itself for null. */
export function hostScenario(sc: Scenario, name: string | null): Scenario {
  const h = name === null ? undefined : sc.hosts?.[name];
  if (!h) return sc;
  // The world's NIC faults, rate limits and adversaries that name this host.
  const own = {
    faults: sc.faults.filter((f) => f.host === name), hostile: sc.hostile.filter((a) => a.host === name),
    netback: { ...sc.netback, rateLimits: sc.netback.rateLimits.filter((r) => r.host === name) },
  };
  // Native Linux: no guests, no Xen; its one kernel on CPU 0 unless the host says otherwise.
  if (h.native) return { ...sc, ...own, topology: 'native', machine: h.machine ?? sc.machine, placement: h.placement ?? NATIVE_PLACEMENT };
  return {
    ...sc, ...own, guests: h.guests ?? sc.guests, machine: h.machine ?? sc.machine, placement: h.placement ?? sc.placement,
    xen: h.xen ?? sc.xen, optimizations: h.optimizations ?? sc.optimizations, ...(h.vifs !== undefined ? { vifs: h.vifs } : {}),
  };
}

/**
 * How host `a` reaches host `b`: the first of a's NICs cabled straight to one of b's, or else to a
 * switch one of b's NICs is cabled to. [a's NIC, b's NIC, the switch or null], or null when none does.
 */
export function linkBetween(sc: Pick<Scenario, 'links'>, a: string, b: string): [number, number, string | null] | null {
  const ends = sc.links.flatMap((l) => [[l.a, l.b], [l.b, l.a]]).map(([x, y]) => ({ x: x.split('/'), y: y.split('/') }));
  for (const { x, y } of ends) if (x[0] === a && y[0] === b && x[1].startsWith('eth') && y[1].startsWith('eth')) return [Number(x[1].slice(3)), Number(y[1].slice(3)), null];
  for (const { x, y } of ends) {
    if (x[0] !== a || !x[1].startsWith('eth') || !y[1].startsWith('p')) continue;
    const far = ends.find((e) => e.x[0] === b && e.x[1].startsWith('eth') && e.y[0] === y[0]);
    if (far) return [Number(x[1].slice(3)), Number(far.x[1].slice(3)), y[0]];
  }
  return null;
}

/** A world of hosts: each host checked like a scenario of its own (under hosts.NAME), cables between NICs that exist, each used once. */
function checkWorld(sc: z.infer<typeof ScenarioSchema>, ctx: z.RefinementCtx): void {
  if (!sc.hosts) {
    if (sc.links.length) ctx.addIssue({ code: 'custom', path: ['links'], message: 'links join the hosts of a world: list them under hosts' });
    if (Object.keys(sc.switches).length) ctx.addIssue({ code: 'custom', path: ['switches'], message: 'switches join the hosts of a world: list them under hosts' });
    return;
  }
  if (!sc.flows) ctx.addIssue({ code: 'custom', path: ['flows'], message: 'a world of hosts needs its flows listed (from: host1/guest1, to: host2/guest1, ...)' });
  for (const name of Object.keys(sc.hosts)) {
    const hs = hostScenario(sc, name);
    const sub: Ctx = { addIssue: (i) => ctx.addIssue({ ...i, path: ['hosts', name, ...i.path] }) };
    const own = sc.hosts[name];
    if (own.native) for (const k of ['guests', 'vifs', 'xen', 'optimizations'] as const) if (own[k] !== undefined) sub.addIssue({ code: 'custom', path: [k], message: 'not used by a native host (no Xen, no guests): remove it' });
    else if (own.vifs !== undefined && own.vifs > maxVifsPerGuest(hs.machine.vifRingSize)) sub.addIssue({ code: 'custom', path: ['vifs'], message: tooManyVifs(own.vifs, maxVifsPerGuest(hs.machine.vifRingSize), hs.machine.vifRingSize) });
    checkPlacement(hs, sub);
    const mine = (sc.flows ?? []).filter((f) => hostOfEndpoint(f.from) === name || hostOfEndpoint(f.to) === name);
    const needMiB = memoryNeededMiB({ ...hs, flows: mine.length ? mine : undefined });
    if (needMiB > hs.machine.memoryMiB) sub.addIssue({ code: 'custom', path: ['machine', 'memoryMiB'], message: `${hs.machine.memoryMiB} MiB is too small: ${own.native ? 'Linux needs' : `dom0 and ${hs.guests} guest(s) need`} at least ${needMiB} MiB` });
  }
  const used = new Set<string>();
  for (const n of Object.keys(sc.switches)) if (n in sc.hosts) ctx.addIssue({ code: 'custom', path: ['switches', n], message: `${n} is also a host: give the switch another name` });
  sc.links.forEach((l, i) => {
    for (const side of ['a', 'b'] as const) {
      const [hn, port] = l[side].split('/');
      const sw = sc.switches[hn], hs = sc.hosts![hn] ? hostScenario(sc, hn) : null;
      if (port.startsWith('eth')) {
        if (!hs) ctx.addIssue({ code: 'custom', path: ['links', i, side], message: `no host ${hn} (hosts: ${Object.keys(sc.hosts!).join(', ')})` });
        else if (Number(port.slice(3)) >= hs.machine.nics) ctx.addIssue({ code: 'custom', path: ['links', i, side], message: `no NIC ${port} on ${hn} (machine.nics is ${hs.machine.nics}: eth0..eth${hs.machine.nics - 1})` });
      } else if (!sw) ctx.addIssue({ code: 'custom', path: ['links', i, side], message: `no switch ${hn} (switches: ${Object.keys(sc.switches).join(', ') || 'none'})` });
      else if (Number(port.slice(1)) >= sw.ports) ctx.addIssue({ code: 'custom', path: ['links', i, side], message: `no port ${port} on ${hn} (ports is ${sw.ports}: p0..p${sw.ports - 1})` });
      if (used.has(l[side])) ctx.addIssue({ code: 'custom', path: ['links', i, side], message: `${l[side]} is cabled twice` });
      used.add(l[side]);
    }
    const [ha, hb] = [l.a.split('/')[0], l.b.split('/')[0]];
    if (ha === hb) ctx.addIssue({ code: 'custom', path: ['links', i, 'b'], message: 'a link joins two different boxes' });
    else if (ha in sc.switches && hb in sc.switches) ctx.addIssue({ code: 'custom', path: ['links', i, 'b'], message: 'switch to switch cables are not modelled yet: cable hosts to one switch' });
  });
}

/** A flow's RR parameters with their defaults, or null for a stream. */
export function rrOfFlow(fl: NonNullable<Scenario['flows']>[number]): { kind: 'tcp_rr' | 'udp_rr'; requestBytes: number; responseBytes: number; burst: number } | null {
  if (fl.kind === 'stream') return null;
  return { kind: fl.kind, requestBytes: fl.requestBytes ?? 1, responseBytes: fl.responseBytes ?? 1, burst: fl.transactionsInFlight ?? 1 };
}

/** The workload's RR parameters with their defaults, or null for a stream. */
export function rrWorkload(sc: Scenario): { kind: 'tcp_rr' | 'udp_rr'; requestBytes: number; responseBytes: number; burst: number } | null {
  const w = sc.workload;
  if (w.kind === 'stream') return null;
  return { kind: w.kind, requestBytes: w.requestBytes ?? 1, responseBytes: w.responseBytes ?? 1, burst: w.transactionsInFlight ?? 1 };
}

/** Time of a minimum Ethernet frame (84 bytes with preamble and gap) on a link of `mbps`, in ms. */
export function minFrameMs(mbps: number): number { return (84 * 8) / (mbps * 1000); }

type Topo = { topology: string; guests: number; machine: { nics: number }; flows?: unknown[]; vifs?: number };
/** Vifs of guest `domid` (1-based): `vifs` (default one) with a flow list; else flow f belongs to guest f mod guests, flows = max(nics, guests). */
export function vifsOfGuest(sc: Topo, domid: number): number {
  if (sc.flows) return domid >= 1 && domid <= sc.guests ? sc.vifs ?? 1 : 0;
  const flows = Math.max(sc.machine.nics, sc.guests);
  const g = domid - 1;
  return g < 0 || g >= sc.guests ? 0 : Math.floor((flows - 1 - g) / sc.guests) + 1;
}

/**
 * Machine memory (MiB) a scenario needs at least: every kernel's buffer pool, dom0's NIC receive
 * rings beyond its pool, each vif's two ring pages and receive buffers beyond its guest's pool,
 * and each flow's TCP send and receive buffers.
 */
export function memoryNeededMiB(sc: Scenario): number {
  const m = sc.machine;
  const guests = sc.topology === 'guest' ? sc.guests : 0;
  const flows = sc.flows ? sc.flows.length : guests ? Math.max(m.nics, guests) : m.nics;
  let frames = (1 + guests) * KERNEL_POOL_PAGES + Math.max(0, m.nics * m.nic.ringSize - KERNEL_POOL_PAGES);
  for (let g = 1; g <= guests; g++) {
    const v = vifsOfGuest(sc, g);
    frames += 2 * v + Math.max(0, v * m.vifRingSize - KERNEL_POOL_PAGES);
  }
  frames += flows * Math.ceil((sc.tcp.sndBufKiB + sc.tcp.rcvBufKiB) * 1024 / PAGE_SIZE);
  return Math.ceil(frames * PAGE_SIZE / (1024 * 1024));
}

export { ScenarioError, readYamlFile } from './issues.js';
export { ignoredByTopology } from './schema-parts.js';

export type { Override } from './issues.js';

/** Parse the time a flag was given, in ms; a bad value is a ScenarioError naming the flag and the accepted forms. */
export function flagTimeMs(flag: string, raw: string, bare: 's' | 'ms'): number {
  const r = timeMs(bare).safeParse(raw);
  if (!r.success) throw new ScenarioError(`${flag} ${raw}: ${r.error.issues[0].message}`);
  return r.data;
}

/** Every problem of a failed parse, with line:column when the input came from a YAML file. */
export function formatZodError(err: z.ZodError, where: string, overrides: Override[] = [], src?: YamlSource, schema: z.ZodType = ScenarioSchema): string {
  return formatIssues(err.issues, { where, schema, src, overrides });
}

export function parseScenario(obj: unknown, where = 'scenario', overrides: Override[] = [], src?: YamlSource): Scenario {
  const r = ScenarioSchema.safeParse(obj);
  if (!r.success) throw new ScenarioError(formatZodError(r.error, where, overrides, src));
  return r.data;
}

/** Set a dotted field path in a raw (unvalidated) object, creating objects on the way. */
export function setPath(obj: Record<string, unknown>, path: string, v: unknown): void {
  const keys = path.split('.');
  let o = obj;
  for (const k of keys.slice(0, -1)) {
    if (typeof o[k] !== 'object' || o[k] === null) o[k] = {};
    o = o[k] as Record<string, unknown>;
  }
  o[keys[keys.length - 1]] = v;
}

/**
 * Read and validate a scenario file. Command-line overrides are applied to the raw object
 * before validation, so they meet exactly the checks a value in the file meets.
 */
export function loadScenario(path: string, overrides: Override[] = [], opts: { allowIgnored?: boolean } = {}): Scenario {
  const { value: obj, src } = readYamlFile(path);
  if (overrides.length) {
    if (typeof obj !== 'object' || obj === null || Array.isArray(obj)) throw new ScenarioError(`${path}: field (top level): expected a mapping`);
    for (const o of overrides) setPath(obj as Record<string, unknown>, o.path, o.value);
  }
  const sc = parseScenario(obj, path, overrides, src);
  if (!opts.allowIgnored) {
    const unused = ignoredByTopology(obj as Record<string, unknown>);
    if (unused.length) throw new ScenarioError(`${path}: field ${unused[0]}: not used by topology ${sc.topology}${unused.length > 1 ? ` (nor ${unused.slice(1).join(', ')})` : ''}; remove it, or use topology guest`);
  }
  return sc;
}

