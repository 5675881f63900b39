/**
 * Inspection: state-chart exports, trace-event files, pcap, xentop, and the
 * HTML report (driven in headless Chromium). Small runs keep this quick.
 */
import { expect } from 'chai';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createMachine } from 'xstate';
import { loadScenario } from '../src/scenario/schema.js';
import { build } from '../src/scenario/build.js';
import { runBuilt } from '../src/scenario/run.js';
import { PS_PER_MS } from '../src/actors/scheduler.js';
import { traceFileSchema, type TraceEvent } from '../src/inspect/trace-schema.js';
import { allCharts, writeCharts } from '../src/inspect/charts.js';
import { allStates } from '../src/inspect/chart-model.js';
import { toMermaid, toScxml } from '../src/inspect/chart-export.js';
import { Recorder } from '../src/inspect/recorder.js';
import { leafPaths } from '../src/inspect/chart-model.js';
import { frameHeader, toPcap, type Endpoints } from '../src/inspect/pcap.js';
import type { Packet } from '../src/domains/packet.js';

const bin = join(process.cwd(), 'bin', 'xennet.js');
const xennet = (...args: string[]) => spawnSync(process.execPath, [bin, ...args], { encoding: 'utf8' });
const dir = mkdtempSync(join(tmpdir(), 'xennet-inspect-'));

/** Short runs: 4 ms warm-up, 4 ms measured. */
const SMALL = { run: { warmupMs: 4, durationMs: 4 } };

function scenarioFile(name: string, topology: 'guest' | 'native' | 'driver', direction: 'tx' | 'rx', extra = ''): string {
  const f = join(dir, `${name}.yaml`);
  writeFileSync(f, `name: ${name}\ntopology: ${topology}\ndirection: ${direction}\nrun: { warmupMs: ${SMALL.run.warmupMs}, durationMs: ${SMALL.run.durationMs} }\n${extra}`);
  return f;
}
const guestTx = scenarioFile('small-guest-tx', 'guest', 'tx');
const guestRx = scenarioFile('small-guest-rx', 'guest', 'rx');

function have(cmd: string, args: string[]): boolean {
  const r = spawnSync(cmd, args, { encoding: 'utf8' });
  return !r.error;
}
function chromiumPath(): string | null {
  if (process.env.CHROMIUM_PATH && existsSync(process.env.CHROMIUM_PATH)) return process.env.CHROMIUM_PATH;
  for (const p of ['/usr/bin/chromium', '/usr/bin/chromium-browser']) if (existsSync(p)) return p;
  return null;
}

describe('inspection', function () {
  this.timeout(60_000);
  after(() => rmSync(dir, { recursive: true, force: true }));

  describe('pcap encoding', () => {
    const ep: Endpoints = { isServer: (a) => a.startsWith('eth'), nicOf: (f) => f % 4, domidOf: () => 1, bridged: true };
    // RFC 1071: the one's-complement sum over a header including its checksum is 0xffff.
    const ok = (b: Uint8Array, from: number, to: number, acc = 0) => {
      for (let i = from; i < to; i += 2) acc += (b[i] << 8) | (b[i + 1] ?? 0);
      while (acc > 0xffff) acc = (acc & 0xffff) + (acc >>> 16);
      return acc === 0xffff;
    };

    it('synthesizes Ethernet/IPv4/TCP headers with valid checksums and the model\'s lengths', () => {
      const f = { t: 5e9, from: 'eth1', to: 'client1', kind: 'data' as const, flow: 1, seq: 123456, len: 1448, ack: 0, wnd: 131072 };
      const { header: h, frameLen } = frameHeader(f, ep, 7);
      expect(frameLen).to.equal(66 + 1448);
      expect([h[12], h[13]]).to.deep.equal([0x08, 0x00]);
      expect((h[16] << 8) | h[17]).to.equal(20 + 32 + 1448); // IP total length
      expect(ok(h, 14, 34)).to.equal(true);
      const dv = new DataView(h.buffer);
      expect(dv.getUint32(34 + 4)).to.equal(123456);
      // TCP checksum: pseudo-header + header (the zero payload adds nothing but its length).
      expect(ok(h, 34, 66, ((h[26] << 8) | h[27]) + ((h[28] << 8) | h[29]) + ((h[30] << 8) | h[31]) + ((h[32] << 8) | h[33]) + 6 + 32 + 1448)).to.equal(true);
      const ackF = { ...f, from: 'client1', to: 'eth1', kind: 'ack' as const, len: 0, ack: 99 };
      const a = frameHeader(ackF, ep, 1);
      expect(a.frameLen).to.equal(66);
      expect(new DataView(a.header.buffer).getUint32(34 + 8)).to.equal(99);
      const file = toPcap([f, ackF], ep, 128);
      const g = new DataView(file.buffer);
      expect(g.getUint32(0, true)).to.equal(0xa1b23c4d);
      expect(g.getUint32(24 + 8, true)).to.equal(128);          // captured
      expect(g.getUint32(24 + 12, true)).to.equal(66 + 1448);   // original length
      expect(file.length).to.equal(24 + 16 + 128 + 16 + 66);
    });
  });

  describe('state charts', () => {
    it('`xennet charts` writes Mermaid, SCXML, JSON and SVG for every actor kind', () => {
      const out = join(dir, 'charts');
      const r = xennet('charts', '--out', out);
      expect(r.status, r.stderr).to.equal(0);
      for (const c of allCharts()) {
        for (const ext of ['mmd', 'scxml', 'json', 'svg']) expect(existsSync(join(out, `${c.kind}.${ext}`)), `${c.kind}.${ext}`).to.equal(true);
        const svg = readFileSync(join(out, `${c.kind}.svg`), 'utf8');
        expect(svg.startsWith('<svg xmlns="http://www.w3.org/2000/svg"')).to.equal(true);
        // Every state of the machine is drawn, and every transition label appears.
        for (const s of allStates(c.root)) expect(svg).to.include(`data-id="${s.id}"`);
        for (const s of allStates(c.root)) for (const t of s.transitions) expect(svg).to.include(t.trigger.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;'));
        const mmd = readFileSync(join(out, `${c.kind}.mmd`), 'utf8');
        expect(mmd).to.match(/^---\ntitle: .*\n---\nstateDiagram-v2\n/);
        for (const s of allStates(c.root)) expect(mmd).to.include(`state "${s.key}" as `);
        const scxml = readFileSync(join(out, `${c.kind}.scxml`), 'utf8');
        expect(scxml).to.include('<scxml xmlns="http://www.w3.org/2005/07/scxml"');
        for (const s of allStates(c.root)) expect(scxml).to.include(`id="${s.id}"`);
      }
    });

    it('the JSON export is an xstate config that builds the same state tree', () => {
      const out = join(dir, 'charts');
      for (const c of allCharts()) {
        const j = JSON.parse(readFileSync(join(out, `${c.kind}.json`), 'utf8'));
        expect(j.kind).to.equal(c.kind);
        const m = createMachine(j.machine);
        const ids = (n: { id: string; states: Record<string, unknown> }): string[] =>
          [n.id, ...Object.values(n.states).flatMap((x) => ids(x as { id: string; states: Record<string, unknown> }))];
        expect(ids(m.root as never)).to.deep.equal(allStates(c.root).map((s) => s.id));
      }
    });

    it('`charts --json` prints every file written with its kind and machine, and the counts', () => {
      const out = join(dir, 'charts-json');
      const r = xennet('charts', '--out', out, '--json');
      expect(r.status, r.stderr).to.equal(0);
      const j = JSON.parse(r.stdout) as { out: string; files: Array<{ path: string; kind: string; machine: string }>; count: number; counts: Record<string, number>; machines: number };
      const kinds = allCharts().map((c) => c.kind);
      expect(j.out).to.equal(out);
      expect(j.machines).to.equal(kinds.length);
      expect(j.count).to.equal(4 * kinds.length);
      expect(j.counts).to.deep.equal({ mermaid: kinds.length, scxml: kinds.length, 'xstate-json': kinds.length, svg: kinds.length });
      expect(new Set(j.files.map((f) => f.machine))).to.deep.equal(new Set(kinds));
      for (const f of j.files) expect(existsSync(f.path), f.path).to.equal(true);
    });

    it('chart files are deterministic', async () => {
      const a = join(dir, 'charts-a'), b = join(dir, 'charts-b');
      const fa = await writeCharts(a);
      await writeCharts(b);
      for (const f of fa) expect(readFileSync(f, 'utf8')).to.equal(readFileSync(f.replace('charts-a', 'charts-b'), 'utf8'));
      expect(toMermaid(allCharts().find((c) => c.kind === 'nic')!)).to.include('--\n'); // parallel regions
    });
  });

  describe('run --trace / --pcap / --top', () => {
    const trace = join(dir, 'out', 'trace.json');
    const pcap = join(dir, 'out', 'wire.pcap');
    let plain: string;
    let inspected: ReturnType<typeof xennet>;

    before(() => {
      plain = xennet('run', guestTx, '--json').stdout;
      inspected = xennet('run', guestTx, '--json', '--trace', trace, '--pcap', pcap);
    });

    it('observing a run does not change it (same JSON, trace hash and event count)', () => {
      expect(inspected.status, inspected.stderr).to.equal(0);
      expect(inspected.stdout).to.equal(plain);
      expect(JSON.parse(plain)).to.not.have.property('top');
    });

    it('the trace is valid trace-event JSON with CPU, state, message and counter tracks', () => {
      const j = JSON.parse(readFileSync(trace, 'utf8'));
      const parsed = traceFileSchema.safeParse(j);
      expect(parsed.success, parsed.success ? '' : JSON.stringify(parsed.error.issues.slice(0, 3))).to.equal(true);
      // The schema has teeth: a complete event without a duration, or an unknown phase, is refused.
      expect(traceFileSchema.safeParse({ traceEvents: [{ name: 'a', ph: 'X', ts: 0, pid: 1, tid: 1 }] }).success).to.equal(false);
      expect(traceFileSchema.safeParse({ traceEvents: [{ name: 'a', ph: 'Q', ts: 0, pid: 1, tid: 1 }] }).success).to.equal(false);
      const evs = j.traceEvents as TraceEvent[];
      const names = (ph: string, pred: (e: TraceEvent) => boolean = () => true) => new Set(evs.filter((e) => e.ph === ph && pred(e)).map((e) => e.name));
      const threadNames = evs.filter((e) => e.ph === 'M' && e.name === 'thread_name').map((e) => (e.args as { name: string }).name);
      expect(threadNames).to.include.members(['CPU 0', 'messages', 'tx', 'irq', 'state']);
      // CPU track: slices named after the domains that ran.
      expect([...names('X', (e) => e.cat === 'cpu')].sort()).to.deep.equal(['dom0', 'domU1']);
      // State slices, message flows of each kind the issue asks for, and counters.
      expect(names('X', (e) => e.cat === 'state')).to.include.members(['running', 'active.runnable', 'active.running', 'idle', 'contextSwitch', 'inXen', 'sending', 'streaming', 'interdomain']);
      const cats = new Set(evs.filter((e) => e.ph === 's').map((e) => e.cat));
      expect([...cats]).to.include.members(['msg', 'wire', 'notify', 'irq', 'grant', 'flip']);
      expect(names('C')).to.include.members(['goodput Mb/s', 'CPU %', 'ops per ms', 'ring vif1.0', 'ring eth0']);
      // Every flow starts once and ends once; slices on one track nest (no partial overlap).
      const starts = evs.filter((e) => e.ph === 's').map((e) => (e as { id: number }).id);
      const ends = evs.filter((e) => e.ph === 'f').map((e) => (e as { id: number }).id);
      expect(new Set(starts).size).to.equal(starts.length);
      expect([...starts].sort((a, b) => a - b)).to.deep.equal([...ends].sort((a, b) => a - b));
      const byTrack = new Map<string, Array<[number, number]>>();
      for (const e of evs) if (e.ph === 'X') {
        const k = `${e.pid}/${e.tid}`;
        const list = byTrack.get(k) ?? [];
        list.push([Math.round(e.ts * 1000), Math.round((e.ts + e.dur) * 1000)]);
        byTrack.set(k, list);
      }
      for (const [k, xs] of byTrack) {
        xs.sort((a, b) => a[0] - b[0] || b[1] - a[1]);
        const open: number[] = [];
        for (const [a, b] of xs) {
          while (open.length && open[open.length - 1] <= a) open.pop();
          if (open.length) expect(b, `track ${k}`).to.be.at.most(open[open.length - 1]);
          open.push(b);
        }
      }
    });

    it('tshark reads the pcap: one frame per frame put on the wire, sequence numbers and checksums right', function () {
      if (!have('tshark', ['-v'])) { console.log('      (skipped: tshark is not installed; apt-get install tshark)'); this.skip(); }
      // What the run put on the wire, observed independently through the runtime's wire$ stream.
      const sc = loadScenario(guestTx);
      const b = build(sc);
      const end = Math.round((sc.run.warmupMs + sc.run.durationMs) * PS_PER_MS);
      const seen: Array<{ t: number; kind: string; seq: number }> = [];
      b.sys.wire$.subscribe(({ t, frame }) => { const p = frame as Packet; if (t <= end) seen.push({ t, kind: p.kind, seq: p.seq }); });
      runBuilt(b);
      b.sys.stop();
      const r = spawnSync('tshark', ['-r', pcap, '-o', 'ip.check_checksum:TRUE', '-T', 'fields', '-e', 'tcp.seq_raw', '-e', 'tcp.len', '-e', 'ip.checksum.status'], { encoding: 'utf8' });
      expect(r.status, r.stderr).to.equal(0);
      const rows = r.stdout.split('\n').filter(Boolean).map((l) => l.split('\t'));
      expect(seen.length, 'frames on the wire').to.be.greaterThan(100);
      expect(rows.length).to.equal(seen.length);
      expect(rows.every((x) => x[2] === '1'), 'IPv4 header checksums').to.equal(true);
      const order = seen.map((s, i) => ({ s, i })).sort((a, z) => a.s.t - z.s.t || a.i - z.i).map(({ s }) => s);
      const dataSeqs = order.filter((s) => s.kind === 'data').map((s) => String(s.seq >>> 0));
      const pcapDataSeqs = rows.filter((x) => Number(x[1]) > 0).map((x) => x[0]);
      expect(pcapDataSeqs).to.deep.equal(dataSeqs);
    });

    it('trace and pcap are byte-identical for the same scenario and seed', () => {
      const t2 = join(dir, 'out2', 'trace.json'), p2 = join(dir, 'out2', 'wire.pcap');
      const r = xennet('run', guestTx, '--trace', t2, '--pcap', p2);
      expect(r.status, r.stderr).to.equal(0);
      expect(readFileSync(t2).equals(readFileSync(trace))).to.equal(true);
      expect(readFileSync(p2).equals(readFileSync(pcap))).to.equal(true);
    });

    it('--top prints xentop tables and a per-domain summary before the usual report; --json gets a top key', () => {
      const r = xennet('run', guestRx, '--top', '2');
      expect(r.status, r.stderr).to.equal(0);
      const tables = r.stdout.split('\n').filter((l) => l.startsWith('xentop - '));
      expect(tables).to.have.length(4); // every 2 ms of 8 ms
      expect(r.stdout).to.match(/NAME\s+STATE\s+CPU\(sec\)\s+CPU\(%\)/);
      expect(r.stdout).to.match(/^domU1\s+(-----r|--b---|------)\s/m);
      expect(r.stdout).to.include('per-domain summary (xenalyze-style)');
      expect(r.stdout.indexOf('xentop - ')).to.be.below(r.stdout.indexOf('scenario small-guest-rx'));
      const j = JSON.parse(xennet('run', guestRx, '--top', '--json').stdout);
      expect(j.top.everyMs).to.equal(10);
      expect(j.top.domains.map((d: { name: string }) => d.name)).to.deep.equal(['dom0', 'domU1']);
      const plainJ = JSON.parse(xennet('run', guestRx, '--json').stdout);
      delete j.top;
      expect(j).to.deep.equal(plainJ);
    });

    it('an output path that cannot be written is a one-line error', () => {
      const blocker = join(dir, 'a-file');
      writeFileSync(blocker, 'x');
      for (const args of [['run', guestTx, '--trace', join(blocker, 't.json')], ['run', guestTx, '--pcap', join(blocker, 'p.pcap')], ['report', guestTx, '--out', join(blocker, 'r')], ['charts', '--out', join(blocker, 'c')]]) {
        const r = xennet(...args);
        expect(r.status, args.join(' ')).to.not.equal(0);
        expect(r.stderr.trim().split('\n'), args.join(' ')).to.have.length(1);
        expect(r.stderr).to.match(/^error: cannot write /);
      }
      const bad = xennet('run', guestTx, '--top', 'soon');
      expect(bad.status).to.not.equal(0);
      expect(bad.stderr.trim().split('\n')).to.have.length(1);
    });
  });

  describe('report', () => {
    const out = join(dir, 'report');

    it('is one self-contained, reproducible HTML file', () => {
      const r = xennet('report', guestTx, '--out', out);
      expect(r.status, r.stderr).to.equal(0);
      const html = readFileSync(join(out, 'index.html'), 'utf8');
      expect(html).to.not.match(/<script[^>]+src=|<link[^>]+href=|https?:\/\/(?!www\.w3\.org)/);
      // --json: what was written, as one JSON object.
      const r2 = xennet('report', guestTx, '--out', join(dir, 'report2'), '--json');
      expect(r2.status, r2.stderr).to.equal(0);
      expect(readFileSync(join(dir, 'report2', 'index.html'), 'utf8')).to.equal(html);
      const j = JSON.parse(r2.stdout);
      expect(j.out).to.equal(join(dir, 'report2'));
      expect(j.files).to.deep.equal([{ path: join(dir, 'report2', 'index.html'), kind: 'html', bytes: Buffer.byteLength(html) }]);
      expect(j.scenario).to.equal('small-guest-tx');
      expect(j.messages).to.be.greaterThan(0);
      expect(j.stateChanges).to.be.greaterThan(0);
    });

    it('in headless Chromium, moving the time slider changes the shown states to those the run had', async function () {
      const exe = chromiumPath();
      if (!exe) { console.log('      (skipped: chromium is not installed; apt-get install chromium)'); this.skip(); }
      if (!existsSync(join(out, 'index.html'))) xennet('report', guestTx, '--out', out);
      // The states the actors really had, from an independent recorded run.
      const sc = loadScenario(guestTx);
      const b = build(sc);
      const rec = new Recorder(b);
      rec.run();
      b.sys.stop();
      const expected = (actor: string, ps: number) => {
        let v = rec.initial.get(actor)!;
        for (const s of rec.states) if (s.actor === actor && s.t <= ps) v = s.value;
        return leafPaths(JSON.parse(v)).join(' ');
      };
      const { chromium } = await import('playwright-core');
      const browser = await chromium.launch({ executablePath: exe!, args: ['--no-sandbox'] });
      try {
        const page = await browser.newPage();
        const errors: string[] = [];
        page.on('pageerror', (e) => errors.push(String(e)));
        await page.goto('file://' + join(out, 'index.html'));
        const actors = ['dom0', 'domU1', 'eth0', 'client0'];
        const read = async () => Object.fromEntries(await Promise.all(actors.map(async (a) => [a, (await page.textContent(`#state-${a}`))!.trim()])));
        const max = Number(await page.getAttribute('#slider', 'max'));
        const seen: Array<Record<string, string>> = [];
        for (const frac of [0, 0.3, 0.55, 0.8, 1]) {
          const ns = Math.round(max * frac);
          if (frac === 1) { await page.focus('#slider'); await page.keyboard.press('End'); } // a real input event
          else await page.$eval('#slider', (el, v) => { (el as HTMLInputElement).value = String(v); el.dispatchEvent(new Event('input', { bubbles: true })); }, ns);
          const shown = await read();
          for (const a of actors) expect(shown[a], `${a} at ${ns} ns`).to.equal(expected(a, ns * 1000));
          seen.push(shown);
        }
        // The slider did change what is shown, and the chart highlights follow.
        expect(new Set(seen.map((s) => JSON.stringify(s))).size).to.be.greaterThan(1);
        expect(await page.$$eval('.chart[data-kind="domain"] g.state.active', (gs) => gs.map((g) => g.getAttribute('data-id')))).to.deep.equal([`domain.${seen[4].dom0}`]);
        // The message sequence shows messages around the chosen time.
        expect(await page.$$eval('#seq-svg g.seq-row', (r) => r.length)).to.be.greaterThan(5);
        // The exported SCXML is well-formed XML with every state (checked with the browser's XML parser).
        for (const c of allCharts()) {
          const xml = toScxml(c);
          const n = await page.evaluate((src) => {
            const d = new DOMParser().parseFromString(src, 'application/xml');
            if (d.getElementsByTagName('parsererror').length) return -1;
            return d.querySelectorAll('state, parallel, final').length;
          }, xml);
          expect(n, `${c.kind}.scxml`).to.equal(allStates(c.root).length);
        }
        expect(errors).to.deep.equal([]);
      } finally {
        await browser.close();
      }
    });
  });
});
