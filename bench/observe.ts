/**
 * What observation costs: guest-tx and linux-tx, a 40 ms window on a warm JIT, with nobody
 * subscribed vs with no-op subscribers on messages$, states$ and wire$ (paired, alternating).
 * Unobserved, the hot paths only test a flag; the `previous` part shows the unobserved build is
 * not slower than a build without the streams.
 * Then the recorder as `xennet report` attaches it (every message, operation, state change and wire
 * frame written to its log on disk as the run goes, a sample every 1 ms): whole runs (the scenario's
 * warm-up, 40 ms measured; the log's last write and close included) with it vs without,
 * RECORDER_PAIRS alternating pairs, by process CPU time (steadier than wall time on a shared
 * machine). Reading the log back and writing the trace, capture and page come after the run and
 * are not part of this figure.
 */
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { loadScenario } from '../src/scenario/schema.js';
import { build } from '../src/scenario/build.js';
import { scenarioDir } from '../src/paper/configs.js';
import { median, timeWindow } from './interpreters.js';
import { runBuilt } from '../src/scenario/run.js';
import { Recorder } from '../src/inspect/recorder.js';
import { RecordLog } from '../src/inspect/record-log.js';
import { PS_PER_MS } from '../src/actors/scheduler.js';

const WINDOW_MS = 40;
const PAIRS = 5;

function window(name: string, observed: boolean): number {
  const sc = loadScenario(join(scenarioDir(), `${name}.yaml`));
  const b = build(sc);
  if (observed) { b.sys.messages$.subscribe(() => {}); b.sys.states$.subscribe(() => {}); b.sys.wire$.subscribe(() => {}); }
  const wall = timeWindow(b, sc.run.warmupMs, WINDOW_MS);
  b.sys.stop();
  return WINDOW_MS / 1000 / wall;
}

const RECORDER_PAIRS = 9;

/** CPU seconds of one whole run, plain or with the report's recorder attached. */
function wholeRun(name: string, recorded: boolean): number {
  const sc = loadScenario(join(scenarioDir(), `${name}.yaml`));
  sc.run = { warmupMs: sc.run.warmupMs, durationMs: WINDOW_MS };
  const b = build(sc);
  const c0 = process.cpuUsage();
  let log: RecordLog | null = null;
  if (recorded) {
    log = new RecordLog(join(tmpdir(), `.xennet-observe.${process.pid}.log`), 'the observe bench\'s log');
    new Recorder(b, { log, samplePs: [PS_PER_MS] }).run();
    log.close();
  } else runBuilt(b);
  const c = process.cpuUsage(c0);
  b.sys.stop();
  if (log) {
    log.dispose();
    if (log.records < 1000) throw new Error('recorder saw nothing');
  }
  return (c.user + c.system) / 1e6;
}

/** Median over pairs of (CPU with the report's recorder / CPU without): target <= 1.10. */
function recorderRatio(name: string): number {
  wholeRun(name, false); wholeRun(name, true);
  const ratio: number[] = [];
  for (let p = 0; p < RECORDER_PAIRS; p++) {
    const [plain, rec] = p % 2 ? [wholeRun(name, true), wholeRun(name, false)].reverse() : [wholeRun(name, false), wholeRun(name, true)];
    ratio.push(rec / plain);
  }
  return +median(ratio).toFixed(3);
}

export function observePart() {
  return ['linux-tx', 'guest-tx'].map((name) => {
    window(name, false); window(name, true);
    const quiet: number[] = [], loud: number[] = [];
    for (let p = 0; p < PAIRS; p++) {
      if (p % 2) { loud.push(window(name, true)); quiet.push(window(name, false)); } else { quiet.push(window(name, false)); loud.push(window(name, true)); }
    }
    return {
      scenario: name,
      unobservedSimSecondsPerWallSecond: +median(quiet).toFixed(4),
      observedSimSecondsPerWallSecond: +median(loud).toFixed(4),
      observedCostPct: +(100 * (1 - median(loud) / median(quiet))).toFixed(1),
      recorderCpuRatio: recorderRatio(name),
    };
  });
}
