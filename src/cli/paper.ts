/** `xennet paper`: run every configuration of the paper and report. */
import type { Command } from 'commander';
import { SingleBar, Presets } from 'cli-progress';
import type { PaperConfig } from '../paper/configs.js';
import { runPaper, selectConfigs } from '../paper/run.js';
import { fmtStat } from '../scenario/reps.js';
import { table } from '../results/format.js';
import { commonOverrides, type Parsers } from './overrides.js';
import { writePlots } from '../paper/plot.js';
import { DEFAULT_MAX_RUNS } from './sweep.js';
import { ScenarioError } from '../scenario/schema.js';
import { checkOutDir } from '../inspect/files.js';
import { waterfall } from '../paper/waterfall.js';
import { versionInfo } from '../results/version.js';
import { interpreterOption } from './interpreter-option.js';
import { integrityFailures } from '../scenario/run.js';
import type { Interpreter } from '../actors/runtime.js';
import type { RunResult } from '../scenario/run.js';
import { scenarioFor } from '../paper/configs.js';
import { fingerprintOf } from '../results/result.js';
import { campaignShard, saveResult, OUT_HELP, SHARD_HELP, type OutOpts } from './results.js';


export function paperCommand(program: Command, p: Parsers): void {
  program.command('paper')
    .description('reproduce the paper: every configuration, contributions, cycle breakdowns')
    .option('--seed <n>', 'random seed', p.intArg('--seed', 0))
    .option('--duration <time>', p.timeHelp('virtual time to measure per run', 's'))
    .option('--workers <n>', 'worker threads', p.intArg('--workers', 1))
    .option('--only <ids>', 'comma-separated configuration ids')
    .option('--json', 'print one JSON object')
    .option('--plot <dir>', 'write SVG bar charts to this directory')
    .option('--reps <n>', 'run each configuration under n seeds (seed, seed+1, ...) and report mean and 95% CI', p.intArg('--reps', 2))
    .option('--max-runs <n>', `refuse --reps of more runs than this (default ${DEFAULT_MAX_RUNS})`, p.intArg('--max-runs', 1))
    .option('--out <dir>', OUT_HELP)
    .option('--shard <i/N>', SHARD_HELP)
    .addOption(interpreterOption())
    .action(async (o: OutOpts & { seed?: number; duration?: string; workers?: number; only?: string; json?: boolean; plot?: string; interpreter?: Interpreter; reps?: number; maxRuns?: number }) => {
      if (o.reps !== undefined && (o.out !== undefined || o.shard !== undefined)) { console.error('error: --reps cannot be combined with --out or --shard'); process.exit(2); }
      let cfgs: PaperConfig[];
      try { cfgs = selectConfigs(o.only?.split(',').map((s) => s.trim())); } catch (e) { console.error(`error: --only: ${(e as Error).message}`); process.exit(2); }
      const runs = cfgs.length * (o.reps ?? 1), max = o.maxRuns ?? DEFAULT_MAX_RUNS;
      if (runs > max) throw new ScenarioError(`--reps ${o.reps}: ${runs} runs (${cfgs.length} configurations); at most ${max} without --max-runs ${runs}`);
      if (o.plot !== undefined) checkOutDir(o.plot);
      // Result files: the campaign is every selected configuration; a shard runs its block of them.
      const overrides = commonOverrides(o);
      const campaign = o.out !== undefined ? cfgs.map((c) => scenarioFor(c, overrides)) : [];
      const shard = campaignShard(o, cfgs.length);
      const all = cfgs;
      if (shard) cfgs = cfgs.slice(shard.from, shard.to);
      const results = new Map<string, RunResult>();
      const t0 = performance.now();
      const bar = !o.json && process.stderr.isTTY ? new SingleBar({ format: 'paper [{bar}] {value}/{total} {last}', stream: process.stderr }, Presets.shades_classic) : null;
      bar?.start(cfgs.length * (o.reps ?? 1), 0, { last: '' });
      const { configurations: rows, contributions: contrib } = cfgs.length ? await runPaper({
        only: o.only || shard ? cfgs.map((c) => c.id) : undefined, workers: o.workers, overrides, interpreter: o.interpreter, reps: o.reps,
        onDone: (c, r) => { results.set(c.id, r); bar?.increment(1, { last: r.scenario }); },
      }) : { configurations: [], contributions: [] };
      bar?.stop();
      if (o.out !== undefined) {
        const base = shard?.from ?? 0;
        await saveResult(o.out, {
          command: 'paper',
          inputs: { configurations: all.map((c) => c.id), overrides: overrides.map((v) => v.flag) },
          fingerprint: fingerprintOf(campaign), total: all.length, shard,
        }, cfgs.map((c, k) => ({ index: base + k, id: c.id, scenario: campaign[base + k], result: results.get(c.id)! })), performance.now() - t0);
      }
      // Numbers from a model that corrupted a stream are not results: say so, and fail.
      const corrupt = [
        ...rows.filter((r) => r.dataIntegrity).map((r) => `${r.id}: data integrity violated: ${r.dataIntegrity!.join('; ')}`),
        ...rows.filter((r) => r.counters.violations['stale-translation']).map((r) => `${r.id}: ${r.counters.violations['stale-translation']} access(es) through a stale translation (isolation violated)`),
      ];
      for (const l of corrupt) console.error(`error: ${l}`);
      if (corrupt.length) process.exitCode = 1;
      const { commit } = versionInfo();
      const plots = o.plot ? await writePlots(rows, o.plot, `measured ${new Date().toISOString().slice(0, 10)} on commit ${commit ?? 'unknown'}`) : [];
      // Every subset of the three optimizations run (guest transmit): the gain step by step, in each order.
      const wf = waterfall(rows, 'tx');
      if (o.json) { console.log(JSON.stringify({ configurations: rows, contributions: contrib, ...(wf ? { waterfall: wf } : {}), plots })); return; }
      if (o.reps !== undefined) {
        // Mean ± half-width of the 95% confidence interval over the repetitions.
        console.log(`${o.reps} repetitions per configuration (seeds ${rows[0].reps!.seeds[0]}..${rows[0].reps!.seeds.at(-1)}); mean ± 95% CI`);
        console.log(table(['configuration', 'Mb/s', 'CPU %', 'paper Mb/s', 'cycles/pkt'], rows.map((r) => [
          r.id, fmtStat(r.reps!.stats.throughputMbps), fmtStat(r.reps!.stats.cpuPct), r.paperMbps ?? '', fmtStat(r.reps!.stats.cyclesPerPacket, 0),
        ]), 1));
      } else {
        console.log(table(['configuration', 'Mb/s', 'CPU %', 'paper Mb/s', 'error %', 'cycles/pkt'], rows.map((r) => [
          r.id, r.throughputMbps.toFixed(1), r.cpuPct.toFixed(1), r.paperMbps ?? '', r.errorPct === null ? '' : r.errorPct.toFixed(1), r.cyclesPerPacket,
        ]), 1));
      }
      console.log('\ncontribution of each optimization alone (guest, over Xen 2.0)');
      console.log(table(['direction', 'optimization', 'gain %'], contrib.map((c) => [c.direction, c.optimization, c.aloneGainPct.toFixed(1)]), 2));
      if (wf) {
        console.log(`\nguest transmit gain step by step (${wf.statistic === 'mean' ? 'means over the seeds' : 'one run each'}): share of ln gain averaged over the orders: ${wf.shares.map((s) => `${s.label} ${(100 * s.share).toFixed(0)}%`).join(', ')}`);
        console.log(table(['order', ...wf.orders[0].steps.map((_, i) => `step ${i + 1}`)], wf.orders.map(({ steps }) => [
          `${wf.baseMbps}`, ...steps.map((s) => `${s.label} ${s.toMbps} (${s.gainPct >= 0 ? '+' : ''}${s.gainPct}%)`),
        ]), 2));
      }
      console.log('\ncycles per packet by domain and component');
      const groups = [...new Set(rows.flatMap((r) => Object.values(r.breakdown).flatMap((g) => Object.keys(g))))].sort();
      const lines: Array<Array<string | number>> = [];
      for (const r of rows) for (const [acct, g] of Object.entries(r.breakdown)) lines.push([r.id, acct, ...groups.map((k) => g[k] ?? 0)]);
      console.log(table(['configuration', 'domain', ...groups], lines, 2));
      if (plots.length) console.log(`\nplots: ${plots.join(', ')}`);
    });
}
