/**
 * Clark et al.'s dynamic rate limit on a live migration (scenarios/worlds/migrate-rate-limited.yaml
 * against scenarios/worlds/migrate.yaml, the same world with the stream unpaced): the paced stream
 * runs at each round's limit, each limit follows from the round before's dirtying (read back from the
 * rounds' pages and times), and the guest's own flows keep more of their throughput during pre-copy,
 * at the price of a longer migration.
 */
import { expect } from 'chai';
import { join } from 'node:path';
import { loadScenario } from '../../src/scenario/schema.js';
import { build } from '../../src/scenario/build.js';
import { PS_PER_MS } from '../../src/actors/scheduler.js';
import { PAGE_SIZE } from '../../src/core/packet.js';
import { STREAM_BYTES_PER_PAGE, type MigrationResult } from '../../src/toolstack/migration.js';

/** Run a migration scenario until the source released the guest; the guest's flows' goodput (Mb/s) during pre-copy. */
function migrate(file: string): { m: MigrationResult; precopyMbps: number } {
  const b = build(loadScenario(join('scenarios', 'worlds', file)));
  try {
    b.start();
    const bytes = () => b.flowGoodput(0) + b.flowGoodput(1);
    let t = 30;
    b.sys.sched.run(t * PS_PER_MS); // the migrate event's time
    const atStart = bytes();
    while (b.migrations?.[0]?.suspendedAtMs == null && t < 1400) { t += 0.25; b.sys.sched.run(Math.round(t * PS_PER_MS)); }
    const m = b.migrations![0];
    const precopyMbps = ((bytes() - atStart) * 8) / ((m.suspendedAtMs! - m.startMs) * 1000);
    while (b.migrations![0].totalMs === null && t < 1400) { t += 5; b.sys.sched.run(Math.round(t * PS_PER_MS)); }
    return { m: structuredClone(b.migrations![0]), precopyMbps };
  } finally { b.sys.stop(); }
}

describe('dynamic rate limiting of a live migration (Clark et al. 5.1)', function () {
  this.timeout(600_000);
  let paced: ReturnType<typeof migrate>, unpaced: ReturnType<typeof migrate>;
  before(() => { paced = migrate('migrate-rate-limited.yaml'); unpaced = migrate('migrate.yaml'); });

  it('paces each round at its limit: the first at 100 Mb/s, the last at the maximum', () => {
    const m = paced.m;
    expect(m.rounds, 'several live rounds').to.be.at.least(3);
    expect(m.rateMbpsPerRound![0]).to.equal(100);
    expect(m.rateMbpsPerRound!.at(-1)).to.equal(500);
    expect(unpaced.m.rateMbpsPerRound, 'no limit: no pacing').to.equal(undefined);
    // Each live round's bytes over its duration: at most its limit (one burst of slack), and near it.
    for (let i = 0; i + 1 < m.rounds; i++) {
      const sec = (m.roundsAtMs[i + 1] - m.roundsAtMs[i]) / 1000;
      const mbps = (m.pagesPerRound[i] * STREAM_BYTES_PER_PAGE * 8) / sec / 1e6;
      expect(mbps, `round ${i + 1}`).to.be.at.most(m.rateMbpsPerRound![i] * 1.05 + 1);
      expect(mbps, `round ${i + 1}`).to.be.at.least(m.rateMbpsPerRound![i] * 0.8);
    }
  });

  it("sets each next limit at the round's dirtying rate (the pages the next round sent, over the round's time) plus 50 Mb/s, until it would pass 500", () => {
    const m = paced.m;
    for (let i = 0; i + 1 < m.rounds; i++) {
      const us = (m.roundsAtMs[i + 1] - m.roundsAtMs[i]) * 1000;
      const dirty = (m.pagesPerRound[i + 1] * PAGE_SIZE * 8) / us;
      expect(m.dirtyMbpsPerRound![i], `round ${i + 1}'s dirtying`).to.be.closeTo(dirty, 1e-6);
      if (i + 2 < m.rounds) expect(m.rateMbpsPerRound![i + 1], `round ${i + 2}'s limit`).to.be.closeTo(dirty + 50, 1e-6);
    }
    expect(['rate-max', 'max-factor', 'max-iters', 'dirty-small', 'no-progress']).to.include(m.stop);
    if (m.stop === 'rate-max') expect(m.dirtyMbpsPerRound!.at(-1)! + 50).to.be.greaterThan(500);
  });

  it("lowers the interference with the guest's flows during pre-copy, and lengthens the migration", () => {
    expect(paced.m.sourceLeft).to.deep.equal([]);
    expect(unpaced.m.totalMs).to.not.equal(null);
    expect(paced.precopyMbps, `guest goodput during pre-copy: paced ${paced.precopyMbps.toFixed(1)} vs unpaced ${unpaced.precopyMbps.toFixed(1)} Mb/s`)
      .to.be.greaterThan(unpaced.precopyMbps * 1.1);
    expect(paced.m.totalMs!).to.be.greaterThan(unpaced.m.totalMs! * 2);
  });
});
