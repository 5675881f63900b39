/**
 * The recorder streams to disk: a traced run is written through a log and external sorts, so its
 * memory does not grow with its length. Forcing the sort's memory budget small makes it spill to
 * temporary files; the files it writes must be the very bytes of an in-memory sort, and no
 * temporary file may stay behind, also when a write fails.
 */
import { expect } from 'chai';
import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadScenario } from '../../src/scenario/schema.js';
import { runInspected } from '../../src/inspect/inspect-run.js';
import { writeReport } from '../../src/inspect/report.js';
import { xennet } from '../support/cli.js';

const dir = mkdtempSync(join(tmpdir(), 'xennet-streaming-'));
const sha = (f: string) => createHash('sha256').update(readFileSync(f)).digest('hex');

/** A gigabit guest: many events per ms of virtual time. */
const guest = join(dir, 'guest.yaml');
writeFileSync(guest, 'name: g\ntopology: guest\ndirection: tx\nrun: { warmupMs: 2, durationMs: 6 }\n');
/** One 1 Mb/s link: a few frames per ms, so a run of seconds stays quick. */
const slow = join(dir, 'slow.yaml');
writeFileSync(slow, 'name: slow\ntopology: native\ndirection: tx\nmachine: { nics: 1, nic: { mbps: 1 } }\nrun: { warmupMs: 10, durationMs: 100 }\n');

describe('streamed trace and capture', function () {
  this.timeout(180_000);

  it('spilling to sorted runs on disk gives the same trace and pcapng bytes as sorting in memory', () => {
    const files = (name: string) => { const d = join(dir, name); mkdirSync(d); return { trace: join(d, 'trace.json'), pcap: join(d, 'wire.pcapng'), dir: d }; };
    const whole = files('whole'), spilled = files('spilled');
    const a = runInspected(loadScenario(guest), { trace: whole.trace, pcap: whole.pcap });
    const b = runInspected(loadScenario(guest), { trace: spilled.trace, pcap: spilled.pcap, sortBudgetBytes: 4096 });
    // The trigger: the default budget holds this run, the small one spilled many runs (more than one merge pass).
    expect(a.wrote.map((w) => w.spilledRuns)).to.deep.equal([0, 0]);
    expect(b.wrote[0].spilledRuns).to.be.greaterThan(64);
    expect(b.wrote[1].spilledRuns).to.be.greaterThan(1);
    expect(sha(spilled.trace)).to.equal(sha(whole.trace));
    expect(sha(spilled.pcap)).to.equal(sha(whole.pcap));
    expect(b.result.traceHash).to.equal(a.result.traceHash);
    // Nothing temporary stays beside the outputs.
    expect(readdirSync(spilled.dir).sort()).to.deep.equal(['trace.json', 'wire.pcapng']);
  });

  it('run --duration 2000ms --trace --pcap is accepted (the recorder no longer holds the run in memory)', () => {
    const out = join(dir, 'long');
    const r = xennet(['run', slow, '--duration', '2000ms', '--trace', join(out, 't.json'), '--pcap', join(out, 'w.pcapng'), '--json']);
    expect(r.status, r.stderr).to.equal(0);
    const trace = JSON.parse(readFileSync(join(out, 't.json'), 'utf8')) as { otherData: { durationMs: number }; traceEvents: Array<{ ts: number }> };
    expect(trace.otherData.durationMs).to.equal(2000);
    // Events reach the end of the run, in time order after the metadata.
    const ts = trace.traceEvents.map((e) => e.ts);
    expect(Math.max(...ts)).to.be.greaterThan(1900_000);
    expect(readdirSync(out).sort()).to.deep.equal(['t.json', 'w.pcapng']);
  });

  it("a report's page holds at most so many messages and says where it stops; trace.json beside it has them all", async () => {
    const out = join(dir, 'report');
    const r = await writeReport(loadScenario(guest), out, { pageLimit: 100 });
    // The trigger: the run had more messages than the page holds.
    expect(r.messages).to.be.greaterThan(100);
    const html = readFileSync(join(out, 'index.html'), 'utf8');
    const data = JSON.parse(/<script type="application\/json" id="data">(.*?)<\/script>/s.exec(html)![1]) as { msgs: unknown[]; states: unknown[][] };
    expect(data.msgs).to.have.length(100);
    expect(data.states.reduce((n, l) => n + l.length - 1, 0)).to.be.at.most(100);
    expect(html).to.include(`The page holds the first 100 of ${r.messages} messages and operations`);
    const trace = JSON.parse(readFileSync(join(out, 'trace.json'), 'utf8')) as { traceEvents: Array<{ cat?: string; ph: string; args?: { dir?: string } }> };
    const sent = trace.traceEvents.filter((e) => e.ph === 'X' && e.args?.dir === 'out').length;
    expect(sent).to.be.greaterThan(100);
  });

  it('a trace or capture that cannot be written is an error naming the path, and leaves no temporary file', () => {
    for (const flag of ['--trace', '--pcap']) {
      const tmp = mkdtempSync(join(dir, 'tmp-'));
      const r = xennet(['run', slow, '--duration', '50ms', flag, '/dev/full'], { env: { ...process.env, TMPDIR: tmp } });
      expect(r.status, r.stderr).to.equal(2);
      expect(r.stderr.trim()).to.equal('error: cannot write /dev/full: no space left on device');
      expect(readdirSync(tmp), 'the spooled log and sorted runs are gone').to.deep.equal([]);
    }
  });
});
