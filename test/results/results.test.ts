/**
 * Result files (--out), sharding (--shard and array-job environments) and `xennet merge`: the same
 * inputs give byte-identical files but for the wall time, and the shards of a campaign merged give
 * the files of the campaign run in one piece.
 */
import { expect } from 'chai';
import { existsSync, mkdtempSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parse } from 'yaml';
import { parseShard, shardBlock } from '../../src/results/shard.js';
import { makeResult, runsCsv, writeResult } from '../../src/results/result.js';
import { ScenarioError, loadScenario, parseScenario } from '../../src/scenario/schema.js';
import { sampleCase } from '../../src/stress/case.js';
import { runCase } from '../../src/stress/run.js';
import { runWrapped } from '../support/wrapped-case.js';
import type { Built } from '../../src/scenario/build.js';
import { xennet } from '../support/cli.js';

const dir = mkdtempSync(join(tmpdir(), 'xennet-results-'));
const WALL = /^ {2}"wallTimeS": [0-9.e+-]+,\n/m;

function cli(args: string[], env: Record<string, string> = {}) {
  // The array-job variables of the machine running the tests must not leak into the runs.
  const base = Object.fromEntries(Object.entries(process.env).filter(([k]) => !/^(SLURM_ARRAY_|JOB_COMPLETION)/.test(k)));
  return xennet(args, { env: { ...base, ...env }, timeout: 170_000 });
}
function ok(args: string[], env: Record<string, string> = {}) {
  const r = cli(args, env);
  expect(r.status, `${args.join(' ')}: ${r.stderr}`).to.equal(0);
  return r;
}
/** One line on stderr naming the problem, status 2, no stack. */
function userError(args: string[], want: RegExp, env: Record<string, string> = {}) {
  const r = cli(args, env);
  expect(r.status, r.stderr).to.equal(2);
  expect(r.stderr.trimEnd().split('\n'), r.stderr).to.have.length(1);
  expect(r.stderr).to.not.match(/^\s+at /m);
  expect(r.stderr).to.match(want);
}
/** Every file under `d` (relative path -> text), result.json without its wall time. */
function files(d: string, sub = ''): Record<string, string> {
  const out: Record<string, string> = {};
  for (const e of readdirSync(join(d, sub), { withFileTypes: true })) {
    const rel = join(sub, e.name);
    if (e.isDirectory()) Object.assign(out, files(d, rel));
    else {
      const text = readFileSync(join(d, rel), 'utf8');
      if (e.name === 'result.json') expect(text, `${rel} has one wallTimeS field`).to.match(WALL);
      out[rel] = e.name === 'result.json' ? text.replace(WALL, '') : text;
    }
  }
  return out;
}
function expectSameFiles(a: string, b: string) {
  const fa = files(a), fb = files(b);
  expect(Object.keys(fb).sort()).to.deep.equal(Object.keys(fa).sort());
  for (const k of Object.keys(fa)) expect(fb[k] === fa[k], `${k} differs between ${a} and ${b}`).to.equal(true);
}
const json = (d: string) => JSON.parse(readFileSync(join(d, 'result.json'), 'utf8'));

describe('result files, shards and merge', function () {
  this.timeout(300_000);

  it('--shard i/N and array-job environments: i = 1..N, each run in exactly one contiguous block', () => {
    expect(parseShard('2/5', {})).to.deep.include({ index: 2, count: 5 });
    expect(parseShard(undefined, {})).to.equal(null);
    for (const bad of ['0/3', '4/3', '3/2', 'x', '1/0', '1', '-1/2', '1/2/3']) expect(() => parseShard(bad, {}), bad).to.throw(ScenarioError, /^--shard .*1 <= i <= N/);
    // --shard wins over the environment.
    expect(parseShard('1/2', { SLURM_ARRAY_TASK_ID: '3', SLURM_ARRAY_TASK_COUNT: '4' })).to.deep.include({ index: 1, count: 2 });
    // Slurm: --array=0-3, --array=1-4 and --array=0-15:4 all number their tasks 1..4.
    expect(parseShard(undefined, { SLURM_ARRAY_TASK_ID: '0', SLURM_ARRAY_TASK_COUNT: '4', SLURM_ARRAY_TASK_MIN: '0' })).to.deep.include({ index: 1, count: 4 });
    expect(parseShard(undefined, { SLURM_ARRAY_TASK_ID: '4', SLURM_ARRAY_TASK_COUNT: '4', SLURM_ARRAY_TASK_MIN: '1' })).to.deep.include({ index: 4, count: 4 });
    expect(parseShard(undefined, { SLURM_ARRAY_TASK_ID: '8', SLURM_ARRAY_TASK_COUNT: '4', SLURM_ARRAY_TASK_MIN: '0', SLURM_ARRAY_TASK_STEP: '4' })).to.deep.include({ index: 3, count: 4 });
    expect(() => parseShard(undefined, { SLURM_ARRAY_TASK_ID: '4', SLURM_ARRAY_TASK_COUNT: '4' })).to.throw(ScenarioError, /SLURM_ARRAY_TASK_ID=4/);
    expect(() => parseShard(undefined, { SLURM_ARRAY_TASK_ID: '1' })).to.throw(ScenarioError, /SLURM_ARRAY_TASK_COUNT=\(unset\)/);
    // Kubernetes Indexed Job: 0-based completion index; the count comes from JOB_COMPLETIONS.
    expect(parseShard(undefined, { JOB_COMPLETION_INDEX: '0', JOB_COMPLETIONS: '3' })).to.deep.include({ index: 1, count: 3 });
    expect(parseShard(undefined, { JOB_COMPLETION_INDEX: '2', JOB_COMPLETIONS: '3' })).to.deep.include({ index: 3, count: 3 });
    expect(() => parseShard(undefined, { JOB_COMPLETION_INDEX: '0' })).to.throw(ScenarioError, /JOB_COMPLETIONS/);
    expect(() => parseShard(undefined, { JOB_COMPLETION_INDEX: '3', JOB_COMPLETIONS: '3' })).to.throw(ScenarioError, /JOB_COMPLETION_INDEX=3/);
    for (const total of [0, 1, 4, 7, 30]) {
      for (const n of [1, 2, 3, 5, 8]) {
        const seen: number[] = [];
        let next = 0;
        for (let i = 1; i <= n; i++) {
          const b = shardBlock({ index: i, count: n }, total);
          expect(b.from).to.equal(next);
          next = b.to;
          for (let k = b.from; k < b.to; k++) seen.push(k);
        }
        expect(seen, `${total} runs in ${n} shards`).to.deep.equal(Array.from({ length: total }, (_, k) => k));
      }
    }
  });

  it('run --out: the same inputs give byte-identical files; one row per run, every counter a column', () => {
    const args = ['run', 'scenarios/guest-tx.yaml', '--duration', '3ms', '--json'];
    const a = ok([...args, '--out', join(dir, 'run-a')]);
    ok([...args, '--out', join(dir, 'run-b')]);
    expectSameFiles(join(dir, 'run-a'), join(dir, 'run-b'));
    const r = json(join(dir, 'run-a'));
    expect(r.xennet.version).to.match(/^\d+\.\d+\.\d+/);
    expect(r.node).to.equal(process.version);
    expect(r.command).to.equal('run');
    expect(r.runs).to.have.length(1);
    // The fully resolved scenario (defaults filled in) and the result --json prints.
    expect(r.runs[0].scenario).to.deep.equal(loadScenario('scenarios/guest-tx.yaml', [{ path: 'run.durationMs', value: 3, flag: '--duration 3ms' }]));
    expect(r.runs[0].result).to.deep.equal(JSON.parse(a.stdout));
    const [head, row, ...rest] = readFileSync(join(dir, 'run-a', 'runs.csv'), 'utf8').trimEnd().split('\n');
    expect(rest).to.have.length(0);
    const cols = head.split(','), vals = row.split(',');
    expect(vals).to.have.length(cols.length);
    const res = r.runs[0].result;
    expect(Number(vals[cols.indexOf('throughputMbps')])).to.equal(res.throughputMbps);
    expect(Number(vals[cols.indexOf('counters.grantMaps')])).to.equal(res.counters.grantMaps);
    expect(Number(vals[cols.indexOf('counters.tlbMisses')])).to.equal(res.counters.tlbMisses);
    const bd = readFileSync(join(dir, 'run-a', 'breakdown.csv'), 'utf8').trimEnd().split('\n');
    expect(bd[0]).to.equal('index,id,account,category,cyclesPerPacket');
    expect(bd.slice(1).map((l) => Number(l.split(',')[4])).reduce((s, v) => s + v, 0)).to.be.closeTo(res.cyclesPerPacket.total, bd.length);
    userError(['run', 'scenarios/guest-tx.yaml', '--out', join(dir, 'x'), '--trace', join(dir, 't.json')], /--out cannot be combined with --trace/);
  });

  it('paper: two runs (1 and 2 workers) give the same files; shards 1..3 merged give them too', () => {
    const args = ['paper', '--only', 'linux-tx,guest-tx,guest-tx-vnic,guest-tx-all', '--duration', '4ms'];
    ok([...args, '--workers', '1', '--out', join(dir, 'paper-a')]);
    ok([...args, '--workers', '2', '--out', join(dir, 'paper-b')]);
    expectSameFiles(join(dir, 'paper-a'), join(dir, 'paper-b'));
    for (const i of [3, 1, 2]) ok([...args, '--workers', '1', '--shard', `${i}/3`, '--out', join(dir, 'paper-s')]);
    const part = json(join(dir, 'paper-s', 'shard-3-of-3'));
    expect(part.shard).to.deep.equal({ index: 3, count: 3, from: 2, to: 4 });
    expect(part.runs.map((e: { id: string }) => e.id)).to.deep.equal(['guest-tx-vnic', 'guest-tx-all']);
    expect(part).to.not.have.property('summary');
    const merged = JSON.parse(ok(['merge', join(dir, 'paper-s'), '--out', join(dir, 'paper-m'), '--json']).stdout);
    expect(merged).to.include({ command: 'paper', runs: 4 });
    expect(merged.shards).to.have.length(3);
    expectSameFiles(join(dir, 'paper-a'), join(dir, 'paper-m'));
    const whole = json(join(dir, 'paper-a'));
    expect(whole.summary.contributions).to.have.length(1);
    expect(whole).to.not.have.property('shard');

    // merge refuses what is not every shard of one campaign, exactly once.
    const s = (i: number) => join(dir, 'paper-s', `shard-${i}-of-3`);
    userError(['merge', s(1), s(3), '--out', join(dir, 'x')], /^error: merge: shard 2\/3 missing/);
    userError(['merge', s(1), s(2), s(3), join(s(2), 'result.json'), '--out', join(dir, 'x')], /^error: merge: shard 2\/3 given twice/);
    userError(['merge', join(dir, 'paper-a'), '--out', join(dir, 'x')], /is a complete result, not a shard/);
    ok([...args.slice(0, 3), '--duration', '3ms', '--shard', '1/3', '--out', join(dir, 'paper-other')]);
    userError(['merge', join(dir, 'paper-other', 'shard-1-of-3'), s(2), s(3), '--out', join(dir, 'x')], /not shards of one campaign: different campaign \(inputs\)/);
    userError(['paper', '--shard', '3/2', '--out', join(dir, 'x')], /^error: --shard 3\/2: expected i\/N/);
    userError(['paper', '--shard', 'x', '--out', join(dir, 'x')], /^error: --shard x: /);
    userError(['paper', '--shard', '1/2'], /--shard 1\/2 needs --out/);
  });

  it('sweep: shards chosen by --shard, Slurm and Kubernetes environments merge into the unsharded files', () => {
    const file = join(dir, 'sweep.yaml');
    writeFileSync(file, `name: t\nbase: ${resolve('scenarios/guest-rx.yaml')}\ndurationMs: 2\nvary:\n  optimizations.rxCopy: [false, true]\n  machine.cpuGhz: [2.4, 3.2]\n  run.warmupMs: [2]\n`);
    ok(['sweep', file, '--workers', '2', '--out', join(dir, 'sweep-a')]);
    const out = join(dir, 'sweep-s');
    ok(['sweep', file, '--out', out], { JOB_COMPLETION_INDEX: '0', JOB_COMPLETIONS: '3' });
    ok(['sweep', file, '--out', out], { SLURM_ARRAY_TASK_ID: '2', SLURM_ARRAY_TASK_MIN: '1', SLURM_ARRAY_TASK_COUNT: '3' });
    ok(['sweep', file, '--out', out, '--shard', '3/3'], { SLURM_ARRAY_TASK_ID: '1', SLURM_ARRAY_TASK_MIN: '1', SLURM_ARRAY_TASK_COUNT: '3' });
    expect(readdirSync(out).sort()).to.deep.equal(['shard-1-of-3', 'shard-2-of-3', 'shard-3-of-3']);
    ok(['merge', out, '--out', join(dir, 'sweep-m')]);
    expectSameFiles(join(dir, 'sweep-a'), join(dir, 'sweep-m'));
    const csv = readFileSync(join(dir, 'sweep-a', 'runs.csv'), 'utf8').split('\n');
    expect(csv[0]).to.match(/^index,id,vary\.optimizations\.rxCopy,vary\.machine\.cpuGhz,vary\.run\.warmupMs,/);
    expect(csv[4]).to.match(/^3,t#3,true,3\.2,2,/);
    // Environment sharding happens only with --out: a plain run is the whole sweep.
    const plain = ok(['sweep', file, '--json'], { SLURM_ARRAY_TASK_ID: '1', SLURM_ARRAY_TASK_COUNT: '3' });
    expect(JSON.parse(plain.stdout)).to.have.length(4);
    userError(['sweep', file, '--out', join(dir, 'x')], /SLURM_ARRAY_TASK_ID=7/, { SLURM_ARRAY_TASK_ID: '7', SLURM_ARRAY_TASK_COUNT: '3' });
    userError(['merge', join(out, 'shard-1-of-3'), join(dir, 'paper-s', 'shard-2-of-3'), '--out', join(dir, 'x')], /different command: "paper" vs "sweep"/);
  });

  it('stress: the result of 24 cases equals the merge of its 3 shards, summary hash included', () => {
    const args = ['stress', '--runs', '24', '--seed', '3', '--no-replay-check'];
    const whole = ok([...args, '--workers', '2', '--out', join(dir, 'stress-a')]);
    for (const i of [1, 2, 3]) ok([...args, '--workers', '1', '--shard', `${i}/3`, '--out', join(dir, 'stress-s')]);
    const m = ok(['merge', join(dir, 'stress-s'), '--out', join(dir, 'stress-m')]);
    expectSameFiles(join(dir, 'stress-a'), join(dir, 'stress-m'));
    const r = json(join(dir, 'stress-a'));
    const hash = /summary hash ([0-9a-f]{16})/.exec(whole.stdout)![1];
    expect(r.summary.hash).to.equal(hash);
    expect(m.stdout).to.contain(`summary hash ${hash}`);
    expect(r.runs).to.have.length(24);
    expect(r.runs[7].scenario).to.deep.equal(sampleCase(3, 7, false));
    // Every case passed: no failing/ directory.
    expect(r.summary.failed).to.equal(0);
    expect(existsSync(join(dir, 'stress-a', 'failing'))).to.equal(false);
    userError(['stress', '--replay', 'scenarios/guest-tx.yaml', '--out', join(dir, 'x')], /--out cannot be combined with --replay/);
  });

  it('a failing stress case is saved as failing/case-<index>.yaml, and --replay runs exactly that scenario', () => {
    // No campaign case fails today, so the failure comes from a test double (a netback that loses
    // packets without counting them) and the entry is written as `stress --out` writes it. The
    // file holds the scenario, not the double: replaying it runs the same scenario honestly.
    const index = 5;
    const sc = sampleCase(9, index, false);
    const lossy = (b: Built) => {
      for (const nb of b.netbacks) { const xmit = nb.xmit.bind(nb); let n = 0; nb.xmit = (x, p) => (++n % 3 === 0 ? (p.release?.(x), true) : xmit(x, p)); }
    };
    const bad = runWrapped(sc, lossy);
    const honest = runCase(sc);
    expect(bad.ok, 'the double must break the case').to.equal(false);
    const res = makeResult({ xennet: { version: '0', commit: null }, command: 'stress', inputs: {}, fingerprint: 'f', total: 6 },
      [{ index, id: `case-${index}`, scenario: sc, result: bad }], 0);
    const out = join(dir, 'failing-case');
    writeResult(out, res);
    const yamlFile = join(out, 'failing', `case-${index}.yaml`);
    const text = readFileSync(yamlFile, 'utf8');
    expect(text).to.match(/^# A failing stress case: npx xennet stress --replay/);
    expect(text).to.contain(bad.failures[0].slice(0, 40));
    expect(parseScenario(parse(text), 'yaml')).to.deep.equal(parseScenario({ ...sc, name: `stress-case-${index}` }, 'case'));
    const rep = ok(['stress', '--replay', yamlFile]);
    expect(rep.stdout).to.contain(`result hash ${honest.hash}`);
    expect(runsCsv(res.runs).split('\n')[1]).to.match(/^5,case-5,false,/);
  });
});
