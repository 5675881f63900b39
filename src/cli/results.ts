/** `--out DIR` and `--shard i/N` on run, paper, sweep and stress, and `xennet merge` (src/results). */
import type { Command as Program } from 'commander';
import { ScenarioError } from '../scenario/schema.js';
import { makeResult, shardDir, writeResult, type ResultHeader, type RunEntry } from '../results/result.js';
import { parseShard, shardBlock, SHARD_HELP, type Shard } from '../results/shard.js';
import { mergeResults, readResult, resultFiles, summaryOf } from '../results/merge.js';
import { versionInfo } from '../results/version.js';
import { checkOutDir } from '../inspect/files.js';
import { dirname, resolve } from 'node:path';

export const OUT_HELP = 'write result.json (versions, inputs, every run with its resolved scenario, wall time) and CSV tables (runs.csv, breakdown.csv) to this directory';
export { SHARD_HELP };

export interface OutOpts { out?: string; shard?: string }

/**
 * The shard this process runs of a campaign of `total` runs: --shard, else (with --out) the array
 * job's environment; null for the whole campaign. Sharding needs --out: a shard's result is a file.
 */
export function campaignShard(o: OutOpts, total: number): Shard | null {
  if (o.shard !== undefined && o.out === undefined) throw new ScenarioError(`--shard ${o.shard} needs --out DIR (a shard's partial result is written there)`);
  if (o.out === undefined) return null;
  checkOutDir(o.out);
  const spec = parseShard(o.shard);
  if (!spec) return null;
  if (spec.count > total) throw new ScenarioError(`${spec.source}: ${spec.count} shards of a campaign of ${total} run${total === 1 ? '' : 's'} would leave shards with nothing to run; use at most ${total} shard${total === 1 ? '' : 's'}`);
  const s = shardBlock(spec, total);
  process.stderr.write(`${spec.source}: runs ${s.from}..${s.to - 1} of ${total}\n`);
  return s;
}

/** Write the result files of `runs` (the shard's, or all) to --out DIR (a shard: DIR/shard-i-of-N/). */
export async function saveResult(dir: string, h: Omit<ResultHeader, 'xennet'>, runs: RunEntry[], wallMs: number): Promise<void> {
  const summary = h.shard ? undefined : await summaryOf(h.command, h.inputs, runs);
  const r = makeResult({ ...h, xennet: versionInfo() }, runs, wallMs, summary);
  const where = h.shard ? shardDir(dir, h.shard) : dir;
  const files = writeResult(where, r);
  process.stderr.write(`results: ${files.length} files in ${where}${h.shard ? ` (shard ${h.shard.index}/${h.shard.count}: merge with \`xennet merge ${dir} --out DIR\`)` : ''}\n`);
}

export function mergeCommand(program: Program): void {
  program.command('merge')
    .description("combine the partial results of every shard of a campaign (--shard) into the campaign's result")
    .argument('<results...>', 'result.json files, shard directories, or an --out DIR holding shard-i-of-N/ directories')
    .requiredOption('--out <dir>', 'write the combined result.json and CSV tables here')
    .option('--json', 'print what was merged and written as JSON')
    .action(async (args: string[], o: { out: string; json?: boolean }) => {
      const parts = args.flatMap(resultFiles).map((file) => ({ file, result: readResult(file) }));
      const own = parts.find((p) => resolve(dirname(p.file)) === resolve(o.out));
      if (own) throw new ScenarioError(`merge --out ${o.out}: that directory holds ${own.file}, one of the shards being merged; write the merged result elsewhere`);
      checkOutDir(o.out);
      const r = await mergeResults(parts);
      const files = writeResult(o.out, r);
      const failed = r.command === 'stress' ? (r.summary as { failed: number; hash: string }) : null;
      if (o.json) { console.log(JSON.stringify({ command: r.command, shards: parts.map((p) => p.file), runs: r.runs.length, files, ...(failed ? { failed: failed.failed, summaryHash: failed.hash } : {}) })); return; }
      console.log(`merge: ${parts.length} shards of a ${r.command} campaign, ${r.runs.length} runs: ${files.length} files in ${o.out}${failed ? `; ${failed.failed} failed, summary hash ${failed.hash}` : ''}`);
    });
}
