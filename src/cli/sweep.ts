/** `xennet sweep`: run a parameter sweep on worker threads. */
import type { Command } from 'commander';
import { loadSweep } from '../sweep/sweep.js';
import { runMany, defaultWorkers } from '../workers/pool.js';
import { table } from './format.js';

type Parsers = { intArg: (n: string, min: number) => (v: string) => number };

export function sweepCommand(program: Command, p: Parsers): void {
  program.command('sweep')
    .description('run the cartesian product of a sweep file on worker threads')
    .argument('<sweep>', 'sweep YAML file: base scenario + fields to vary')
    .option('--workers <n>', 'worker threads', p.intArg('--workers', 1))
    .option('--json', 'print JSON')
    .action(async (file: string, o: { workers?: number; json?: boolean }) => {
      const runs = loadSweep(file);
      const t0 = performance.now();
      const rs = await runMany(runs.map((r) => r.scenario), o.workers ?? defaultWorkers());
      const wallMs = Math.round(performance.now() - t0);
      if (o.json) {
        // Wall time goes to stderr so stdout stays identical for any worker count.
        console.log(JSON.stringify(runs.map((r, i) => ({ ...r.label, result: rs[i] }))));
        console.error(`sweep: ${runs.length} runs in ${wallMs} ms wall`);
        return;
      }
      const fields = Object.keys(runs[0]?.label ?? {});
      console.log(table([...fields, 'Mb/s', 'CPU %', 'cycles/pkt'], runs.map((r, i) => [
        ...fields.map((f) => String(r.label[f])), rs[i].throughputMbps.toFixed(1), rs[i].cpuUtilPct.total.toFixed(1), rs[i].cyclesPerPacket.total,
      ]), fields.length));
      console.error(`sweep: ${runs.length} runs in ${wallMs} ms wall`);
    });
}
