/**
 * Live migration against the guest's network load and the link speed, with and without Clark et al.'s
 * dynamic rate limit on the migration stream (docs/migration.md): scenarios/worlds/migrate.yaml with
 * both of the guest's streams limited by the sending vif's transmit rate (netback rateLimits; "none":
 * unlimited), every NIC and switch port at 100 Mb/s or 1 Gb/s, and the migrate event's `rateLimit`
 * off or `{}` (100 Mb/s first, 500 at most, 50 over the dirtying rate). Besides the migration's own
 * account, the guest's goodput (both streams) during pre-copy, from the command to the suspension:
 * what the stream left of the guest's network.
 * `node dist/bench/migration-sweep.js` prints the table (one run each, seed 1).
 */
import { join } from 'node:path';
import { loadScenario, type Scenario } from '../src/scenario/schema.js';
import { build } from '../src/scenario/build.js';
import { scenarioDir } from '../src/paper/configs.js';
import { PS_PER_MS } from '../src/actors/scheduler.js';
import type { MigrationResult } from '../src/toolstack/migration.js';

const LOADS: Array<number | null> = [null, 200, 50, 10];
const LINKS = [1000, 100];
const ADAPTIVE = [false, true];

/** Run to the end of the migration (or of the run): its account, and the guest's goodput during pre-copy, Mb/s. */
function migrate(sc: Scenario): { m: MigrationResult; precopyMbps: number | null } {
  const b = build(sc);
  try {
    b.start();
    const end = sc.run.warmupMs + sc.run.durationMs;
    const bytes = () => b.flowGoodput(0) + b.flowGoodput(1);
    const start = sc.events[0].at as number;
    let t = start;
    b.sys.sched.run(t * PS_PER_MS);
    const atStart = bytes();
    while (b.migrations![0].suspendedAtMs === null && t < end) { t += 0.25; b.sys.sched.run(Math.round(t * PS_PER_MS)); }
    const m0 = b.migrations![0];
    const precopyMbps = m0.suspendedAtMs === null ? null : ((bytes() - atStart) * 8) / ((m0.suspendedAtMs - m0.startMs) * 1000);
    while (b.migrations![0].totalMs === null && t < end) { t += 5; b.sys.sched.run(Math.round(t * PS_PER_MS)); }
    b.sys.sched.run(Math.round((t + 300) * PS_PER_MS)); // the flows' recovery after the resume
    return { m: structuredClone(b.migrations![0]), precopyMbps };
  } finally { b.sys.stop(); }
}

export function migrationSweep() {
  const rows: string[] = [];
  for (const link of LINKS) for (const load of LOADS) for (const adaptive of ADAPTIVE) {
    const sc = loadScenario(join(scenarioDir(), 'worlds', 'migrate.yaml'));
    sc.machine.nic.mbps = link;
    for (const s of Object.values(sc.switches)) s.mbps = link;
    // Both streams: the migrating guest's vif (and its new one on host 2: domain 2 there) and its peer's on host 3.
    sc.netback.rateLimits = load === null ? [] : [['host1', 1], ['host2', 2], ['host3', 1]].map(([host, guest]) => ({ host: host as string, guest: guest as number, mbps: load, intervalMs: 50 }));
    sc.run = { warmupMs: 10, durationMs: link === 100 ? 6990 : 1990 };
    if (adaptive) sc.events[0].rateLimit = { startMbps: 100, maxMbps: 500, incrementMbps: 50 };
    const { m, precopyMbps } = migrate(sc);
    const fmt = (v: number | null | undefined) => (v == null ? 'n/a' : v.toFixed(1));
    rows.push(`| ${link} | ${load ?? 'none'} | ${adaptive ? 'adaptive' : 'none'} | ${m.pagesPerRound.join(', ')} | ${m.rateMbpsPerRound ? m.rateMbpsPerRound.map((r) => r.toFixed(0)).join(', ') : '-'} | ${m.stop ?? 'not done'} | ${fmt(m.downtimeMs)} | ${fmt(m.totalMs)} | ${fmt(precopyMbps)} | ${m.flows.map((f) => fmt(f.stallMs)).join(' / ')} | ${m.flows.map((f) => fmt(f.recoveryMs)).join(' / ')} |`);
    console.log(rows.at(-1));
  }
  return rows;
}

if (process.argv[1]?.endsWith('migration-sweep.js')) {
  console.log('| link Mb/s | guest load Mb/s (each stream) | stream limit | pages per round | limit per round Mb/s | stop | downtime ms | total ms | guest goodput in pre-copy Mb/s | stall ms (in / out) | recovery ms after resume (in / out) |');
  console.log('|---:|---:|---|---|---|---|---:|---:|---:|---:|---:|');
  migrationSweep();
}
