/**
 * Inspection commands: `xennet charts`, `xennet report`, and the inspection
 * options of `xennet run` (--trace, --pcap, --top).
 */
import type { Command } from 'commander';
import { ScenarioError, type Scenario } from '../scenario/schema.js';
import { formatRun } from './format.js';
import { InspectError } from '../inspect/files.js';
import { writeCharts } from '../inspect/charts.js';
import { runInspected } from '../inspect/inspect-run.js';
import { formatTop, formatSummaries } from '../inspect/top.js';
import { writeReport } from '../inspect/report.js';
import type { Interpreter } from '../actors/runtime.js';

type Parsers = { intArg: (n: string, min: number) => (v: string) => number; posArg: (n: string) => (v: string) => number };
interface CommonOpts { seed?: number; duration?: number }
type LoadWith = (file: string, o: CommonOpts) => Scenario;

/** User mistakes found here (unwritable outputs) are one line on stderr and exit status 2. */
function guard<T>(fn: () => T): T {
  try { return fn(); } catch (e) {
    if (e instanceof InspectError) { console.error(`error: ${e.message}`); process.exit(2); }
    throw e;
  }
}
async function guardAsync(fn: () => Promise<void>): Promise<void> {
  try { await fn(); } catch (e) {
    if (e instanceof InspectError) { console.error(`error: ${e.message}`); process.exit(2); }
    throw e;
  }
}

/** Sampling intervals (--top, --sample): a floor, and a cap on the number of samples a run takes. */
export const MIN_SAMPLE_MS = 0.001;
export const MAX_SAMPLES = 100_000;
export function checkSampling(flag: string, ms: number, sc: Scenario): void {
  if (ms < MIN_SAMPLE_MS) throw new ScenarioError(`${flag} ${ms}: the sampling interval must be at least ${MIN_SAMPLE_MS} ms of virtual time`);
  const totalMs = sc.run.warmupMs + sc.run.durationMs;
  const n = Math.floor(totalMs / ms);
  if (n > MAX_SAMPLES) {
    throw new ScenarioError(`${flag} ${ms}: ${n} samples over ${totalMs} ms of virtual time; at most ${MAX_SAMPLES} (use ${flag} ${Math.ceil((totalMs / MAX_SAMPLES) * 1e6) / 1e6} or more)`);
  }
}

export interface RunInspectOpts { json?: boolean; trace?: string; pcap?: string; top?: number | true; interpreter?: Interpreter }

/**
 * `run` with --trace/--pcap/--top. Returns false when none is given, so the
 * caller keeps its usual path (and output) untouched.
 */
export function inspectRun(sc: Scenario, o: RunInspectOpts): boolean {
  if (!o.trace && !o.pcap && o.top === undefined) return false;
  const topMs = o.top === undefined ? undefined : o.top === true ? 10 : o.top;
  if (topMs !== undefined) checkSampling('--top', topMs, sc);
  const ins = guard(() => runInspected(sc, { trace: o.trace, pcap: o.pcap, topMs, interpreter: o.interpreter }));
  if (o.json) {
    const out: Record<string, unknown> = { ...ins.result };
    if (ins.top) out.top = { everyMs: topMs, samples: ins.top, domains: ins.summaries };
    console.log(JSON.stringify(out));
  } else {
    if (ins.top) {
      console.log(formatTop(ins.top, ins.rec));
      console.log(formatSummaries(ins.summaries, ins.rec));
      console.log('');
    }
    console.log(formatRun(ins.result));
  }
  for (const w of ins.wrote) console.error(`wrote ${w.what}: ${w.file}`);
  return true;
}

/** Parser for `--top [ms]`. */
export const topArg = (posArg: Parsers['posArg']) => posArg('--top');

export function registerInspect(program: Command, p: Parsers, loadWith: LoadWith): void {
  program.command('charts')
    .description('export every actor kind\'s state machine as Mermaid, SCXML, JSON and SVG')
    .option('--out <dir>', 'output directory', 'charts')
    .action(async (o: { out: string }) => guardAsync(async () => {
      const files = await writeCharts(o.out);
      console.log(`wrote ${files.length} files to ${o.out}: ${files.map((f) => f.slice(o.out.length).replace(/^[\\/]/, '')).join(' ')}`);
    }));

  program.command('report')
    .description('run a scenario and write one self-contained HTML page: state charts, time slider, message sequence, plots')
    .argument('<scenario>', 'scenario YAML file')
    .requiredOption('--out <dir>', 'output directory (index.html is written there)')
    .option('--seed <n>', 'random seed (overrides the file)', p.intArg('--seed', 0))
    .option('--duration <s>', 'simulated seconds to measure', p.posArg('--duration'))
    .option('--sample <ms>', 'sampling period of the plots, ms of virtual time', p.posArg('--sample'))
    .action(async (file: string, o: CommonOpts & { out: string; sample?: number }) => guardAsync(async () => {
      const sc = loadWith(file, o);
      if (o.sample !== undefined) checkSampling('--sample', o.sample, sc);
      const r = await writeReport(sc, o.out, { sampleMs: o.sample });
      console.log(`wrote ${r.file} (${(r.bytes / 1024).toFixed(0)} KiB; ${r.messages} messages, ${r.stateChanges} state changes)`);
    }));
}
