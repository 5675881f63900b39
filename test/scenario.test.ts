import { expect } from 'chai';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseScenario, ScenarioError } from '../src/scenario/schema.js';

const bin = join(process.cwd(), 'bin', 'xennet.js');
const xennet = (...args: string[]) => spawnSync(process.execPath, [bin, ...args], { encoding: 'utf8' });

describe('scenario files', () => {
  it('fills defaults', () => {
    const sc = parseScenario({ name: 'x', topology: 'guest', direction: 'tx' });
    expect(sc.machine.nics).to.equal(4);
    expect(sc.machine.cpuGhz).to.equal(2.4);
    expect(sc.optimizations.rxCopy).to.equal(false);
  });

  it('names a field with a wrong type', () => {
    expect(() => parseScenario({ name: 'x', topology: 'guest', direction: 'tx', machine: { nic: { mbps: 'fast' } } }, 'f.yaml'))
      .to.throw(ScenarioError, /f\.yaml: field machine\.nic\.mbps/);
  });

  it('names an unknown field', () => {
    expect(() => parseScenario({ name: 'x', topology: 'guest', direction: 'tx', optimisations: {} }, 'f.yaml'))
      .to.throw(ScenarioError, /unknown field optimisations/);
  });

  it('names an unknown cost row', () => {
    expect(() => parseScenario({ name: 'x', topology: 'guest', direction: 'tx', costs: { warpDrive: 3 } }, 'f.yaml'))
      .to.throw(ScenarioError, /costs/);
  });

  describe('CLI', function () {
    this.timeout(60_000);
    const dir = mkdtempSync(join(tmpdir(), 'xennet-'));

    it('a scenario with a wrong field prints one line naming it and exits non-zero', () => {
      const f = join(dir, 'bad.yaml');
      writeFileSync(f, 'name: bad\ntopology: guest\ndirection: tx\nmachine:\n  nics: four\n');
      const r = xennet('run', f);
      expect(r.status).to.not.equal(0);
      expect(r.stdout).to.equal('');
      const lines = r.stderr.trim().split('\n');
      expect(lines).to.have.length(1);
      expect(lines[0]).to.match(/machine\.nics/);
      expect(r.stderr).to.not.match(/at .*\.js:\d+/); // no stack trace
    });

    it('a missing file and a bad flag are one-line errors too', () => {
      const a = xennet('run', join(dir, 'nope.yaml'));
      expect(a.status).to.not.equal(0);
      expect(a.stderr.trim().split('\n')).to.have.length(1);
      const b = xennet('run', 'scenarios/guest-tx.yaml', '--seed', 'x');
      expect(b.status).to.not.equal(0);
      expect(b.stderr.trim()).to.match(/--seed/);
      expect(b.stderr.trim().split('\n')).to.have.length(1);
    });

    it('`run --json` twice with the same seed is byte-identical', () => {
      const args = ['run', 'scenarios/guest-tx.yaml', '--json', '--seed', '7', '--duration', '0.02'];
      const a = xennet(...args);
      const b = xennet(...args);
      expect(a.status).to.equal(0);
      expect(a.stdout).to.equal(b.stdout);
      const r = JSON.parse(a.stdout);
      for (const k of ['throughputMbps', 'cpuUtilPct', 'cyclesPerPacket', 'counters']) expect(r).to.have.property(k);
      // The window lengths are named for what they hold: 20 ms measured after the file's 30 ms warm-up.
      expect(r.measuredMs).to.equal(20);
      expect(r.warmupMs).to.equal(30);
      expect(r).to.not.have.property('simulatedMs');
      expect(r.counters).to.include.keys('hypercalls', 'pageFlips', 'grantMaps', 'bytesCopied', 'interrupts', 'notificationsSent', 'notificationsSuppressed', 'domainSwitches', 'tlbMisses', 'drops');
    });

    it('the text report says how long the measured window and the warm-up were', () => {
      const r = xennet('run', 'scenarios/linux-tx.yaml', '--duration', '0.002');
      expect(r.status).to.equal(0);
      expect(r.stdout).to.match(/seed 1, 2 ms measured after 30 ms warm-up/);
    });
  });
});
