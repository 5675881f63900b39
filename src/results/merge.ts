/**
 * `xennet merge`: combine the partial results of every shard of one campaign into the result the
 * campaign run in one piece gives (byte for byte but for `wallTimeS`, the sum of the shards').
 */
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { ScenarioError } from '../scenario/schema.js';
import { contributions, type PaperRow } from '../paper/report.js';
import { makeResult, RESULT_FORMAT, type Command, type ResultFile, type RunEntry } from './result.js';

/** The campaign-wide part of a result: paper contributions, the stress summary; none for run and sweep. */
export async function summaryOf(command: Command, inputs: Record<string, unknown>, runs: RunEntry[]): Promise<unknown> {
  if (command === 'paper') {
    const rows = runs.map((e) => ({ id: e.id, throughputMbps: (e.result as { throughputMbps: number }).throughputMbps }) as PaperRow);
    return { contributions: contributions(rows) };
  }
  if (command === 'stress') {
    const { Summarizer } = await import('../stress/pool.js'); // loads fast-check: only for stress
    const sum = new Summarizer({ runs: inputs.runs as number, hostile: inputs.hostile as boolean, seed: inputs.seed as number, only: (inputs.only as string[] | null) ?? undefined });
    for (const e of runs) sum.add({ index: e.index, scenario: e.scenario, result: e.result } as Parameters<typeof sum.add>[0]);
    return sum.done();
  }
  return undefined;
}

/** The result.json files an argument names: a file, a directory holding result.json, or an --out DIR holding shard-i-of-N/ directories. */
export function resultFiles(arg: string): string[] {
  if (!existsSync(arg)) throw new ScenarioError(`merge: ${arg}: no such file or directory`);
  if (!statSync(arg).isDirectory()) return [arg];
  if (existsSync(join(arg, 'result.json'))) return [join(arg, 'result.json')];
  const shards = readdirSync(arg).filter((n) => /^shard-\d+-of-\d+$/.test(n) && existsSync(join(arg, n, 'result.json'))).sort();
  if (!shards.length) throw new ScenarioError(`merge: ${arg}: neither a result.json nor shard-i-of-N/result.json inside`);
  return shards.map((n) => join(arg, n, 'result.json'));
}

export function readResult(file: string): ResultFile {
  let r: ResultFile;
  try { r = JSON.parse(readFileSync(file, 'utf8')) as ResultFile; } catch (e) { throw new ScenarioError(`merge: ${file}: not a JSON result file (${(e as Error).message.split('\n')[0]})`); }
  if (r?.format !== RESULT_FORMAT) throw new ScenarioError(`merge: ${file}: not a result file of format ${RESULT_FORMAT} (format: ${JSON.stringify(r?.format)})`);
  return r;
}

const same = (a: unknown, b: unknown) => JSON.stringify(a) === JSON.stringify(b);

/** Check that `parts` are every shard of one campaign, exactly once, and combine them. */
export async function mergeResults(parts: Array<{ file: string; result: ResultFile }>): Promise<ResultFile> {
  if (!parts.length) throw new ScenarioError('merge: no result files given');
  const whole = parts.find((p) => !p.result.shard);
  if (whole) throw new ScenarioError(`merge: ${whole.file} is a complete result, not a shard (written without --shard)`);
  const first = parts[0];
  const f0 = first.result;
  for (const { file, result: r } of parts.slice(1)) {
    for (const [what, a, b] of [
      ['command', r.command, f0.command], ['campaign (inputs)', r.inputs, f0.inputs], ['campaign (its runs: scenarios, seeds, values)', r.fingerprint, f0.fingerprint],
      ['number of runs', r.total, f0.total], ['shard count', r.shard!.count, f0.shard!.count], ['xennet version', r.xennet, f0.xennet], ['node version', r.node, f0.node],
    ] as const) {
      if (!same(a, b)) throw new ScenarioError(`merge: ${file} and ${first.file} are not shards of one campaign: different ${what}: ${JSON.stringify(a)} vs ${JSON.stringify(b)}`);
    }
  }
  const n = f0.shard!.count;
  const byIndex = new Map<number, string>();
  for (const { file, result: r } of parts) {
    const prev = byIndex.get(r.shard!.index);
    if (prev) throw new ScenarioError(`merge: shard ${r.shard!.index}/${n} given twice: ${prev} and ${file}`);
    byIndex.set(r.shard!.index, file);
    const want = { from: Math.floor(((r.shard!.index - 1) * r.total) / n), to: Math.floor((r.shard!.index * r.total) / n) };
    const idx = r.runs.map((e) => e.index);
    if (r.shard!.from !== want.from || r.shard!.to !== want.to || idx.length !== want.to - want.from || idx.some((v, k) => v !== want.from + k)) {
      throw new ScenarioError(`merge: ${file}: shard ${r.shard!.index}/${n} should hold runs ${want.from}..${want.to - 1}, it holds ${idx.length ? `${idx[0]}..${idx[idx.length - 1]} (${idx.length} runs)` : 'none'}`);
    }
  }
  const missing = Array.from({ length: n }, (_, k) => k + 1).filter((k) => !byIndex.has(k));
  if (missing.length) throw new ScenarioError(`merge: shard${missing.length > 1 ? 's' : ''} ${missing.map((k) => `${k}/${n}`).join(', ')} missing (have ${[...byIndex.keys()].sort((a, b) => a - b).map((k) => `${k}/${n}`).join(', ')})`);
  const ordered = [...parts].sort((a, b) => a.result.shard!.index - b.result.shard!.index);
  const runs = ordered.flatMap((p) => p.result.runs);
  const wallMs = ordered.reduce((s, p) => s + Math.round(p.result.wallTimeS * 1000), 0);
  const summary = await summaryOf(f0.command, f0.inputs, runs);
  return makeResult({ xennet: f0.xennet, command: f0.command, inputs: f0.inputs, fingerprint: f0.fingerprint, total: f0.total, node: f0.node }, runs, wallMs, summary);
}
