import { expect } from 'chai';
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { bandOf, sensitivity, sensitivityInputs } from '../../src/calibrate/sensitivity.js';
import { paperConfigs, scenarioFor } from '../../src/paper/configs.js';
import { COSTS } from '../../src/model/costs.js';
import { runScenario } from '../../src/scenario/run.js';
import { xennet } from '../support/cli.js';

const cfg = (id: string, ms = 40) => ({ id, scenario: scenarioFor(paperConfigs().find((c) => c.id === id)!, [{ path: 'run.durationMs', value: ms, flag: 'test' }]) });

describe('sensitivity', function () {
  this.timeout(300_000);

  it('elasticities follow the mechanism: a CPU-bound run slows in proportion to a row\'s share of its cycles; a link-bound one does not move', async () => {
    const inputs = ['copyPerByte', 'tcpRxPerSegment', 'tlbMiss', 'footprint.tcp'];
    const r = await sensitivity([cfg('linux-rx'), cfg('linux-tx'), cfg('guest-tx')], { step: 0.1, workers: 2, only: inputs });
    const e = (config: string, figure: string, input: string) => r.elasticities.find((x) => x.config === config && x.figure === figure && x.input === input)!.elasticity;
    // linux-rx is CPU-bound: cycles per packet are the CPU's whole budget, so d ln(throughput) = -(row's share of the cycles) d ln(row).
    const base = runScenario(cfg('linux-rx').scenario);
    // The row's own cycles per packet: tcpRxPerSegment is its own category; copyPerByte is the part of
    // the `copy` category that is not the cold-cache surcharge (bytes copied x the row).
    const own = {
      tcpRxPerSegment: base.cyclesPerPacket.byCategory.tcpRxPerSegment ?? 0,
      copyPerByte: (base.counters.bytesCopied / base.counters.goodputSegments) * COSTS.copyPerByte.cycles,
    };
    for (const row of ['copyPerByte', 'tcpRxPerSegment'] as const) {
      const share = own[row] / base.cyclesPerPacket.total;
      expect(share, row).to.be.greaterThan(0.05);
      expect(e('linux-rx', 'throughputMbps', row), row).to.be.closeTo(-share, 0.06);
    }
    // Native Linux uses superpages: no TLB misses, so neither the miss cost nor the footprint matters.
    expect(e('linux-rx', 'throughputMbps', 'tlbMiss')).to.equal(0);
    // linux-tx is link-bound: its throughput ignores the CPU's costs.
    expect(Math.abs(e('linux-tx', 'throughputMbps', 'copyPerByte'))).to.be.lessThan(0.01);
    // A Xen 2.0 guest misses in the TLB: a dearer miss lowers throughput and raises the guest's cycles per packet.
    expect(e('guest-tx', 'throughputMbps', 'tlbMiss')).to.be.lessThan(-0.05);
    expect(e('guest-tx', 'cyclesPerPacket.domU1', 'tlbMiss')).to.be.greaterThan(0.05);
    expect(r.runs).to.equal(3 * (1 + 2 * inputs.length));
  });

  it('inputs: every cost row and every component\'s footprint; unknown names are refused', () => {
    const all = sensitivityInputs(0.1);
    expect(all.filter((i) => i.kind === 'cost').map((i) => i.name)).to.deep.equal(Object.keys(COSTS));
    expect(all.some((i) => i.name === 'footprint.tcp')).to.equal(true);
    const fp = all.find((i) => i.name === 'footprint.evtchn')!;
    expect(fp.minus).to.be.lessThan(fp.base);
    expect(fp.plus).to.be.greaterThan(fp.base);
    expect(() => sensitivityInputs(0.1, ['nope'])).to.throw(RangeError, /nope/);
  });

  it('the uncertainty band adds independent rows in quadrature, weighted by their stated uncertainty', () => {
    const only = (name: string, e: number) => bandOf('x', 'throughputMbps', 1000, new Map([[name, e]]));
    // Two rows the calibration does not fit (no baseline figure depends on them): they count at their stated uncertainty.
    expect(COSTS.grantCopyPerOp).to.not.have.property('prior');
    expect(COSTS.gsoPerSegment).to.not.have.property('prior');
    const b = only('grantCopyPerOp', -0.5);
    expect(b.sdPct).to.be.closeTo(100 * 0.5 * COSTS.grantCopyPerOp.uncertainty, 1e-9);
    expect(b.lo95).to.be.closeTo(1000 * (1 - 1.96 * 0.5 * COSTS.grantCopyPerOp.uncertainty), 1e-9);
    const two = bandOf('x', 'throughputMbps', 1000, new Map([['grantCopyPerOp', -0.5], ['gsoPerSegment', 0.2]]));
    expect(two.sdPct).to.be.closeTo(100 * Math.hypot(0.5 * COSTS.grantCopyPerOp.uncertainty, 0.2 * COSTS.gsoPerSegment.uncertainty), 1e-9);
    expect(two.contributors[0].input).to.equal('grantCopyPerOp');
    expect(only('gsoPerSegment', 0).sdPct).to.equal(0);
  });

  it('xennet sensitivity writes the elasticities, the bands and a tornado plot per figure', () => {
    const dir = mkdtempSync(join(tmpdir(), 'xennet-sens-'));
    const r = xennet(['sensitivity', '--only', 'guest-tx', '--inputs', 'tlbMiss,copyPerByte', '--duration', '40ms', '--workers', '2', '--out', dir], { timeout: 240_000 });
    expect(r.status, r.stderr).to.equal(0);
    expect(r.stdout).to.match(/guest-tx/).and.to.match(/95% band/);
    const csv = readFileSync(join(dir, 'sensitivity.csv'), 'utf8').trim().split('\n');
    expect(csv[0]).to.equal('config,figure,input,base,minus,plus,elasticity');
    expect(csv.length - 1).to.be.greaterThan(2 * 3); // two inputs x (throughput, CPU, >= 1 account)
    expect(existsSync(join(dir, 'bands.csv'))).to.equal(true);
    const svg = readFileSync(join(dir, 'tornado', 'guest-tx.throughputMbps.svg'), 'utf8');
    expect(svg).to.match(/^<svg/).and.to.match(/tlbMiss/);
    const bad = xennet(['sensitivity', '--inputs', 'nope'], { timeout: 30_000 });
    expect(bad.status).to.equal(2);
    expect(bad.stderr).to.match(/--inputs: unknown input\(s\) nope/);
  });
});
