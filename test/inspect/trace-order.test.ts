/**
 * The trace's event order in a world of many hosts. Events of one instant are written state
 * slices first, then CPU slices (by CPU), then messages: the sort key gives each class a range,
 * and a CPU's part of the key must stay inside its range however a world numbers its CPUs
 * (host x 65536 + CPU: from the 16th host on, that number alone would reach the messages' range).
 */
import { expect } from 'chai';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { TraceBuilder } from '../../src/inspect/trace-events.js';
import type { Recorder } from '../../src/inspect/recorder.js';

const HOSTS = Array.from({ length: 20 }, (_, i) => `host${i}`);
const doms = HOSTS.map((h) => `${h}/dom0`);

/** The part of a Recorder a TraceBuilder reads: a world's hosts, one domain each on its CPU 0. */
const rec = {
  b: { hosts: HOSTS.map((name) => ({ name })) },
  actors: doms.map((name, rank) => ({ name, kind: 'domain', rank })),
  initial: new Map(doms.map((d) => [d, '"blocked"'])),
  domains: doms.map((name) => ({ name, domid: 0, cpu: 0, vifs: [] })),
  endPs: 10_000,
} as unknown as Recorder;

describe('trace event order in a world of 20 hosts', () => {
  it('at one instant every host\'s CPU slice comes before the messages, hosts in order', () => {
    const file = join(mkdtempSync(join(tmpdir(), 'xennet-trace-order-')), 'trace.json');
    const tb = new TraceBuilder(rec, { tempPrefix: `${file}.spool`, what: file });
    for (const d of doms) tb.state(1000, d, '"running"');
    tb.interaction({ t0: 1000, t1: 1000, from: doms[19], to: doms[0], name: 'kick', cat: 'msg' });
    for (const d of doms) tb.state(5000, d, '"blocked"');
    tb.write(file, {});
    const evs = (JSON.parse(readFileSync(file, 'utf8')) as { traceEvents: Array<{ ph: string; cat?: string; ts: number; pid: number; name: string }> }).traceEvents;
    const at = evs.filter((e) => e.ph !== 'M' && e.ts === 0.001 && e.cat !== 'state');
    // The trigger: CPU slices of hosts past the 16th share the message's instant.
    const cpus = at.filter((e) => e.cat === 'cpu');
    expect(cpus.map((e) => e.name)).to.deep.equal(doms);
    expect(at.filter((e) => e.cat === 'msg').length).to.be.greaterThan(0);
    // The outcome: all CPU slices first (host by host, each in its host's CPU process), then the message's slices and flow.
    expect(at.slice(0, doms.length)).to.deep.equal(cpus);
    expect(cpus.map((e) => e.pid)).to.deep.equal(HOSTS.map((_, h) => 1_000_000 + h));
    expect(at.slice(doms.length).every((e) => e.cat === 'msg')).to.equal(true);
  });
});
