import { expect } from 'chai';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { loadSweep } from '../../src/sweep/sweep.js';
import { ScenarioError } from '../../src/scenario/schema.js';
import { xennet } from '../support/cli.js';


describe('sweeps', function () {
  this.timeout(60_000);
  const dir = mkdtempSync(join(tmpdir(), 'xennet-sweep-'));
  const file = join(dir, 's.yaml');
  writeFileSync(file, `name: t\nbase: ${resolve('scenarios/guest-rx.yaml')}\ndurationMs: 5\nvary:\n  optimizations.rxCopy: [false, true]\n  machine.cpuGhz: [2.4, 3.2]\n`);

  it('expands the cartesian product in file order', () => {
    const runs = loadSweep(file);
    expect(runs.map((r) => r.label)).to.deep.equal([
      { 'optimizations.rxCopy': false, 'machine.cpuGhz': 2.4 }, { 'optimizations.rxCopy': false, 'machine.cpuGhz': 3.2 },
      { 'optimizations.rxCopy': true, 'machine.cpuGhz': 2.4 }, { 'optimizations.rxCopy': true, 'machine.cpuGhz': 3.2 },
    ]);
    expect(runs[3].scenario.optimizations.rxCopy).to.equal(true);
    expect(runs[3].scenario.machine.cpuGhz).to.equal(3.2);
  });

  it("keeps the paper's figure only on the point that is the base configuration", () => {
    const runs = loadSweep(file);
    expect(runs[0].scenario.paper?.mbps).to.equal(820); // rxCopy false, 2.4 GHz: guest-rx as measured
    for (const r of runs.slice(1)) expect(r.scenario.paper, JSON.stringify(r.label)).to.equal(undefined);
  });

  it('names a varied value the scenario schema rejects', () => {
    const bad = join(dir, 'bad.yaml');
    writeFileSync(bad, `base: ${resolve('scenarios/guest-rx.yaml')}\nvary:\n  machine.nics: [0]\n`);
    expect(() => loadSweep(bad)).to.throw(ScenarioError, /machine\.nics/);
  });

  it('gives byte-identical results with one and with two workers', () => {
    const run = (w: string) => xennet(['sweep', file, '--json', '--workers', w]);
    const a = run('1');
    const b = run('2');
    expect(a.status).to.equal(0);
    expect(a.stdout).to.equal(b.stdout);
    const rows = JSON.parse(a.stdout);
    expect(rows).to.have.length(4);
    // A faster CPU moves more data in a CPU-bound configuration.
    expect(rows[1].result.throughputMbps).to.be.greaterThan(rows[0].result.throughputMbps);
  });
});
