/**
 * `xennet stress`: property-based stress runs (src/stress) on worker threads.
 * Cases are derived from (--seed, case index), so any --workers gives the same
 * cases and the same summary hash. A failing case is printed with the command
 * that replays it and a shrunk (smaller) failing scenario as YAML.
 */
import { randomInt } from 'node:crypto';
import type { Command } from 'commander';
import { availableParallelism } from 'node:os';
import { SingleBar, Presets } from 'cli-progress';
import { stringify } from 'yaml';
import { BEHAVIOURS } from '../hostile/behaviours.js';
import { defaultWorkers } from '../workers/pool.js';
import { loadScenario } from '../scenario/schema.js';
import { HONEST_GUEST_SHARE, HONEST_SHARE, runCase } from '../stress/run.js';
import type { StressReport } from '../stress/pool.js';
import { table } from '../results/format.js';
import { interpreterOption } from './interpreter-option.js';
import type { Interpreter } from '../actors/runtime.js';
import { fingerprintOf, type RunEntry } from '../results/result.js';
import { campaignShard, saveResult, OUT_HELP, SHARD_HELP } from './results.js';
import type { Parsers } from './overrides.js';


interface StressOpts {
  runs: number; seed: number; workers?: number; hostile?: boolean; lifecycle?: boolean; worlds?: boolean; only?: string; case?: number; path?: string;
  replay?: string; shrink: boolean; replayCheck: boolean; json?: boolean; interpreter?: Interpreter; interleave?: boolean;
  out?: string; shard?: string;
}

const fail = (msg: string): never => { console.error(`error: ${msg}`); process.exit(2); };

/** Worker threads beyond the machine's CPUs (times two) only add memory and start-up time: cap them, and say so. */
export function stressWorkers(asked: number | undefined): number {
  if (asked === undefined) return defaultWorkers();
  const most = 2 * availableParallelism();
  if (asked <= most) return asked;
  process.stderr.write(`stress: --workers ${asked} capped at ${most} (twice this machine's ${availableParallelism()} CPUs)\n`);
  return most;
}

function replayCmd(o: StressOpts, index: number, path?: string): string {
  const parts = ['npx xennet stress', `--seed ${o.seed}`, `--case ${index}`];
  if (o.interleave) parts.push('--interleave');
  if (o.worlds) parts.push('--worlds');
  if (o.hostile) parts.push('--hostile');
  if (o.lifecycle) parts.push('--lifecycle');
  if (o.only) parts.push(`--only ${o.only}`);
  if (path) parts.push(`--path ${path}`);
  return parts.join(' ');
}

function printFailure(o: StressOpts, r: StressReport): void {
  console.log(`\nFAIL case ${r.index} (case seed ${r.seed})${r.result.hostile ? `, adversary ${r.result.hostile}` : ''}`);
  for (const f of r.result.failures.slice(0, 8)) console.log(`  - ${f}`);
  if (r.result.failures.length > 8) console.log(`  ... ${r.result.failures.length - 8} more`);
  console.log(`  replay: ${replayCmd(o, r.index)}`);
  if (r.shrunk) {
    console.log(`  shrunk by fast-check (${r.shrunk.runs} runs) to:`);
    for (const f of r.shrunk.failures.slice(0, 4)) console.log(`    - ${f}`);
    console.log(`  replay the shrunk case: ${replayCmd(o, r.index, r.shrunk.path)}`);
    console.log('  or save this scenario and run `npx xennet stress --replay FILE`:');
    console.log(stringify({ ...r.shrunk.scenario, name: `stress-case-${r.index}-shrunk` }).trimEnd().split('\n').map((l) => `    ${l}`).join('\n'));
  }
}

/** `--seed <n|fresh>`: a whole number, or `fresh`. */
function seedArg(p: Pick<Parsers, 'intArg'>): (v: string) => number | 'fresh' {
  const int = p.intArg('--seed', 0);
  return (v) => (v === 'fresh' ? 'fresh' : int(v));
}

/** A seed never used before, printed first (on stderr: stdout may be --json) so the campaign can be replayed. */
function freshSeed(o: Partial<Record<'case' | 'path' | 'replay' | 'shard', unknown>>): number {
  const clash = (['case', 'path', 'replay', 'shard'] as const).find((k) => o[k] !== undefined);
  if (clash) fail(`--seed fresh cannot be combined with --${clash} (name the seed to replay a case or shard a campaign)`);
  const seed = randomInt(1, 2 ** 31);
  console.error(`stress: fresh seed ${seed} (replay: --seed ${seed})`);
  return seed;
}

export function stressCommand(program: Command, p: Pick<Parsers, 'intArg'>): void {
  program.command('stress')
    .description('property-based stress: random scenarios (and hostile guests) checked against the protocol invariants')
    .option('--runs <n>', 'number of cases', p.intArg('--runs', 1), 100)
    .option('--seed <n>', 'base seed (each case seed derives from it and the case index); `fresh` draws a new one and prints it first, so a campaign explores new cases and a failure can still be replayed', seedArg(p), 1)
    .option('--workers <n>', 'worker threads', p.intArg('--workers', 1))
    .option('--hostile', 'put an adversary from the hostile-guest catalogue (H1-H26) on one guest of each case')
    .option('--lifecycle', 'draw guest lifecycle events into each case (vif unplug and plug again, domain destroy and crash, save and restore; with --worlds live migration to another host too, at random times) and check that everything a gone vif or domain held is released')
    .option('--worlds', 'draw worlds: 1-4 Xen hosts of 0-3 guests, cabled NIC to NIC or to one switch, flows between random endpoints; every invariant checked host by host (with --hostile, an adversary on one guest)')
    .option('--only <ids>', 'comma-separated behaviours (H1..H26) for --hostile')
    .option('--case <i>', 'run only case i (replay it)', p.intArg('--case', 0))
    .option('--path <p>', "with --case: fast-check's path to a shrunk counterexample")
    .option('--replay <file>', 'run one scenario file through the stress checks')
    .option('--no-shrink', 'do not shrink failing cases')
    .option('--no-replay-check', 'do not run each case twice to check determinism')
    .option('--interleave', 'explore interleavings of frontend, backend and event-channel upcalls at shared-memory access points (PCT)')
    .option('--json', 'print the summary (and failures) as JSON')
    .option('--out <dir>', `${OUT_HELP}; every failing case as failing/case-<index>.yaml (replay: --replay FILE)`)
    .option('--shard <i/N>', SHARD_HELP)
    .addOption(interpreterOption())
    .action(async (raw: Omit<StressOpts, 'seed'> & { seed: number | 'fresh' }) => {
      const o: StressOpts = { ...raw, seed: raw.seed === 'fresh' ? freshSeed(raw) : raw.seed };
      if (o.out !== undefined || o.shard !== undefined) {
        const clash = (['interleave', 'replay', 'case'] as const).find((k) => o[k] !== undefined);
        if (clash) fail(`--${o.shard !== undefined ? 'shard' : 'out'} cannot be combined with --${clash} (result files are written for campaigns)`);
      }
      if (o.interleave) {
        const clash = (['hostile', 'lifecycle', 'worlds', 'only', 'replay', 'path'] as const).find((k) => o[k] !== undefined);
        if (clash) fail(`--interleave cannot be combined with --${clash}`);
        await interleave(o);
        return;
      }
      // The stress machinery (fast-check) is loaded only when this command runs.
      const { streamStress, runStressCase, Summarizer } = await import('../stress/pool.js');
      let only: string[] | undefined;
      if (o.only) {
        only = o.only.split(',').map((s) => s.trim().toUpperCase());
        const bad = only.find((b) => !BEHAVIOURS.some((x) => x.id === b));
        if (bad) fail(`--only: unknown behaviour ${bad} (known: H1..H26)`);
        if (!o.hostile) fail('--only picks adversaries of --hostile cases: add --hostile (without it every case is honest)');
      }
      if (o.path !== undefined && o.case === undefined) fail('--path needs --case');
      if (o.path !== undefined && !/^\d+(:\d+)*$/.test(o.path)) fail('--path must look like 0:1:2');
      const hostile = o.hostile ?? false;
      const lifecycle = o.lifecycle ? { lifecycle: true } : {};
      const worlds = o.worlds ? { worlds: true } : {};
      if (o.worlds && o.replay) fail('--worlds draws cases; --replay runs a scenario file (a world or not): give one of them');

      if (o.replay) {
        const sc = loadScenario(o.replay, [], { allowIgnored: true });
        const r = runCase(sc, { replay: o.replayCheck, interpreter: o.interpreter });
        if (o.json) console.log(JSON.stringify(r));
        else {
          console.log(`${o.replay}: ${r.ok ? 'ok' : 'FAIL'}${r.hostile ? ` (adversary ${r.hostile})` : ''}, result hash ${r.hash}`);
          for (const f of r.failures) console.log(`  - ${f}`);
          for (const n of r.notes) console.log(`  note: ${n}`);
        }
        process.exit(r.ok ? 0 : 1);
      }

      if (o.case !== undefined) {
        const r = runStressCase({ base: o.seed, index: o.case, hostile, only, ...lifecycle, ...worlds, replay: o.replayCheck, shrink: o.shrink && o.path === undefined, path: o.path, interpreter: o.interpreter });
        if (o.json) { console.log(JSON.stringify(r)); process.exit(r.result.ok ? 0 : 1); }
        if (r.result.ok) console.log(`case ${r.index} (case seed ${r.seed}) ok${r.result.hostile ? `, adversary ${r.result.hostile}` : ''}; result hash ${r.result.hash}`);
        else printFailure(o, r);
        for (const n of r.result.notes) console.log(`  note: ${n}`);
        console.log(stringify({ ...r.scenario, name: `stress-case-${r.index}` }).trimEnd());
        process.exit(r.result.ok ? 0 : 1);
      }

      const workers = stressWorkers(o.workers);
      const inputs = { seed: o.seed, runs: o.runs, hostile, ...lifecycle, ...worlds, only: only ?? null, replayCheck: o.replayCheck, shrink: o.shrink };
      const shard = campaignShard(o, o.runs);
      const from = shard?.from ?? 0, count = shard ? shard.to - shard.from : o.runs;
      const kept: RunEntry[] = [];
      const t0 = performance.now();
      const bar = !o.json && process.stderr.isTTY
        ? new SingleBar({ format: 'stress [{bar}] {value}/{total} cases, {failed} failed, {eta_formatted} left', stream: process.stderr, etaBuffer: 50 }, Presets.shades_classic)
        : null;
      // Streaming: reports arrive in index order and only the failing ones are kept.
      const sum = new Summarizer({ runs: count, hostile, seed: o.seed, only });
      const bad: StressReport[] = [];
      bar?.start(count, 0, { failed: 0 });
      try {
        await streamStress({ seed: o.seed, runs: count, from, hostile, only, ...lifecycle, ...worlds, replay: o.replayCheck, shrink: o.shrink, workers, interpreter: o.interpreter }, (r) => {
          sum.add(r);
          if (!r.result.ok) bad.push(r);
          if (o.out !== undefined) kept.push({ index: r.index, id: `case-${r.index}`, caseSeed: r.seed, scenario: r.scenario, result: r.result, ...(r.shrunk ? { shrunk: r.shrunk } : {}) });
          bar?.increment(1, { failed: bad.length });
        });
      } finally { bar?.stop(); }
      const s = sum.done();
      if (o.out !== undefined) await saveResult(o.out, { command: 'stress', inputs, fingerprint: fingerprintOf(inputs), total: o.runs, shard }, kept, performance.now() - t0);
      process.stderr.write(`${count} cases in ${((performance.now() - t0) / 1000).toFixed(1)} s on ${workers} worker(s)\n`);
      if (o.json) {
        console.log(JSON.stringify({ summary: s, failures: bad.map((r) => ({ index: r.index, seed: r.seed, failures: r.result.failures, replay: replayCmd(o, r.index), shrunk: r.shrunk })) }));
        process.exit(bad.length ? 1 : 0);
      }
      console.log(`stress: ${count} ${hostile ? 'hostile ' : ''}${o.lifecycle ? 'lifecycle ' : ''}${o.worlds ? 'world ' : ''}cases from seed ${o.seed}${shard ? ` (cases ${shard.from}..${shard.to - 1} of ${o.runs}, shard ${shard.index}/${shard.count})` : ''}: ${s.passed} passed, ${s.failed} failed`);
      if (hostile) {
        const title = (id: string) => BEHAVIOURS.find((b) => b.id === id)?.title ?? '';
        console.log(table(['behaviour', 'title', 'cases', 'failed'], Object.entries(s.byBehaviour).map(([b, e]) => [b, title(b), e.cases, e.failed])));
        const cov = s.coverage!;
        console.log(`catalogue coverage: ${cov.covered} of ${cov.pairs} (behaviour, variant) pairs${cov.covered < cov.pairs ? ` (a campaign enumerates every pair first: use --runs ${cov.pairs} or more to cover them all)` : ''}`);
        if (s.worstHonestShare !== null) {
          const pct = (v: number | null) => (v === null ? '-' : `${(100 * v).toFixed(0)}%`);
          console.log(`honest guests' progress vs. control runs: worst together ${pct(s.worstHonestShare)} (threshold ${(HONEST_SHARE * 100).toFixed(0)}%), worst single guest ${pct(s.worstGuestShare)} (threshold ${HONEST_GUEST_SHARE * 100}%); thresholds before scaling by the CPU the scheduler guarantees (docs/stress.md)`);
        }
      }
      const fmt = (x: Record<string, number>) => Object.entries(x).map(([k, v]) => `${k} ${v}`).join(', ') || 'none';
      if (s.worlds) {
        const w = s.worlds;
        console.log(`worlds: ${Object.entries(w.byHosts).map(([h, n]) => `${n} of ${h} host${h === '1' ? '' : 's'}`).join(', ')}; ${w.withSwitch} with a switch; ${w.flows} flows, ${w.betweenHosts} between two hosts, ${w.vmToVm} guest to guest on one host`);
      }
      console.log(`drops: ${fmt(s.drops)}`);
      console.log(`vifs disabled: ${fmt(s.disabled)}`);
      console.log(`protocol violations seen: ${fmt(s.violations)}`);
      for (const r of bad.slice(0, 5)) printFailure(o, r);
      if (bad.length > 5) console.log(`\n... and ${bad.length - 5} more failing cases: ${bad.slice(5).map((r) => r.index).join(', ')}`);
      console.log(shard ? `summary hash of this shard's cases ${s.hash} (\`xennet merge\` gives the campaign's)` : `summary hash ${s.hash}`);
      process.exit(bad.length ? 1 : 0);
    });
}

/** `stress --interleave`: the PCT campaign over the notification protocol (src/stress/interleave.ts). */
async function interleave(o: StressOpts): Promise<void> {
  const { interleaveCampaign } = await import('../stress/interleave.js');
  const { createHash } = await import('node:crypto');
  const from = o.case ?? 0;
  const runs = o.case !== undefined ? 1 : o.runs;
  const h = createHash('sha256');
  let passed = 0, preemptions = 0;
  const bad: Array<{ index: number; seed: number; failures: string[]; schedule: string; replay: string }> = [];
  for (const r of interleaveCampaign(o.seed, runs, undefined, from)) {
    h.update(`${r.index}:${r.result.ok ? 1 : 0}:${r.result.steps}:${r.result.preemptions}:${r.result.failures.join('|')}\n`);
    preemptions += r.result.preemptions;
    if (r.result.ok) passed++;
    else bad.push({ index: r.index, seed: r.seed, failures: r.result.failures, schedule: r.result.schedule, replay: replayCmd(o, r.index) });
    if (o.case !== undefined && !o.json) {
      console.log(`case ${r.index}: ring ${r.c.ringSize}, ${r.c.requests} requests in batches of ${r.c.batch}, PCT depth ${r.c.depth} over ${r.c.horizon} steps: ${r.result.ok ? 'ok' : 'FAIL'}`);
      console.log(`  schedule (> = preempted into): ${r.result.schedule}`);
      for (const f of r.result.failures) console.log(`  - ${f}`);
    }
  }
  const summary = { runs, seed: o.seed, passed, failed: bad.length, preemptions, hash: h.digest('hex').slice(0, 16) };
  if (o.json) console.log(JSON.stringify({ summary, failures: bad }));
  else if (o.case === undefined) {
    console.log(`interleave: ${runs} cases from seed ${o.seed}: ${passed} passed, ${bad.length} failed (${preemptions} preemptions at shared-memory access points)`);
    for (const b of bad.slice(0, 5)) {
      console.log(`\nFAIL case ${b.index} (case seed ${b.seed})`);
      for (const f of b.failures) console.log(`  - ${f}`);
      console.log(`  schedule: ${b.schedule}`);
      console.log(`  replay: ${b.replay}`);
    }
    if (bad.length > 5) console.log(`\n... and ${bad.length - 5} more failing cases`);
    console.log(`summary hash ${summary.hash}`);
  }
  process.exit(bad.length ? 1 : 0);
}
