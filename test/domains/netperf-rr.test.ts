/** The latency distribution of a request/response window: HdrHistogram's ticks and bins, exact over every sample. */
import { expect } from 'chai';
import fc from 'fast-check';
import { distribution, latencyBin, percentile, percentileTicks } from '../../src/domains/netperf-rr.js';

const PS_PER_NS = 1000;

describe('netperf RR latency distribution', function () {
  this.timeout(30_000);

  it('ticks: five per halving of the distance to 100 (HdrHistogram), while the tail holds a sample, then 100', () => {
    const t = percentileTicks(1000);
    expect(t.slice(0, 8)).to.deep.equal([0, 10, 20, 30, 40, 50, 55, 60]);
    expect(t).to.include.members([75, 77.5, 87.5, 93.75, 99.8828125]);
    // 1000 samples: 1.17 lie above 99.8828125; the next tick, 99.90234375, would leave 0.98.
    expect(t.at(-2)).to.equal(99.8828125);
    expect(t).to.not.include(99.90234375);
    expect(t.at(-1)).to.equal(100);
    expect(percentileTicks(1)).to.deep.equal([0, 100]);
    expect(percentileTicks(0)).to.deep.equal([]);
  });

  it('bins: one per ns below 64 ns, then 64 per power of two', () => {
    expect(latencyBin(0)).to.deep.equal([0, 1]);
    expect(latencyBin(63.9)).to.deep.equal([63, 64]);
    expect(latencyBin(64)).to.deep.equal([64, 65]);
    expect(latencyBin(127)).to.deep.equal([127, 128]);
    expect(latencyBin(128)).to.deep.equal([128, 130]);
    expect(latencyBin(1000)).to.deep.equal([1000, 1008]); // 512 + 61 x 8
    expect(latencyBin(1024)).to.deep.equal([1024, 1040]);
    expect(latencyBin(80_000)).to.deep.equal([79_872, 80_896]);
  });

  it('property: bins hold their values, are at most 1/64 of their bound wide; counts sum to the samples; ticks read the exact percentiles', () => {
    fc.assert(fc.property(fc.array(fc.integer({ min: 0, max: 5e9 }), { minLength: 1, maxLength: 300 }), (ps) => {
      const d = distribution(ps);
      expect(d.histogram.reduce((a, b) => a + b.count, 0)).to.equal(ps.length);
      for (let i = 1; i < d.histogram.length; i++) expect(d.histogram[i].loUs).to.be.at.least(d.histogram[i - 1].hiUs);
      for (const b of d.histogram) expect(b.hiUs - b.loUs).to.be.at.most(Math.max(0.001, b.loUs / 64) + 1e-12);
      for (const v of ps) {
        const [lo, hi] = latencyBin(v / PS_PER_NS);
        expect(lo).to.be.at.most(Math.floor(v / PS_PER_NS));
        expect(hi).to.be.above(Math.floor(v / PS_PER_NS));
      }
      const sorted = [...ps].sort((a, b) => a - b);
      expect(d.percentiles[0].us).to.be.closeTo(sorted[0] / 1e6, 5.01e-4);
      expect(d.percentiles.at(-1)!.us).to.be.closeTo(sorted.at(-1)! / 1e6, 5.01e-4);
      for (const p of d.percentiles) expect(p.us).to.be.closeTo(percentile(sorted, p.percentile) / 1e6, 5.01e-4);
    }), { numRuns: 200, interruptAfterTimeLimit: 20_000 });
  });
});
