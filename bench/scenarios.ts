/** The six base scenarios, default interpreter: simulated seconds per wall second, events/s. */
import { join } from 'node:path';
import { loadScenario } from '../src/scenario/schema.js';
import { runScenario } from '../src/scenario/run.js';
import { scenarioDir } from '../src/paper/configs.js';

export const BASE_SCENARIOS = ['linux-tx', 'linux-rx', 'driver-tx', 'driver-rx', 'guest-tx', 'guest-rx'];

export function scenariosPart() {
  return BASE_SCENARIOS.map((n) => {
    const sc = loadScenario(join(scenarioDir(), `${n}.yaml`));
    const t0 = performance.now();
    const r = runScenario(sc);
    const wall = (performance.now() - t0) / 1000;
    const simS = (sc.run.durationMs + sc.run.warmupMs) / 1000;
    return { scenario: n, simulatedS: simS, wallS: +wall.toFixed(3), simSecondsPerWallSecond: +(simS / wall).toFixed(4), events: r.events, eventsPerS: Math.round(r.events / wall), messages: r.events };
  });
}
