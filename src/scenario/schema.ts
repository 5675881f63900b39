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
  sc.faults.forEach((f, i) => {
    if (f.nic >= sc.machine.nics) ctx.addIssue({ code: 'custom', path: ['faults', i, 'nic'], message: `no NIC ${f.nic} (machine.nics is ${sc.machine.nics})` });
  });
  const seen = new Set<string>();
  sc.hostile.forEach((h, i) => {
    if (sc.topology !== 'guest') ctx.addIssue({ code: 'custom', path: ['hostile', i], message: 'hostile guests need topology guest' });
    else if (h.guest > sc.guests) ctx.addIssue({ code: 'custom', path: ['hostile', i, 'guest'], message: `no guest ${h.guest} (guests is ${sc.guests})` });
    const k = `${h.guest}.${h.vif}`;
    if (seen.has(k)) ctx.addIssue({ code: 'custom', path: ['hostile', i], message: `guest ${h.guest} vif ${h.vif} listed twice` });
    seen.add(k);
  });
});

export type Scenario = z.infer<typeof ScenarioSchema>;

export class ScenarioError extends Error {}

export function formatZodError(err: z.ZodError, where: string): string {
  const i = err.issues[0];
  const path = i.path.length ? i.path.join('.') : '(top level)';
  if (i.code === 'unrecognized_keys') return `${where}: unknown field ${[...i.path, ...i.keys].join('.')}`;
  return `${where}: field ${path}: ${i.message}`;
}

export function parseScenario(obj: unknown, where = 'scenario'): Scenario {
  const r = ScenarioSchema.safeParse(obj);
  if (!r.success) throw new ScenarioError(formatZodError(r.error, where));
  return r.data;
}

export function loadScenario(path: string): Scenario {
  let text: string;
  try { text = readFileSync(path, 'utf8'); } catch { throw new ScenarioError(`${path}: cannot read scenario file`); }
  let obj: unknown;
  try { obj = parseYaml(text); } catch (e) { throw new ScenarioError(`${path}: invalid YAML: ${(e as Error).message.split('\n')[0]}`); }
  return parseScenario(obj, path);
}
