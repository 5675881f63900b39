/** `xennet sweep`: run a parameter sweep on worker threads, generating the runs as they are needed. */
import type { Command } from 'commander';
import { SingleBar, Presets } from 'cli-progress';
import { columnHeader, columnValue, planSweep, showValue } from '../sweep/sweep.js';
import { ScenarioError, type Scenario } from '../scenario/schema.js';
import { figuresFor, fmtStat, repSeeds, RR_FIGURES, summarizeFigures } from '../scenario/reps.js';
import { runStream, defaultWorkers } from '../workers/pool.js';
import { runsTable, table } from '../results/format.js';
import { basename } from 'node:path';
import { fingerprintOf } from '../results/result.js';
import { campaignShard, saveResult, OUT_HELP, SHARD_HELP, type OutOpts } from './results.js';
import { createHash } from 'node:crypto';
import type { Parsers } from './overrides.js';
import { checkOutDir } from '../inspect/files.js';
import { writeSvgs } from '../plot/vega.js';
import { sweepSpecs } from '../plot/runs.js';


/** Sweeps larger than this are refused unless --max-runs allows them. */
export const DEFAULT_MAX_RUNS = 1000;

export function sweepCommand(program: Command, p: Pick<Parsers, 'intArg'>): void {
  program.command('sweep')
    .description('run the cartesian product of a sweep file on worker threads')
    .argument('<sweep>', 'sweep YAML file: base scenario + fields to vary')
    .option('--workers <n>', 'worker threads', p.intArg('--workers', 1))
    .option('--max-runs <n>', `refuse a sweep of more runs than this (default ${DEFAULT_MAX_RUNS})`, p.intArg('--max-runs', 1))
    .option('--reps <n>', 'run each point under n seeds (seed, seed+1, ...) and report mean and 95% CI', p.intArg('--reps', 2))
    .option('--json', 'print JSON')
    .option('--out <dir>', OUT_HELP)
    .option('--shard <i/N>', SHARD_HELP)
    .option('--plot <dir>', 'write one SVG line plot per varied field to this directory: throughput against that field, one line per combination of the others (under --reps: mean and 95% CI)')
    .action(async (file: string, o: OutOpts & { workers?: number; maxRuns?: number; json?: boolean; reps?: number; plot?: string }) => {
      const plan = planSweep(file);
      if (o.plot !== undefined) checkOutDir(o.plot);
      const max = o.maxRuns ?? DEFAULT_MAX_RUNS;
      const n = o.reps ?? 1;
      if (plan.count * n > max) {
        throw new ScenarioError(`${file}: the sweep has ${plan.count * n} runs (${plan.fields.length} fields, the product of their value counts${n > 1 ? `, times ${n} repetitions` : ''}); at most ${max} without --max-runs ${plan.count * n}`);
      }
      // Check every run against the schema before any runs (one at a time, nothing kept);
      // with --out, hash them: the shards of one sweep share the hash.
      const h = createHash('sha256');
      for (const r of plan.runs()) { if (o.out !== undefined) h.update(JSON.stringify(r.scenario) + '\n'); }
      const shard = campaignShard(o, plan.count);
      if (shard && o.plot !== undefined) throw new ScenarioError(`--plot needs the whole sweep, not shard ${shard.index} of ${shard.count}`);
      const from = shard?.from ?? 0, to = shard?.to ?? plan.count, count = to - from;
      const labels: Array<Record<string, unknown>> = [];
      const kept: Array<{ label: Record<string, unknown>; scenario: Scenario }> = [];
      const it = plan.runs();
      if (o.reps !== undefined && (o.out !== undefined || o.shard !== undefined)) throw new ScenarioError('--reps cannot be combined with --out or --shard');
      // Point i's repetition k is run i * n + k, with seed = the point's seed + k.
      let at = 0;
      let queue: Scenario[] = [];
      const scenarios = {
        next: (): IteratorResult<Scenario> => {
          if (queue.length) return { done: false, value: queue.shift()! };
          for (;;) {
            if (at >= to) return { done: true, value: undefined };
            const p = it.next();
            if (p.done) return p;
            if (at++ < from) continue;
            labels.push(p.value.label);
            if (o.out !== undefined) kept.push(p.value);
            queue = repSeeds(p.value.scenario.seed, n).map((seed) => ({ ...structuredClone(p.value.scenario), seed }));
            return { done: false, value: queue.shift()! };
          }
        },
      };
      const bar = !o.json && process.stderr.isTTY ? new SingleBar({ format: 'sweep [{bar}] {value}/{total} runs, {eta_formatted} left', stream: process.stderr }, Presets.shades_classic) : null;
      bar?.start(count * n, 0);
      const t0 = performance.now();
      const workers = Math.min(o.workers ?? defaultWorkers(), Math.max(1, count * n));
      let rs;
      try { rs = await runStream(scenarios, workers, () => bar?.increment(1)); } finally { bar?.stop(); }
      const wallMs = Math.round(performance.now() - t0);
      // Point i's runs (its repetitions under --reps).
      const reps = labels.map((_, i) => rs.slice(i * n, i * n + n));
      const plots = o.plot !== undefined ? await writeSvgs(o.plot, sweepSpecs(plan.fields, labels.map((label, i) => ({ label, runs: reps[i] })))) : [];
      if (plots.length && !o.json) console.error(`plots: ${plots.join(', ')}`);
      if (o.reps !== undefined) {
        if (o.json) console.log(JSON.stringify(labels.map((label, i) => ({ ...label, seeds: reps[i].map((r) => r.seed), stats: summarizeFigures(reps[i]), results: reps[i] }))));
        else {
          console.log(`${n} repetitions per point; mean ± 95% CI`);
          // Request/response sweeps: rate, latency and cycles per transaction (their Mb/s and cycles per segment mean little).
          const figures = figuresFor(rs), rr = figures === RR_FIGURES;
          const cols: Array<[string, string, number]> = rr
            ? [['tps', 'tps', 0], ['mean us', 'meanUs', 1], ['p99 us', 'p99Us', 1], ['CPU %', 'cpuPct', 1], ['cycles/txn', 'cyclesPerTransaction', 0]]
            : [['Mb/s', 'throughputMbps', 1], ['CPU %', 'cpuPct', 1], ['cycles/pkt', 'cyclesPerPacket', 0]];
          console.log(table([...plan.fields, ...cols.map((c) => c[0])], labels.map((label, i) => {
            const s = summarizeFigures(reps[i], figures);
            return [...plan.fields.map((f) => showValue(label[f])), ...cols.map(([, k, d]) => fmtStat(s[k], d))];
          }), plan.fields.length));
        }
        console.error(`sweep: ${count * n} runs in ${wallMs} ms wall`);
        return;
      }
      if (o.out !== undefined) {
        await saveResult(o.out, {
          command: 'sweep', inputs: { sweep: basename(file), name: plan.name, fields: plan.fields }, fingerprint: fingerprintOf(h.digest('hex')), total: plan.count, shard,
        }, kept.map((k, i) => ({ index: from + i, id: k.scenario.name, label: k.label, scenario: k.scenario, result: rs[i] })), wallMs);
      }
      if (o.json) {
        // Wall time goes to stderr so stdout stays identical for any worker count.
        console.log(JSON.stringify(labels.map((label, i) => ({ ...label, result: rs[i] }))));
        console.error(`sweep: ${count} runs in ${wallMs} ms wall`);
        return;
      }
      const fields = plan.fields;
      // Runs with several guests add how evenly they shared (Jain's index) and the least-served guest.
      const fair = rs.some((r) => r.perGuest);
      console.log(runsTable(rs, fields, (_, i) => fields.map((f) => showValue(labels[i][f])), {
        headers: [...plan.columns.map(columnHeader), ...(fair ? ['Jain', 'min guest Mb/s'] : [])],
        cells: (r) => [...plan.columns.map((c) => columnValue(r, c)), ...(fair ? [r.perGuest?.jainIndex.toFixed(4) ?? '', r.perGuest ? Math.min(...r.perGuest.mbps).toFixed(1) : ''] : [])],
      }));
      console.error(`sweep: ${count} runs in ${wallMs} ms wall`);
    });
}
