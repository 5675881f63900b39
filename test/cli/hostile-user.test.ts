/**
 * The cases a hostile (or unlucky) user broke: each gets one line on stderr naming the field or
 * flag and the limit, exit 2, or an honest result; never an internal error, a hang, a half-written
 * file or exit 0 with the output lost.
 */
import { expect } from 'chai';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { report } from '../../src/cli/calibrate.js';
import type { CalibrationResult } from '../../src/calibrate/calibrate.js';

const bin = join(process.cwd(), 'bin', 'xennet.js');
const dir = mkdtempSync(join(tmpdir(), 'xennet-hostile-user-'));
const file = (name: string, text: string) => { const f = join(dir, name); writeFileSync(f, text); return f; };
const cli = (...args: string[]) => spawnSync(process.execPath, [bin, ...args], { encoding: 'utf8', timeout: 20_000 });
/** Through a shell, for redirections of standard output. */
const sh = (cmd: string) => spawnSync('sh', ['-c', cmd], { encoding: 'utf8', timeout: 20_000 });
const native = (extra: string) => file(`n${Math.random().toString(36).slice(2)}.yaml`, `name: a\ntopology: native\ndirection: tx\n${extra}`);

function refused(r: ReturnType<typeof cli>, ...want: RegExp[]): void {
  expect(r.error, 'the command must end by itself').to.equal(undefined);
  expect(r.status, r.stderr).to.equal(2);
  const lines = r.stderr.trimEnd().split('\n');
  expect(lines, r.stderr).to.have.length(1);
  expect(lines[0]).to.match(/^error: /);
  for (const w of want) expect(lines[0]).to.match(w);
}

const BOMB = ['a: &a [x, x, x, x, x, x, x, x, x]', ...'bcdefg'.split('').map((k, i) => `${k}: &${k} [${Array(9).fill(`*${'abcdefg'[i]}`).join(', ')}]`), 'name: bomb', ''].join('\n');

describe('hostile user: every input refused cleanly, every output honest', function () {
  this.timeout(60_000);

  it('a YAML alias bomb is a user error (run and stress --replay), not an internal error', () => {
    const f = file('bomb.yaml', BOMB);
    refused(cli('run', f), /bomb\.yaml: invalid YAML: Excessive alias count/);
    refused(cli('stress', '--replay', f), /invalid YAML/);
  });

  it('numeric fields the model cannot honour are refused with their limit', () => {
    refused(cli('run', native('costs: {tlbMiss: 1e308}\n')), /field costs\.tlbMiss/, /<=10000000/);
    refused(cli('run', native('costs: {tlbMiss: 1e20}\n')), /field costs\.tlbMiss/);
    refused(cli('run', native('machine: {cpuGhz: 1e-300}\n')), /field machine\.cpuGhz/, />=0\.1/);
    refused(cli('run', native('machine: {nic: {mbps: 1e300}}\n')), /field machine\.nic\.mbps/, /<=100000/);
    refused(cli('run', file('slice.yaml', 'name: a\ntopology: guest\ndirection: tx\nxen: {sliceUs: 1e-300}\n')), /field xen\.sliceUs/, />=1/);
  });

  it('a window too short to measure is refused (--duration 1e-3ms)', () => {
    refused(cli('run', 'scenarios/guest-tx.yaml', '--duration', '1e-3ms'), /field run\.durationMs \(set by --duration 1e-3ms\)/, />=1/);
  });

  it('a run that completes nothing prints no per-packet figure of 0', () => {
    // The costliest allowed TLB miss: no segment of goodput completes in 2 ms.
    const r = cli('run', native('costs: {tlbMiss: 1e7}\n'), '--duration', '2ms');
    expect(r.status, r.stderr).to.equal(0);
    expect(r.stdout).to.match(/goodputSegments\s+0\n/);
    expect(r.stdout).to.include('cycles per packet: none (no MSS segment of goodput in the measured window)');
    expect(r.stdout).to.not.match(/per 0 MSS segments/);
  });

  it('topology native with guests, optimizations or a scheduler is refused, naming the fields', () => {
    refused(cli('run', native('guests: 4\noptimizations: {rxCopy: true}\nxen: {scheduler: credit}\n')), /field guests: not used by topology native \(nor optimizations, xen\)/);
    refused(cli('run', file('drv.yaml', 'name: a\ntopology: driver\ndirection: tx\noptimizations: {txNoRemap: true}\n')), /field optimizations\.txNoRemap: not used by topology driver/);
  });

  it('--out / --plot naming an existing file are refused before the run', () => {
    const f = file('afile', 'keep me');
    const r = cli('run', 'scenarios/linux-tx.yaml', '--duration', '2ms', '--out', f);
    refused(r, /afile is a file, not a directory/);
    expect(r.stdout, 'refused before running').to.equal('');
    refused(cli('paper', '--only', 'linux-tx', '--duration', '2ms', '--plot', f), /afile is a file, not a directory/);
    expect(readFileSync(f, 'utf8')).to.equal('keep me');
  });

  it('a trace that cannot be written (/dev/full) is an error naming the path', () => {
    refused(cli('run', 'scenarios/linux-tx.yaml', '--duration', '2ms', '--trace', '/dev/full'), /cannot write \/dev\/full: no space left on device/);
  });

  it('outputs under /proc are refused at once, not a spinning mkdir', () => {
    refused(cli('run', 'scenarios/linux-tx.yaml', '--duration', '2ms', '--out', '/proc/xennet-no/such'), /cannot write \/proc\/xennet-no\/such/);
    refused(cli('run', 'scenarios/linux-tx.yaml', '--duration', '2ms', '--trace', '/proc/xennet-no/t.json'), /cannot write \/proc\/xennet-no/);
    refused(cli('charts', '--out', '/proc/xennet-no'), /cannot write \/proc\/xennet-no/);
  });

  it('a FIFO or a device as scenario file is refused, not read for ever', () => {
    const fifo = join(dir, 'fifo');
    expect(spawnSync('mkfifo', [fifo]).status).to.equal(0);
    refused(cli('run', fifo), /fifo: cannot read scenario file: not a regular file/);
    refused(cli('run', '/dev/zero'), /\/dev\/zero: cannot read scenario file: not a regular file/);
  });

  it('--reps has a cap with an override, as sweeps do', () => {
    refused(cli('run', 'scenarios/linux-tx.yaml', '--reps', '1000000'), /--reps 1000000/, /at most 1000 without --max-runs 1000000/);
    refused(cli('paper', '--reps', '1000000'), /--reps 1000000/, /--max-runs/);
  });

  it('a traced or reported run longer than memory could hold is not refused: it streams to disk (report --duration 2000ms)', () => {
    const slow = native('machine: { nics: 1, nic: { mbps: 1 } }\nrun: { warmupMs: 10, durationMs: 100 }\n');
    const out = join(dir, 'long-report');
    const r = spawnSync(process.execPath, [bin, 'report', slow, '--duration', '2000ms', '--out', out, '--json'], { encoding: 'utf8', timeout: 120_000 });
    expect(r.status, r.stderr).to.equal(0);
    expect(readdirSync(out).sort()).to.deep.equal(['breakdown.csv', 'index.html', 'result.json', 'runs.csv', 'trace.json', 'wire.pcapng']);
    expect((JSON.parse(readFileSync(join(out, 'trace.json'), 'utf8')) as { otherData: { durationMs: number } }).otherData.durationMs).to.equal(2000);
  });

  it('stress --only without --hostile is refused (it would be ignored)', () => {
    refused(cli('stress', '--only', 'H1', '--runs', '1'), /--only .*add --hostile/);
  });

  it('stress --workers beyond the machine is capped, and says so', () => {
    const r = cli('stress', '--runs', '1', '--workers', '1000', '--no-replay-check', '--json');
    expect(r.status, r.stderr).to.equal(0);
    const m = /--workers 1000 capped at (\d+)/.exec(r.stderr);
    expect(m, r.stderr).to.not.equal(null);
    expect(r.stderr).to.match(new RegExp(`on ${m![1]} worker\\(s\\)`));
  });

  it('merge --out into one of its own shards is refused; the shard is left intact', () => {
    const out = join(dir, 'camp');
    const s = cli('stress', '--runs', '2', '--workers', '1', '--no-replay-check', '--out', out, '--shard', '1/2');
    expect(s.status, s.stderr).to.equal(0);
    const shard = join(out, 'shard-1-of-2');
    const before = readFileSync(join(shard, 'result.json'), 'utf8');
    refused(cli('merge', shard, '--out', shard), /one of the shards being merged/);
    expect(readFileSync(join(shard, 'result.json'), 'utf8')).to.equal(before);
  });

  it('--shard k/n with fewer runs than shards is explained, and writes nothing', () => {
    const out = join(dir, 'shard100');
    refused(cli('stress', '--runs', '1', '--out', out, '--shard', '1/100'), /--shard 1\/100: 100 shards of a campaign of 1 run/, /at most 1 shard/);
    expect(existsSync(join(out, 'shard-1-of-100'))).to.equal(false);
  });

  it('sweep given a scenario file suggests run', () => {
    refused(cli('sweep', 'scenarios/linux-tx.yaml'), /a scenario file, not a sweep file/, /xennet run scenarios\/linux-tx\.yaml/);
  });

  it('output lost to a full device is an error, never exit 0 (--json > /dev/full)', () => {
    const r = sh(`${JSON.stringify(process.execPath)} ${JSON.stringify(bin)} run scenarios/linux-tx.yaml --duration 2ms --json > /dev/full`);
    expect(r.status, r.stderr).to.equal(2);
    expect(r.stderr.trimEnd()).to.equal('error: cannot write standard output: no space left on device');
    const s = sh(`${JSON.stringify(process.execPath)} ${JSON.stringify(bin)} schema > /dev/full`);
    expect(s.status, s.stderr).to.equal(2);
  });

  it('escape sequences in a scenario name do not reach the terminal', () => {
    const f = file('esc.yaml', 'name: "x\\e[31mRED\\e]0;pwned\\a"\ntopology: native\ndirection: tx\n');
    const r = cli('run', f, '--duration', '2ms');
    expect(r.status, r.stderr).to.equal(0);
    expect(r.stdout).to.not.match(/[\u001b\u0007]/);
    expect(r.stdout.split('\n')[0]).to.match(/^scenario x\\u001b\[31mRED\\u001b\]0;pwned\\u0007: /);
    // JSON keeps the name exactly, C1 controls (which JSON.stringify leaves raw) included.
    const c1 = file('c1.yaml', 'name: "x\\u0085y\\u009bz\\x7f"\ntopology: native\ndirection: tx\n');
    const j = cli('run', c1, '--duration', '2ms', '--json');
    expect(j.stdout).to.not.match(/[\u007f-\u009f]/);
    expect(JSON.parse(j.stdout).scenario).to.equal('x\u0085y\u009bz\u007f');
    expect(JSON.parse(cli('run', f, '--duration', '2ms', '--json').stdout).scenario).to.equal('x\u001b[31mRED\u001b]0;pwned\u0007');
  });

  it('output files are written whole or not at all (no temporary left behind)', () => {
    const out = join(dir, 'whole');
    mkdirSync(out);
    const r = cli('run', 'scenarios/linux-tx.yaml', '--duration', '2ms', '--out', out);
    expect(r.status, r.stderr).to.equal(0);
    expect(readdirSync(out).sort()).to.deep.equal(['breakdown.csv', 'result.json', 'runs.csv']);
  });

  it('a latency percentile resting on too few samples is flagged', () => {
    const r = cli('run', 'scenarios/latency/linux-tcp-rr.yaml', '--duration', '2ms');
    expect(r.status, r.stderr).to.equal(0);
    const n = Number(/transactions\s+(\d+)/.exec(r.stdout)![1]);
    expect(n, 'a 2 ms window holds fewer than 10000 transactions').to.be.below(10_000);
    expect(r.stdout).to.include(`warning: ${n} transactions are too few for ${n < 1000 ? 'p99 (needs 1000) or ' : ''}p99.9 (needs 10000)`);
  });

  it('the report opens with a summary of the key figures and a table of contents; plots come before the state charts', function () {
    this.timeout(180_000);
    const out = join(dir, 'report-order');
    const r = cli('report', 'scenarios/latency/linux-tcp-rr.yaml', '--duration', '2ms', '--out', out);
    expect(r.status, r.stderr).to.equal(0);
    const html = readFileSync(join(out, 'index.html'), 'utf8');
    const sections = [...html.matchAll(/<section id="([\w-]+)"/g)].map((m) => m[1]);
    expect(sections[0]).to.equal('sec-summary');
    expect(sections.indexOf('sec-plots')).to.be.below(sections.indexOf('sec-charts'));
    const summary = html.slice(html.indexOf('<section id="sec-summary">'), html.indexOf('<section id="sec-plots">'));
    const result = JSON.parse(readFileSync(join(out, 'result.json'), 'utf8')).runs[0].result;
    expect(summary).to.include(`${result.throughputMbps.toFixed(1)} Mb/s`);
    expect(summary).to.include(`${result.latency.transactions} transactions`);
    // Every section but the summary is in the table of contents, in page order.
    const toc = [...summary.matchAll(/<a href="#([\w-]+)">/g)].map((m) => m[1]);
    expect(toc).to.deep.equal(sections.slice(1));
  });

  it('runs.csv is tidy: NA where a figure does not apply, list cells that parse as JSON', () => {
    // One guest and two: only the second run has per-guest figures (a list of goodputs).
    const sw = file('mixed.yaml', `name: mixed\nbase: ${join(process.cwd(), 'scenarios', 'guest-tx.yaml')}\ndurationMs: 1\nvary:\n  guests: [1, 2]\n`);
    const out = join(dir, 'tidy');
    const r = cli('sweep', sw, '--out', out, '--workers', '1');
    expect(r.status, r.stderr).to.equal(0);
    const [head, ...rows] = parseCsv(readFileSync(join(out, 'runs.csv'), 'utf8'));
    expect(rows).to.have.length(2);
    for (const row of rows) {
      expect(row).to.have.length(head.length);
      expect(row.filter((c) => c === ''), 'no empty cells').to.deep.equal([]);
    }
    const mbps = head.indexOf('perGuest.mbps');
    expect(rows[0][mbps]).to.equal('NA');
    const two = JSON.parse(rows[1][mbps]) as number[];
    expect(two).to.have.length(2);
    const result = JSON.parse(readFileSync(join(out, 'result.json'), 'utf8')) as { runs: Array<{ result: { perGuest?: { mbps: number[] } } }> };
    expect(two).to.deep.equal(result.runs[1].result.perGuest!.mbps);
  });

  it('calibrate --check says which test passed: a mesh optimum is not called a Gauss-Newton optimum', () => {
    const help = cli('calibrate', '--help').stdout.replace(/\s+/g, ' ');
    expect(help).to.match(/--check .*Gauss-Newton step there is below the tolerance, or no ±\d+% change of one parameter lowers the objective/);
    const fit = {
      figures: [], params: [], objective: 1, converged: true, criterion: 'mesh', finalStep: [0.364], iterations: [],
    } as unknown as CalibrationResult;
    const text = report(fit, null, 0.01, 10, 1, 'baseline');
    expect(text).to.match(/converged: no parameter changed by ±\d+% lowers the objective: a local optimum at that resolution only, not by the Gauss-Newton test \(its step is 36\.4%, above the tolerance 1\.00%\)/);
  });
});

/** RFC 4180 rows: quoted cells may hold commas, doubled quotes and newlines. */
function parseCsv(text: string): string[][] {
  const rows: string[][] = [];
  let row: string[] = [], cell = '', quoted = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (quoted) {
      if (c === '"' && text[i + 1] === '"') { cell += '"'; i++; } else if (c === '"') quoted = false; else cell += c;
    } else if (c === '"') quoted = true;
    else if (c === ',') { row.push(cell); cell = ''; } else if (c === '\n') { row.push(cell); rows.push(row); row = []; cell = ''; } else cell += c;
  }
  if (cell !== '' || row.length) { row.push(cell); rows.push(row); }
  return rows;
}
