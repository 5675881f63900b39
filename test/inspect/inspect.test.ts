/**
 * Inspection: state-chart exports, trace-event files, pcapng, xentop, and the
 * HTML report (driven in headless Chromium). Small runs keep this quick.
 */
import { expect } from 'chai';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createMachine } from 'xstate';
import { loadScenario } from '../../src/scenario/schema.js';
import { build } from '../../src/scenario/build.js';
import { runBuilt } from '../../src/scenario/run.js';
import { PS_PER_MS } from '../../src/actors/scheduler.js';
import { traceFileSchema, type TraceEvent } from '../../src/inspect/trace-schema.js';
import { allCharts, writeCharts } from '../../src/inspect/charts.js';
import { allStates } from '../../src/inspect/chart-model.js';
import { toMermaid, toScxml } from '../../src/inspect/chart-export.js';
import { Recorder } from '../../src/inspect/recorder.js';
import { leafPaths } from '../../src/inspect/chart-model.js';
import { CAPTURE_EPOCH_S, handshake, isnOf, segmentHeader, segmentOf, toPcapngCapture, WSCALE, type Endpoints } from '../../src/inspect/pcap.js';
import type { Packet } from '../../src/core/packet.js';
import { xennet } from '../support/cli.js';

const cli = (...args: string[]) => xennet(args);
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

  describe('pcapng encoding', () => {
    const ep: Endpoints = { isServer: (a) => a.startsWith('eth'), nicOf: (f) => f % 4, domidOf: () => 1, bridged: true, nics: ['eth0', 'eth1', 'eth2', 'eth3'], serverSends: true, mss: 1448 };
    // RFC 1071: the one's-complement sum over a header including its checksum is 0xffff.
    const ok = (b: Uint8Array, from: number, to: number, acc = 0) => {
      for (let i = from; i < to; i += 2) acc += (b[i] << 8) | (b[i + 1] ?? 0);
      while (acc > 0xffff) acc = (acc & 0xffff) + (acc >>> 16);
      return acc === 0xffff;
    };
    const pseudo = (h: Uint8Array, tcpLen: number) => ((h[26] << 8) | h[27]) + ((h[28] << 8) | h[29]) + ((h[30] << 8) | h[31]) + ((h[32] << 8) | h[33]) + 6 + tcpLen;
    const f = { t: 5e9, from: 'eth1', to: 'client1', kind: 'data' as const, flow: 1, seq: 123456, len: 1448, ack: 0, wnd: 131072 };
    const ackF = { ...f, t: 6e9, from: 'client1', to: 'eth1', kind: 'ack' as const, len: 0, ack: 124904 };

    it('synthesizes Ethernet/IPv4/TCP headers with valid checksums, the model\'s lengths, and sequence numbers offset by the handshake', () => {
      const s = segmentOf(f, ep);
      const { header: h, frameLen } = segmentHeader(s, ep, 7);
      expect(frameLen).to.equal(66 + 1448);
      expect([h[12], h[13]]).to.deep.equal([0x08, 0x00]);
      expect((h[16] << 8) | h[17]).to.equal(20 + 32 + 1448); // IP total length
      expect(ok(h, 14, 34)).to.equal(true);
      const dv = new DataView(h.buffer);
      // Data byte n of the model's stream is ISN+1+n; the ACK of k bytes acknowledges ISN+1+k.
      expect(dv.getUint32(34 + 4)).to.equal((isnOf(1, true) + 1 + 123456) >>> 0);
      expect(dv.getUint32(34 + 8)).to.equal((isnOf(1, false) + 1) >>> 0);
      expect(dv.getUint16(34 + 14)).to.equal(131072 >> WSCALE);
      expect(ok(h, 34, 66, pseudo(h, 32 + 1448))).to.equal(true);
      const a = segmentHeader(segmentOf(ackF, ep), ep, 1);
      expect(a.frameLen).to.equal(66);
      expect(new DataView(a.header.buffer).getUint32(34 + 4)).to.equal((isnOf(1, false) + 1) >>> 0);
      expect(new DataView(a.header.buffer).getUint32(34 + 8)).to.equal((isnOf(1, true) + 1 + 124904) >>> 0);
      // The handshake: SYN from the data sender, SYN-ACK, ACK, each announcing MSS (with the timestamp option's 12 bytes) and scale.
      const hs = handshake(1, 1, f.t, ep);
      expect(hs.map((x) => [x.fromServer, x.flags, x.t])).to.deep.equal([[true, 0x02, f.t - 3e6], [false, 0x12, f.t - 2e6], [true, 0x10, f.t - 1e6]]);
      const syn = segmentHeader(hs[0], ep, 1).header;
      expect(syn[34 + 12] >> 4).to.equal(10); // 40-byte TCP header
      expect([...syn.subarray(54, 62)]).to.deep.equal([2, 4, 1460 >> 8, 1460 & 0xff, 1, 3, 3, WSCALE]);
      expect(ok(syn, 34, 74, pseudo(syn, 40))).to.equal(true);
    });

    it('a pcapng section: one interface per link (name, ns resolution), packets naming their interface, timestamps from the fixed epoch', () => {
      const file = toPcapngCapture([f, ackF], ep, 128);
      const dv = new DataView(file.buffer);
      const blocks: Array<{ type: number; at: number; len: number }> = [];
      for (let o = 0; o < file.length;) {
        const len = dv.getUint32(o + 4, true);
        expect(len % 4).to.equal(0);
        expect(dv.getUint32(o + len - 4, true), 'trailing length').to.equal(len);
        blocks.push({ type: dv.getUint32(o, true), at: o, len });
        o += len;
      }
      expect(dv.getUint32(8, true)).to.equal(0x1a2b3c4d);
      expect(blocks.map((b) => b.type)).to.deep.equal([0x0a0d0d0a, 1, 1, 1, 1, 6, 6, 6, 6, 6]); // SHB, 4 IDBs, handshake + 2 frames
      const text = new TextDecoder().decode(file);
      for (let i = 0; i < 4; i++) expect(text).to.include(`nic${i}-wire`);
      const epbs = blocks.filter((b) => b.type === 6);
      expect(epbs.map((b) => dv.getUint32(b.at + 8, true))).to.deep.equal([1, 1, 1, 1, 1]); // all on eth1's link
      const ts = (b: { at: number }) => (BigInt(dv.getUint32(b.at + 12, true)) << 32n) | BigInt(dv.getUint32(b.at + 16, true));
      expect(ts(epbs[3])).to.equal(BigInt(CAPTURE_EPOCH_S) * 1_000_000_000n + 5_000_000n); // 5e9 ps = 5 ms
      expect(new Date(CAPTURE_EPOCH_S * 1000).toISOString()).to.equal('2006-05-30T00:00:00.000Z');
      expect(dv.getUint32(epbs[3].at + 20, true)).to.equal(128);       // captured
      expect(dv.getUint32(epbs[3].at + 24, true)).to.equal(66 + 1448); // original length
    });
  });

  describe('state charts', () => {
    it('`xennet charts` writes Mermaid, SCXML, JSON and SVG for every actor kind', () => {
      const out = join(dir, 'charts');
      const r = cli('charts', '--out', out);
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
      const r = cli('charts', '--out', out, '--json');
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
    const pcap = join(dir, 'out', 'wire.pcapng');
    let plain: string;
    let inspected: ReturnType<typeof xennet>;

    before(() => {
      plain = cli('run', guestTx, '--json').stdout;
      inspected = cli('run', guestTx, '--json', '--trace', trace, '--pcap', pcap);
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

    /** What a run put on the wire, observed independently through the runtime's wire$ stream, in wire order. */
    function wireOf(file: string) {
      const sc = loadScenario(file);
      const b = build(sc);
      const end = Math.round((sc.run.warmupMs + sc.run.durationMs) * PS_PER_MS);
      const seen: Array<{ t: number; nic: string; kind: string; flow: number; seq: number; ack: number; len: number }> = [];
      const nics = new Set(b.nics.map((n) => n.name));
      b.sys.wire$.subscribe(({ t, from, to, frame }) => {
        const p = frame as Packet;
        if (t <= end) seen.push({ t, nic: nics.has(from) ? from : to, kind: p.kind, flow: p.flow, seq: p.seq, ack: p.ack, len: p.len });
      });
      runBuilt(b);
      b.sys.stop();
      return { nics: b.nics.map((n) => n.name), seen: seen.map((s, i) => ({ s, i })).sort((a, z) => a.s.t - z.s.t || a.i - z.i).map(({ s }) => s) };
    }
    const tsharkRows = (file: string, ...fields: string[]) => {
      const r = spawnSync('tshark', ['-r', file, '-o', 'ip.check_checksum:TRUE', '-o', 'tcp.check_checksum:TRUE', '-T', 'fields', ...fields.flatMap((f) => ['-e', f])], { encoding: 'utf8', maxBuffer: 1 << 28 });
      expect(r.status, r.stderr).to.equal(0);
      return r.stdout.split('\n').filter(Boolean).map((l) => l.split('\t'));
    };
    /** tshark's expert summary: the severities present (Errors, Warns, Notes, Chats) and the TCP analysis flags raised. */
    const expert = (file: string) => {
      const r = spawnSync('tshark', ['-r', file, '-q', '-z', 'expert'], { encoding: 'utf8', maxBuffer: 1 << 28 });
      expect(r.status, r.stderr).to.equal(0);
      return { severities: [...r.stdout.matchAll(/^(Errors|Warns|Notes|Chats) \(\d+\)/gm)].map((m) => m[1]), text: r.stdout };
    };
    const FIELDS = ['frame.interface_id', 'frame.interface_name', 'ip.src', 'tcp.stream', 'tcp.flags', 'tcp.seq', 'tcp.ack', 'tcp.len', 'tcp.options.mss_val', 'tcp.options.wscale.shift', 'tcp.window_size_scalefactor', 'ip.checksum.status', 'tcp.checksum.status', 'tcp.analysis.flags'];

    function checkCapture(file: string, wire: ReturnType<typeof wireOf>, dataFromServer: boolean) {
      const rows = tsharkRows(file, ...FIELDS).map((x) => Object.fromEntries(FIELDS.map((f, i) => [f, x[i] ?? ''])));
      const { seen, nics } = wire;
      const flows = new Set(seen.map((s) => s.flow));
      expect(seen.length, 'frames on the wire').to.be.greaterThan(100);
      expect(rows.length, 'every frame, and three handshake frames per flow').to.equal(seen.length + 3 * flows.size);
      expect(rows.every((x) => x['ip.checksum.status'] === '1'), 'IPv4 checksums').to.equal(true);
      // TCP checksums: verified where the whole segment is captured (no payload); data cut at the snap length cannot be.
      expect(rows.every((x) => x['tcp.checksum.status'] === (x['tcp.len'] === '0' ? '1' : '2')), 'TCP checksums').to.equal(true);
      // One interface per link, named after it; every frame on the interface of the NIC it crossed.
      expect([...new Set(rows.map((x) => x['frame.interface_name']))].sort()).to.deep.equal(nics.map((_, i) => `nic${i}-wire`));
      // Each connection opens with SYN (MSS 1460, scale 7), SYN-ACK, ACK; Wireshark then scales windows by 128.
      const streams = new Map<string, typeof rows>();
      for (const x of rows) (streams.get(x['tcp.stream']) ?? streams.set(x['tcp.stream'], []).get(x['tcp.stream'])!).push(x);
      expect(streams.size).to.equal(flows.size);
      for (const [, st] of streams) {
        expect(st.slice(0, 3).map((x) => x['tcp.flags'])).to.deep.equal(['0x0002', '0x0012', '0x0010']);
        // The data sender connects (netperf): the server side (10.0.n.1x) on transmit, the client (10.0.n.2) on receive.
        expect(st[0]['ip.src'].endsWith('.2'), `SYN from ${st[0]['ip.src']}`).to.equal(!dataFromServer);
        expect(st.slice(0, 2).map((x) => [x['tcp.options.mss_val'], x['tcp.options.wscale.shift']])).to.deep.equal([['1460', '7'], ['1460', '7']]);
        expect(st.slice(3).every((x) => x['tcp.window_size_scalefactor'] === '128')).to.equal(true);
      }
      // The rest, frame for frame: the model's frames in wire order, each on its link, with Wireshark's
      // relative numbers one past the model's byte counts (the SYN took one) in both directions.
      const rest = rows.filter((x) => x['tcp.flags'] !== '0x0002' && x['tcp.flags'] !== '0x0012');
      const handshakeAcks = new Set<string>();
      const frames = rest.filter((x) => {
        if (x['tcp.flags'] === '0x0010' && x['tcp.seq'] === '1' && x['tcp.ack'] === '1' && !handshakeAcks.has(x['tcp.stream'])) { handshakeAcks.add(x['tcp.stream']); return false; }
        return true;
      });
      expect(frames.length).to.equal(seen.length);
      frames.forEach((x, i) => {
        const s = seen[i];
        expect(x['frame.interface_id'], `frame ${i} link`).to.equal(String(nics.indexOf(s.nic)));
        if (s.kind === 'data') expect([x['tcp.seq'], x['tcp.len'], x['tcp.ack']], `data frame ${i}`).to.deep.equal([String(s.seq + 1), String(s.len), '1']);
        else expect([x['tcp.seq'], x['tcp.len'], x['tcp.ack']], `ack frame ${i}`).to.deep.equal(['1', '0', String(s.ack + 1)]);
      });
      return rows;
    }

    it('tshark reads the pcapng: one interface per link, a handshake per flow, every frame with consistent numbers, no analysis warnings', function () {
      if (!have('tshark', ['-v'])) { console.log('      (skipped: tshark is not installed; apt-get install tshark)'); this.skip(); }
      const rows = checkCapture(pcap, wireOf(guestTx), true);
      // A clean transmit run: Wireshark's TCP analysis flags nothing at all.
      expect(rows.filter((x) => x['tcp.analysis.flags'] !== '').length, 'frames with TCP analysis flags').to.equal(0);
      const ex = expert(pcap);
      expect(ex.severities, ex.text).to.deep.equal(['Chats']); // the handshakes' "connection establish" notes only
      expect(ex.text).to.match(/Connection establish request \(SYN\)/);
    });

    it('receive direction: the clients open the connections and the server\'s ACKs match their data; no warnings', function () {
      if (!have('tshark', ['-v'])) { console.log('      (skipped: tshark is not installed; apt-get install tshark)'); this.skip(); }
      const file = join(dir, 'out', 'rx.pcapng');
      const r = cli('run', guestRx, '--pcap', file);
      expect(r.status, r.stderr).to.equal(0);
      expect(r.stderr).to.match(/wrote pcapng \(\d+ frames, 4 links\)/);
      checkCapture(file, wireOf(guestRx), false);
      const ex = expert(file);
      expect(ex.severities.filter((s) => s === 'Errors' || s === 'Warns'), ex.text).to.deep.equal([]);
      // The only analysis notes are window updates: the receiving application reading opens the window.
      const flagged = tsharkRows(file, 'tcp.analysis.window_update', 'tcp.analysis.flags').filter((x) => x[1] !== '');
      expect(flagged.every((x) => x[0] !== ''), 'every analysis flag is a window update').to.equal(true);
    });

    it('trace and pcap are byte-identical for the same scenario and seed', () => {
      const t2 = join(dir, 'out2', 'trace.json'), p2 = join(dir, 'out2', 'wire.pcapng');
      const r = cli('run', guestTx, '--trace', t2, '--pcap', p2);
      expect(r.status, r.stderr).to.equal(0);
      expect(readFileSync(t2).equals(readFileSync(trace))).to.equal(true);
      expect(readFileSync(p2).equals(readFileSync(pcap))).to.equal(true);
    });

    it('--top prints xentop tables and a per-domain summary before the usual report; --json gets a top key', () => {
      const r = cli('run', guestRx, '--top', '2');
      expect(r.status, r.stderr).to.equal(0);
      const tables = r.stdout.split('\n').filter((l) => l.startsWith('xentop - '));
      expect(tables).to.have.length(4); // every 2 ms of 8 ms
      expect(r.stdout).to.match(/NAME\s+STATE\s+CPU\(sec\)\s+CPU\(%\)/);
      expect(r.stdout).to.match(/^domU1\s+(-----r|--b---|------)\s/m);
      expect(r.stdout).to.include('per-domain summary (xenalyze-style)');
      expect(r.stdout.indexOf('xentop - ')).to.be.below(r.stdout.indexOf('scenario small-guest-rx'));
      const j = JSON.parse(cli('run', guestRx, '--top', '--json').stdout);
      expect(j.top.everyMs).to.equal(10);
      expect(j.top.domains.map((d: { name: string }) => d.name)).to.deep.equal(['dom0', 'domU1']);
      const plainJ = JSON.parse(cli('run', guestRx, '--json').stdout);
      delete j.top;
      expect(j).to.deep.equal(plainJ);
    });

    it('an output path that cannot be written is a one-line error', () => {
      const blocker = join(dir, 'a-file');
      writeFileSync(blocker, 'x');
      for (const args of [['run', guestTx, '--trace', join(blocker, 't.json')], ['run', guestTx, '--pcap', join(blocker, 'p.pcap')], ['report', guestTx, '--out', join(blocker, 'r')], ['charts', '--out', join(blocker, 'c')]]) {
        const r = xennet(args);
        expect(r.status, args.join(' ')).to.not.equal(0);
        expect(r.stderr.trim().split('\n'), args.join(' ')).to.have.length(1);
        expect(r.stderr).to.match(/^error: cannot write /);
      }
      const bad = cli('run', guestTx, '--top', 'soon');
      expect(bad.status).to.not.equal(0);
      expect(bad.stderr.trim().split('\n')).to.have.length(1);
    });
  });

  describe('report', () => {
    const out = join(dir, 'report');

    it('is one self-contained, reproducible HTML file, with the run\'s files beside it', function () {
      this.timeout(180_000); // two reports and two runs, on a loaded 2-core machine
      const r = cli('report', guestTx, '--out', out);
      expect(r.status, r.stderr).to.equal(0);
      const html = readFileSync(join(out, 'index.html'), 'utf8');
      // The vega runtime is inline; apart from it, the page refers to nothing on the network.
      const runtime = /<script id="vega-runtime">([\s\S]*?)<\/script>/.exec(html);
      expect(runtime && runtime[1].length, 'inline vega runtime').to.be.greaterThan(100_000);
      expect(html.replace(runtime![0], '')).to.not.match(/<script[^>]+src=|<link[^>]+href=|https?:\/\/(?!www\.w3\.org)/);
      // --json: what was written, as one JSON object.
      const r2 = cli('report', guestTx, '--out', join(dir, 'report2'), '--json');
      expect(r2.status, r2.stderr).to.equal(0);
      expect(readFileSync(join(dir, 'report2', 'index.html'), 'utf8')).to.equal(html);
      const j = JSON.parse(r2.stdout);
      expect(j.out).to.equal(join(dir, 'report2'));
      const names = ['index.html', 'result.json', 'runs.csv', 'breakdown.csv', 'trace.json', 'wire.pcapng'];
      expect(j.files.map((f: { path: string; kind: string }) => [f.path, f.kind])).to.deep.equal(
        names.map((n, i) => [join(dir, 'report2', n), ['html', 'result-json', 'runs-csv', 'breakdown-csv', 'trace', 'pcapng'][i]]));
      // Reproducible, but for the wall time result.json records.
      const noWall = (b: Buffer) => b.toString('utf8').replace(/\n\s*"wallTimeS": [\d.]+,/, '');
      for (const f of j.files as Array<{ path: string; bytes: number }>) {
        expect(readFileSync(f.path).length, f.path).to.equal(f.bytes);
        expect(noWall(readFileSync(f.path)) === noWall(readFileSync(join(out, f.path.slice(join(dir, 'report2').length + 1)))), `${f.path} reproducible`).to.equal(true);
      }
      expect(j.scenario).to.equal('small-guest-tx');
      expect(j.messages).to.be.greaterThan(0);
      expect(j.stateChanges).to.be.greaterThan(0);
      // The run's files are the run's: its result is what `run --json` prints, the CSV adds up to its cycles per packet,
      // the trace validates and the capture is a pcapng section.
      // The result files are those of `run --out` for the same scenario, byte for byte but the wall time.
      const res = JSON.parse(readFileSync(join(out, 'result.json'), 'utf8')).runs[0].result;
      expect(res).to.deep.equal(JSON.parse(cli('run', guestTx, '--json').stdout));
      const runOut = join(dir, 'report-run-out');
      expect(cli('run', guestTx, '--out', runOut).status).to.equal(0);
      for (const f of ['result.json', 'runs.csv', 'breakdown.csv']) {
        expect(noWall(readFileSync(join(out, f))), `${f} as run --out writes it`).to.equal(noWall(readFileSync(join(runOut, f))));
      }
      const csv = readFileSync(join(out, 'breakdown.csv'), 'utf8').trim().split('\n');
      expect(csv[0]).to.equal('index,id,account,category,cyclesPerPacket');
      const sum = csv.slice(1).reduce((a, l) => a + Number(l.split(',')[4]), 0);
      expect(sum).to.be.closeTo(res.cyclesPerPacket.total, csv.length * 0.1);
      expect(traceFileSchema.safeParse(JSON.parse(readFileSync(join(out, 'trace.json'), 'utf8'))).success).to.equal(true);
      expect(readFileSync(join(out, 'wire.pcapng')).readUInt32LE(0)).to.equal(0x0a0d0d0a);
    });

    it('in headless Chromium: the slider shows the states the run had; every plot renders, follows the slider and zooms; the file links resolve', async function () {
      const exe = chromiumPath();
      if (!exe) { console.log('      (skipped: chromium is not installed; apt-get install chromium)'); this.skip(); }
      if (!existsSync(join(out, 'index.html'))) cli('report', guestTx, '--out', out);
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
        // Every plot rendered: an SVG with marks drawn from data, and the legends say what the lines are.
        const plots = ['plot-tput', 'plot-cpu', 'plot-breakdown', 'plot-rings', 'plot-nic-rings', 'plot-drops', 'plot-notify'];
        expect(await page.$$eval('.vega-plot', (els) => els.map((e) => e.id))).to.deep.equal(plots);
        await page.waitForFunction((n) => document.querySelectorAll('.vega-plot[data-rendered="true"]').length === n, plots.length, { timeout: 30_000 });
        for (const id of plots) {
          // Time plots: a line per series; the breakdown: a bar per domain and component group.
          const sel = id === 'plot-breakdown' ? '.mark-rect.role-mark path' : '.mark-line.role-mark path';
          const marks = await page.$$eval(`#${id} svg ${sel}`, (ps) => ps.filter((p) => (p.getAttribute('d') ?? '').length > 4).length);
          expect(marks, `${id}: marks drawn`).to.be.at.least(id === 'plot-breakdown' ? 9 : id === 'plot-tput' || id === 'plot-drops' ? 1 : 3);
        }
        const legend = (id: string) => page.$$eval(`#${id} svg .role-legend-label text`, (ts) => ts.map((t) => t.textContent));
        expect(await legend('plot-rings')).to.include.members(['vif1.0', 'TX requests outstanding', 'RX buffers posted']);
        expect(await legend('plot-nic-rings')).to.include.members(['eth0', 'eth3', 'TX slots in use']);
        expect(await legend('plot-notify')).to.deep.equal(['notifications sent', 'notifications suppressed', 'upcalls', 'interrupts']);
        expect(await legend('plot-drops')).to.include('total');
        expect(await legend('plot-breakdown')).to.include.members(['TCP/IP stack', 'copies', 'grant/page ops']);
        expect(await page.$$eval('#plot-breakdown svg .role-axis-label text', (ts) => ts.map((t) => t.textContent))).to.include.members(['dom0', 'domU1', 'xen']);
        // The cursor follows the slider.
        const cursorX = () => page.$eval('#plot-cpu svg .mark-rule.role-mark line', (l) => l.getAttribute('transform'));
        await page.$eval('#slider', (el) => { (el as HTMLInputElement).value = '1000000'; el.dispatchEvent(new Event('input', { bubbles: true })); });
        await page.waitForTimeout(100);
        const at1 = await cursorX();
        await page.$eval('#slider', (el) => { (el as HTMLInputElement).value = '6000000'; el.dispatchEvent(new Event('input', { bubbles: true })); });
        await page.waitForTimeout(100);
        expect(await cursorX()).to.not.equal(at1);
        // Zoom: the mouse wheel over a time plot narrows its time axis.
        const ticks = () => page.$$eval('#plot-tput svg .role-axis-label text', (ts) => ts.map((t) => t.textContent).join(' '));
        const before = await ticks();
        const svgEl = (await page.$('#plot-tput svg'))!;
        await svgEl.scrollIntoViewIfNeeded();
        const box = (await svgEl.boundingBox())!;
        await page.mouse.move(box.x + box.width / 2, box.y + box.height / 2);
        await page.mouse.wheel(0, -400);
        await page.waitForFunction((b) => [...document.querySelectorAll('#plot-tput svg .role-axis-label text')].map((t) => t.textContent).join(' ') !== b, before, { timeout: 10_000 });
        expect(await ticks()).to.not.equal(before);
        // The download links point at the files written beside the page.
        const links = await page.$$eval('a.download', (as) => as.map((a) => a.getAttribute('href')!));
        expect(links).to.deep.equal(['result.json', 'runs.csv', 'breakdown.csv', 'trace.json', 'wire.pcapng']);
        for (const l of links) expect(existsSync(join(out, l)), l).to.equal(true);
        expect(errors).to.deep.equal([]);
      } finally {
        await browser.close();
      }
    });
  });
});
