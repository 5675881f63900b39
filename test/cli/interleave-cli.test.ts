import { expect } from 'chai';
import { xennet } from '../support/cli.js';

// The CLI side of the interleaving mode (its own file: the mutation-testing subset runs the
// campaign tests of interleave.test.ts, not the processes this one spawns).
describe('xennet stress --interleave', function () {
  this.timeout(120_000);

  it('runs a campaign, replays a case and refuses --hostile with it', () => {
    const run = (...a: string[]) => xennet(['stress', '--interleave', ...a], { timeout: 60_000 });
    const r = run('--runs', '500', '--json');
    expect(r.status, r.stderr).to.equal(0);
    const out = JSON.parse(r.stdout);
    expect(out.summary).to.include({ runs: 500, passed: 500, failed: 0 });
    expect(run('--runs', '500', '--json').stdout).to.equal(r.stdout); // deterministic
    const one = run('--case', '531');
    expect(one.status).to.equal(0);
    expect(one.stdout).to.match(/case 531: ring \d+, .*ok\n\s+schedule \(> = preempted into\): xmit/);
    const bad = run('--hostile');
    expect(bad.status).to.equal(2);
    expect(bad.stderr.trim()).to.equal('error: --interleave cannot be combined with --hostile');
  });
});

describe('xennet stress --hostile summary', function () {
  this.timeout(120_000);
  it('names each behaviour with its catalogue title and reports the catalogue coverage', () => {
    const r = xennet(['stress', '--hostile', '--runs', '2', '--workers', '1', '--no-replay-check'], { timeout: 110_000 });
    expect(r.status, r.stderr).to.equal(0);
    expect(r.stdout).to.match(/H1 +runaway producer +2 +0/); // the first pairs of the enumeration are H1's
    expect(r.stdout).to.match(/catalogue coverage: 2 of 134 \(behaviour, variant\) pairs \(a campaign enumerates every pair first: use --runs 134/);
  });
});
