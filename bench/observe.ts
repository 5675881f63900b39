/**
 * What observation costs: guest-tx and linux-tx, a 40 ms window on a warm JIT, with nobody
 * subscribed vs with no-op subscribers on messages$, states$ and wire$ (paired, alternating).
 * Unobserved, the hot paths only test a flag; the `previous` part shows the unobserved build is
 * not slower than a build without the streams.
 */
import { join } from 'node:path';
import { loadScenario } from '../src/scenario/schema.js';
import { build } from '../src/scenario/build.js';
import { scenarioDir } from '../src/paper/configs.js';
import { median, timeWindow } from './interpreters.js';

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
    };
  });
}
