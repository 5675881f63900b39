/** `xennet sweep`: run a parameter sweep on worker threads, generating the runs as they are needed. */
import type { Command } from 'commander';
import { SingleBar, Presets } from 'cli-progress';
import { planSweep } from '../sweep/sweep.js';
import { ScenarioError } from '../scenario/schema.js';
import { runStream, defaultWorkers } from '../workers/pool.js';
import { table } from './format.js';

type Parsers = { intArg: (n: string, min: number) => (v: string) => number };

/** Sweeps larger than this are refused unless --max-runs allows them. */
export const DEFAULT_MAX_RUNS = 1000;

export function sweepCommand(program: Command, p: Parsers): void {
  program.command('sweep')
    .description('run the cartesian product of a sweep file on worker threads')
    .argument('<sweep>', 'sweep YAML file: base scenario + fields to vary')
    .option('--workers <n>', 'worker threads', p.intArg('--workers', 1))
    .option('--max-runs <n>', `refuse a sweep of more runs than this (default ${DEFAULT_MAX_RUNS})`, p.intArg('--max-runs', 1))
    .option('--json', 'print JSON')
    .action(async (file: string, o: { workers?: number; maxRuns?: number; json?: boolean }) => {
      const plan = planSweep(file);
      const max = o.maxRuns ?? DEFAULT_MAX_RUNS;
      if (plan.count > max) {
        throw new ScenarioError(`${file}: the sweep has ${plan.count} runs (${plan.fields.length} fields, the product of their value counts); at most ${max} without --max-runs ${plan.count}`);
      }
      // Check every run against the schema before any runs (one at a time, nothing kept).
      for (const _ of plan.runs()) { /* parse errors throw */ }
      const labels: Array<Record<string, unknown>> = [];
      const it = plan.runs();
      const scenarios = { next: () => { const n = it.next(); if (n.done) return n; labels.push(n.value.label); return { done: false as const, value: n.value.scenario }; } };
      const bar = !o.json && process.stderr.isTTY ? new SingleBar({ format: 'sweep [{bar}] {value}/{total} runs, {eta_formatted} left', stream: process.stderr }, Presets.shades_classic) : null;
      bar?.start(plan.count, 0);
      const t0 = performance.now();
      const workers = Math.min(o.workers ?? defaultWorkers(), Math.max(1, plan.count));
      let rs;
      try { rs = await runStream(scenarios, workers, () => bar?.increment(1)); } finally { bar?.stop(); }
      const wallMs = Math.round(performance.now() - t0);
      if (o.json) {
        // Wall time goes to stderr so stdout stays identical for any worker count.
        console.log(JSON.stringify(labels.map((label, i) => ({ ...label, result: rs[i] }))));
        console.error(`sweep: ${plan.count} runs in ${wallMs} ms wall`);
        return;
      }
      const fields = plan.fields;
      console.log(table([...fields, 'Mb/s', 'CPU %', 'cycles/pkt'], labels.map((label, i) => [
        ...fields.map((f) => String(label[f])), rs[i].throughputMbps.toFixed(1), rs[i].cpuUtilPct.total.toFixed(1), rs[i].cyclesPerPacket.total,
      ]), fields.length));
      console.error(`sweep: ${plan.count} runs in ${wallMs} ms wall`);
    });
}
