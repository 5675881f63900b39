import { expect } from 'chai';
import { readFileSync } from 'node:fs';
import { parse } from 'yaml';
import { paperConfigs } from '../../src/paper/configs.js';
import type { PaperRow } from '../../src/paper/report.js';
import { OPTIMIZATIONS, subsetId, waterfall, waterfallSpec } from '../../src/paper/waterfall.js';
import { compile } from '../../src/plot/vega.js';

type Key = typeof OPTIMIZATIONS[number]['key'];
const SUBSETS: Key[][] = [[], ['vnic'], ['io'], ['mem'], ['vnic', 'io'], ['vnic', 'mem'], ['io', 'mem'], ['vnic', 'io', 'mem']];
const row = (id: string, mbps: number): PaperRow => ({ id, label: id, throughputMbps: mbps, cpuPct: 100, paperMbps: null, errorPct: null, cyclesPerPacket: 0, breakdown: {}, counters: {} as PaperRow['counters'] });

describe('transmit gain step by step (waterfall)', function () {
  // Reading the scenario files and loading vega-lite take seconds on a loaded 2-core machine.
  this.timeout(120_000);
  it('every subset of the three optimizations is a paper configuration with exactly those optimizations', () => {
    const flags: Record<Key, string[]> = { vnic: ['vnicOffload'], io: ['txNoRemap', 'rxCopy'], mem: ['superpages', 'globalPages'] };
    for (const s of SUBSETS) {
      const c = paperConfigs().find((x) => x.id === subsetId('tx', s));
      expect(c, subsetId('tx', s)).to.not.equal(undefined);
      const on = Object.entries(scenarioOptimizations(c!.file)).filter(([, v]) => v).map(([k]) => k).sort();
      expect(on, c!.id).to.deep.equal(s.flatMap((k) => flags[k]).sort());
    }
  });

  it('without interaction each optimization\'s share is its own ln gain over the total, in every order', () => {
    const gain: Record<Key, number> = { vnic: 3, io: 1.2, mem: 1.5 };
    const rows = SUBSETS.map((s) => row(subsetId('tx', s), 100 * s.reduce((p, k) => p * gain[k], 1)));
    const w = waterfall(rows)!;
    expect(w.orders).to.have.length(6);
    const total = Math.log(3 * 1.2 * 1.5);
    for (const s of w.shares) expect(s.share).to.be.closeTo(Math.log(gain[s.add]) / total, 1e-3);
    for (const { steps } of w.orders) for (const st of steps) expect(st.gainPct).to.be.closeTo(100 * (gain[st.add] - 1), 0.1);
  });

  it('with interaction the shares still add up to the whole gain and each order ends at all three', () => {
    const mbps: Record<string, number> = { '': 750, vnic: 1835, io: 806, mem: 912, 'vnic-io': 2376, 'vnic-mem': 2253, 'io-mem': 1383, 'vnic-io-mem': 2900 };
    const w = waterfall(SUBSETS.map((s) => row(subsetId('tx', s), mbps[s.join('-')])))!;
    expect(w.shares.reduce((a, s) => a + s.share, 0)).to.be.closeTo(1, 2e-3);
    for (const { steps } of w.orders) expect(steps.at(-1)!.toMbps).to.equal(2900);
    // The first step of an order is that optimization alone.
    expect(w.orders.find((o) => o.order[0] === 'io')!.steps[0].toMbps).to.equal(806);
  });

  it('is null when a subset was not run', () => {
    expect(waterfall([row('guest-tx', 750), row('guest-tx-all', 2900)])).to.equal(null);
  });

  it('compiles to a vega spec with one panel per order and the stamp in the subtitle', async () => {
    const w = waterfall(SUBSETS.map((s) => row(subsetId('tx', s), 100 + 10 * s.length)))!;
    const spec = waterfallSpec(w, 'measured 2026-01-01 on commit abc');
    expect(JSON.stringify((spec as { title: unknown }).title)).to.contain('commit abc');
    const panels = new Set(((spec as { data: { values: Array<{ panel: string }> } }).data.values).map((v) => v.panel));
    expect(panels.size).to.equal(6);
    expect(await compile(spec)).to.be.an('object');
  });
});

function scenarioOptimizations(file: string): Record<string, boolean> {
  return (parse(readFileSync(file, 'utf8')) as { optimizations?: Record<string, boolean> }).optimizations ?? {};
}
