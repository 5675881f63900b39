/**
 * Fuzzing the command line: random scenario YAML and random flags (fast-check). Whatever comes in,
 * the command ends in bounded time and memory with status 0 or 2, an error is one `error:` line
 * (a scenario file's problems: one indented line each under it), never a stack trace or an internal
 * error, and no output file is left half-written. Few runs, each a process: the suite stays fast;
 * a failure prints fast-check's seed and path to replay it.
 */
import { expect } from 'chai';
import fc from 'fast-check';
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stringify } from 'yaml';

const bin = join(process.cwd(), 'bin', 'xennet.js');
const root = mkdtempSync(join(tmpdir(), 'xennet-fuzz-'));
/** Each command may take this long on a loaded 2-core machine, and this much heap. */
const LIMIT_MS = 90_000;
const HEAP_MB = 512;

let n = 0;
function xennet(args: string[], cwd: string) {
  return spawnSync(process.execPath, [`--max-old-space-size=${HEAP_MB}`, bin, ...args], { cwd, encoding: 'utf8', timeout: LIMIT_MS });
}

/** Every file under dir (temporary files of an atomic write included). */
function filesUnder(dir: string): string[] {
  return readdirSync(dir).flatMap((f) => {
    const p = join(dir, f);
    return statSync(p).isDirectory() ? filesUnder(p) : [p];
  });
}

function checkOutcome(r: ReturnType<typeof xennet>, what: string, dir: string): void {
  const ctx = `${what}\nstatus ${r.status} signal ${r.signal}\nstderr: ${r.stderr}`;
  expect(r.error, `ended within ${LIMIT_MS} ms: ${ctx}`).to.equal(undefined);
  expect([0, 2], ctx).to.include(r.status);
  expect(r.stderr, ctx).to.not.match(/internal error|^\s+at |heap out of memory/m);
  if (r.status === 2) {
    // Progress bars are not drawn (stderr is not a terminal): stderr holds the error alone.
    const lines = r.stderr.trimEnd().split('\n');
    expect(lines[0], ctx).to.match(/^error: /);
    for (const l of lines.slice(1)) expect(l, ctx).to.match(/^ {2}\S/);
  }
  for (const f of filesUnder(dir)) expect(f, `no temporary file left: ${ctx}`).to.not.match(/\.tmp$/);
}

/** Values a hostile file or flag might hold. */
const hostileNumber = fc.oneof(
  fc.double(), fc.integer(),
  fc.constantFrom(0, -0, -1, 1e308, -1e308, 1e-300, 2 ** 53, 0.5, 4096, 1e20),
);
const hostileValue = fc.oneof(
  hostileNumber, fc.boolean(), fc.string({ maxLength: 12 }), fc.constant(null),
  fc.constantFrom('\u001b[31mred\u001b]0;t\u0007', 'NaN', 'Infinity', 'round-robin', 'credit', 'H3'),
  fc.array(hostileNumber, { maxLength: 3 }), fc.dictionary(fc.string({ maxLength: 6 }), hostileNumber, { maxKeys: 2 }),
);
/** Field paths of the scenario schema, and a few that are not. */
const PATHS = [
  'name', 'topology', 'direction', 'seed', 'guests', 'workload.kind', 'workload.requestBytes', 'workload.transactionsInFlight',
  'machine.cpus', 'machine.cpuGhz', 'machine.nics', 'machine.memoryMiB', 'machine.vifRingSize', 'machine.tlbEntries', 'machine.tlbReplacement',
  'machine.nic.mbps', 'machine.nic.itrUs', 'machine.nic.latencyUs', 'machine.nic.ringSize', 'placement.dom0', 'placement.guests', 'placement.irqCpu',
  'xen.sliceUs', 'xen.ctxAllowUs', 'xen.scheduler', 'xen.credit.tickUs', 'variability.irqJitterUs', 'optimizations.rxCopy', 'tcp.mss', 'tcp.sndBufKiB',
  'netback.rxPollMs', 'netback.rateLimits', 'faults', 'hostile', 'costs.tlbMiss', 'costs.copyPerByte', 'footprint', 'paper.mbps', 'bogus', 'machine.bogus',
];

function setPath(o: Record<string, unknown>, path: string, v: unknown): void {
  const ks = path.split('.');
  let at = o;
  for (const k of ks.slice(0, -1)) {
    if (typeof at[k] !== 'object' || at[k] === null || Array.isArray(at[k])) at[k] = {};
    at = at[k] as Record<string, unknown>;
  }
  at[ks[ks.length - 1]] = v;
}

/** A scenario with random fields set to random values; its run is kept short (1 ms after no warm-up). */
const scenarioYaml = fc.record({
  topology: fc.constantFrom('native', 'driver', 'guest'),
  fields: fc.array(fc.tuple(fc.constantFrom(...PATHS), hostileValue), { maxLength: 4 }),
  garbage: fc.option(fc.string({ maxLength: 40 }), { freq: 5 }),
}).map(({ topology, fields, garbage }) => {
  const sc: Record<string, unknown> = { name: 'fuzz', topology, direction: 'tx' };
  for (const [p, v] of fields) setPath(sc, p, v);
  sc.run = { warmupMs: 0, durationMs: 1 };
  // Guests cost build time: keep the count small whatever was drawn.
  if (typeof sc.guests === 'number' && sc.guests > 8) sc.guests = 8;
  return (garbage ?? '') + (garbage ? '\n' : '') + stringify(sc);
});

const FLAGS = ['--seed', '--duration', '--reps', '--workers', '--out', '--trace', '--pcap', '--top', '--json', '--max-runs', '--shard', '--only', '--runs', '--hostile', '--case', '--sample', '--plot', '--bogus'];
const VALUES = ['-1', '0', '1', '2', '1e308', 'NaN', 'abc', '1ms', '1e-3ms', '2ms', 'out', 'sub/dir', '/proc/xennet-fuzz/x', '/dev/full', 'afile', '\u001b[31m', '', '1/100', '1/2', '0/0', 'H1', 'linux-tx'];

describe('fuzz: random scenario YAML and random flags', function () {
  this.timeout(20 * LIMIT_MS);

  it('random scenario files: status 0 or 2, one error block, bounded time and memory', () => {
    fc.assert(fc.property(scenarioYaml, (yaml) => {
      const dir = join(root, `y${n++}`);
      mkdirSync(dir);
      writeFileSync(join(dir, 'sc.yaml'), yaml);
      checkOutcome(xennet(['run', 'sc.yaml', '--json', '--out', 'out'], dir), `run of:\n${yaml}`, dir);
    }), { numRuns: 8, seed: 25 });
  });

  it('random flags: status 0 or 2, one error line, no half-written file', () => {
    const flag = fc.tuple(fc.constantFrom(...FLAGS), fc.constantFrom(...VALUES));
    // Each command starts from a quick configuration; the random flags come after and may override it.
    const base: Record<string, string[]> = {
      run: ['run', 'sc.yaml', '--duration', '1ms'],
      stress: ['stress', '--runs', '1', '--workers', '1', '--no-replay-check'],
      paper: ['paper', '--only', 'linux-tx', '--duration', '1ms', '--workers', '1'],
      report: ['report', 'sc.yaml', '--duration', '1ms', '--out', 'rep'],
      sweep: ['sweep', 'sc.yaml'],
      merge: ['merge', 'out'],
    };
    fc.assert(fc.property(fc.constantFrom(...Object.keys(base)), fc.array(flag, { maxLength: 3 }), (cmd, flags) => {
      const dir = join(root, `f${n++}`);
      mkdirSync(dir);
      writeFileSync(join(dir, 'sc.yaml'), 'name: fuzz\ntopology: native\ndirection: tx\nrun: { warmupMs: 0 }\n');
      writeFileSync(join(dir, 'afile'), 'a file in the way');
      const args = [...base[cmd], ...flags.flatMap(([f, v]) => (f === '--json' || f === '--hostile' ? [f] : [f, v]))];
      checkOutcome(xennet(args, dir), `xennet ${args.map((a) => JSON.stringify(a)).join(' ')}`, dir);
    }), { numRuns: 10, seed: 25 });
  });
});
