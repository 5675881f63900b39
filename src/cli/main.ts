/**
 * xennet command line. User mistakes (bad flags, bad scenario files) get one
 * line naming the problem and a non-zero exit, never a stack trace.
 */
import { Command, InvalidArgumentError } from 'commander';
import { join } from 'node:path';
import { writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { loadScenario, ScenarioError, type Override, type Scenario } from '../scenario/schema.js';
import { runScenario } from '../scenario/run.js';
import { scenarioJsonSchemaText } from '../scenario/json-schema.js';
import { runMany, defaultWorkers } from '../workers/pool.js';
import { formatRun, table } from './format.js';
import { scenarioDir } from '../paper/configs.js';
import { paperCommand } from './paper.js';
import { registerInspect, inspectRun, topArg, type RunInspectOpts } from './inspect.js';
import { sweepCommand } from './sweep.js';
import { stressCommand } from './stress.js';
import { interpreterOption } from './interpreter-option.js';
import type { Interpreter } from '../actors/runtime.js';

const intArg = (name: string, min: number) => (v: string) => {
  const n = Number(v);
  if (!/^\d+$/.test(v.trim()) || !Number.isSafeInteger(n) || n < min) throw new InvalidArgumentError(`${name} must be an integer >= ${min}`);
  return n;
};
const posArg = (name: string) => (v: string) => {
  const n = Number(v);
  if (!Number.isFinite(n) || n <= 0) throw new InvalidArgumentError(`${name} must be a positive number`);
  return n;
};

export interface CommonOpts { seed?: number; duration?: number }
/** The scenario fields set by --seed and --duration, validated with the file by the scenario schema. */
export function commonOverrides(o: CommonOpts): Override[] {
  const out: Override[] = [];
  if (o.seed !== undefined) out.push({ path: 'seed', value: o.seed, flag: `--seed ${o.seed}` });
  if (o.duration !== undefined) out.push({ path: 'run.durationMs', value: o.duration * 1000, flag: `--duration ${o.duration}` });
  return out;
}
export const loadWith = (file: string, o: CommonOpts): Scenario => loadScenario(file, commonOverrides(o));

export const SIX = ['linux-tx', 'linux-rx', 'driver-tx', 'driver-rx', 'guest-tx', 'guest-rx'];

const program = new Command();
program.name('xennet').description('Deterministic emulator of Xen split-driver network virtualization').showHelpAfterError(false);
program.configureOutput({ outputError: (s, write) => write(s.split('\n')[0] + '\n') });

program.command('run')
  .description('run one scenario and print throughput, CPU use, cycles per packet and counters')
  .argument('<scenario>', 'scenario YAML file')
  .option('--seed <n>', 'random seed (overrides the file)', intArg('--seed', 0))
  .option('--duration <s>', 'simulated seconds to measure', posArg('--duration'))
  .option('--json', 'print one JSON object')
  .option('--trace <file>', 'write a Chrome/Perfetto trace-event JSON file of the run')
  .option('--pcap <file>', 'write the frames put on the wires as a pcap file')
  .option('--top [ms]', 'print a xentop-style table every ms of virtual time (default 10) and a per-domain summary', topArg(posArg))
  .addOption(interpreterOption())
  .action((file: string, o: CommonOpts & RunInspectOpts & { interpreter?: Interpreter }) => {
    const sc = loadWith(file, o);
    if (inspectRun(sc, o)) return;
    const r = runScenario(sc, { interpreter: o.interpreter });
    console.log(o.json ? JSON.stringify(r) : formatRun(r));
  });

program.command('all')
  .description('run the six base scenarios (Xen 2.0 and native Linux) and compare with the paper')
  .option('--seed <n>', 'random seed', intArg('--seed', 0))
  .option('--duration <s>', 'simulated seconds per run', posArg('--duration'))
  .option('--workers <n>', 'worker threads', intArg('--workers', 1))
  .option('--json', 'print JSON')
  .action(async (o: CommonOpts & { workers?: number; json?: boolean }) => {
    const scs = SIX.map((n) => loadWith(join(scenarioDir(), `${n}.yaml`), o));
    const rs = await runMany(scs, o.workers ?? defaultWorkers());
    if (o.json) { console.log(JSON.stringify(rs)); return; }
    console.log(table(['scenario', 'emulated Mb/s', 'paper Mb/s', 'error %', 'CPU %'], rs.map((r) => [
      r.scenario, r.throughputMbps.toFixed(1), r.paperMbps ?? '', r.errorPct === null ? '' : r.errorPct.toFixed(1), r.cpuUtilPct.total.toFixed(1),
    ])));
  });

program.command('schema')
  .description('print the JSON Schema of scenario files (the repository keeps a copy as xennet.schema.json)')
  .action(() => { process.stdout.write(scenarioJsonSchemaText()); });

paperCommand(program, { intArg, posArg });
registerInspect(program, { intArg, posArg }, loadWith);
sweepCommand(program, { intArg });
stressCommand(program, { intArg });

/**
 * The last word on errors: a user mistake (ScenarioError) is one block (one line, or one per
 * problem of a scenario file) and status 2; anything else
 * is an internal error: one line, with the full report (stack, command line) written to a file.
 */
function onError(e: unknown): never {
  if (e instanceof ScenarioError) { console.error(`error: ${e.message}`); process.exit(2); }
  const err = e instanceof Error ? e : new Error(String(e));
  let where = '';
  try {
    const file = join(tmpdir(), `xennet-crash-${process.pid}-${Date.now()}.txt`);
    writeFileSync(file, [`xennet ${process.argv.slice(2).join(' ')}`, `node ${process.version}`, '', err.stack ?? String(err), ''].join('\n'));
    where = `; full report in ${file}`;
  } catch { /* the one line still says what happened */ }
  console.error(`internal error: ${err.message.split('\n')[0]}${where}`);
  process.exit(70);
}
process.on('uncaughtException', onError);
process.on('unhandledRejection', onError);

program.parseAsync(process.argv).catch(onError);
