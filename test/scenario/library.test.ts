/**
 * The scenario library: the paper's configurations come from scenarios/paper/ in a fixed order,
 * and every other bundled scenario runs and does what its description says.
 */
import { expect } from 'chai';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { paperConfigs, readPaperConfigs, scenarioDir } from '../../src/paper/configs.js';
import { loadScenario, ScenarioError } from '../../src/scenario/schema.js';
import { runScenario } from '../../src/scenario/run.js';
import { runCase } from '../../src/stress/run.js';
import { bundledScenarios } from '../support/scenarios.js';

/** The ids and order `xennet paper` has always reported. */
const PAPER_IDS = [
  'linux-tx', 'driver-tx', 'driver-tx-mem', 'guest-tx', 'guest-tx-vnic', 'guest-tx-io', 'guest-tx-mem', 'guest-tx-all',
  'guest-tx-vnic-nooffload', 'guest-tx-all-nooffload', 'linux-rx', 'driver-rx', 'driver-rx-mem', 'guest-rx', 'guest-rx-vnic',
  'guest-rx-io', 'guest-rx-mem', 'guest-rx-all', 'guest-tx-vnic-io', 'guest-tx-vnic-mem', 'guest-tx-io-mem',
];

/** What each fault scenario must make the NICs drop. */
const FAULT_DROPS: Record<string, string> = {
  'faults/link-flap.yaml': 'link-down',
  'faults/dma-errors.yaml': 'nic-dma-error',
  'faults/rx-overflow.yaml': 'nic-rx-overflow',
  'faults/rx-overflow-sustained.yaml': 'nic-rx-overflow',
};

describe('scenario library', function () {
  this.timeout(120_000);

  it('the paper configurations are the files of scenarios/paper, in the order and with the ids of the paper report', () => {
    const cs = paperConfigs();
    expect(cs.map((c) => c.id)).to.deep.equal(PAPER_IDS);
    for (const c of cs) {
      const sc = loadScenario(c.file);
      expect(c.label, c.id).to.equal(sc.paper?.label);
      expect(c.paperMbps, c.id).to.equal(sc.paper?.mbps ?? null);
      if (c.paperMbps !== null) expect(sc.paper?.source, c.id).to.match(/Menon et al\. ATC 2006/);
    }
    expect(cs.filter((c) => c.paperMbps !== null).map((c) => c.id)).to.have.members(
      ['linux-tx', 'guest-tx', 'guest-tx-all', 'linux-rx', 'driver-rx', 'driver-rx-mem', 'guest-rx', 'guest-rx-all']);
  });

  it('refuses a paper file whose name is not its id, or without a label', () => {
    const dir = mkdtempSync(join(tmpdir(), 'xennet-paper-'));
    const body = readFileSync(join(scenarioDir(), 'paper', '04-guest-tx.yaml'), 'utf8');
    writeFileSync(join(dir, '01-guest-tx.yaml'), body.replace('name: guest-tx', 'name: guest-tx-typo'));
    expect(() => readPaperConfigs(dir)).to.throw(ScenarioError, /01-guest-tx\.yaml: field name: guest-tx-typo differs/);
    writeFileSync(join(dir, '01-guest-tx.yaml'), body.replace(/ {2}label: .*\n/, ''));
    expect(() => readPaperConfigs(dir)).to.throw(ScenarioError, /field paper\.label/);
  });

  const others = bundledScenarios().filter((f) => !relative(scenarioDir(), f).startsWith('paper'));
  it('has fault, hostile and multi-guest scenarios', () => {
    const names = others.map((f) => relative(scenarioDir(), f));
    for (const k of Object.keys(FAULT_DROPS)) expect(names).to.include(k);
    expect(names.some((n) => n.startsWith('hostile/'))).to.equal(true);
    expect(names.filter((n) => n.startsWith('multi-guest/')).map((n) => loadScenario(join(scenarioDir(), n)).guests)).to.include.members([4, 16]);
  });

  for (const f of others) {
    const name = relative(scenarioDir(), f);
    it(`${name} runs briefly and gives throughput (or transactions)${name.startsWith('hostile/') ? ', passing every stress check' : ' without protocol violations'}`, () => {
      const sc = loadScenario(f);
      // Short runs; a fault scenario runs until 2 ms after its last fault, so the fault is seen.
      const lastFaultMs = Math.max(0, ...sc.faults.map((x) => x.atUs / 1000));
      if (sc.faults.length) sc.run.durationMs = Math.max(2, lastFaultMs - sc.run.warmupMs + 2);
      else if (!FAULT_DROPS[name]) sc.run = { warmupMs: 2, durationMs: 2 };
      // ... as does a hostile one whose adversary would not start within the short run (its attack is the point).
      if (sc.hostile.some((h) => h.startUs / 1000 >= sc.run.warmupMs + sc.run.durationMs)) sc.run = loadScenario(f).run;
      // (a scenario whose fault is its configuration, e.g. tiny rings, runs as written: TCP's back-off there takes time)
      if (sc.hostile.length) {
        const r = runCase(sc);
        expect(r.failures, name).to.deep.equal([]);
        expect(r.hostile).to.equal(`${sc.hostile[0].behaviour}/${sc.hostile[0].variant}`);
        return;
      }
      const r = runScenario(sc);
      // A request/response scenario moves a few bytes per transaction: it must complete transactions.
      if (sc.workload.kind !== 'stream' || sc.flows?.some((fl) => fl.kind !== 'stream')) expect(r.latency?.transactions ?? 0, name).to.be.greaterThan(0);
      else expect(r.throughputMbps, name).to.be.greaterThan(0);
      expect(r.counters.violations, name).to.deep.equal({});
      if (FAULT_DROPS[name]) expect(r.counters.drops[FAULT_DROPS[name]] ?? 0, name).to.be.greaterThan(0);
    });
  }
});
