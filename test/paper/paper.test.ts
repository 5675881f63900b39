import { expect } from 'chai';
import { paperConfigs, scenarioFor } from '../../src/paper/configs.js';
import { runMany } from '../../src/workers/pool.js';
import { contributions, toRow } from '../../src/paper/report.js';
import { build } from '../../src/scenario/build.js';
import { PS_PER_MS } from '../../src/actors/scheduler.js';
import { watchFlushes } from '../support/tlb-flushes.js';

// The paper's measured figures are external data; the model must land near them
// without any per-configuration constant (Xen 2.0/native, which `xennet calibrate` fits: ±10%;
// optimized headline figures, predictions: ±15%). Every cost row a baseline figure depends on is
// fitted, each pulled toward its source by its stated uncertainty (docs/cost-model.md, "Calibration").
const BOUNDS: Record<string, number> = {
  'linux-tx': 0.10, 'linux-rx': 0.10, 'driver-rx': 0.10, 'guest-tx': 0.10, 'guest-rx': 0.10,
  'guest-tx-all': 0.15, 'driver-rx-mem': 0.15, 'guest-rx-all': 0.15,
};

describe('reproducing the paper', function () {
  this.timeout(300_000);
  const cfgs = paperConfigs();
  let rows: ReturnType<typeof toRow>[] = [];

  before(async () => {
    const rs = await runMany(cfgs.map((c) => scenarioFor(c)), 2);
    rows = cfgs.map((c, i) => toRow(c, rs[i]));
  });

  for (const [id, bound] of Object.entries(BOUNDS)) {
    it(`${id} is within ${bound * 100}% of the paper`, () => {
      const r = rows.find((x) => x.id === id)!;
      expect(r.paperMbps).to.be.a('number');
      expect(Math.abs(r.throughputMbps - r.paperMbps!) / r.paperMbps!).to.be.lessThan(bound);
    });
  }

  it('no configuration uses more than 100% of the CPUs over the measured window', () => {
    expect(rows).to.have.length(paperConfigs().length);
    for (const r of rows) expect(r.cpuPct, r.id).to.be.at.most(100);
  });

  it('every configuration delivered exactly the streams its senders wrote (data integrity end to end)', () => {
    for (const r of rows) {
      expect(r.dataIntegrity, r.id).to.equal(undefined);
      expect(r.counters.violations['data-integrity'] ?? 0, r.id).to.equal(0);
    }
  });

  it('no configuration reached a page through a stale translation', () => {
    for (const r of rows) expect(r.counters.violations['stale-translation'] ?? 0, r.id).to.equal(0);
  });

  it('every flip and unmap flushed the TLBs: in each configuration\'s first 10 ms none left a translation of a frame its caller lost', () => {
    // A stale hit needs the same tag touched again before the next CR3 reload, which these runs rarely do;
    // so look at the DTLB itself after each call (test/support/tlb-flushes.ts).
    const lost = { grantUnmap: 0, grantTransfer: 0 };
    for (const c of cfgs) {
      const sc = scenarioFor(c);
      if (sc.topology === 'native') continue;
      const b = build(sc);
      const w = watchFlushes(b);
      b.start();
      b.sys.sched.run(10 * PS_PER_MS);
      b.sys.stop();
      expect(w.leaks, `${c.id}:\n${w.leaks.join('\n')}`).to.deep.equal([]);
      lost.grantUnmap += w.lost.grantUnmap;
      lost.grantTransfer += w.lost.grantTransfer;
    }
    // The trigger: unmaps and flips did take frames whose translations were in the caller's DTLB.
    expect(lost.grantUnmap, 'translations an unmap took the frame of').to.be.greaterThan(0);
    expect(lost.grantTransfer, 'translations a flip took the frame of').to.be.greaterThan(0);
  });

  it('headline ratios: guest transmit about fourfold, driver-domain receive up by a fifth or more, guest receive up modestly', () => {
    const mbps = (id: string) => rows.find((x) => x.id === id)!.throughputMbps;
    expect(mbps('guest-tx-all') / mbps('guest-tx')).to.be.greaterThan(3.7);
    expect(mbps('driver-rx-mem') / mbps('driver-rx')).to.be.greaterThan(1.2);
    expect(mbps('guest-rx-all') / mbps('guest-rx')).to.be.within(1.05, 1.4);
  });

  it('for guest transmit the virtual NIC contributes most, then virtual memory, then the I/O channel', () => {
    const tx = contributions(rows).filter((c) => c.direction === 'tx');
    const gain = (name: string) => tx.find((c) => c.optimization.startsWith(name))!.aloneGainPct;
    expect(gain('high-level')).to.be.greaterThan(gain('superpages'));
    expect(gain('superpages')).to.be.greaterThan(gain('I/O'));
  });
});
