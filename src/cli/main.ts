/**
 * xennet command line. User mistakes (bad flags, bad scenario files) get one
 * line naming the problem and a non-zero exit, never a stack trace.
 */
import { Command, InvalidArgumentError } from 'commander';
import { join } from 'node:path';
import { writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { ScenarioError } from '../scenario/schema.js';
import { checkOutDir, explain, InspectError } from '../inspect/files.js';
import { commonOverrides, loadWith, timeHelp, type CommonOpts } from './overrides.js';
import { integrityFailures, runScenario } from '../scenario/run.js';
import { repSeeds, summarizeFigures } from '../scenario/reps.js';
import { scenarioJsonSchemaText } from '../scenario/json-schema.js';
import { runMany, defaultWorkers } from '../workers/pool.js';
import { formatRun, runsTable, table, terminalSafe } from '../results/format.js';
import { scenarioDir } from '../paper/configs.js';
import { paperCommand } from './paper.js';
import { registerInspect, inspectRun, type RunInspectOpts } from './inspect.js';
import { sweepCommand, DEFAULT_MAX_RUNS } from './sweep.js';
import { stressCommand } from './stress.js';
import { calibrateCommand } from './calibrate.js';
import { sensitivityCommand } from './sensitivity.js';
import { interpreterOption } from './interpreter-option.js';
import type { Interpreter } from '../actors/runtime.js';
import { versionString } from '../results/version.js';
import { progressBar, runProgress } from './progress.js';
import { fingerprintOf } from '../results/result.js';
import { mergeCommand, OUT_HELP, saveResult } from './results.js';
import { writeSvgs } from '../plot/vega.js';
import { latencyPlots, repsSpec, throughputSpec } from '../plot/runs.js';

const intArg = (name: string, min: number) => (v: string) => {
  const n = Number(v);
  if (!/^\d+$/.test(v.trim()) || !Number.isSafeInteger(n) || n < min) throw new InvalidArgumentError(`${name} must be an integer >= ${min}`);
  return n;
};
export const SIX = ['linux-tx', 'linux-rx', 'driver-tx', 'driver-rx', 'guest-tx', 'guest-rx'];

const program = new Command();
program.name('xennet').description('Deterministic emulator of Xen split-driver network virtualization').showHelpAfterError(false);
// A usage mistake commander finds (unknown option, missing argument) is a user error like any other: status 2.
program.exitOverride((err) => { process.exit(err.exitCode === 0 ? 0 : 2); });
// Not commander's .version(): the git commit is looked up only when asked for.
program.option('-V, --version', 'print the version (and the git commit when run from a checkout)')
  .on('option:version', () => { console.log(versionString()); process.exit(0); });
program.configureOutput({ outputError: (s, write) => write(terminalSafe(s.split('\n')[0]) + '\n') });
// Everything on standard output is for a terminal or a file of text: user strings in it (a scenario's
// name) cannot carry escapes to the terminal. JSON output escapes control characters by itself.
// A write that fails (a full disk or a closed pipe behind > FILE) is kept and reported at exit.
let stdoutError: NodeJS.ErrnoException | null = null;
const rawStdout = process.stdout.write.bind(process.stdout) as (chunk: unknown, enc?: BufferEncoding, cb?: (e?: Error | null) => void) => boolean;
process.stdout.write = ((chunk: unknown, a?: unknown, b?: unknown) => {
  const cb = (typeof a === 'function' ? a : b) as ((e?: Error | null) => void) | undefined;
  return rawStdout(typeof chunk === 'string' ? terminalSafe(chunk) : chunk, typeof a === 'string' ? a as BufferEncoding : undefined, (e) => {
    if (e) stdoutError ??= e;
    cb?.(e);
  });
}) as typeof process.stdout.write;
process.stdout.on('error', (e) => { stdoutError ??= e; });

program.command('run')
  .description('run one scenario and print throughput, CPU use, cycles per packet and counters (and latency for TCP_RR/UDP_RR); several scenarios: one table row each')
  .argument('<scenario...>', 'scenario YAML file(s)')
  .option('--seed <n>', 'random seed (overrides the file)', intArg('--seed', 0))
  .option('--duration <time>', timeHelp('virtual time to measure', 's'))
  .option('--json', 'print one JSON object')
  .option('--trace <file>', 'write a Chrome/Perfetto trace-event JSON file of the run')
  .option('--pcap <file>', 'write the frames put on the wires as a pcapng capture (one interface per link)')
  .option('--top [time]', timeHelp('print a xentop-style table every so much virtual time (default 10ms) and a per-domain summary', 'ms'))
  .option('--reps <n>', 'repeat with seeds seed, seed+1, ... (see the scenario\'s variability) and report mean, std and 95% CI of each figure', intArg('--reps', 2))
  .option('--workers <n>', 'worker threads for --reps', intArg('--workers', 1))
  .option('--max-runs <n>', `refuse --reps of more runs than this (default ${DEFAULT_MAX_RUNS})`, intArg('--max-runs', 1))
  .option('--out <dir>', OUT_HELP)
  .option('--plot <dir>', 'write SVG plots (and their vega-lite specs) to this directory: throughput per scenario; under --reps each figure\'s mean with its 95% CI; for TCP_RR/UDP_RR the latency by percentile and its histogram')
  .addOption(interpreterOption())
  .action(async (files: string[], o: RunOpts) => {
    const max = o.maxRuns ?? DEFAULT_MAX_RUNS;
    if (o.reps !== undefined && o.reps > max) throw new ScenarioError(`--reps ${o.reps}: ${o.reps} runs; at most ${max} without --max-runs ${o.reps}`);
    if (o.plot !== undefined) {
      const inspect = o.trace ? '--trace' : o.pcap ? '--pcap' : o.top !== undefined ? '--top' : null;
      if (inspect) throw new ScenarioError(`--plot cannot be combined with ${inspect} (the report command plots one inspected run)`);
      checkOutDir(o.plot);
    }
    if (files.length > 1) { await runTable(files, o); return; }
    const file = files[0];
    const sc = loadWith(file, o);
    if (o.reps !== undefined) {
      if (o.trace || o.pcap || o.top !== undefined || o.out !== undefined) throw new ScenarioError('--reps cannot be combined with --trace, --pcap, --top (they inspect one run) or --out');
      const rs = await runMany(repSeeds(sc.seed, o.reps).map((seed) => ({ ...structuredClone(sc), seed })), o.workers ?? defaultWorkers(), undefined, o.interpreter);
      for (const l of integrityFailures(rs)) { console.error(`error: ${l}`); process.exitCode = 1; }
      const stats = summarizeFigures(rs);
      const plots = o.plot !== undefined ? await writeSvgs(o.plot, [['reps.svg', repsSpec(rs)], ...latencyPlots(rs, (r) => `seed ${r.seed}`)]) : [];
      if (o.json) { console.log(JSON.stringify({ scenario: sc.name, seeds: rs.map((r) => r.seed), stats, runs: rs })); return; }
      console.log(`scenario ${sc.name}: ${o.reps} repetitions, seeds ${sc.seed}..${sc.seed + o.reps - 1}`);
      console.log(table(['figure', 'mean', 'std', '95% CI', 'n'], Object.entries(stats).map(([k, s]) => {
        return [k, s.mean.toFixed(1), s.std.toFixed(2), `[${s.ci95[0].toFixed(1)}, ${s.ci95[1].toFixed(1)}]`, s.n];
      })));
      if (plots.length) console.log(`plots: ${plots.join(', ')}`);
      return;
    }
    if (o.out !== undefined && (o.trace || o.pcap || o.top !== undefined)) throw new ScenarioError(`--out cannot be combined with --${o.trace ? 'trace' : o.pcap ? 'pcap' : 'top'}`);
    if (o.out !== undefined) checkOutDir(o.out);
    if (inspectRun(sc, o)) return;
    const t0 = performance.now();
    const bar = runProgress(sc, o.json);
    let r;
    try { r = runScenario(sc, { interpreter: o.interpreter, onProgress: bar.onProgress }); } finally { bar.done(); }
    const wallMs = performance.now() - t0;
    const plots = o.plot !== undefined ? await writeSvgs(o.plot, [['throughput.svg', throughputSpec([r])], ...latencyPlots([r], (x) => x.scenario)]) : [];
    console.log(o.json ? JSON.stringify(r) : formatRun(r));
    if (plots.length && !o.json) console.log(`plots: ${plots.join(', ')}`);
    if (o.out !== undefined) {
      await saveResult(o.out, { command: 'run', inputs: { scenario: file, overrides: commonOverrides(o).map((v) => v.flag) }, fingerprint: fingerprintOf([sc]), total: 1 }, [{ index: 0, id: sc.name, scenario: sc, result: r }], wallMs);
    }
    for (const l of integrityFailures([r])) { console.error(`error: ${l}`); process.exitCode = 1; }
  });

/** `xennet run a.yaml b.yaml ...`: every scenario once (on --workers threads), one table row each (--json: an array of results). */
type RunOpts = CommonOpts & RunInspectOpts & { interpreter?: Interpreter; reps?: number; workers?: number; out?: string; maxRuns?: number; plot?: string };

async function runTable(files: string[], o: RunOpts): Promise<void> {
  const one = o.trace ? '--trace' : o.pcap ? '--pcap' : o.top !== undefined ? '--top' : o.reps !== undefined ? '--reps' : o.out !== undefined ? '--out' : null;
  if (one) throw new ScenarioError(`${one} takes one scenario (${files.length} given)`);
  const scs = files.map((f) => loadWith(f, o));
  const bar = progressBar('run [{bar}] {value}/{total} scenarios, {eta_formatted} left', o.json);
  bar?.start(scs.length, 0);
  let rs;
  try { rs = await runMany(scs, o.workers ?? 1, () => bar?.increment(1), o.interpreter); } finally { bar?.stop(); }
  for (const l of integrityFailures(rs)) { console.error(`error: ${l}`); process.exitCode = 1; }
  const plots = o.plot !== undefined ? await writeSvgs(o.plot, [['throughput.svg', throughputSpec(rs)], ...latencyPlots(rs, (r) => r.scenario)]) : [];
  console.log(o.json ? JSON.stringify(rs) : runsTable(rs));
  if (plots.length && !o.json) console.log(`plots: ${plots.join(', ')}`);
}

program.command('all')
  .description('run the six base scenarios (Xen 2.0 and native Linux) and compare with the paper')
  .option('--seed <n>', 'random seed', intArg('--seed', 0))
  .option('--duration <time>', timeHelp('virtual time to measure per run', 's'))
  .option('--workers <n>', 'worker threads', intArg('--workers', 1))
  .option('--json', 'print JSON')
  .action(async (o: CommonOpts & { workers?: number; json?: boolean }) => {
    const scs = SIX.map((n) => loadWith(join(scenarioDir(), `${n}.yaml`), o));
    const bar = progressBar('all [{bar}] {value}/{total} scenarios, {eta_formatted} left', o.json);
    bar?.start(scs.length, 0);
    let rs;
    try { rs = await runMany(scs, o.workers ?? defaultWorkers(), () => bar?.increment(1)); } finally { bar?.stop(); }
    for (const l of integrityFailures(rs)) { console.error(`error: ${l}`); process.exitCode = 1; }
    if (o.json) { console.log(JSON.stringify(rs)); return; }
    console.log(table(['scenario', 'emulated Mb/s', 'paper Mb/s', 'error %', 'CPU %'], rs.map((r) => [
      r.scenario, r.throughputMbps.toFixed(1), r.paperMbps ?? '', r.errorPct === null ? '' : r.errorPct.toFixed(1), r.cpuUtilPct.total.toFixed(1),
    ])));
  });

program.command('schema')
  .description('print the JSON Schema of scenario files (the repository keeps a copy as xennet.schema.json)')
  .action(() => { process.stdout.write(scenarioJsonSchemaText()); });

paperCommand(program, { intArg, timeHelp });
registerInspect(program, { intArg, timeHelp }, loadWith);
sweepCommand(program, { intArg });
stressCommand(program, { intArg });
calibrateCommand(program, { intArg });
sensitivityCommand(program, { intArg });
mergeCommand(program);

/**
 * The last word on errors: a user mistake (ScenarioError) is one block (one line, or one per
 * problem of a scenario file) and status 2; anything else
 * is an internal error: one line, with the full report (stack, command line) written to a file.
 */
function onError(e: unknown): never {
  if (e instanceof ScenarioError || e instanceof InspectError) { console.error(`error: ${terminalSafe(e.message)}`); process.exit(2); }
  const err = e instanceof Error ? e : new Error(String(e));
  let where = '';
  try {
    const file = join(tmpdir(), `xennet-crash-${process.pid}-${Date.now()}.txt`);
    writeFileSync(file, [`xennet ${process.argv.slice(2).join(' ')}`, `node ${process.version}`, '', err.stack ?? String(err), ''].join('\n'));
    where = `; full report in ${file}`;
  } catch { /* the one line still says what happened */ }
  console.error(`internal error: ${terminalSafe(err.message.split('\n')[0])}${where}`);
  process.exit(70);
}
process.on('uncaughtException', onError);
// Output that could not be written is an error, never exit 0, even when a command exits right after.
process.on('exit', () => {
  // (process.exit before the write's callback ran: the stream has recorded the error by then.)
  const e = stdoutError ?? (process.stdout.errored as NodeJS.ErrnoException | null);
  if (!e) return;
  process.stderr.write(`error: ${explain(e, 'standard output').message}\n`);
  process.exitCode = 2;
});
process.on('unhandledRejection', onError);

program.parseAsync(process.argv).catch(onError);
