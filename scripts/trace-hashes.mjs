#!/usr/bin/env node
/**
 * The sha256 of the trace and the pcapng `xennet run FILE --trace --pcap` writes for every scenario
 * file under scenarios/ (those `run` accepts), one line each: to check that a change keeps every
 * output byte-identical, run it before and after and diff the two lists.
 *   node scripts/trace-hashes.mjs [--duration 5ms] [--xennet bin/xennet.js] [scenario files...]
 */
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const args = process.argv.slice(2);
const opt = (name, dflt) => { const i = args.indexOf(name); if (i < 0) return dflt; const v = args[i + 1]; args.splice(i, 2); return v; };
const duration = opt('--duration', '5ms');
const xennet = opt('--xennet', 'bin/xennet.js');
const walk = (d) => readdirSync(d).flatMap((n) => { const p = join(d, n); return statSync(p).isDirectory() ? walk(p) : p.endsWith('.yaml') ? [p] : []; });
const files = args.length ? args : walk('scenarios').sort();
const dir = mkdtempSync(join(tmpdir(), 'xennet-hashes-'));
const sha = (p) => createHash('sha256').update(readFileSync(p)).digest('hex').slice(0, 16);
try {
  for (const f of files) {
    const trace = join(dir, 't.json'), pcap = join(dir, 'w.pcapng');
    rmSync(trace, { force: true }); rmSync(pcap, { force: true });
    const r = spawnSync(process.execPath, [xennet, 'run', f, '--duration', duration, '--trace', trace, '--pcap', pcap, '--json'], { encoding: 'utf8' });
    if (r.status !== 0) { console.log(`${f} not-runnable ${(r.stderr.trim().split('\n')[0] ?? '').slice(0, 80)}`); continue; }
    console.log(`${f} trace ${sha(trace)} pcap ${sha(pcap)} run ${JSON.parse(r.stdout).traceHash}`);
  }
} finally { rmSync(dir, { recursive: true, force: true }); }
