/** Progress bars on stderr, only on a terminal and never with --json (cli-progress). */
import { SingleBar, Presets } from 'cli-progress';
import type { Scenario } from '../scenario/schema.js';
import type { OnProgress } from '../scenario/run.js';

export function progressBar(format: string, json?: boolean): SingleBar | null {
  return !json && process.stderr.isTTY ? new SingleBar({ format, stream: process.stderr }, Presets.shades_classic) : null;
}

/** A bar over one run's virtual time; `done` stops it. Both are no-ops off a terminal. */
export function runProgress(sc: Scenario, json?: boolean): { onProgress?: OnProgress; done: () => void } {
  const totalMs = sc.run.warmupMs + sc.run.durationMs;
  const bar = progressBar(`${sc.name} [{bar}] {percentage}% of ${totalMs} ms virtual time, {eta_formatted} left`, json);
  if (!bar) return { done: () => {} };
  bar.start(100, 0);
  return { onProgress: (f) => bar.update(Math.round(f * 1000) / 10), done: () => bar.stop() };
}
