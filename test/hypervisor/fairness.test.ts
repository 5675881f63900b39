import { expect } from 'chai';
import fc from 'fast-check';
import { jainIndex, runScenario } from '../../src/scenario/run.js';
import { loadScenario } from '../../src/scenario/schema.js';
import { formatRun } from '../../src/results/format.js';

describe('fairness between guests', function () {
  this.timeout(120_000);

  it("Jain's index is 1 for equal shares, 1/n when one guest gets everything, and within [1/n, 1]", () => {
    expect(jainIndex([5, 5, 5, 5])).to.equal(1);
    expect(jainIndex([8, 0, 0, 0])).to.equal(0.25);
    expect(jainIndex([3, 1])).to.be.closeTo(16 / 20, 1e-12);
    fc.assert(fc.property(fc.array(fc.double({ min: 0, max: 1e4, noNaN: true }), { minLength: 1, maxLength: 32 }), (xs) => {
      const j = jainIndex(xs);
      return j >= 1 / xs.length - 1e-9 && j <= 1 + 1e-9;
    }), { numRuns: 500 });
  });

  it('a run with several guests reports each guest\'s goodput, adding up to the total', () => {
    const sc = loadScenario('scenarios/multi-guest/guests-4.yaml', [{ path: 'run.durationMs', value: 40, flag: 'test' }]);
    const r = runScenario(sc);
    expect(r.perGuest, 'perGuest').to.not.equal(undefined);
    expect(r.perGuest!.mbps).to.have.length(sc.guests);
    const sum = r.perGuest!.mbps.reduce((a, b) => a + b, 0);
    expect(sum).to.be.closeTo(r.throughputMbps, 0.1 * sc.guests);
    expect(r.perGuest!.jainIndex).to.be.closeTo(jainIndex(r.perGuest!.mbps), 1e-3);
  });

  it('four identical NewReno guests sharing a NIC whose receive ring overflows get equal shares (Jain > 0.95)', () => {
    const sc = loadScenario('scenarios/multi-guest/guests-4-rx-shared-nic.yaml', [{ path: 'run.durationMs', value: 100, flag: 'test' }]);
    expect(sc.tcp.congestionControl).to.equal('newreno');
    const r = runScenario(sc);
    expect(r.counters.drops['nic-rx-overflow'] ?? 0, 'losses at the shared ring').to.be.greaterThan(0);
    expect(Math.min(...r.perGuest!.mbps)).to.be.greaterThan(0);
    expect(r.perGuest!.jainIndex).to.be.greaterThan(0.95);
    // `xennet run` shows each guest's goodput and the index.
    const text = formatRun(r);
    expect(text).to.match(/per guest +domU1 [\d.]+ +domU2 [\d.]+ +domU3 [\d.]+ +domU4 [\d.]+ Mb\/s/);
    expect(text).to.include(`Jain's fairness index ${r.perGuest!.jainIndex.toFixed(4)}`);
  });

  it('one guest reports no per-guest block (the paper configurations are unchanged)', () => {
    const r = runScenario(loadScenario('scenarios/paper/04-guest-tx.yaml', [{ path: 'run.durationMs', value: 10, flag: 'test' }]));
    expect(r).to.not.have.property('perGuest');
    expect(formatRun(r)).to.not.include('per guest');
  });
});
