/**
 * The store-and-forward switch against scripted stations: frames are put on
 * the switch's ports at chosen times (putOnWire, as a NIC would) and what the
 * switch puts on its cables is recorded at the far ends.
 */
import { expect } from 'chai';
import fc from 'fast-check';
import { setup } from 'xstate';
import { ActorSystem, stateValue, type Interpreter } from '../../src/actors/runtime.js';
import { PS_PER_US, type Ps } from '../../src/actors/scheduler.js';
import { newCounters, type Counters } from '../../src/model/counters.js';
import { cable, FlowMacs, putOnWire, UNCABLED, type Mac, type PortRef } from '../../src/hardware/link.js';
import type { SwitchConfig, SwitchModel, SwitchPortConfig } from '../../src/hardware/switch.js';
import { createSwitch } from '../../src/toolstack/switch.js';
import type { Packet } from '../../src/core/packet.js';

/** A station only receives; what reaches it is read off the message stream. */
const station = setup({}).createMachine({ id: 'station', initial: 'up', states: { up: {} } });
const mac = (i: number): Mac => 0x02_00_00_00_01_00 + i;

interface Got { t: Ps; to: string; pkt: Packet }

class Station {
  far: PortRef = UNCABLED;
  constructor(readonly name: string) {}
  plug(_port: number, far: PortRef): void { this.far = far; }
}

let nextId = 1;
/** A frame of `flow`; `reply`: sent by the flow's `to` end (default: an ACK is, data is not, as in a stream). */
function frame(flow: number, kind: 'data' | 'ack', len: number, seq = 0, reply = kind === 'ack'): Packet {
  return { id: nextId++, flow, reply, kind, seq, len, ack: kind === 'ack' ? seq : 0, wnd: 65535, mss: 1448, csum: 'done', frames: [], owner: -1, cold: undefined, release: undefined, data: undefined };
}

/**
 * `n` stations h0..h(n-1), station i cabled to switch port i (ports listed in `cabled`, default all);
 * `after`: stations spawned after the switch (higher rank), the others before it.
 */
function rig(ports: SwitchPortConfig[], opts: { forwardUs?: number; fdb?: SwitchConfig['fdb']; cabled?: number[]; after?: number[]; interpreter?: Interpreter } = {}) {
  const sys = new ActorSystem(1, opts.interpreter);
  const counters: Counters = newCounters();
  const macs = new FlowMacs();
  const after = new Set(opts.after ?? []);
  const names = ports.map((_, i) => `h${i}`);
  for (const n of names) if (!after.has(names.indexOf(n))) sys.spawn(n, 'station', station, {});
  const cfg: SwitchConfig = { ports, forwardUs: opts.forwardUs ?? 1, fdb: opts.fdb ?? { kind: 'learning' } };
  const sw = createSwitch(sys, 'sw0', cfg, macs, counters);
  for (const i of after) sys.spawn(names[i], 'station', station, {});
  const stations = names.map((n) => new Station(n));
  for (const i of opts.cabled ?? ports.map((_, k) => k)) cable(stations[i], 0, sw, i);
  const got: Got[] = [];
  sys.messages$.subscribe((m) => { if (m.type === 'WIRE_RX' && m.from === 'sw0') got.push({ t: m.t, to: m.to, pkt: (m.msg as unknown as { pkt: Packet }).pkt }); });
  /** Station i's frame `p` has arrived whole at its switch port at time `at`. */
  const arrive = (i: number, p: Packet, at: Ps) => putOnWire(sys, names[i], stations[i].far, p, `${p.kind}:${p.flow}:${p.seq}`, at, at - sys.sched.now);
  return { sys, sw, macs, counters, got, arrive, run: (until: Ps) => sys.sched.run(until) };
}

const port = (mbps: number, queueBytes = 1 << 20, latencyUs = 0): SwitchPortConfig => ({ mbps, queueBytes, latencyUs });
const gig = (n: number, queueBytes?: number, latencyUs?: number) => Array.from({ length: n }, () => port(1000, queueBytes, latencyUs));
const sumDrops = (c: Counters) => Object.values(c.drops).reduce((a, b) => a + b, 0);

describe('switch: a store-and-forward Ethernet switch', () => {
  it('floods a frame for an unknown destination to every other cabled port, never back, and learns its source', () => {
    // Port 4 has no cable.
    const r = rig(gig(5), { cabled: [0, 1, 2, 3] });
    r.macs.set(1, mac(0), mac(1));
    const p = frame(1, 'data', 1000);
    r.arrive(0, p, PS_PER_US);
    r.run(1000 * PS_PER_US);
    expect(r.got.map((g) => g.to).sort()).to.deep.equal(['h1', 'h2', 'h3']);
    // One frame in, three out: two copies beyond the original, counted as split units of the ledger.
    expect(r.sw.floodCopies).to.equal(2);
    expect(r.counters.pkt.split).to.equal(2);
    expect(r.counters.wire.arrived).to.equal(1);
    expect(r.counters.wire.sent).to.equal(3);
    // Each copy is its own object with the frame's fields.
    expect(new Set(r.got.map((g) => g.pkt)).size).to.equal(3);
    for (const g of r.got) expect([g.pkt.flow, g.pkt.seq, g.pkt.len, g.pkt.kind]).to.deep.equal([1, 0, 1000, 'data']);
    expect(r.sw.fdb.get(mac(0))).to.equal(0);
    expect(r.sw.fdb.has(mac(1))).to.equal(false);
  });

  it('learns where each station is, then forwards unicast only to that port', () => {
    const r = rig(gig(4));
    r.macs.set(7, mac(0), mac(2)); // flow 7: data h0 -> h2, ACKs h2 -> h0
    r.arrive(0, frame(7, 'data', 1448), 10 * PS_PER_US);   // h2 unknown: flooded (and h0 learnt on port 0)
    r.arrive(2, frame(7, 'ack', 0, 1448), 100 * PS_PER_US); // to h0, known: unicast (and h2 learnt on port 2)
    r.arrive(0, frame(7, 'data', 1448, 1448), 200 * PS_PER_US); // h2 now known: unicast
    r.run(1000 * PS_PER_US);
    const at = (from: Ps, to: Ps) => r.got.filter((g) => g.t >= from && g.t < to).map((g) => g.to).sort();
    expect(at(0, 100 * PS_PER_US)).to.deep.equal(['h1', 'h2', 'h3']);
    expect(at(100 * PS_PER_US, 200 * PS_PER_US)).to.deep.equal(['h0']);
    expect(at(200 * PS_PER_US, 1000 * PS_PER_US)).to.deep.equal(['h2']);
    expect([...r.sw.fdb.entries()].sort()).to.deep.equal([[mac(0), 0], [mac(2), 2]]);
    expect(stateValue(r.sys.entry('sw0').actor)).to.deep.equal({ fdb: 'learning', frames: 'idle' });
  });

  it('addresses a frame by the end that sent it, whatever it carries: a request/response flow sends data both ways', () => {
    for (const fdb of ['learning', 'static'] as const) {
      const r = rig(gig(4), fdb === 'static' ? { fdb: { kind: 'static', table: new Map([[mac(0), 0], [mac(2), 2]]) } } : {});
      r.macs.set(5, mac(0), mac(2)); // flow 5: netperf on h0, netserver on h2
      r.arrive(0, frame(5, 'data', 1), 10 * PS_PER_US);               // a request from h0
      r.arrive(2, frame(5, 'data', 1, 0, true), 100 * PS_PER_US);     // h2's response (with its ACK): data, from the answering end
      r.arrive(0, frame(5, 'ack', 0, 1, false), 200 * PS_PER_US);     // h0 acknowledges the response
      r.arrive(0, frame(5, 'data', 1, 1), 300 * PS_PER_US);           // the next request
      r.run(1000 * PS_PER_US);
      const at = (from: number, to: number) => r.got.filter((g) => g.t >= from * PS_PER_US && g.t < to * PS_PER_US).map((g) => g.to).sort();
      // Learning: the first request is flooded; then every frame goes to the other end only.
      expect(at(0, 100), fdb).to.deep.equal(fdb === 'learning' ? ['h1', 'h2', 'h3'] : ['h2']);
      expect([at(100, 200), at(200, 300), at(300, 1000)], fdb).to.deep.equal([['h0'], ['h2'], ['h2']]);
      expect([...r.sw.fdb.entries()].sort(), fdb).to.deep.equal([[mac(0), 0], [mac(2), 2]]);
      expect(sumDrops(r.counters), fdb).to.equal(0);
    }
  });

  it('a static table forwards by its entries only: no learning, and an unknown destination is dropped, not flooded', () => {
    const table = new Map([[mac(0), 0], [mac(1), 1], [mac(2), 2]]);
    const r = rig(gig(4), { fdb: { kind: 'static', table } });
    r.macs.set(1, mac(3), mac(1)); // h3 -> h1: h3 is in no table entry
    r.macs.set(2, mac(1), mac(9)); // to an address nobody has
    r.macs.set(3, mac(1), mac(0)); // claims h1's address but comes in on port 2
    r.arrive(3, frame(1, 'data', 500), 10 * PS_PER_US);
    r.arrive(0, frame(2, 'data', 500), 20 * PS_PER_US);
    r.arrive(2, frame(3, 'data', 500), 30 * PS_PER_US);
    r.arrive(0, frame(3, 'ack', 0), 40 * PS_PER_US); // to h1's address: still port 1, as the table says
    r.run(1000 * PS_PER_US);
    expect(r.got.map((g) => [g.to, g.pkt.flow, g.pkt.kind])).to.deep.equal([['h1', 1, 'data'], ['h0', 3, 'data'], ['h1', 3, 'ack']]);
    expect(r.counters.drops).to.deep.equal({ 'switch-no-entry': 1 });
    expect(r.sw.fdb.has(mac(3))).to.equal(false);
    expect(r.sw.fdb.get(mac(1))).to.equal(1);
    expect(stateValue(r.sys.entry('sw0').actor)).to.deep.equal({ fdb: 'static', frames: 'idle' });
  });

  it('sends an output queue back to back at the port\'s line rate: the last bit leaves bytes*8/rate after the previous one', () => {
    // Three frames arrive together for a 100 Mb/s port; the 10 Gb/s ingress does not matter once they are in.
    const fwdUs = 2, cableUs = 5;
    const r = rig([port(10_000), port(100, 1 << 20, cableUs)], { forwardUs: fwdUs, fdb: { kind: 'static', table: new Map([[mac(1), 1]]) } });
    r.macs.set(1, mac(0), mac(1));
    const t0 = 3 * PS_PER_US;
    const lens = [1448, 0, 700];
    for (const [k, len] of lens.entries()) r.arrive(0, frame(1, 'data', len, k), t0);
    r.run(10_000 * PS_PER_US);
    // On the line a frame is 14 (Ethernet) + 20 (IP) + 32 (TCP with timestamps) header bytes plus payload,
    // plus 24 (preamble 8, FCS 4, gap 12); a 100 Mb/s line takes 80 ns a byte.
    const lineBytes = lens.map((len) => 14 + 20 + 32 + len + 24);
    let end = t0 + fwdUs * PS_PER_US;
    const expected = lineBytes.map((b) => { end += (b * 8 * 1e12) / 100e6; return end + cableUs * PS_PER_US; });
    expect(r.got.map((g) => g.t)).to.deep.equal(expected);
    expect(r.got.map((g) => g.pkt.len)).to.deep.equal(lens);
    const [, out] = r.sw.portStats(r.sys.sched.now);
    expect(out.framesOut).to.equal(3);
    expect(out.bytesOut).to.equal(lineBytes.reduce((a, b) => a + b - 24, 0));
    // All three sat in the buffer together before the first had gone.
    expect(out.highWaterBytes).to.equal(out.bytesOut);
  });

  it('8-to-1 incast overflows the output port: the drops are what its byte limit allows, the rest go out in order', function () {
    // Eight stations each send k full frames back to back at 1 Gb/s toward h8 on a 1 Gb/s port whose buffer
    // holds C whole frames (the one being sent included): 10 frames' bytes and a bit, not 11.
    const k = 20, frameBytes = 1514, C = 10;
    const T = ((frameBytes + 24) * 8 * 1e12) / 1e9; // one frame time at 1 Gb/s, ps
    const delta = T / 16;
    const r = rig(gig(9, C * frameBytes + 700), { forwardUs: 1, fdb: { kind: 'static', table: new Map([[mac(8), 8]]) } });
    for (let i = 0; i < 8; i++) r.macs.set(i, mac(i), mac(8));
    // Sender i's frame j is in at (j+1)T + phase_i. h0's first frame is alone at phase 0 and starts the output
    // port, whose departures then keep phase 0; every later arrival has a phase in (0, T/2): no ties.
    const phase = (i: number, j: number) => (i === 0 ? (j === 0 ? 0 : delta / 2) : i * delta);
    for (let j = 0; j < k; j++) for (let i = 0; i < 8; i++) r.arrive(i, frame(i, 'data', 1448, j * 1448), Math.round((j + 1) * T + phase(i, j)));
    r.run(100_000 * PS_PER_US);
    // One frame leaves per T; eight arrive per T. Once the buffer is full it stays full, so when the last frame
    // arrives (in the k-th period) k-1 frames have left and C are inside: k-1+C get through, the rest are dropped.
    const through = k - 1 + C;
    expect(r.counters.drops).to.deep.equal({ 'switch-queue-full': 8 * k - through });
    const stats = r.sw.portStats(r.sys.sched.now);
    expect(stats[8].drops).to.equal(8 * k - through);
    expect(stats[8].highWaterBytes).to.equal(C * frameBytes);
    expect(r.got.length).to.equal(through);
    expect(r.got.every((g) => g.to === 'h8')).to.equal(true);
    // Back to back from the first arrival to the last departure: `through` frame times after phase 0's first arrival.
    expect(r.got.at(-1)!.t).to.equal(Math.round(T) + PS_PER_US + Math.round(through * T));
    // Each sender's frames that got through are in its order.
    for (let i = 0; i < 8; i++) {
      const seqs = r.got.filter((g) => g.pkt.flow === i).map((g) => g.pkt.seq);
      expect(seqs).to.deep.equal([...seqs].sort((a, b) => a - b));
    }
  });

  it('a frame arriving the instant a departure frees the buffer: the scheduler\'s (time, rank) order decides', () => {
    // One-frame buffer; frame A occupies it until its last bit is out at t1, frame B arrives exactly at t1
    // (no forwarding latency, so admission happens in the arrival's event). A sender spawned before the switch
    // has a lower rank: its arrival runs first and finds the buffer full. One spawned after: the departure runs first.
    const T = Math.round(((1514 + 24) * 8 * 1e12) / 1e9);
    const outcome = (senderAfterSwitch: boolean) => {
      const r = rig(gig(3, 1514), { forwardUs: 0, fdb: { kind: 'static', table: new Map([[mac(2), 2]]) }, after: senderAfterSwitch ? [1] : [] });
      r.macs.set(0, mac(0), mac(2)).set(1, mac(1), mac(2));
      r.arrive(0, frame(0, 'data', 1448), PS_PER_US);
      r.arrive(1, frame(1, 'data', 1448), PS_PER_US + T);
      r.run(1000 * PS_PER_US);
      return { drops: r.counters.drops, flows: r.got.map((g) => g.pkt.flow) };
    };
    expect(outcome(false)).to.deep.equal({ drops: { 'switch-queue-full': 1 }, flows: [0] });
    expect(outcome(true)).to.deep.equal({ drops: {}, flows: [0, 1] });
  });

  it('time-weighted occupancy: one frame alone in the buffer for its frame time over a window twice as long is half a frame', () => {
    const r = rig(gig(2), { forwardUs: 0, fdb: { kind: 'static', table: new Map([[mac(1), 1]]) } });
    r.macs.set(0, mac(0), mac(1));
    const T = Math.round(((1514 + 24) * 8 * 1e12) / 1e9);
    r.sw.resetStats(0);
    r.arrive(0, frame(0, 'data', 1448), T / 2);
    r.run(2 * T);
    expect(r.sw.portStats(2 * T)[1].meanQueueBytes).to.be.closeTo(1514 / 2, 1e-6);
  });

  it('runs the same under xstate\'s interpreter as compiled (same deliveries, same trace hash, same chart states)', () => {
    const go = (interpreter: Interpreter) => {
      const r = rig(gig(4, 4000), { interpreter });
      const states: string[] = [];
      r.sys.states$.subscribe((c) => { if (c.actor === 'sw0') states.push(c.value); });
      r.macs.set(0, mac(0), mac(3)).set(1, mac(1), mac(3)).set(2, mac(3), mac(2));
      for (let j = 0; j < 6; j++) for (let i = 0; i < 3; i++) r.arrive(i, frame(i, 'data', 1448, j), (j * 5 + i) * PS_PER_US);
      r.arrive(3, frame(0, 'ack', 0, 1448), 3 * PS_PER_US);
      r.run(1000 * PS_PER_US);
      return { hash: r.sys.traceHash(), got: r.got.map((g) => [g.t, g.to, g.pkt.flow, g.pkt.seq]), drops: r.counters.drops, states };
    };
    const compiled = go('compiled');
    expect(compiled.drops['switch-queue-full']).to.be.greaterThan(0);
    expect(compiled.states).to.include.members(['{"fdb":"learning","frames":"busy"}', '{"fdb":"learning","frames":"idle"}']);
    expect(go('xstate')).to.deep.equal(compiled);
  });

  describe('properties', () => {
    /** A random switch and traffic: stations, flows between them, frames at random times. */
    const arbCase = fc.record({
      ports: fc.array(fc.record({ mbps: fc.constantFrom(100, 1000, 10_000), queueBytes: fc.integer({ min: 1514, max: 30_000 }), latencyUs: fc.integer({ min: 0, max: 5 }) }), { minLength: 2, maxLength: 6 }),
      forwardUs: fc.constantFrom(0, 0.5, 2),
      learning: fc.boolean(),
      flows: fc.array(fc.record({ a: fc.nat(5), b: fc.nat(5) }), { minLength: 1, maxLength: 6 }),
      frames: fc.array(fc.record({ flow: fc.nat(5), reply: fc.boolean(), len: fc.constantFrom(0, 1, 500, 1448), atUs: fc.integer({ min: 0, max: 400 }) }), { maxLength: 120 }),
      checkAtUs: fc.integer({ min: 0, max: 500 }),
    });

    it('frames in (plus flood copies) = frames out + drops + frames held, mid-run and at the end; each flow keeps its order', function () {
      this.timeout(120_000); // a property: sized for a loaded 2-core machine, not mocha's 2 s default
      fc.assert(fc.property(arbCase, (c) => {
        const n = c.ports.length;
        // Static table: every station at its own port (and one address on no port at all).
        const table = new Map(c.ports.map((_, i) => [mac(i), i] as [Mac, number]));
        const r = rig(c.ports, { forwardUs: c.forwardUs, fdb: c.learning ? { kind: 'learning' } : { kind: 'static', table } });
        const flows = c.flows.map((f) => ({ a: f.a % n, b: f.b % (n + 1) })); // b === n: an address on no port
        flows.forEach((f, k) => r.macs.set(k, mac(f.a), mac(f.b)));
        // Send in time order per station (a station's frames leave it in order).
        const sent = c.frames.map((f, k) => ({ ...f, flow: f.flow % flows.length, k }))
          .filter((f) => !(f.reply && flows[f.flow].b === n))
          .sort((x, y) => x.atUs - y.atUs || x.k - y.k);
        for (const f of sent) {
          const from = f.reply ? flows[f.flow].b : flows[f.flow].a;
          r.arrive(from, frame(f.flow, f.reply ? 'ack' : 'data', f.len, f.k), f.atUs * PS_PER_US);
        }
        const conserved = () => {
          const st = r.sw.portStats(r.sys.sched.now);
          const inn = st.reduce((s, p) => s + p.framesIn, 0), out = st.reduce((s, p) => s + p.framesOut, 0);
          expect(inn + r.sw.floodCopies).to.equal(out + sumDrops(r.counters) + r.sw.unitsHeld());
          expect(st.reduce((s, p) => s + p.drops, 0)).to.equal(r.counters.drops['switch-queue-full'] ?? 0);
          for (const [k, p] of st.entries()) expect(p.highWaterBytes).to.be.at.most(c.ports[k].queueBytes);
        };
        r.run(c.checkAtUs * PS_PER_US);
        conserved();
        r.run(1_000_000 * PS_PER_US);
        conserved();
        expect(r.sw.unitsHeld()).to.equal(0);
        expect(r.sw.holding()).to.equal(false);
        expect(r.got.length).to.equal(r.counters.wire.sent);
        // Per flow and direction, each receiver sees frames in the order they were sent.
        const order = new Map(sent.map((f, i) => [f.k, i]));
        for (const to of new Set(r.got.map((g) => g.to))) {
          for (const [k] of flows.entries()) for (const kind of ['data', 'ack']) {
            const idx = r.got.filter((g) => g.to === to && g.pkt.flow === k && g.pkt.kind === kind).map((g) => order.get(g.pkt.seq)!);
            expect(idx).to.deep.equal([...idx].sort((x, y) => x - y));
          }
        }
      }), { numRuns: 200 });
    });
  });
});
