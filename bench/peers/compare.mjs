#!/usr/bin/env node
// Interleave two PHOLD commands on a shared (noisy) machine and report the median of the paired
// ratios of their events/s: A B, A B, ... so slow phases of the machine hit both alike.
//
// usage: node bench/peers/compare.mjs [--pairs N] '<command A>' '<command B>'
// Each command is run by the shell and must print a line containing events_per_s=N (and events=N).
// Example: node bench/peers/compare.mjs --pairs 5 'node dist/bench/bench.js phold-peer' '/tmp/phold-ns3'
import { execSync } from 'node:child_process';

const args = process.argv.slice(2);
let pairs = 5;
if (args[0] === '--pairs') { pairs = Number(args[1]); args.splice(0, 2); }
if (args.length !== 2 || !Number.isInteger(pairs) || pairs < 1) {
  console.error("usage: compare.mjs [--pairs N] '<command A>' '<command B>'");
  process.exit(2);
}

/** Run one command; its events and events/s from the last line that has them. */
function measure(cmd) {
  const out = execSync(cmd, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] });
  const line = out.trim().split('\n').reverse().find((l) => /events_per_s=/.test(l));
  if (!line) throw new Error(`${cmd}: no events_per_s= in its output`);
  const num = (k) => Number(new RegExp(`\\b${k}=([0-9.e+]+)`).exec(line)?.[1]);
  return { events: num('events'), rate: num('events_per_s') };
}

const ratios = [];
for (let i = 1; i <= pairs; i++) {
  const a = measure(args[0]);
  const b = measure(args[1]);
  ratios.push(a.rate / b.rate);
  console.log(`pair ${i}: A ${a.rate.toFixed(0)} events/s (${a.events} events), B ${b.rate.toFixed(0)} events/s (${b.events} events), A/B ${(a.rate / b.rate).toFixed(3)}`);
}
ratios.sort((x, y) => x - y);
const mid = ratios.length >> 1;
const median = ratios.length % 2 ? ratios[mid] : (ratios[mid - 1] + ratios[mid]) / 2;
console.log(`median A/B over ${pairs} pairs: ${median.toFixed(3)} (range ${ratios[0].toFixed(3)}-${ratios.at(-1).toFixed(3)})`);
