/**
 * Parameter sweeps: a base scenario and a set of fields to vary; the runs are
 * the cartesian product, in a fixed order (fields in file order, values in
 * list order), run on worker threads and reported in that order.
 */
import { dirname, resolve } from 'node:path';
import { z } from 'zod';
import { formatZodError, loadScenario, parseScenario, readYamlFile, setPath, ScenarioError, type Scenario } from '../scenario/schema.js';

export const SweepSchema = z.strictObject({
  name: z.string().default('sweep'),
  base: z.string().min(1),
  seed: z.number().int().nonnegative().optional(),
  durationMs: z.number().positive().optional(),
  /** A value may be a mapping or a list: it replaces the whole field (e.g. every optimization at once). */
  vary: z.record(z.string().regex(/^[A-Za-z][\w.]*$/, 'expected a dotted field path'), z.array(z.union([z.number(), z.boolean(), z.string(), z.array(z.unknown()), z.record(z.string(), z.unknown())])).min(1)),
  /**
   * Extra columns of the printed table, each a dotted path into a run's result
   * (`cpuUtilPct.byAccount.dom0`, `counters.ipis`); `/pkt` after a path divides it by the
   * goodput in segments (`counters.domainSwitches/pkt`).
   */
  columns: z.array(z.string().regex(/^[A-Za-z][\w.]*(\/pkt)?$/, 'expected a dotted result path, optionally followed by /pkt')).default([]),
});
export type Sweep = z.infer<typeof SweepSchema>;
export interface SweepRun { label: Record<string, unknown>; scenario: Scenario }

export interface SweepPlan {
  file: string;
  name: string;
  /** Varied fields, in file order. */
  fields: string[];
  /** Extra table columns (result paths, `/pkt` per segment of goodput). */
  columns: string[];
  /** Number of runs: the product of the value counts. */
  count: number;
  /** The runs, generated one at a time in order (first field slowest, values in list order). */
  runs(): IterableIterator<SweepRun>;
}

/** Read and check a sweep file without expanding it: the runs are generated lazily. */
export function planSweep(file: string): SweepPlan {
  const { value: obj, src } = readYamlFile(file, 'sweep file');
  const o = obj as Record<string, unknown> | null;
  if (typeof o === 'object' && o !== null && 'topology' in o && !('base' in o) && !('vary' in o)) {
    throw new ScenarioError(`${file}: a scenario file, not a sweep file (a sweep has base: and vary:); run it with \`xennet run ${file}\``);
  }
  const r = SweepSchema.safeParse(obj);
  if (!r.success) throw new ScenarioError(formatZodError(r.error, file, [], src, SweepSchema));
  const sw = r.data;
  const base = loadScenario(resolve(dirname(file), sw.base));
  const fields = Object.keys(sw.vary);
  const sizes = fields.map((f) => sw.vary[f].length);
  const count = sizes.reduce((n, k) => n * k, 1);
  // The base's value of each varied field, to tell the point that is the base configuration.
  const baseValue = fields.map((f) => JSON.stringify(f.split('.').reduce<unknown>((x, k) => (x as Record<string, unknown> | undefined)?.[k], base)));
  function* runs(): IterableIterator<SweepRun> {
    for (let i = 0; i < count; i++) {
      // Mixed-radix digits of i, the last field fastest.
      const label: Record<string, unknown> = {};
      let rest = i;
      const digits = new Array<number>(fields.length);
      for (let k = fields.length - 1; k >= 0; k--) { digits[k] = rest % sizes[k]; rest = Math.floor(rest / sizes[k]); }
      fields.forEach((f, k) => { label[f] = sw.vary[f][digits[k]]; });
      const raw = structuredClone(base) as unknown as Record<string, unknown>;
      for (const [f, v] of Object.entries(label)) setPath(raw, f, v);
      // The paper measured the base configuration: a variant that changes it has no paper figure.
      if (fields.some((f, k) => JSON.stringify(label[f]) !== baseValue[k])) delete raw.paper;
      raw.name = `${sw.name}#${i}`;
      if (sw.seed !== undefined) raw.seed = sw.seed;
      if (sw.durationMs !== undefined) (raw.run as Record<string, unknown>).durationMs = sw.durationMs;
      yield { label, scenario: parseScenario(raw, `${file} (vary ${Object.entries(label).map(([k, v]) => `${k}=${v}`).join(', ')})`) };
    }
  }
  return { file, name: sw.name, fields, count, runs, columns: sw.columns };
}

/** A varied value as a table or CSV cell: scalars as they are, a mapping or list as compact JSON. */
export function showValue(v: unknown): string {
  return v !== null && typeof v === 'object' ? JSON.stringify(v).replace(/"/g, '') : String(v);
}

/** An extra column's table header: its last path segment (`CPU% dom0` for a CPU account). */
export function columnHeader(column: string): string {
  const m = /^cpuUtilPct\.byAccount\.(.+)$/.exec(column);
  return m ? `CPU% ${m[1]}` : column.slice(column.lastIndexOf('.') + 1);
}

/** One extra column's value in a run's result (see SweepSchema `columns`); '' when the result has no such field. */
export function columnValue(result: unknown, column: string): string {
  const perPkt = column.endsWith('/pkt');
  const path = (perPkt ? column.slice(0, -4) : column).split('.');
  const v = path.reduce<unknown>((x, k) => (x !== null && typeof x === 'object' ? (x as Record<string, unknown>)[k] : undefined), result);
  if (typeof v !== 'number') return v === undefined ? '' : showValue(v);
  if (!perPkt) return String(v);
  const segs = (result as { counters?: { goodputSegments?: number } }).counters?.goodputSegments ?? 0;
  return segs > 0 ? (v / segs).toFixed(3) : '';
}

/** Every run of a sweep, expanded (small sweeps and tests; the CLI streams planSweep's runs). */
export function loadSweep(file: string): SweepRun[] {
  return [...planSweep(file).runs()];
}
