/** `xennet calibrate`: fit the fitted cost rows to the paper's baseline figures (src/calibrate). */
import type { Command } from 'commander';
import { existsSync } from 'node:fs';
import { ensureDir, writeText } from '../inspect/files.js';
import { join } from 'node:path';
import { calibrate, leaveOneOut, maxCalibrationRuns, DEFAULT_STEP, DEFAULT_TOL, type CalibrationResult, type LeaveOneOut } from '../calibrate/calibrate.js';
import { baselineTargets, fittedParams, TARGET_SETS, type TargetSet } from '../calibrate/model.js';
import { scenarioDir } from '../paper/configs.js';
import { ScenarioError } from '../scenario/schema.js';
import { defaultWorkers } from '../workers/pool.js';
import { csv } from '../results/result.js';
import { table } from '../results/format.js';
import { progressBar } from './progress.js';
import { durationOverride, type Parsers } from './overrides.js';


interface Opts { only?: string; workers?: number; out?: string; write?: boolean; leaveOneOut?: boolean; maxIter?: number; tol?: string; duration?: string; check?: boolean; json?: boolean; targets?: string }

/** The footprint scales tried (code x data) before the first step (the TLB thresholds lie between them). */
export const SCALE_GRID = [1, 1.3, 1.5, 1.7, 1.9, 2.2];

const sig = (v: number) => Number(v.toPrecision(4));
const pct = (v: number) => `${v > 0 ? '+' : ''}${v.toFixed(1)}%`;

export function calibrateCommand(program: Command, p: Pick<Parsers, 'intArg'>): void {
  program.command('calibrate')
    .description('fit the cost rows marked as fitted (and the TLB footprint scale) to the paper\'s baseline figures; print the fit and residuals')
    .option('--workers <n>', 'worker threads', p.intArg('--workers', 1))
    .option('--leave-one-out', 'also refit without each baseline figure and report how well it is then predicted')
    .option('--check', 'do not fit: report whether the committed values are an optimum by the fit\'s own criteria (the Gauss-Newton step there is below the tolerance, or no ±' + `${(100 * DEFAULT_STEP).toFixed(0)}` + '% change of one parameter lowers the objective: a local optimum at that resolution only); say which; exit 1 if neither')
    .option('--write', 'rewrite src/model/calibration.ts (the values the cost table uses) with the fitted values')
    .option('--out <dir>', 'write calibration.json, fit.csv, params.csv, iterations.csv (and loo.csv) to this directory')
    .option('--only <names>', 'fit only these parameters (comma-separated cost rows with a prior, footprintCodeScale, footprintDataScale); the others stay at their committed values')
    .option('--max-iter <n>', 'iterations at most at each difference step (default 6)', p.intArg('--max-iter', 0))
    .option('--tol <x>', `converged when no parameter would change by more than this fraction (default ${DEFAULT_TOL})`)
    .option('--duration <time>', 'measured window of every run (default: the scenarios\' own, 150 ms); fitting to another window fits another objective')
    .option('--targets <set>', 'figures to fit: baseline (the five Xen 2.0 and native figures; the committed table) or all (those and the three optimized figures of the abstract: 2343, 3310, 970)', 'baseline')
    .option('--json', 'print the result as JSON')
    .action(async (o: Opts) => {
      if (!(o.targets! in TARGET_SETS)) throw new ScenarioError(`--targets ${o.targets}: must be one of ${Object.keys(TARGET_SETS).join(', ')}`);
      const targets = o.targets as TargetSet;
      if (o.write && targets !== 'baseline') throw new ScenarioError('--write with --targets all: the committed table is the fit to the baseline figures (src/calibrate/model.ts)');
      const tol = o.tol === undefined ? DEFAULT_TOL : Number(o.tol);
      if (!(tol > 0 && tol < 1)) throw new ScenarioError(`--tol ${o.tol}: must be a number between 0 and 1`);
      if (o.write && o.duration !== undefined) throw new ScenarioError('--write with --duration: the committed values must fit the scenarios\' own window');
      if (o.write && o.check) throw new ScenarioError('--write with --check: --check does not fit');
      if (o.write && o.only !== undefined) throw new ScenarioError('--write with --only: the committed table is the fit of every parameter');
      const only = o.only?.split(',').map((x) => x.trim()).filter((x) => x !== '');
      if (only) {
        try { fittedParams(only); } catch (e) { throw new ScenarioError(`--only ${o.only}: ${(e as Error).message}`); }
      }
      const overrides = o.duration === undefined ? [] : [durationOverride(o.duration, 'ms')];
      const workers = o.workers ?? defaultWorkers();
      // The total is an upper bound (a fit stops when it converges), and so is the time left.
      const bar = progressBar('calibrate [{bar}] {value} runs of at most {total}, at most {eta_formatted} left', o.json);
      let runs = 0;
      const base = { workers, tol, overrides, only, targets, onRun: () => { runs++; bar?.update(runs); } };
      const first = { ...base, maxIter: o.check ? 0 : o.maxIter, scaleGrid: o.check ? undefined : SCALE_GRID };
      const loos = o.leaveOneOut ? baselineTargets(overrides, targets).length : 0;
      bar?.start(maxCalibrationRuns(first) + loos * maxCalibrationRuns({ ...base, maxIter: o.maxIter }), 0);
      const t0 = Date.now();
      const fit = await calibrate(first);
      // With --check the committed values are the full fit: leave-one-out refits start from them.
      const loo = o.leaveOneOut ? await leaveOneOut(fit, { ...base, maxIter: o.maxIter }) : null;
      bar?.stop();
      const wallS = (Date.now() - t0) / 1000;
      if (o.json) console.log(JSON.stringify({ ...fit, ...(loo ? { leaveOneOut: loo } : {}) }, null, 2));
      else console.log(report(fit, loo, tol, runs, wallS, targets));
      if (o.out !== undefined) writeFiles(o.out, fit, loo);
      if (o.write) {
        const file = join(scenarioDir(), '..', 'src', 'model', 'calibration.ts');
        if (!existsSync(file)) throw new ScenarioError(`--write: ${file} not found (run from a checkout of xennet)`);
        writeText(file, calibrationSource(fit, tol));
        process.stderr.write(`wrote ${file}: rebuild (npm run build) for the cost table to use it\n`);
      }
      if (o.check && !fit.converged) process.exitCode = 1;
    });
}

export function report(fit: CalibrationResult, loo: LeaveOneOut[] | null, tol: number, runs: number, wallS: number, targets: TargetSet): string {
  const out: string[] = [];
  out.push(targets === 'baseline' ? `baseline figures (${TARGET_SETS.baseline.length}; the optimized configurations are not fitted):`
    : `figures (${TARGET_SETS.all.length}: the baselines and the optimized figures of the abstract):`);
  out.push(table(['figure', 'paper Mb/s', 'model Mb/s', 'residual'], fit.figures.map((f) => [f.id, f.paperMbps, f.modelMbps.toFixed(1), pct(f.errorPct)])));
  out.push('');
  out.push('fitted parameters (prior: the source\'s value; shift: ln(value/prior) in units of the prior\'s uncertainty):');
  out.push(table(['parameter', 'prior', 'uncertainty', 'value', 'shift', 'posterior sd'], fit.params.map((q) => [
    q.name, q.prior, `${(100 * q.uncertainty).toFixed(0)}%`, sig(q.value), (Math.log(q.value / q.prior) / q.uncertainty).toFixed(2), `${(100 * q.posteriorSd).toFixed(1)}%`,
  ])));
  out.push('');
  const worst = Math.max(...fit.finalStep.map(Math.abs));
  const why = fit.criterion === 'step' ? `the next Gauss-Newton step changes a parameter by at most ${(100 * worst).toFixed(2)}% (tolerance ${(100 * tol).toFixed(2)}%)`
    : fit.criterion === 'mesh' ? `no parameter changed by ±${(100 * DEFAULT_STEP).toFixed(0)}% lowers the objective: a local optimum at that resolution only, not by the Gauss-Newton test (its step is ${(100 * worst).toFixed(1)}%, above the tolerance ${(100 * tol).toFixed(2)}%)`
      : `the Gauss-Newton step is ${(100 * worst).toFixed(1)}% and a ±${(100 * DEFAULT_STEP).toFixed(0)}% probe lowers the objective`;
  out.push(`objective ${fit.objective.toFixed(3)}; ${fit.converged ? 'converged' : 'NOT converged'}: ${why}; ${fit.iterations.length} steps tried, ${runs} runs, ${wallS.toFixed(0)} s`);
  if (loo) {
    out.push('');
    out.push('leave-one-out (refit without the figure, then predict it):');
    out.push(table(['left out', 'paper Mb/s', 'predicted', 'error', 'error when fitted'], loo.map((l) => [l.id, l.paperMbps, l.predictedMbps.toFixed(1), pct(l.errorPct), pct(l.fittedErrorPct)])));
  }
  return out.join('\n');
}

function writeFiles(dir: string, fit: CalibrationResult, loo: LeaveOneOut[] | null): void {
  ensureDir(dir);
  writeText(join(dir, 'calibration.json'), JSON.stringify({ ...fit, ...(loo ? { leaveOneOut: loo } : {}) }, null, 2) + '\n');
  writeText(join(dir, 'fit.csv'), csv(['figure', 'paperMbps', 'modelMbps', 'errorPct', 'used'], fit.figures.map((f) => [f.id, f.paperMbps, f.modelMbps, f.errorPct, f.used])));
  writeText(join(dir, 'params.csv'), csv(['parameter', 'prior', 'uncertainty', 'value', 'posteriorSd', 'finalStep'], fit.params.map((q, i) => [q.name, q.prior, q.uncertainty, q.value, q.posteriorSd, fit.finalStep[i]])));
  writeText(join(dir, 'iterations.csv'), csv(['iteration', 'objective', 'lambda', 'maxStep', 'accepted', ...fit.params.map((q) => q.name)], fit.iterations.map((it) => [it.iteration, it.objective, it.lambda, it.maxStep, it.accepted, ...it.values])));
  if (loo) writeText(join(dir, 'loo.csv'), csv(['leftOut', 'paperMbps', 'predictedMbps', 'errorPct', 'fittedErrorPct'], loo.map((l) => [l.id, l.paperMbps, l.predictedMbps, l.errorPct, l.fittedErrorPct])));
  process.stderr.write(`calibration: files in ${dir}\n`);
}

/**
 * The source of src/model/calibration.ts for a fit. Values are written exactly as the fit ran them
 * (12 significant digits): the response to the footprint scale has steps (page counts round), so a
 * rounded value could land on the other side of one.
 */
export function calibrationSource(fit: CalibrationResult, tol: number): string {
  const v = (_name: string, x: number) => x;
  const lines = [
    '/**',
    ' * Written by `xennet calibrate --write`: the fitted cost rows and footprint scale, and the fit that',
    ' * chose them (docs/cost-model.md, "Calibration"). Do not edit by hand; test/calibrate/calibrate.test.ts checks',
    ' * that these values are the optimum of the calibration objective.',
    ' */',
    'export const CALIBRATION = {',
    '  values: {',
    ...fit.params.map((q) => `    ${q.name}: ${v(q.name, q.value)},`),
    '  },',
    `  /** Convergence tolerance of the fit (largest relative Gauss-Newton step). */`,
    `  tol: ${tol},`,
    '  /** The baseline figures at these values: paper and model throughput, Mb/s. */',
    '  figures: {',
    ...fit.figures.map((f) => `    '${f.id}': { paper: ${f.paperMbps}, model: ${f.modelMbps} },`),
    '  },',
    `  objective: ${Number(fit.objective.toPrecision(6))},`,
    '  /** Posterior covariance of ln(value) of the parameters above, in their order (for uncertainty bands). */',
    '  covariance: [',
    ...fit.covariance.map((row) => `    [${row.map((x) => Number(x.toPrecision(4))).join(', ')}],`),
    '  ],',
    '} as const;',
    '',
  ];
  return lines.join('\n');
}
