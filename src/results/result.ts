/**
 * Result files of a campaign (`--out DIR` on run, paper, sweep, stress): `result.json` and CSV
 * tables, a pure function of the runs, so the same inputs give byte-identical files. The wall
 * time is the one field that differs between two runs of the same campaign (`wallTimeS`).
 *
 * A shard of a campaign (src/results/shard.ts) writes the same files for its block of runs,
 * marked with its shard; merging every shard (mergeResults) gives the result the campaign run in
 * one piece gives, byte for byte but for the wall time.
 */
import { createHash } from 'node:crypto';
import { ensureDir, writeText } from '../inspect/files.js';
import { join } from 'node:path';
import { stringify } from 'yaml';
import type { Shard } from './shard.js';

/** Bump when the layout of result.json changes. */
export const RESULT_FORMAT = 'xennet-result/1';

export type Command = 'run' | 'paper' | 'sweep' | 'stress';

/** One run of a campaign: a scenario, a sweep point, a paper configuration or a stress case. */
export interface RunEntry {
  /** Position in the whole campaign (0-based); shards hold contiguous blocks of it. */
  index: number;
  /** Scenario name, configuration id, or `case-<index>`. */
  id: string;
  /** Sweep points: the varied fields and their values. */
  label?: Record<string, unknown>;
  /** The scenario as run, every default filled in (the stress case for stress). */
  scenario: unknown;
  /** RunResult (run, paper, sweep) or the stress CaseResult. */
  result: unknown;
  /** Stress: the case seed, and a smaller failing scenario fast-check found. */
  caseSeed?: number;
  shrunk?: { scenario: unknown; path: string; failures: string[]; runs: number };
}

export interface ResultFile {
  format: string;
  xennet: { version: string; commit: string | null };
  node: string;
  command: Command;
  /** What the campaign was asked to do (flags, files), for a reader. */
  inputs: Record<string, unknown>;
  /** Hash of everything that decides the runs (every run's scenario, or the stress campaign's inputs): shards of one campaign share it. */
  fingerprint: string;
  /** Number of runs of the whole campaign. */
  total: number;
  /** Present in a shard's partial result: shard index (1..count) and the block of runs [from, to). */
  shard?: { index: number; count: number; from: number; to: number };
  /** Wall-clock seconds the runs took (a merged result: the sum over its shards). The only field that differs between two runs. */
  wallTimeS: number;
  runs: RunEntry[];
  /** Over all runs (complete results only): paper contributions, the stress summary. */
  summary?: unknown;
}

export function fingerprintOf(value: unknown): string {
  return createHash('sha256').update(JSON.stringify(value)).digest('hex').slice(0, 32);
}

export interface ResultHeader {
  xennet: { version: string; commit: string | null };
  command: Command;
  inputs: Record<string, unknown>;
  fingerprint: string;
  total: number;
  shard?: Shard | null;
  /** Default: this process's node version (a merge keeps its shards'). */
  node?: string;
}

/** Assemble a result in its fixed key order. `summary` is left out of partial results. */
export function makeResult(h: ResultHeader, runs: RunEntry[], wallMs: number, summary?: unknown): ResultFile {
  return {
    format: RESULT_FORMAT,
    xennet: { version: h.xennet.version, commit: h.xennet.commit },
    node: h.node ?? process.version,
    command: h.command,
    inputs: h.inputs,
    fingerprint: h.fingerprint,
    total: h.total,
    ...(h.shard ? { shard: { index: h.shard.index, count: h.shard.count, from: h.shard.from, to: h.shard.to } } : {}),
    wallTimeS: Math.round(wallMs) / 1000,
    runs,
    ...(!h.shard && summary !== undefined ? { summary } : {}),
  };
}

// ---- CSV ----

/**
 * Tidy cells: a figure that does not apply (or is null) is an explicit NA, never an empty cell that
 * reads like a lost value; a list or an object is its JSON, which parses back (CSV-quoted).
 */
export const CSV_NA = 'NA';
function csvCell(v: unknown): string {
  if (v === undefined || v === null) return CSV_NA;
  const s = Array.isArray(v) || isRecord(v) ? JSON.stringify(v) : String(v);
  return /[",\n\r]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

type Shape = Map<string, Shape | null>;
const isRecord = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === 'object' && !Array.isArray(v);

/** Union of the key trees of many values, each object's keys in order of first appearance. */
function addShape(shape: Shape, v: Record<string, unknown>): void {
  for (const [k, x] of Object.entries(v)) {
    if (x === undefined || (Array.isArray(x) && x.some((y) => y !== null && typeof y === 'object'))) continue; // lists of records: result.json has them
    if (isRecord(x)) {
      let sub = shape.get(k);
      if (!sub) { sub = new Map(); shape.set(k, sub); }
      addShape(sub, x);
    } else if (!shape.has(k)) shape.set(k, null);
  }
}

function columns(shape: Shape, prefix: string[], out: string[][]): void {
  for (const [k, sub] of shape) {
    if (sub) columns(sub, [...prefix, k], out);
    else out.push([...prefix, k]);
  }
}

const at = (v: unknown, path: string[]) => path.reduce<unknown>((x, k) => (isRecord(x) ? x[k] : undefined), v);

export function csv(header: string[], rows: unknown[][]): string {
  return [header, ...rows].map((r) => r.map(csvCell).join(',')).join('\n') + '\n';
}

/**
 * runs.csv: one row per run: index, id, the case seed (stress), the varied fields (sweeps,
 * `vary.<field>`), then every field of the result with dotted names (the per-account, per-category
 * cycles are in breakdown.csv instead). A nested object's columns stay together, in the order its
 * keys first appear over the runs in index order; a run without a column has NA there.
 */
export function runsCsv(runs: RunEntry[]): string {
  const rows = runs.map((r) => {
    const res = r.result as Record<string, unknown>;
    const cpp = res.cyclesPerPacket, lat = res.latency;
    // Long tables live in their own files: the cycle breakdown (breakdown.csv), the latency distribution (latency.csv).
    const result = { ...res, ...(isRecord(cpp) ? { cyclesPerPacket: { ...cpp, byAccountCategory: undefined } } : {}), ...(isRecord(lat) ? { latency: { ...lat, distribution: undefined } } : {}) };
    return { index: r.index, id: r.id, ...(r.caseSeed !== undefined ? { caseSeed: r.caseSeed } : {}), ...(r.label ? { vary: r.label } : {}), ...result };
  });
  const shape: Shape = new Map([['index', null], ['id', null]]);
  for (const r of rows) addShape(shape, r);
  const cols: string[][] = [];
  columns(shape, [], cols);
  // Sweep labels are dotted field paths themselves: one column each, `vary.<path>`.
  const header = cols.map((c) => c.join('.'));
  return csv(header, rows.map((r) => cols.map((c) => (c[0] === 'vary' ? (r.vary as Record<string, unknown> | undefined)?.[c.slice(1).join('.')] : at(r, c)))));
}

/** breakdown.csv (long format): run, id, account, category, cycles per MSS segment of goodput. */
export function breakdownCsv(runs: RunEntry[]): string {
  const rows: unknown[][] = [];
  for (const r of runs) {
    const cpp = (r.result as { cyclesPerPacket?: { byAccountCategory?: Record<string, Record<string, number>> } }).cyclesPerPacket;
    for (const [acct, cats] of Object.entries(cpp?.byAccountCategory ?? {})) {
      for (const [cat, v] of Object.entries(cats)) rows.push([r.index, r.id, acct, cat, v]);
    }
  }
  return csv(['index', 'id', 'account', 'category', 'cyclesPerPacket'], rows);
}

/**
 * latency.csv (long format), request/response runs only: run, id, then per row either a percentile
 * tick (`percentile`, its latency) or a histogram bin (`bin`, its bounds and count); NA where a
 * column does not apply to the row's kind.
 */
export function latencyCsv(runs: RunEntry[]): string {
  const rows: unknown[][] = [];
  for (const r of runs) {
    const d = (r.result as { latency?: { distribution?: { percentiles: Array<{ percentile: number; us: number }>; histogram: Array<{ loUs: number; hiUs: number; count: number }> } } }).latency?.distribution;
    if (!d) continue;
    for (const p of d.percentiles) rows.push([r.index, r.id, 'percentile', p.percentile, p.us, null, null, null]);
    for (const b of d.histogram) rows.push([r.index, r.id, 'bin', null, null, b.loUs, b.hiUs, b.count]);
  }
  return csv(['index', 'id', 'kind', 'percentile', 'latencyUs', 'binLoUs', 'binHiUs', 'count'], rows);
}

/** Where a shard writes inside --out DIR, so every task of an array job can share one --out. */
export function shardDir(dir: string, s: { index: number; count: number }): string {
  return join(dir, `shard-${s.index}-of-${s.count}`);
}

/**
 * Write result.json, runs.csv, breakdown.csv (runs with a cycle breakdown), latency.csv (request/response
 * runs) and, for stress,
 * failing/case-<index>.yaml (and case-<index>-shrunk.yaml) for every failing case, replayable
 * with `xennet stress --replay FILE`. Returns the paths written.
 */
export function writeResult(dir: string, r: ResultFile): string[] {
  ensureDir(dir);
  const out: string[] = [];
  const put = (name: string, text: string) => { const f = join(dir, name); writeText(f, text); out.push(f); };
  put('result.json', JSON.stringify(r, null, 2) + '\n');
  put('runs.csv', runsCsv(r.runs));
  if (r.command !== 'stress') put('breakdown.csv', breakdownCsv(r.runs));
  if (r.runs.some((e) => (e.result as { latency?: unknown }).latency)) put('latency.csv', latencyCsv(r.runs));
  const failing = r.command === 'stress' ? r.runs.filter((e) => !(e.result as { ok: boolean }).ok) : [];
  if (failing.length) {
    ensureDir(join(dir, 'failing'));
    for (const e of failing) {
      put(join('failing', `case-${e.index}.yaml`), caseYaml(e.scenario, `stress-case-${e.index}`, (e.result as { failures: string[] }).failures));
      if (e.shrunk) put(join('failing', `case-${e.index}-shrunk.yaml`), caseYaml(e.shrunk.scenario, `stress-case-${e.index}-shrunk`, e.shrunk.failures));
    }
  }
  return out;
}

function caseYaml(scenario: unknown, name: string, failures: string[]): string {
  const head = ['# A failing stress case: npx xennet stress --replay THIS_FILE', ...failures.slice(0, 8).map((f) => `#   ${f.replace(/\n/g, ' ')}`)];
  return head.join('\n') + '\n' + stringify({ ...(scenario as object), name });
}
