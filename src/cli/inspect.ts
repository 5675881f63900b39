/**
 * Inspection commands: `xennet charts`, `xennet report`, and the inspection
 * options of `xennet run` (--trace, --pcap, --top).
 */
import type { Command } from 'commander';
import { basename } from 'node:path';
import { flagTimeMs, ScenarioError, type Scenario } from '../scenario/schema.js';
import { formatRun } from '../results/format.js';
import { InspectError } from '../inspect/files.js';
import { writeCharts } from '../inspect/charts.js';
import { runInspected } from '../inspect/inspect-run.js';
import { formatTop, formatSummaries } from '../inspect/top.js';
import { writeReport } from '../inspect/report.js';
import type { Interpreter } from '../actors/runtime.js';
import { runProgress } from './progress.js';
import { commonOverrides, type Parsers } from './overrides.js';

interface CommonOpts { seed?: number; duration?: string }
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

/** `top` is the flag's text (a time, a bare number is ms), or true when given without a value. */
export interface RunInspectOpts { json?: boolean; trace?: string; pcap?: string; top?: string | true; interpreter?: Interpreter }

/**
 * `run` with --trace/--pcap/--top. Returns false when none is given, so the
 * caller keeps its usual path (and output) untouched.
 */
export function inspectRun(sc: Scenario, o: RunInspectOpts): boolean {
  if (!o.trace && !o.pcap && o.top === undefined) return false;
  const topMs = o.top === undefined ? undefined : o.top === true ? 10 : flagTimeMs('--top', o.top, 'ms');
  if (topMs !== undefined) checkSampling('--top', topMs, sc);
  const bar = runProgress(sc, o.json);
  let ins;
  try { ins = guard(() => runInspected(sc, { trace: o.trace, pcap: o.pcap, topMs, interpreter: o.interpreter, onProgress: bar.onProgress })); } finally { bar.done(); }
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

/** What `charts --json` prints: every file with its kind, and how many of each kind and machine. */
const CHART_KINDS: Record<string, string> = { mmd: 'mermaid', scxml: 'scxml', json: 'xstate-json', svg: 'svg' };
function chartsSummary(out: string, files: string[]) {
  const list = files.map((path) => ({ path, kind: CHART_KINDS[path.slice(path.lastIndexOf('.') + 1)] ?? 'other', machine: basename(path).replace(/\.[^.]+$/, '') }));
  const counts: Record<string, number> = {};
  for (const f of list) counts[f.kind] = (counts[f.kind] ?? 0) + 1;
  return { out, files: list, count: list.length, counts, machines: new Set(list.map((f) => f.machine)).size };
}

export function registerInspect(program: Command, p: Parsers, loadWith: LoadWith): void {
  program.command('charts')
    .description('export every actor kind\'s state machine as Mermaid, SCXML, JSON and SVG')
    .option('--out <dir>', 'output directory', 'charts')
    .option('--json', 'print what was written as one JSON object (paths, kinds, counts)')
    .action(async (o: { out: string; json?: boolean }) => guardAsync(async () => {
      const files = await writeCharts(o.out);
      if (o.json) { console.log(JSON.stringify(chartsSummary(o.out, files))); return; }
      console.log(`wrote ${files.length} files to ${o.out}: ${files.map((f) => f.slice(o.out.length).replace(/^[\\/]/, '')).join(' ')}`);
    }));

  program.command('report')
    .description('run a scenario and write one self-contained HTML page (state charts, time slider, message sequence, plots) and the run\'s files: result.json, runs.csv and breakdown.csv as run --out writes them, trace, pcapng')
    .argument('<scenario>', 'scenario YAML file')
    .requiredOption('--out <dir>', 'output directory (index.html is written there)')
    .option('--seed <n>', 'random seed (overrides the file)', p.intArg('--seed', 0))
    .option('--duration <time>', p.timeHelp('virtual time to measure', 's'))
    .option('--sample <time>', p.timeHelp('sampling period of the plots, virtual time (default 1ms)', 'ms'))
    .option('--json', 'print what was written as one JSON object (path, size, counts)')
    .action(async (file: string, o: CommonOpts & { out: string; sample?: string; json?: boolean }) => guardAsync(async () => {
      const sc = loadWith(file, o);
      const sampleMs = o.sample === undefined ? undefined : flagTimeMs('--sample', o.sample, 'ms');
      if (sampleMs !== undefined) checkSampling('--sample', sampleMs, sc);
      const bar = runProgress(sc, o.json);
      let r;
      try { r = await writeReport(sc, o.out, { sampleMs, onProgress: bar.onProgress, inputs: { scenario: file, overrides: commonOverrides(o).map((v) => v.flag) } }); } finally { bar.done(); }
      if (o.json) {
        console.log(JSON.stringify({ out: o.out, files: r.files, scenario: sc.name, messages: r.messages, stateChanges: r.stateChanges }));
        return;
      }
      console.log(`wrote ${r.file} (${(r.bytes / 1024).toFixed(0)} KiB; ${r.messages} messages, ${r.stateChanges} state changes) and ${r.files.slice(1).map((f) => f.path.slice(o.out.length).replace(/^[\\/]/, '')).join(', ')}`);
    }));
}
