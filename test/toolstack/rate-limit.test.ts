/** Clark et al.'s dynamic rate limit (rate-limit.ts): the policy's pure functions. */
import { expect } from 'chai';
import { BURST_BYTES, CLARK_RATE, burstGapPs, dirtyRateMbps, exceedsMax, nextLimitMbps } from '../../src/toolstack/rate-limit.js';

describe('dynamic rate limiting of the migration stream (rate-limit.ts)', () => {
  it("the paper's limits: 100 Mb/s first, 500 Mb/s at most, 50 Mb/s over the dirtying rate", () => {
    expect(CLARK_RATE).to.deep.equal({ startMbps: 100, maxMbps: 500, incrementMbps: 50 });
  });
  it('a round dirtying 1000 pages (4 KiB) in 100 ms dirtied 327.68 Mb/s; the next round may use 50 more', () => {
    const d = dirtyRateMbps(1000, 100_000);
    expect(d).to.be.closeTo((1000 * 4096 * 8) / 0.1 / 1e6, 1e-9);
    expect(nextLimitMbps(CLARK_RATE, d)).to.be.closeTo(d + 50, 1e-9);
    expect(nextLimitMbps({ ...CLARK_RATE, incrementMbps: 0 }, d)).to.equal(d);
  });
  it('the limit follows the dirtying rate down as well as up', () => {
    expect(nextLimitMbps(CLARK_RATE, dirtyRateMbps(10, 100_000))).to.be.lessThan(CLARK_RATE.startMbps);
  });
  it('pre-copy ends once the next limit would exceed the maximum, not at it', () => {
    expect(exceedsMax(CLARK_RATE, 500)).to.equal(false);
    expect(exceedsMax(CLARK_RATE, 500.001)).to.equal(true);
    expect(exceedsMax(CLARK_RATE, nextLimitMbps(CLARK_RATE, dirtyRateMbps(1, 0))), 'an instant round with dirt in it').to.equal(true);
  });
  it('the pacer sends one 100 KiB burst per gap: exactly the limit', () => {
    for (const mbps of [100, 250, 500]) {
      const gapS = burstGapPs(mbps) / 1e12;
      expect((BURST_BYTES * 8) / gapS / 1e6).to.be.closeTo(mbps, 1e-3);
    }
    expect(burstGapPs(100)).to.be.greaterThan(burstGapPs(500));
  });
});
