import { expect } from 'chai';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

// The CLI side of the interleaving mode (its own file: the mutation-testing subset runs the
// campaign tests of interleave.test.ts, not the processes this one spawns).
describe('xennet stress --interleave', function () {
  this.timeout(120_000);

  it('runs a campaign, replays a case and refuses --hostile with it', () => {
    const bin = fileURLToPath(new URL('../../bin/xennet.js', import.meta.url));
    const run = (...a: string[]) => spawnSync(process.execPath, [bin, 'stress', '--interleave', ...a], { encoding: 'utf8', timeout: 60_000 });
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
