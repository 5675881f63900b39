/** `xennet sensitivity`: elasticity of every figure to every cost row and footprint, tornado plots, uncertainty bands. */
import type { Command } from 'commander';
import { ensureDir, writeText } from '../inspect/files.js';
import { join } from 'node:path';
import type * as vl from 'vega-lite';
import { sensitivity, sensitivityInputs, type Band, type Elasticity, type SensitivityResult } from '../calibrate/sensitivity.js';
import { selectConfigs } from '../paper/run.js';
import { scenarioFor } from '../paper/configs.js';
import { ScenarioError } from '../scenario/schema.js';
import { defaultWorkers } from '../workers/pool.js';
import { csv } from '../results/result.js';
import { renderSvg, VL_SCHEMA } from '../plot/vega.js';
import { table } from '../results/format.js';
import { progressBar } from './progress.js';
import { durationOverride, type Parsers } from './overrides.js';

interface Opts { workers?: number; only?: string; inputs?: string; step?: string; out?: string; duration?: string; json?: boolean; top?: number }

/** Bars per tornado plot: the inputs with the largest elasticities. */
const TORNADO_BARS = 15;

export function sensitivityCommand(program: Command, p: Pick<Parsers, 'intArg'>): void {
  program.command('sensitivity')
    .description('elasticity of every figure (throughput, CPU, cycles per packet per domain) of the paper configurations to every cost row and footprint (central differences), with tornado plots and an uncertainty band per figure')
    .option('--only <ids>', 'comma-separated paper configuration ids (default: all)')
    .option('--inputs <names>', 'comma-separated cost rows and footprint.<component> names (default: all)')
    .option('--step <fraction>', 'relative change of each input, each way (default 0.1)')
    .option('--workers <n>', 'worker threads', p.intArg('--workers', 1))
    .option('--duration <time>', 'measured window of every run (default: the scenarios\' own)')
    .option('--top <n>', 'rows per configuration in the printed table (default 5)', p.intArg('--top', 1))
    .option('--out <dir>', 'write sensitivity.csv, bands.csv, result.json and a tornado plot (SVG + vega-lite JSON) per figure to this directory')
    .option('--json', 'print the result as JSON')
    .action(async (o: Opts) => {
      const step = o.step === undefined ? 0.1 : Number(o.step);
      if (!(step > 0 && step < 1)) throw new ScenarioError(`--step ${o.step}: must be a number between 0 and 1`);
      let cfgs;
      try { cfgs = selectConfigs(o.only?.split(',').map((s) => s.trim()).filter(Boolean)); } catch (e) { throw new ScenarioError(`--only: ${(e as Error).message}`); }
      const overrides = o.duration === undefined ? [] : [durationOverride(o.duration, 'ms')];
      const only = o.inputs?.split(',').map((s) => s.trim()).filter(Boolean);
      const bar = progressBar('sensitivity [{bar}] {value}/{total} runs, {eta_formatted} left', o.json);
      let done = 0;
      let r: SensitivityResult;
      try {
        const configs = cfgs.map((c) => ({ id: c.id, scenario: scenarioFor(c, overrides) }));
        bar?.start(cfgs.length * (1 + 2 * sensitivityInputs(step, only).length), 0);
        r = await sensitivity(configs, { step, workers: o.workers ?? defaultWorkers(), only, onRun: () => bar?.update(++done) });
      } catch (e) {
        if (e instanceof RangeError) throw new ScenarioError(`--inputs: ${e.message}`);
        throw e;
      } finally { bar?.stop(); }
      if (o.json) console.log(JSON.stringify(r, null, 2));
      else console.log(report(r, o.top ?? 5));
      if (o.out !== undefined) await writeFiles(o.out, r);
    });
}

const fmt = (v: number) => (Math.abs(v) >= 100 ? v.toFixed(0) : v.toFixed(1));

function report(r: SensitivityResult, top: number): string {
  const out: string[] = [`${r.inputs} inputs changed by ±${(100 * r.step).toFixed(0)}%, ${r.runs} runs`, ''];
  out.push('throughput: value, uncertainty band (95%), and the inputs it is most elastic to');
  const bands = r.bands.filter((b) => b.figure === 'throughputMbps');
  out.push(table(['configuration', 'Mb/s', '±1 sd', '95% band', 'largest elasticities'], bands.map((b) => [
    b.config, fmt(b.value), `${b.sdPct.toFixed(1)}%`, `[${fmt(b.lo95)}, ${fmt(b.hi95)}]`,
    topOf(r.elasticities, b.config, b.figure, top).map((e) => `${e.input} ${e.elasticity >= 0 ? '+' : ''}${e.elasticity.toFixed(2)}`).join(', '),
  ])));
  return out.join('\n');
}

function topOf(es: Elasticity[], config: string, figure: string, n: number): Elasticity[] {
  return es.filter((e) => e.config === config && e.figure === figure && e.elasticity !== 0)
    .sort((a, b) => Math.abs(b.elasticity) - Math.abs(a.elasticity) || a.input.localeCompare(b.input)).slice(0, n);
}

/** A tornado plot: one bar per input from its -step value of the figure to its +step value, around the base. */
export function tornadoSpec(es: Elasticity[], config: string, figure: string, step: number): vl.TopLevelSpec {
  const rows = topOf(es, config, figure, TORNADO_BARS).map((e, i) => ({ input: e.input, order: i, minus: e.minus, plus: e.plus, base: e.base, elasticity: Number(e.elasticity.toFixed(3)) }));
  const base = es.find((e) => e.config === config && e.figure === figure)?.base ?? 0;
  return {
    $schema: VL_SCHEMA,
    title: { text: `${config}: ${figure}`, subtitle: `each input at -${(100 * step).toFixed(0)}% (light) and +${(100 * step).toFixed(0)}% (dark); base ${fmt(base)}` },
    data: { values: rows },
    width: 420,
    height: { step: 18 },
    layer: [
      { mark: { type: 'bar', color: '#9ecae1' }, encoding: { y: { field: 'input', type: 'nominal', sort: { field: 'order' }, title: null }, x: { field: 'minus', type: 'quantitative', title: figure, scale: { zero: false } }, x2: { datum: base } } },
      { mark: { type: 'bar', color: '#3182bd' }, encoding: { y: { field: 'input', type: 'nominal', sort: { field: 'order' } }, x: { field: 'plus', type: 'quantitative' }, x2: { datum: base }, tooltip: [{ field: 'input' }, { field: 'elasticity' }, { field: 'minus' }, { field: 'plus' }] } },
      { mark: { type: 'rule', color: 'black' }, encoding: { x: { datum: base } } },
    ],
  } as vl.TopLevelSpec;
}

async function writeFiles(dir: string, r: SensitivityResult): Promise<void> {
  ensureDir(join(dir, 'tornado'));
  writeText(join(dir, 'result.json'), JSON.stringify(r, null, 2) + '\n');
  writeText(join(dir, 'sensitivity.csv'), csv(['config', 'figure', 'input', 'base', 'minus', 'plus', 'elasticity'], r.elasticities.map((e) => [e.config, e.figure, e.input, e.base, e.minus, e.plus, e.elasticity])));
  writeText(join(dir, 'bands.csv'), csv(['config', 'figure', 'value', 'sd', 'sdPct', 'lo95', 'hi95', 'contributors'], r.bands.map((b: Band) => [b.config, b.figure, b.value, b.sd, b.sdPct, b.lo95, b.hi95, b.contributors.map((c) => `${c.input} ${c.sharePct}%`)])));
  let n = 0;
  for (const b of r.bands) {
    const spec = tornadoSpec(r.elasticities, b.config, b.figure, r.step);
    const base = join(dir, 'tornado', `${b.config}.${b.figure}`);
    writeText(`${base}.svg`, await renderSvg(spec));
    writeText(`${base}.vl.json`, JSON.stringify(spec, null, 2) + '\n');
    n++;
  }
  process.stderr.write(`sensitivity: sensitivity.csv, bands.csv, result.json and ${n} tornado plots in ${dir}\n`);
}
