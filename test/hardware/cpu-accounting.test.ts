import { expect } from 'chai';
import { join } from 'node:path';
import { Cpu, shareInside } from '../../src/hardware/cpu.js';
import { accountId, CATEGORY } from '../../src/hardware/ledger.js';
import { loadScenario, minFrameMs } from '../../src/scenario/schema.js';
import { runScenario } from '../../src/scenario/run.js';
import { scenarioDir } from '../../src/paper/configs.js';

const total = (c: Cpu) => [...c.ledger.values()].reduce((n, m) => n + [...m.values()].reduce((a, b) => a + b, 0), 0);
const GUEST = accountId('guest-for-accounting-test');

describe('CPU accounting over the measured window', () => {
  it('a busy interval counts only for its part inside the window', () => {
    expect(shareInside(10, 20, 0, 100)).to.equal(1);
    expect(shareInside(90, 110, 0, 100)).to.equal(0.5);
    expect(shareInside(-5, 15, 0, 100)).to.equal(0.75);
    expect(shareInside(100, 120, 0, 100)).to.equal(0);
    expect(shareInside(-20, 0, 0, 100)).to.equal(0);
    expect(shareInside(-10, 110, 0, 100)).to.be.closeTo(100 / 120, 1e-12);
    // An instantaneous slice counts wholly at the window start, not at its end.
    expect(shareInside(0, 0, 0, 100)).to.equal(1);
    expect(shareInside(100, 100, 0, 100)).to.equal(0);
  });

  it('slices straddling the window edges are clipped; slices inside are booked unchanged, warm-up is forgotten', () => {
    const cpu = new Cpu(0, 1e9, 8);
    cpu.measureWindow(1000, 2000);
    const slice = (t0: number, t1: number, cycles: number) => { cpu.charge(GUEST, CATEGORY.copy, cycles); cpu.bookSlice(t0, t1); };
    slice(0, 500, 300); // warm-up only
    slice(800, 1200, 400); // straddles the start: half inside
    expect(total(cpu)).to.equal(300 + 200); // the warm-up view holds only the parts before the window
    cpu.resetLedger();
    expect(total(cpu)).to.equal(200);
    slice(1200, 1500, 333.25); // wholly inside: exactly as charged
    slice(1900, 2100, 1000); // straddles the end: half inside
    slice(2000, 2100, 50); // wholly after the end
    expect(total(cpu)).to.equal(200 + 333.25 + 500);
    expect(cpu.ledger.get('guest-for-accounting-test')!.get('copy')).to.equal(200 + 333.25 + 500);
  });

  it('without a window every slice counts in full', () => {
    const cpu = new Cpu(0, 1e9, 8);
    cpu.charge(GUEST, CATEGORY.copy, 7);
    cpu.charge(GUEST, CATEGORY.checksum, 5);
    cpu.bookSlice(0, 12_000);
    expect(total(cpu)).to.equal(12);
  });

  describe('utilisation never exceeds 100% in short windows', function () {
    this.timeout(120_000);
    for (const name of ['guest-tx', 'guest-rx', 'driver-rx', 'linux-rx']) {
      it(`${name}: 10 ms, 1 ms, 0.1 ms and one minimum frame`, () => {
        const file = join(scenarioDir(), `${name}.yaml`);
        const base = loadScenario(file);
        const frame = minFrameMs(base.machine.nic.mbps);
        // Below the schema's shortest window (MIN_WINDOW_MS): the accounting itself must still hold.
        for (const ms of [10, 1, 0.1, frame]) {
          const sc = { ...base, run: { ...base.run, durationMs: ms } };
          const r = runScenario(sc);
          expect(r.cpuUtilPct.total, `${name} over ${ms} ms`).to.be.at.most(100);
          for (const [a, v] of Object.entries(r.cpuUtilPct.byAccount)) expect(v, `${name} ${a} over ${ms} ms`).to.be.at.most(100);
        }
      });
    }
  });
});
