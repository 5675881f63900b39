/**
 * The parts of a scenario file's schema (src/scenario/schema.ts puts them together): the machine,
 * placement, Xen, optimizations, and a world's switches and hosts, with the bounds they share.
 */
import { z } from 'zod';
import { COSTS, FOOTPRINT, type Component, type CostName } from '../model/costs.js';
import { BEHAVIOURS as CATALOGUE } from '../hostile/behaviours.js';

export const costNames = Object.keys(COSTS) as [CostName, ...CostName[]];
export const componentNames = Object.keys(FOOTPRINT) as [Component, ...Component[]];

/** The hostile-guest catalogue of docs/protocol.md 5.2 (src/hostile/behaviours.ts), by id. */
export const BEHAVIOURS = CATALOGUE.map((b) => b.id) as [string, ...string[]];
export const pow2 = (v: number) => v > 0 && (v & (v - 1)) === 0;
/** The shortest measured window, ms: about 80 full-size frames on a gigabit link, the least a throughput or CPU figure rests on. */
export const MIN_WINDOW_MS = 1;
/** The longest run (warm-up plus window), us: times of events (faults, adversaries) lie within it. */
export const MAX_RUN_US = 120_000_000;
/** The most cycles a cost row may charge per operation. */
export const MAX_COST_CYCLES = 10_000_000;

export const MachineSchema = z.strictObject({
  cpus: z.number().int().min(1).max(64).default(1).describe('Physical CPUs, each with its own TLB and run queue; which domain runs where is `placement`. Default 1 (the paper\'s 2.4 GHz Pentium 4 Xeon).'),
  cpuGhz: z.number().min(0.1).max(10).default(2.4).describe('CPU clock, GHz, 0.1 to 10: converts the cost table\'s cycles into time (slower clocks make single operations longer than a run). Default 2.4.'),
  tlbEntries: z.number().int().min(1).max(4096).default(64).describe('Entries of each CPU\'s data TLB (fully associative, replacement as tlbReplacement; 4 KiB and 4 MiB pages share them). Default 64 (Pentium 4 DTLB, CPUID descriptor 5Bh).'),
  tlbReplacement: z.enum(['plru', 'lru']).default('plru').describe('Which entry a full TLB evicts: `plru` tree pseudo-LRU (needs power-of-two entries), `lru` the least recently used. Intel does not publish the Pentium 4\'s policy (docs/cost-model.md). Default plru.'),
  itlbEntries: z.number().int().min(1).max(4096).default(64).describe('Entries of each CPU\'s instruction TLB (fully associative, replacement as tlbReplacement; 4 KiB and 4 MiB pages share them). Default 64 (Pentium 4 ITLB, CPUID descriptor 50h).'),
  memoryMiB: z.number().int().min(16).max(1 << 20).default(2048).describe('Machine memory, MiB; must hold every kernel\'s buffer pool, rings and TCP buffers. Default 2048.'),
  nics: z.number().int().min(1).max(64).default(4).describe('Physical NICs (one TCP flow and one external client each, or more flows with more guests). Default 4.'),
  vifRingSize: z.number().int().min(32).max(256).refine(pow2, 'must be a power of two').default(256)
    .describe('Entries of each vif\'s TX and RX ring (NET_TX_RING_SIZE/NET_RX_RING_SIZE); a power of two, one 4 KiB page holds 256 netif slots. Default 256.'),
  nic: z.strictObject({
    mbps: z.number().min(1).max(100_000).default(1000).describe('Link rate of each NIC, Mb/s, 1 to 100000: a frame\'s time on the wire is kept in picoseconds, so faster links round to nothing. Default 1000 (gigabit Ethernet, Intel e1000).'),
    ringSize: z.number().int().min(8).max(4096).default(256).describe('Descriptors in each NIC\'s TX and RX ring (ethtool -G). Default 256.'),
    itrUs: z.number().nonnegative().max(100_000).default(125).describe('Interrupt throttling: minimum interval between two NIC interrupts, us, at most 100000 (e1000 InterruptThrottleRate 8000/s). Default 125.'),
    latencyUs: z.number().nonnegative().max(1_000_000).default(2).describe('One-way latency of the cable and the far end, us, at most 1000000 (one second). Default 2.'),
    csumOffload: z.boolean().default(true).describe('The NIC computes TCP checksums (NETIF_F_HW_CSUM, ethtool tx/rx). Default true.'),
    tso: z.boolean().default(true).describe('The NIC segments large TCP sends (TCP segmentation offload, NETIF_F_TSO). Default true.'),
    sg: z.boolean().default(true).describe('The NIC gathers a packet from several buffers (scatter-gather, NETIF_F_SG). Default true.'),
  }).prefault({}).describe('Each physical NIC.'),
}).prefault({}).describe('The physical machine.');

export const PlacementSchema = z.strictObject({
  dom0: z.number().int().nonnegative().default(0).describe('CPU the driver domain\'s vCPU is pinned to (native Linux\'s CPU in topology native), 0-based, below machine.cpus. Default 0.'),
  guests: z.union([z.literal('round-robin'), z.array(z.number().int().nonnegative())]).default('round-robin')
    .describe('CPU each guest\'s vCPU is pinned to, guest 1 first (one entry per guest, each below machine.cpus), or `round-robin`: guest d on CPU d mod machine.cpus. Default round-robin.'),
  irqCpu: z.number().int().nonnegative().optional().describe('CPU the physical NICs\' interrupts arrive on (IRQ affinity), below machine.cpus. Default: the driver domain\'s CPU (pirq_guest_bind); elsewhere, Xen routes the interrupt there and wakes the driver domain with an IPI.'),
}).prefault({}).describe('Which physical CPU each domain\'s single vCPU is pinned to (vcpu-pin); a notification to a domain on another CPU takes an IPI.');

export const XenSchema = z.strictObject({
  ctxAllowUs: z.number().nonnegative().max(1_000_000).default(50).describe('BVT scheduler: how long a domain keeps the CPU while others are runnable before a switch, us, at most 1000000 (Xen context-switch allowance). Default 50.'),
  sliceUs: z.number().min(1).max(10_000_000).default(10_000).describe('Scheduler time slice, us, 1 to 10000000 (a slice shorter than a microsecond would switch domains more often than they can run). Default 10000.'),
  scheduler: z.enum(['bvt', 'credit']).default('bvt').describe('Domain scheduler: `bvt`, the BVT-like round robin with a context-switch allowance of Xen 2.0 (the paper); `credit`, Xen 3\'s credit scheduler (sched_credit.c: weights, caps, UNDER/OVER/BOOST priorities). Default bvt.'),
  credit: z.strictObject({
    tickUs: z.number().min(1).max(1_000_000).default(10_000).describe('Credit scheduler tick, us, 1 to 1000000: the running vCPU loses BOOST and joins accounting (CSCHED_MSECS_PER_TICK). Default 10000.'),
    ticksPerAcct: z.number().int().min(1).max(1000).default(3).describe('Ticks per accounting period, when credit is handed out by weight (CSCHED_TICKS_PER_ACCT). Default 3.'),
    tsliceUs: z.number().min(1).max(10_000_000).default(30_000).describe('Credit scheduler time slice, us, 1 to 10000000: the running vCPU keeps the CPU this long while others of its priority wait (CSCHED_MSECS_PER_TSLICE). Default 30000.'),
    dom0: z.strictObject({
      weight: z.number().int().min(1).max(65535).default(256).describe('Relative share of CPU time (xl sched-credit -w). Default 256.'),
      cap: z.number().int().min(0).max(100).default(0).describe('Most CPU the domain may use, % of one CPU; 0 = no cap (xl sched-credit -c). Default 0.'),
    }).prefault({}).describe('The driver domain\'s weight and cap.'),
    guests: z.array(z.strictObject({
      weight: z.number().int().min(1).max(65535).default(256).describe('Relative share of CPU time (xl sched-credit -w). Default 256.'),
      cap: z.number().int().min(0).max(100).default(0).describe('Most CPU the domain may use, % of one CPU; 0 = no cap (xl sched-credit -c). Default 0.'),
    })).default([]).describe('Each guest\'s weight and cap, guest 1 first (at most `guests` entries; guests not listed get weight 256, no cap). Default none.'),
  }).prefault({}).describe('Xen 3\'s credit scheduler (used with scheduler credit); periods default to Xen\'s and may be scaled down for short runs.'),
}).prefault({}).describe('The hypervisor (driver and guest topologies).');

export const OptimizationsSchema = z.strictObject({
  vnicOffload: z.boolean().default(false).describe('High-level virtual NIC: the vif offers scatter-gather, checksum offload and TSO (feature-sg, feature-no-csum-offload=0, feature-gso-tcpv4). Default false.'),
  txNoRemap: z.boolean().default(false).describe('I/O channel, transmit: netback does not map the guest\'s packet pages into the driver domain: it copies the header and pins the data pages for the NIC\'s DMA. Default false.'),
  rxCopy: z.boolean().default(false).describe('I/O channel, receive: the driver domain copies packets into guest buffers instead of flipping pages (feature-rx-copy rather than feature-rx-flip). Default false.'),
  rxCopyVia: z.enum(['map', 'gnttab']).default('map').describe('How rxCopy copies: `map` maps the granted guest page and copies on the driver domain\'s CPU (the paper\'s design); `gnttab` asks Xen to copy (GNTTABOP_copy, as Linux netback does today). Default map.'),
  superpages: z.boolean().default(false).describe('Guest and driver-domain kernels map their memory with 4 MiB superpages (PSE). Default false.'),
  globalPages: z.boolean().default(false).describe('Kernel mappings are global (PGE) so they survive address-space switches within a domain. Default false.'),
}).prefault({}).describe('The paper\'s optimizations (all off is Xen 2.0). Native Linux always uses superpages and global pages.');

/** A flow endpoint: the driver domain, a guest (1-based), the external host on a NIC (1-based), or a native host's Linux. */
export const ENDPOINT_RE = /^([a-z][a-z0-9-]*\/)?(dom0|linux|guest[1-9][0-9]*(\.[0-9]+)?|peer[1-9][0-9]*)$/;
export const ENDPOINT_MSG = 'expected an endpoint: dom0, guestN (guest N, from 1; guestN.V its vif V, from 0) or peerN (the external host on NIC N, from 1), after `hostname/` in a world of hosts; `hostname/linux` on a native host';
/** A host of a world (a name without `/`), and a NIC port of one: `host1/eth0`. */
export const HOST_RE = /^[a-z][a-z0-9-]*$/;
export const PORT_RE = /^[a-z][a-z0-9-]*\/(eth|p)[0-9]+$/;
export const PORT_MSG = 'expected a port: hostname/ethN (NIC N of that host, from 0) or switchname/pN (port N of that switch, from 0)';

/** A store-and-forward Ethernet switch of a world (src/hardware/switch.ts). */
export const SwitchSchema = z.strictObject({
  ports: z.number().int().min(2).max(1024).describe('Ports, numbered from 0 (`sw0/p0`).'),
  mbps: z.number().min(1).max(100_000).default(1000).describe('Line rate of every port, Mb/s. Default 1000.'),
  queueKiB: z.number().min(2).max(1 << 20).default(128).describe('Output buffer of each port, KiB of Ethernet frames (headers included): a frame that does not fit is dropped (drop-tail). Default 128.'),
  forwardUs: z.number().nonnegative().max(1000).default(2).describe('Forwarding latency: from a frame\'s last bit in to its admission to an output queue (lookup, learning), us. Default 2.'),
  latencyUs: z.number().nonnegative().max(1_000_000).default(2).describe('One-way latency of each port\'s cable and the far PHY, us. Default 2.'),
  fdb: z.enum(['learning', 'static']).default('learning').describe('`learning`: addresses are learnt from the frames\' sources, unknown destinations flooded; `static`: the table is every station\'s port, computed from the links (unknown destinations dropped). Default learning.'),
}).describe('A store-and-forward Ethernet switch: per-port output queues with a byte limit and drop-tail, a forwarding latency, MAC learning or a static table, line rate per port.');

/** One host of a world (Xen, or native Linux): each field given replaces the scenario's own for this host. */
export const HostSchema = z.strictObject({
  native: z.boolean().optional().describe('A native Linux host: no Xen, one Linux kernel owns the CPUs and NICs and runs the flows on its own stack (as topology native); its endpoint is `hostname/linux`. It takes no guests, xen or optimizations (Linux maps itself with superpages and global pages). Default false: a Xen host.'),
  guests: z.number().int().min(0).max(255).optional().describe('Guest domains on this host, 0 to 255 (0: dom0 alone, its own stack an endpoint). Default: the scenario\'s `guests`.'),
  vifs: z.number().int().min(1).max(64).optional().describe('Vifs of each guest on this host (endpoint `host1/guestN.V`). Default: the scenario\'s `vifs`.'),
  // The blocks without their prefault: a block left out is the scenario's, not the defaults.
  machine: MachineSchema.unwrap().optional().describe('This host\'s machine. Default: the scenario\'s `machine`.'),
  placement: PlacementSchema.unwrap().optional().describe('This host\'s vCPU pinning. Default: the scenario\'s `placement`.'),
  xen: XenSchema.unwrap().optional().describe('This host\'s hypervisor. Default: the scenario\'s `xen`.'),
  optimizations: OptimizationsSchema.unwrap().optional().describe('This host\'s optimizations. Default: the scenario\'s `optimizations`.'),
}).describe('A Xen host (dom0 owns its NICs, its guests reach them through netfront/netback and dom0\'s bridge), or with `native: true` a native Linux host. Each field given replaces the scenario\'s field of that name for this host; the rest (tcp, netback, variability, costs) is the world\'s.');

/**
 * A time given on the command line: a number with a unit (`10ms`, `0.5s`, `250us`, `40ns`), or a
 * bare number in the flag's historical unit (`bare`). Converted to milliseconds, the unit every
 * scenario time field uses, so the value then meets the scenario schema like a value in a file.
 */
export const TIME_FORMS = '10ms, 0.5s, 250us';
const TIME_UNITS: Record<string, (v: number) => number> = {
  s: (v) => v * 1000, ms: (v) => v, us: (v) => v / 1e3, 'µs': (v) => v / 1e3, ns: (v) => v / 1e6,
};
const TIME_RE = /^([+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?)\s*(s|ms|us|µs|ns)?$/;
export const timeMs = (bare: 's' | 'ms') => z.string().trim().transform((v, ctx) => {
  const m = TIME_RE.exec(v);
  if (!m || !Number.isFinite(Number(m[1]))) {
    ctx.addIssue({ code: 'custom', message: `expected a time such as ${TIME_FORMS} (units s, ms, us, ns; a bare number is ${bare === 's' ? 'seconds' : 'milliseconds'})` });
    return z.NEVER;
  }
  return TIME_UNITS[m[2] ?? bare](Number(m[1]));
});

/**
 * Fields a file sets that its topology does not model: native Linux has no hypervisor, no guests
 * and always uses superpages and global pages; the driver domain has no I/O channel. Checked on
 * the file's own keys, so a default never counts (generated scenarios, such as stress cases, carry
 * every field and are checked with allowIgnored).
 */
export function ignoredByTopology(raw: Record<string, unknown>): string[] {
  const has = (o: unknown, k: string) => typeof o === 'object' && o !== null && k in o;
  const out: string[] = [];
  if (raw.topology !== 'native' && raw.topology !== 'driver') return out;
  if (has(raw, 'guests')) out.push('guests');
  if (raw.topology === 'native') {
    for (const k of ['optimizations', 'xen'] as const) if (has(raw, k)) out.push(k);
  } else {
    for (const k of ['vnicOffload', 'txNoRemap', 'rxCopy', 'rxCopyVia']) if (has(raw.optimizations, k)) out.push(`optimizations.${k}`);
  }
  return out;
}
