import { expect } from 'chai';
import { join } from 'node:path';
import { loadScenario, type Scenario } from '../../src/scenario/schema.js';
import { runScenario, type RunResult } from '../../src/scenario/run.js';
import { runMany } from '../../src/workers/pool.js';
import { repSeeds, stat, summarizeReps, t975 } from '../../src/scenario/reps.js';
import { xennet } from '../support/cli.js';

const short = (name: string, variability?: Partial<Scenario['variability']>): Scenario => {
  const sc = loadScenario(join(process.cwd(), 'scenarios', `${name}.yaml`), [
    { path: 'run.durationMs', value: 20, flag: 'test' }, { path: 'run.warmupMs', value: 5, flag: 'test' },
  ]);
  if (variability) sc.variability = { irqJitterUs: 0, wireJitterNs: 0, cacheRefillPct: 0, clientTurnaroundUs: 0, ...variability };
  return sc;
};
const withSeed = (sc: Scenario, seed: number): Scenario => ({ ...structuredClone(sc), seed });
/** A result without its seed: what a seed changes. */
const body = (r: RunResult) => JSON.stringify({ ...r, seed: 0 });

describe('run-to-run variability and repetitions', function () {
  this.timeout(300_000);

  it('statistics: mean, sample std and a Student-t 95% interval', () => {
    const s = stat([1, 2, 3, 4, 5]);
    expect(s.mean).to.equal(3);
    expect(s.std).to.be.closeTo(Math.sqrt(2.5), 1e-12);
    expect((s.ci95[1] - s.ci95[0]) / 2).to.be.closeTo(2.776 * Math.sqrt(2.5) / Math.sqrt(5), 1e-9);
    expect(t975(1)).to.equal(12.706);
    expect(t975(100)).to.equal(1.96);
    expect(stat([7]).ci95).to.deep.equal([7, 7]);
    expect(repSeeds(4, 3)).to.deep.equal([4, 5, 6]);
  });

  it('with every variability source off, the seed changes nothing', () => {
    const sc = short('guest-tx', {});
    expect(body(runScenario(withSeed(sc, 1)))).to.equal(body(runScenario(withSeed(sc, 9))));
  });

  // Each source on a run where it lies on the path (receive interrupts are moderated; transmit completions are polled).
  for (const [source, name, v] of [['interrupt latency', 'guest-rx', { irqJitterUs: 2 }], ['frame arrival', 'guest-tx', { wireJitterNs: 200 }], ['cache refill', 'guest-tx', { cacheRefillPct: 10 }], ['client turnaround', 'guest-rx', { clientTurnaroundUs: 2 }]] as const) {
    it(`${source} jitter alone makes different seeds give different runs, and the same seed the same run`, () => {
      const sc = short(name, v);
      const a = runScenario(withSeed(sc, 1));
      // Two seeds may draw jitter that changes nothing in a short window (a delay absorbed while the
      // CPU is busy elsewhere); among four, some must differ.
      const others = [2, 3, 4].map((seed) => body(runScenario(withSeed(sc, seed))));
      expect(new Set([body(a), ...others]).size).to.be.greaterThan(1);
      expect(JSON.stringify(runScenario(withSeed(sc, 1)))).to.equal(JSON.stringify(a));
    });
  }

  it('repetitions give a spread, and 5 repetitions\' 95% interval holds the mean of 20', async () => {
    const sc = short('guest-rx');
    const rs = await runMany(repSeeds(sc.seed, 20).map((s) => withSeed(sc, s)), 2);
    const five = summarizeReps(rs.slice(0, 5)).throughputMbps;
    const twenty = summarizeReps(rs).throughputMbps;
    expect(five.std).to.be.greaterThan(0);
    expect(twenty.mean).to.be.within(five.ci95[0], five.ci95[1]);
    // The interval narrows with more repetitions (the standard error falls as 1/sqrt(n)).
    expect(twenty.ci95[1] - twenty.ci95[0]).to.be.lessThan(five.ci95[1] - five.ci95[0]);
  });

  it('paper and sweep repetitions: rows keep repetition 0 as the run itself and add the statistics', async () => {
    const { runPaper } = await import('../../src/paper/run.js');
    const overrides = [{ path: 'run.durationMs', value: 10, flag: 'test' }, { path: 'run.warmupMs', value: 5, flag: 'test' }];
    const one = await runPaper({ only: ['guest-rx'], workers: 2, overrides });
    const three = await runPaper({ only: ['guest-rx'], workers: 2, overrides, reps: 3 });
    const row = three.configurations[0];
    expect(row.reps!.seeds).to.deep.equal([row.reps!.seeds[0], row.reps!.seeds[0] + 1, row.reps!.seeds[0] + 2]);
    expect(row.throughputMbps).to.equal(one.configurations[0].throughputMbps);
    expect(row.reps!.stats.throughputMbps.n).to.equal(3);
    const sweep = join(process.cwd(), 'scenarios', 'sweeps', 'guest-tx-opts.yaml');
    const r = xennet(['sweep', sweep, '--reps', '2', '--workers', '2', '--json'], { timeout: 240_000 });
    expect(r.status, r.stderr).to.equal(0);
    const points = JSON.parse(r.stdout);
    expect(points).to.have.length(8);
    for (const p of points) {
      expect(p.results.map((x: RunResult) => x.seed)).to.deep.equal(p.seeds);
      expect(p.stats.throughputMbps.n).to.equal(2);
    }
  });

  it('xennet run --reps reports each figure over seeds seed..seed+n-1, and refuses what inspects one run', () => {
    const file = join(process.cwd(), 'scenarios', 'guest-rx.yaml');
    const r = xennet(['run', file, '--duration', '10ms', '--seed', '3', '--reps', '3', '--workers', '2', '--json'], { timeout: 120_000 });
    expect(r.status, r.stderr).to.equal(0);
    const out = JSON.parse(r.stdout);
    expect(out.seeds).to.deep.equal([3, 4, 5]);
    expect(out.runs.map((x: RunResult) => x.seed)).to.deep.equal([3, 4, 5]);
    expect(out.stats.throughputMbps.n).to.equal(3);
    expect(out.stats.throughputMbps.mean).to.be.closeTo(out.runs.reduce((a: number, x: RunResult) => a + x.throughputMbps, 0) / 3, 1e-9);
    const text = xennet(['run', file, '--duration', '5ms', '--reps', '2'], { timeout: 120_000 });
    expect(text.stdout).to.match(/2 repetitions, seeds 1\.\.2/).and.to.match(/throughputMbps .*\[/);
    const bad = xennet(['run', file, '--reps', '1']);
    expect(bad.status).to.not.equal(0);
    expect(bad.stderr.trim().split('\n')).to.have.length(1);
    expect(bad.stderr).to.match(/--reps/);
    const clash = xennet(['run', file, '--reps', '2', '--trace', '/tmp/x.json']);
    expect(clash.status).to.equal(2);
    expect(clash.stderr.trim()).to.match(/--reps cannot be combined with --trace/);
  });
});
