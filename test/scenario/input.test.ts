/**
 * The input audit: bad input (scenario files, CLI flags, hostile entries) gets one line naming
 * the field or flag and a non-zero exit, never a stack trace and never a run that cannot end.
 */
import { expect } from 'chai';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as schema from '../../src/scenario/schema.js';
import { xennet } from '../support/cli.js';

const { loadScenario, parseScenario, ScenarioError } = schema;

const dir = mkdtempSync(join(tmpdir(), 'xennet-input-'));
const file = (name: string, text: string) => { const f = join(dir, name); writeFileSync(f, text); return f; };
const cli = (...args: string[]) => xennet(args, { timeout: 15_000 });

/** One line on stderr, no stack frames, a non-zero exit. */
function expectUserError(r: ReturnType<typeof cli>, ...want: RegExp[]): void {
  expect(r.error, 'the command must end by itself').to.equal(undefined);
  expect(r.status, r.stderr).to.equal(2);
  const lines = r.stderr.trimEnd().split('\n');
  expect(lines, r.stderr).to.have.length(1);
  expect(r.stderr).to.not.match(/^\s+at /m);
  for (const w of want) expect(lines[0]).to.match(w);
}

describe('input audit', function () {
  this.timeout(20_000);

  it('validates --duration with the scenario schema (field and flag named)', () => {
    expectUserError(cli('run', 'scenarios/guest-tx.yaml', '--duration', '1e9'), /field run\.durationMs/, /--duration/);
    expectUserError(cli('all', '--duration', '1e9'), /field run\.durationMs/, /--duration/);
    expectUserError(cli('paper', '--only', 'linux-tx', '--duration', '1e9'), /field run\.durationMs/, /--duration/);
    expectUserError(cli('report', 'scenarios/guest-tx.yaml', '--duration', '1e9', '--out', join(dir, 'rep')), /field run\.durationMs/, /--duration/);
  });

  it('time flags take a unit (10ms, 0.5s, 250us, 40ns); a bare number keeps the flag\'s old unit', () => {
    const ms = (raw: string, bare: 's' | 'ms') => schema.flagTimeMs('--x', raw, bare);
    expect(ms('10ms', 's')).to.equal(10);
    expect(ms('0.5s', 'ms')).to.equal(500);
    expect(ms('250us', 's')).to.equal(0.25);
    expect(ms('250µs', 's')).to.equal(0.25);
    expect(ms('40ns', 's')).to.equal(0.00004);
    expect(ms(' 2 ms ', 's')).to.equal(2);
    expect(ms('1e-3s', 'ms')).to.equal(1);
    expect(ms('0.01', 's')).to.equal(10); // --duration: seconds, as before units
    expect(ms('5', 'ms')).to.equal(5); // --top, --sample: milliseconds
    for (const bad of ['10parsecs', '', 'ms', '10 m s', '1,5ms', 'Infinity', '10MS']) expect(() => ms(bad, 's'), bad).to.throw(ScenarioError, /^--x .*expected a time such as 10ms, 0\.5s, 250us/);
    // Through the CLI: the same run whichever way the window is written.
    const plain = cli('run', 'scenarios/linux-tx.yaml', '--duration', '0.002', '--json');
    expect(plain.status, plain.stderr).to.equal(0);
    expect(JSON.parse(plain.stdout).measuredMs).to.equal(2);
    for (const d of ['2ms', '2000us', '0.002s']) expect(cli('run', 'scenarios/linux-tx.yaml', '--duration', d, '--json').stdout, d).to.equal(plain.stdout);
  });

  it('a time flag without a valid time is one line naming the flag and the accepted forms', () => {
    expectUserError(cli('run', 'scenarios/guest-tx.yaml', '--duration', '10parsecs'), /^error: --duration 10parsecs: /, /10ms, 0\.5s, 250us/, /bare number is seconds/);
    expectUserError(cli('all', '--duration', '3 fortnights'), /--duration 3 fortnights/, /10ms, 0\.5s, 250us/);
    expectUserError(cli('paper', '--only', 'linux-tx', '--duration', 'soon'), /--duration soon/, /10ms/);
    expectUserError(cli('run', 'scenarios/guest-tx.yaml', '--top', 'often'), /--top often/, /bare number is milliseconds/);
    expectUserError(cli('report', 'scenarios/guest-tx.yaml', '--sample', '1 hour', '--out', join(dir, 'rep')), /--sample 1 hour/, /250us/);
    // A valid time outside the field's range is the schema's error, naming the field and the flag.
    expectUserError(cli('run', 'scenarios/guest-tx.yaml', '--duration', '2min'), /--duration 2min/);
    expectUserError(cli('run', 'scenarios/guest-tx.yaml', '--duration', '61s'), /field run\.durationMs \(set by --duration 61s\)/);
  });

  it('--version prints the package version, with the git commit when there is one, and needs no git', () => {
    const pkg = JSON.parse(readFileSync('package.json', 'utf8')).version as string;
    const r = cli('--version');
    expect(r.status, r.stderr).to.equal(0);
    const git = spawnSync('git', ['rev-parse', '--short=12', 'HEAD'], { encoding: 'utf8' });
    if (git.status === 0) expect(r.stdout).to.match(new RegExp(`^xennet ${pkg.replace(/\./g, '\\.')} \\(commit ${git.stdout.trim()}(-dirty)?\\)\n$`));
    else expect(r.stdout).to.equal(`xennet ${pkg}\n`);
    // No git on the PATH: the version alone, no error.
    const nogit = xennet(['--version'], { env: { PATH: join(dir, 'no-such-dir') } });
    expect(nogit.status, nogit.stderr).to.equal(0);
    expect(nogit.stdout).to.equal(`xennet ${pkg}\n`);
    expect(nogit.stderr).to.equal('');
  });

  it('refuses a scenario whose machine memory cannot hold its domains, before building', () => {
    expectUserError(cli('run', file('g1024.yaml', 'name: a\ntopology: guest\ndirection: tx\nguests: 1024\n')), /field machine\.memoryMiB/, /1024 guest/, /need at least \d+ MiB/);
    expectUserError(cli('run', file('g64.yaml', 'name: a\ntopology: guest\ndirection: tx\nguests: 64\nmachine: { memoryMiB: 16 }\n')), /field machine\.memoryMiB/, /need at least \d+ MiB/);
    // More vifs on one guest than its grant table holds.
    expectUserError(cli('run', file('n16.yaml', 'name: a\ntopology: guest\ndirection: tx\nmachine: { nics: 16 }\n')), /field machine\.nics/, /grant table/);
  });

  it('every shipped scenario fits the memory estimate', () => {
    for (const n of ['linux-tx', 'linux-rx', 'driver-tx', 'driver-rx', 'guest-tx', 'guest-rx']) {
      const sc = loadScenario(join('scenarios', `${n}.yaml`));
      expect(schema.memoryNeededMiB(sc)).to.be.at.most(sc.machine.memoryMiB);
    }
  });

  it('puts a floor and a sample cap on --top and --sample', () => {
    expectUserError(cli('run', 'scenarios/guest-tx.yaml', '--top', '0.000001'), /--top/, /at least/);
    expectUserError(cli('run', 'scenarios/guest-tx.yaml', '--top', '0.001'), /--top/, /samples/);
    expectUserError(cli('report', 'scenarios/guest-tx.yaml', '--sample', '0.0000001', '--out', join(dir, 'rep')), /--sample/);
  });

  it('refuses a measured window too short to measure anything', () => {
    const r = cli('run', 'scenarios/guest-tx.yaml', '--duration', '1e-13', '--json');
    expectUserError(r, /field run\.durationMs/, />=1\b/);
    expect(r.stdout).to.not.include('null');
    expect(() => parseScenario({ name: 'a', topology: 'native', direction: 'tx', run: { durationMs: 0.0001 } })).to.throw(ScenarioError, /run\.durationMs/);
  });

  it('refuses a sweep of more runs than --max-runs allows without expanding it', () => {
    const vary = Array.from({ length: 10 }, (_, k) => `  costs.${['syscall', 'copyPerByte', 'cacheMissPerByte', 'csumPerByte', 'csumCopyExtraPerByte', 'tcpTxPerSegment', 'tcpRxPerSegment', 'tcpAckRx', 'tcpAckTx', 'processWakeup'][k]}: [${Array.from({ length: 10 }, (_, v) => v + 1).join(', ')}]`).join('\n');
    const big = file('big.yaml', `name: big\nbase: ${join(process.cwd(), 'scenarios', 'guest-tx.yaml')}\nvary:\n${vary}\n`);
    expectUserError(cli('sweep', big), /10000000000 runs/, /--max-runs/);
    const small = file('small.yaml', `name: s\nbase: ${join(process.cwd(), 'scenarios', 'guest-tx.yaml')}\ndurationMs: 1\nvary:\n  seed: [1, 2, 3]\n`);
    expectUserError(cli('sweep', small, '--max-runs', '2'), /3 runs/, /--max-runs/);
    const ok = cli('sweep', small, '--max-runs', '3', '--json', '--workers', '2');
    expect(ok.status, ok.stderr).to.equal(0);
    expect(JSON.parse(ok.stdout).map((r: { seed: number; result: { seed: number } }) => [r.seed, r.result.seed])).to.deep.equal([[1, 1], [2, 2], [3, 3]]);
  });

  it('stress streams its cases: memory does not grow with --runs', () => {
    // 1e8 cases under a small heap: the campaign starts and keeps running (stopped by the timeout)
    // instead of building every task up front and running out of memory.
    const r = xennet(['stress', '--runs', '100000000', '--workers', '1', '--no-replay-check', '--json'], { nodeArgs: ['--max-old-space-size=96'], timeout: 4000 });
    expect(r.stderr).to.not.match(/heap out of memory|Invalid array length|RangeError/);
    expect(r.signal, r.stderr).to.equal('SIGTERM');
  });

  it('checks hostile entries against the topology', () => {
    const bad = file('hv.yaml', 'name: a\ntopology: guest\ndirection: tx\nguests: 2\nhostile: [{ guest: 2, vif: 5, behaviour: H1 }]\n');
    expectUserError(cli('stress', '--replay', bad), /field hostile\.0\.vif/, /guest 2 has no vif 5/);
    expectUserError(cli('run', file('hg.yaml', 'name: a\ntopology: guest\ndirection: tx\nguests: 2\nhostile: [{ guest: 3, behaviour: H1 }]\n')), /field hostile\.0\.guest/);
    // Guest 1 of 2 with 4 NICs has vifs 0 and 1: vif 1 is fine.
    expect(parseScenario({ name: 'a', topology: 'guest', direction: 'tx', guests: 2, hostile: [{ guest: 1, vif: 1, behaviour: 'H1' }] }).hostile[0].vif).to.equal(1);
  });

  it('an internal error is one line naming where the full report was written', () => {
    // Make the JSON printing of a valid run fail: an internal error, not a user mistake.
    const main = join(process.cwd(), 'dist', 'src', 'cli', 'main.js');
    const code = `JSON.stringify = () => { throw new Error('boom'); };
      process.argv = [process.argv[0], 'xennet', 'run', 'scenarios/guest-tx.yaml', '--duration', '0.001', '--json'];
      await import(${JSON.stringify('file://' + main)});`;
    const r = spawnSync(process.execPath, ['--input-type=module', '-e', code], { encoding: 'utf8', timeout: 15_000 });
    expect(r.status).to.equal(70);
    const lines = r.stderr.trimEnd().split('\n');
    expect(lines, r.stderr).to.have.length(1);
    expect(lines[0]).to.match(/^internal error: boom; full report in /);
    const report = lines[0].replace(/.*full report in /, '');
    expect(existsSync(report)).to.equal(true);
    expect(readFileSync(report, 'utf8')).to.match(/\n\s+at /);
  });
});
