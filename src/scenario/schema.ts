/** Scenario files (YAML), validated with zod; errors name the offending field. */
import { readFileSync } from 'node:fs';
import { parse as parseYaml } from 'yaml';
import { z } from 'zod';
import { COSTS, type CostName } from '../model/costs.js';

const costNames = Object.keys(COSTS) as [CostName, ...CostName[]];

/** The hostile-guest catalogue of xen-protocol.md 5.2 (src/hostile). */
export const BEHAVIOURS = Array.from({ length: 26 }, (_, i) => `H${i + 1}`) as [string, ...string[]];
const pow2 = (v: number) => v > 0 && (v & (v - 1)) === 0;

export const ScenarioSchema = z.strictObject({
  name: z.string().min(1),
  description: z.string().default(''),
  topology: z.enum(['native', 'driver', 'guest']),
  direction: z.enum(['tx', 'rx']),
  seed: z.number().int().nonnegative().default(1),
  run: z.strictObject({
    durationMs: z.number().positive().max(60_000).default(150),
    warmupMs: z.number().nonnegative().max(60_000).default(30),
  }).prefault({}),
  machine: z.strictObject({
    cpus: z.number().int().min(1).max(64).default(1),
    cpuGhz: z.number().positive().max(10).default(2.4),
    tlbEntries: z.number().int().min(1).max(4096).default(64),
    memoryMiB: z.number().int().min(16).max(1 << 20).default(2048),
    nics: z.number().int().min(1).max(64).default(4),
    /** Entries of each vif's TX and RX ring (one 4 KiB page holds 256 netif slots). */
    vifRingSize: z.number().int().min(32).max(256).refine(pow2, 'must be a power of two').default(256),
    nic: z.strictObject({
      mbps: z.number().positive().default(1000),
      ringSize: z.number().int().min(8).max(4096).default(256),
      itrUs: z.number().nonnegative().default(125),
      latencyUs: z.number().nonnegative().default(2),
      csumOffload: z.boolean().default(true),
      tso: z.boolean().default(true),
      sg: z.boolean().default(true),
    }).prefault({}),
  }).prefault({}),
  xen: z.strictObject({
    ctxAllowUs: z.number().nonnegative().default(50),
    sliceUs: z.number().positive().default(10_000),
  }).prefault({}),
  guests: z.number().int().min(1).max(1024).default(1),
  optimizations: z.strictObject({
    vnicOffload: z.boolean().default(false),
    txNoRemap: z.boolean().default(false),
    rxCopy: z.boolean().default(false),
    rxCopyVia: z.enum(['map', 'gnttab']).default('map'),
    superpages: z.boolean().default(false),
    globalPages: z.boolean().default(false),
  }).prefault({}),
  tcp: z.strictObject({
    mss: z.number().int().min(536).max(9000).default(1448),
    sndBufKiB: z.number().int().min(8).max(16384).default(128),
    rcvBufKiB: z.number().int().min(8).max(16384).default(128),
    appChunkKiB: z.number().int().min(1).max(1024).default(16),
  }).prefault({}),
  /** Linux netback timeouts (defaults as Linux: 10 s drain, 60 s stall, 30 ms polling without rx-notify, 1 ms jiffy). */
  netback: z.strictObject({
    rxDrainMs: z.number().positive().default(10_000),
    rxStallMs: z.number().positive().default(60_000),
    rxPollMs: z.number().positive().default(30),
    lateEoiTickUs: z.number().positive().default(1000),
  }).prefault({}),
  /** NIC fault injection: link down/up, and DMA errors on the next `count` received frames. */
  faults: z.array(z.strictObject({
    atUs: z.number().nonnegative(),
    nic: z.number().int().nonnegative(),
    kind: z.enum(['link-down', 'link-up', 'dma-error']),
    count: z.number().int().min(1).max(1_000_000).default(1),
  })).default([]),
  /** Guests whose vif runs an adversary from the hostile catalogue instead of an honest netfront. */
  hostile: z.array(z.strictObject({
    guest: z.number().int().min(1),
    vif: z.number().int().nonnegative().default(0),
    behaviour: z.enum(BEHAVIOURS),
    variant: z.number().int().nonnegative().default(0),
    startUs: z.number().nonnegative().default(300),
    periodUs: z.number().positive().default(200),
  })).default([]),
  costs: z.partialRecord(z.enum(costNames), z.number().nonnegative()).default({}),
  paper: z.strictObject({ mbps: z.number().positive(), source: z.string() }).optional(),
}).superRefine((sc, ctx) => {
  // The measured window must cover at least one event: a minimum Ethernet frame on the wire
  // (64 bytes + 8 preamble + 12 inter-frame gap) at the NIC's rate.
  const frameMs = minFrameMs(sc.machine.nic.mbps);
  if (sc.run.durationMs < frameMs) {
    ctx.addIssue({ code: 'custom', path: ['run', 'durationMs'], message: `${sc.run.durationMs} ms is shorter than one minimum frame on the wire (${frameMs} ms at ${sc.machine.nic.mbps} Mb/s): nothing can be measured` });
  }
  if (sc.topology === 'guest') {
    // Each vif takes 2 x vifRingSize + 3 grant references after the first 8 of its guest's 4096.
    const perGuest = vifsOfGuest(sc, 1);
    const refs = 2 * sc.machine.vifRingSize + 3;
    const maxVifs = Math.floor((GRANT_ENTRIES - 8) / refs);
    if (perGuest > maxVifs) {
      ctx.addIssue({ code: 'custom', path: ['machine', 'nics'], message: `${sc.machine.nics} NICs for ${sc.guests} guest(s) give guest 1 ${perGuest} vifs; its grant table holds at most ${maxVifs} with vifRingSize ${sc.machine.vifRingSize}` });
    }
  }
  const needMiB = memoryNeededMiB(sc);
  if (needMiB > sc.machine.memoryMiB) {
    const what = sc.topology === 'guest' ? `dom0 and ${sc.guests} guest(s)` : 'the kernel';
    ctx.addIssue({ code: 'custom', path: ['machine', 'memoryMiB'], message: `${sc.machine.memoryMiB} MiB is too small: ${what} with ${sc.machine.nics} NIC(s) need at least ${needMiB} MiB (reduce guests or raise machine.memoryMiB)` });
  }
  sc.faults.forEach((f, i) => {
    if (f.nic >= sc.machine.nics) ctx.addIssue({ code: 'custom', path: ['faults', i, 'nic'], message: `no NIC ${f.nic} (machine.nics is ${sc.machine.nics})` });
  });
  const seen = new Set<string>();
  sc.hostile.forEach((h, i) => {
    if (sc.topology !== 'guest') ctx.addIssue({ code: 'custom', path: ['hostile', i], message: 'hostile guests need topology guest' });
    else if (h.guest > sc.guests) ctx.addIssue({ code: 'custom', path: ['hostile', i, 'guest'], message: `no guest ${h.guest} (guests is ${sc.guests})` });
    else if (h.vif >= vifsOfGuest(sc, h.guest)) ctx.addIssue({ code: 'custom', path: ['hostile', i, 'vif'], message: `guest ${h.guest} has no vif ${h.vif} (it has ${vifsOfGuest(sc, h.guest)}: vifs 0..${vifsOfGuest(sc, h.guest) - 1})` });
    const k = `${h.guest}.${h.vif}`;
    if (seen.has(k)) ctx.addIssue({ code: 'custom', path: ['hostile', i], message: `guest ${h.guest} vif ${h.vif} listed twice` });
    seen.add(k);
  });
});

export type Scenario = z.infer<typeof ScenarioSchema>;

/** Grant entries of each domain's table (src/hypervisor/xen.ts). */
const GRANT_ENTRIES = 4096;
/** Frames each kernel takes for its packet-buffer pool when built (src/scenario/build.ts). */
const POOL_PAGES = 1024;

/** Time of a minimum Ethernet frame (84 bytes with preamble and gap) on a link of `mbps`, in ms. */
export function minFrameMs(mbps: number): number { return (84 * 8) / (mbps * 1000); }

type Topo = { topology: string; guests: number; machine: { nics: number } };
/** Vifs of guest `domid` (1-based): flow f belongs to guest f mod guests, flows = max(nics, guests). */
export function vifsOfGuest(sc: Topo, domid: number): number {
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
  const flows = guests ? Math.max(m.nics, guests) : m.nics;
  let frames = (1 + guests) * POOL_PAGES + Math.max(0, m.nics * m.nic.ringSize - POOL_PAGES);
  for (let g = 1; g <= guests; g++) {
    const v = vifsOfGuest(sc, g);
    frames += 2 * v + Math.max(0, v * m.vifRingSize - POOL_PAGES);
  }
  frames += flows * Math.ceil((sc.tcp.sndBufKiB + sc.tcp.rcvBufKiB) / 4);
  return Math.ceil(frames / 256);
}

export class ScenarioError extends Error {}

/** A value given on the command line for a scenario field (`run.durationMs` from `--duration 0.5`). */
export interface Override { path: string; value: unknown; flag: string }

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
/** Parse the time a flag was given, in ms; a bad value is a ScenarioError naming the flag and the accepted forms. */
export function flagTimeMs(flag: string, raw: string, bare: 's' | 'ms'): number {
  const r = timeMs(bare).safeParse(raw);
  if (!r.success) throw new ScenarioError(`${flag} ${raw}: ${r.error.issues[0].message}`);
  return r.data;
}

export function formatZodError(err: z.ZodError, where: string, overrides: Override[] = []): string {
  const i = err.issues[0];
  const path = i.path.length ? i.path.join('.') : '(top level)';
  if (i.code === 'unrecognized_keys') return `${where}: unknown field ${[...i.path, ...i.keys].join('.')}`;
  const o = overrides.find((x) => x.path === path);
  return `${where}: field ${path}${o ? ` (set by ${o.flag})` : ''}: ${i.message}`;
}

export function parseScenario(obj: unknown, where = 'scenario', overrides: Override[] = []): Scenario {
  const r = ScenarioSchema.safeParse(obj);
  if (!r.success) throw new ScenarioError(formatZodError(r.error, where, overrides));
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
export function loadScenario(path: string, overrides: Override[] = []): Scenario {
  let text: string;
  try { text = readFileSync(path, 'utf8'); } catch { throw new ScenarioError(`${path}: cannot read scenario file`); }
  let obj: unknown;
  try { obj = parseYaml(text); } catch (e) { throw new ScenarioError(`${path}: invalid YAML: ${(e as Error).message.split('\n')[0]}`); }
  if (overrides.length) {
    if (typeof obj !== 'object' || obj === null || Array.isArray(obj)) throw new ScenarioError(`${path}: field (top level): expected a mapping`);
    for (const o of overrides) setPath(obj as Record<string, unknown>, o.path, o.value);
  }
  return parseScenario(obj, path, overrides);
}
