/**
 * Live migration against the guest's network load and the link speed (docs/migration.md):
 * scenarios/worlds/migrate.yaml with both of the guest's streams limited by its vif's transmit rate
 * (netback rateLimits; "none": unlimited) and every NIC and switch port at 100 Mb/s or 1 Gb/s.
 * `node dist/bench/migration-sweep.js` prints the table (one run each, seed 1).
 */
import { join } from 'node:path';
import { loadScenario } from '../src/scenario/schema.js';
import { runScenario } from '../src/scenario/run.js';
import { scenarioDir } from '../src/paper/configs.js';

const LOADS: Array<number | null> = [null, 200, 50, 10];
const LINKS = [1000, 100];

export function migrationSweep() {
  const rows: string[] = [];
  for (const link of LINKS) for (const load of LOADS) {
    const sc = loadScenario(join(scenarioDir(), 'worlds', 'migrate.yaml'));
    sc.machine.nic.mbps = link;
    for (const s of Object.values(sc.switches)) s.mbps = link;
    sc.netback.rateLimits = load === null ? [] : [{ guest: 1, mbps: load, intervalMs: 50 }];
    sc.run = { warmupMs: 10, durationMs: link === 100 ? 4990 : 590 };
    const r = runScenario(sc);
    const m = r.migration![0];
    const fmt = (v: number | null) => (v === null ? 'n/a' : v.toFixed(1));
    rows.push(`| ${link} | ${load ?? 'none'} | ${m.pagesPerRound.join(', ')} | ${m.stop ?? 'not done'} | ${fmt(m.downtimeMs)} | ${fmt(m.totalMs)} | ${m.flows.map((f) => fmt(f.stallMs)).join(' / ')} | ${m.flows.map((f) => fmt(f.recoveryMs)).join(' / ')} |`);
    console.log(rows.at(-1));
  }
  return rows;
}

if (process.argv[1]?.endsWith('migration-sweep.js')) {
  console.log('| link Mb/s | guest load Mb/s (each stream) | pages per round | stop | downtime ms | total ms | stall ms (in / out) | recovery ms after resume (in / out) |');
  console.log('|---:|---:|---|---|---:|---:|---:|---:|');
  migrationSweep();
}
