/** Progress: runs report how far they are in virtual time without changing the run; bars appear only on a terminal. */
import { expect } from 'chai';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadScenario } from '../../src/scenario/schema.js';
import { runScenario } from '../../src/scenario/run.js';
import { scenarioDir } from '../../src/paper/configs.js';
import { xennet } from '../support/cli.js';

const SHORT = [{ path: 'run.warmupMs', value: 3, flag: 'test' }, { path: 'run.durationMs', value: 5, flag: 'test' }];

describe('progress', function () {
  this.timeout(120_000);

  it('runScenario with onProgress reports rising fractions of the virtual time ending at exactly 1, and the same run', () => {
    for (const name of ['guest-tx', 'linux-rx']) {
      const sc = loadScenario(join(scenarioDir(), `${name}.yaml`), SHORT);
      const seen: number[] = [];
      const r = runScenario(sc, { onProgress: (f) => seen.push(f) });
      expect(seen.length, name).to.be.at.least(100);
      for (let i = 1; i < seen.length; i++) expect(seen[i], `${name} report ${i}`).to.be.greaterThan(seen[i - 1]);
      expect(seen[0]).to.be.greaterThan(0);
      expect(seen[seen.length - 1]).to.equal(1);
      // The checkpoints pass the warm-up boundary in step (3 of 8 ms).
      expect(seen.some((f) => Math.abs(f - 3 / 8) < 0.01)).to.equal(true);
      expect(r, name).to.deep.equal(runScenario(sc));
    }
  });

  it('off a terminal, run, all and report print no progress on stderr', () => {
    const file = join(scenarioDir(), 'guest-tx.yaml');
    const out = mkdtempSync(join(tmpdir(), 'xennet-progress-'));
    try {
      for (const args of [['report', file, '--duration', '1ms', '--out', out], ['run', file, '--duration', '2ms'], ['run', file, '--duration', '2ms', '--top', '1ms'], ['all', '--duration', '1ms', '--workers', '1']]) {
        const r = xennet(args);
        expect(r.status, args.join(' ')).to.equal(0);
        expect(r.stderr, args.join(' ')).to.equal('');
      }
    } finally { rmSync(out, { recursive: true, force: true }); }
  });
});
