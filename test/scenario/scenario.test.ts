import { expect } from 'chai';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadScenario, parseScenario, ScenarioError } from '../../src/scenario/schema.js';
import { didYouMean } from '../../src/scenario/issues.js';
import { planSweep } from '../../src/sweep/sweep.js';
import { xennet } from '../support/cli.js';

const cli = (...args: string[]) => xennet(args);

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

  describe('all problems at once, with lines', () => {
    const dir = mkdtempSync(join(tmpdir(), 'xennet-issues-'));
    const file = (name: string, text: string) => { const f = join(dir, name); writeFileSync(f, text); return f; };
    const message = (f: () => unknown) => { try { f(); } catch (e) { expect(e).to.be.instanceOf(ScenarioError); return (e as Error).message; } throw new Error('no error'); };

    it('points at a missing field\'s mapping and a bad list entry by line', () => {
      const f = file('m.yaml', 'name: m\ndirection: tx\nfaults:\n  - { atUs: 10, nic: 0, kind: link-sideways }\n');
      const lines = message(() => loadScenario(f)).split('\n');
      expect(lines[0]).to.equal(`${f}: 2 problems`);
      expect(lines[1]).to.equal(`  ${f}:1:1: field topology: Invalid option: expected one of "native"|"driver"|"guest"`);
      expect(lines[2]).to.match(new RegExp(`^  ${f}:4:31: field faults\\.0\\.kind: `));
    });

    it('suggests a key only when one is close', () => {
      expect(didYouMean('optimisations', ['optimizations', 'tcp'])).to.equal('optimizations');
      expect(didYouMean('durationMS', ['durationMs', 'warmupMs'])).to.equal('durationMs');
      expect(didYouMean('colour', ['nics', 'mbps', 'tso'])).to.equal(undefined);
      const f = file('c.yaml', 'name: c\ntopology: guest\ndirection: tx\ncosts:\n  sycall: 3\n  warpDrive: 1\n');
      expect(message(() => loadScenario(f)).split('\n').slice(1)).to.deep.equal([
        `  ${f}:5:3: unknown field costs.sycall (did you mean syscall?)`,
        `  ${f}:6:3: unknown field costs.warpDrive`,
      ]);
    });

    it('reports a YAML syntax error with its line', () => {
      const f = file('y.yaml', 'name: y\ntopology: guest\ndirection: tx\nmachine: { nics: 4\n');
      expect(message(() => loadScenario(f))).to.match(new RegExp(`^${f}:\\d+:\\d+: invalid YAML: `));
    });

    it('a sweep file\'s unknown key is matched against the sweep\'s own fields', () => {
      const f = file('s.yaml', `name: s\nbase: ${join(process.cwd(), 'scenarios', 'guest-tx.yaml')}\nvray:\n  seed: [1, 2]\n`);
      const m = message(() => planSweep(f));
      expect(m).to.include(`${f}:3:1: unknown field vray (did you mean vary?)`);
      expect(m).to.include(`${f}:1:1: field vary: `);
    });
  });

  describe('CLI', function () {
    this.timeout(60_000);
    const dir = mkdtempSync(join(tmpdir(), 'xennet-'));

    it('a scenario with a wrong field prints one line naming it and exits non-zero', () => {
      const f = join(dir, 'bad.yaml');
      writeFileSync(f, 'name: bad\ntopology: guest\ndirection: tx\nmachine:\n  nics: four\n');
      const r = cli('run', f);
      expect(r.status).to.not.equal(0);
      expect(r.stdout).to.equal('');
      const lines = r.stderr.trim().split('\n');
      expect(lines).to.have.length(1);
      expect(lines[0]).to.match(/machine\.nics/);
      expect(r.stderr).to.not.match(/at .*\.js:\d+/); // no stack trace
    });

    it('a scenario with several mistakes gets all of them in one block, with lines and suggestions', () => {
      const f = join(dir, 'several.yaml');
      writeFileSync(f, [
        '# yaml-language-server: $schema=../xennet.schema.json',
        'name: several',
        'topology: guest',
        'direction: tx',
        'machine:',
        '  nicz: 4',
        '  nic:',
        '    mbps: fast',
        'tcp:',
        '  mss: 100',
        'optimisations:',
        '  rxCopy: true',
        '',
      ].join('\n'));
      const r = cli('run', f);
      expect(r.status).to.equal(2);
      expect(r.stdout).to.equal('');
      expect(r.stderr.trimEnd().split('\n')).to.deep.equal([
        `error: ${f}: 4 problems`,
        `  ${f}:6:3: unknown field machine.nicz (did you mean nics?)`,
        `  ${f}:8:11: field machine.nic.mbps: Invalid input: expected number, received string`,
        `  ${f}:10:8: field tcp.mss: Too small: expected number to be >=536`,
        `  ${f}:11:1: unknown field optimisations (did you mean optimizations?)`,
      ]);
    });

    it('a missing file and a bad flag are one-line errors too', () => {
      const a = cli('run', join(dir, 'nope.yaml'));
      expect(a.status).to.not.equal(0);
      expect(a.stderr.trim().split('\n')).to.have.length(1);
      const b = cli('run', 'scenarios/guest-tx.yaml', '--seed', 'x');
      expect(b.status).to.not.equal(0);
      expect(b.stderr.trim()).to.match(/--seed/);
      expect(b.stderr.trim().split('\n')).to.have.length(1);
    });

    it('`run --json` twice with the same seed is byte-identical', () => {
      const args = ['run', 'scenarios/guest-tx.yaml', '--json', '--seed', '7', '--duration', '0.02'];
      const a = cli(...args);
      const b = cli(...args);
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
      const r = cli('run', 'scenarios/linux-tx.yaml', '--duration', '0.002');
      expect(r.status).to.equal(0);
      expect(r.stdout).to.match(/seed 1, 2 ms measured after 30 ms warm-up/);
    });
  });
});
