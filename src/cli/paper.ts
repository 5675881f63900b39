/** `xennet paper`: run every configuration of the paper and report. */
import type { Command } from 'commander';
import { SingleBar, Presets } from 'cli-progress';
import { paperConfigs, scenarioFor } from '../paper/configs.js';
import { contributions, toRow } from '../paper/report.js';
import { runMany, defaultWorkers } from '../workers/pool.js';
import { table } from './format.js';
import { writePlots } from '../paper/plot.js';
import { interpreterOption } from './interpreter-option.js';
import type { Interpreter } from '../actors/runtime.js';

type Parsers = { intArg: (n: string, min: number) => (v: string) => number; posArg: (n: string) => (v: string) => number };

export function paperCommand(program: Command, p: Parsers): void {
  program.command('paper')
    .description('reproduce the paper: every configuration, contributions, cycle breakdowns')
    .option('--seed <n>', 'random seed', p.intArg('--seed', 0))
    .option('--duration <s>', 'simulated seconds per run', p.posArg('--duration'))
    .option('--workers <n>', 'worker threads', p.intArg('--workers', 1))
    .option('--only <ids>', 'comma-separated configuration ids')
    .option('--json', 'print one JSON object')
    .option('--plot <dir>', 'write SVG bar charts to this directory')
    .addOption(interpreterOption())
    .action(async (o: { seed?: number; duration?: number; workers?: number; only?: string; json?: boolean; plot?: string; interpreter?: Interpreter }) => {
      let cfgs = paperConfigs();
      if (o.only) {
        const want = o.only.split(',').map((s) => s.trim());
        const bad = want.filter((w) => !cfgs.some((c) => c.id === w));
        if (bad.length) { console.error(`error: --only: unknown configuration ${bad[0]} (known: ${cfgs.map((c) => c.id).join(', ')})`); process.exit(2); }
        cfgs = cfgs.filter((c) => want.includes(c.id));
      }
      const scs = cfgs.map((c) => scenarioFor(c, o.seed, o.duration === undefined ? undefined : o.duration * 1000));
      const bar = !o.json && process.stderr.isTTY ? new SingleBar({ format: 'paper [{bar}] {value}/{total} {last}', stream: process.stderr }, Presets.shades_classic) : null;
      bar?.start(scs.length, 0, { last: '' });
      const results = await runMany(scs, o.workers ?? defaultWorkers(), (_i, r) => bar?.increment(1, { last: r.scenario }), o.interpreter);
      bar?.stop();
      const rows = cfgs.map((c, i) => toRow(c, results[i]));
      const contrib = contributions(rows);
      const plots = o.plot ? await writePlots(rows, o.plot) : [];
      if (o.json) { console.log(JSON.stringify({ configurations: rows, contributions: contrib, plots })); return; }
      console.log(table(['configuration', 'Mb/s', 'CPU %', 'paper Mb/s', 'error %', 'cycles/pkt'], rows.map((r) => [
        r.id, r.throughputMbps.toFixed(1), r.cpuPct.toFixed(1), r.paperMbps ?? '', r.errorPct === null ? '' : r.errorPct.toFixed(1), r.cyclesPerPacket,
      ]), 1));
      console.log('\ncontribution of each optimization alone (guest, over Xen 2.0)');
      console.log(table(['direction', 'optimization', 'gain %'], contrib.map((c) => [c.direction, c.optimization, c.aloneGainPct.toFixed(1)]), 2));
      console.log('\ncycles per packet by domain and component');
      const groups = [...new Set(rows.flatMap((r) => Object.values(r.breakdown).flatMap((g) => Object.keys(g))))].sort();
      const lines: Array<Array<string | number>> = [];
      for (const r of rows) for (const [acct, g] of Object.entries(r.breakdown)) lines.push([r.id, acct, ...groups.map((k) => g[k] ?? 0)]);
      console.log(table(['configuration', 'domain', ...groups], lines, 2));
      if (plots.length) console.log(`\nplots: ${plots.join(', ')}`);
    });
}
