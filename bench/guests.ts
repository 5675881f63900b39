/** One run with 1000 guest domains (default interpreter): wall time and peak RSS. */
import { join } from 'node:path';
import { loadScenario } from '../src/scenario/schema.js';
import { runScenario } from '../src/scenario/run.js';
import { scenarioDir } from '../src/paper/configs.js';

export function guestsPart(guests = 1000) {
  const sc = loadScenario(join(scenarioDir(), 'guest-tx.yaml'));
  sc.guests = guests;
  sc.machine.memoryMiB = 16384;
  // Copying receive: booting 1000 flipping frontends alone would take ~170 ms of CPU.
  Object.assign(sc.optimizations, { vnicOffload: true, txNoRemap: true, rxCopy: true, superpages: true, globalPages: true });
  sc.run = { warmupMs: 100, durationMs: 20 };
  const t0 = performance.now();
  const r = runScenario(sc);
  return { guests, simulatedMs: 120, domainsThatRan: Object.keys(r.cpuUtilPct.byAccount).length - 2, wallS: +((performance.now() - t0) / 1000).toFixed(2), throughputMbps: r.throughputMbps, peakRssMiB: Math.round(process.resourceUsage().maxRSS / 1024) };
}
