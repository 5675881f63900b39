/**
 * NewReno (RFC 5681 + RFC 6582) and the receiver's out-of-order queue, driven through the calls the
 * stack and the client make (write, nextSegment, onAck, onRto; onData), with a lossless or lossy
 * "network" in between that is nothing but a list of segments.
 */
import { expect } from 'chai';
import fc from 'fast-check';
import { join } from 'node:path';
import { ActorSystem } from '../../src/actors/runtime.js';
import { TcpReceiver, TcpSender, type Segment } from '../../src/domains/tcp.js';
import { initialWindowSegments } from '../../src/domains/tcp-cc.js';
import { spawnTcpEndpoint } from '../../src/domains/tcp-machine.js';
import { runScenario } from '../../src/scenario/run.js';
import { loadScenario } from '../../src/scenario/schema.js';

const MSS = 1000;
const BIG = 1 << 24;

/** A NewReno sender with an actor (so its CA state can be read) and unlimited data to send. */
function sender(mss = MSS, peerWnd = BIG): { s: TcpSender; ca: () => string } {
  const s = new TcpSender(mss, BIG, peerWnd, 'newreno');
  const sys = new ActorSystem(1);
  spawnTcpEndpoint(sys, 'snd', s);
  const actor = sys.actors.get('snd')!.actor;
  s.connect();
  s.write(BIG);
  return { s, ca: () => (actor.getSnapshot().value as { established: { ca: string } }).established.ca };
}
/** Everything the window lets out now (MSS segments). */
function burst(s: TcpSender): Segment[] {
  const out: Segment[] = [];
  for (let seg = s.nextSegment(MSS); seg; seg = s.nextSegment(MSS)) out.push(seg);
  return out;
}
/** One round trip on a lossless path: the window's segments, each ACKed by the receiver (every `ackEvery` segments). */
function lossless(s: TcpSender, ackEvery = 1, wnd = BIG): number {
  const segs = burst(s);
  segs.forEach((g, i) => { if ((i + 1) % ackEvery === 0 || i === segs.length - 1) s.onAck(g.seq + g.len, wnd); });
  return segs.length;
}

describe('TCP NewReno', () => {
  it('starts with the RFC 3390 initial window of Linux 2.6 (tcp_init_cwnd): 3 segments of 1448 bytes, 2 above 1460, 4 below 1096', () => {
    expect([initialWindowSegments(1448), initialWindowSegments(1500), initialWindowSegments(1000), initialWindowSegments(536)]).to.deep.equal([3, 2, 4, 4]);
    const { s } = sender(1448);
    const segs: Segment[] = [];
    for (let g = s.nextSegment(1448); g; g = s.nextSegment(1448)) segs.push(g);
    expect(segs.map((g) => g.seq)).to.deep.equal([0, 1448, 2896]);
  });

  it('slow start doubles the window every round trip, also when the receiver ACKs every second segment (byte counting)', () => {
    const { s } = sender();
    const rounds = Array.from({ length: 5 }, () => lossless(s));
    expect(rounds).to.deep.equal([4, 8, 16, 32, 64]);
    const d = sender().s;
    expect(Array.from({ length: 4 }, () => lossless(d, 2))).to.deep.equal([4, 8, 16, 32]);
  });

  it('a receive-window-limited flow does not grow cwnd without bound (tcp_is_cwnd_limited: at most twice its flight)', () => {
    const { s } = sender(MSS, 10 * MSS);
    const sent = Array.from({ length: 20 }, () => lossless(s, 1, 10 * MSS));
    expect(sent.slice(-3)).to.deep.equal([10, 10, 10]);
    expect(s.cc.cwnd).to.be.at.most(20 * MSS); // slow start stops at twice the largest flight
  });

  /** Run round trips through a path that drops each segment starting at a byte in `lose` once; the receiver has an ofo queue. */
  function lossy(s: TcpSender, r: TcpReceiver, lose: Set<number>, log: Segment[], maxRounds = 50): void {
    for (let round = 0; round < maxRounds && (s.inFlight() > 0 || round === 0); round++) {
      const segs = burst(s);
      log.push(...segs);
      for (const g of segs) {
        if (!g.retransmit && lose.has(g.seq)) continue; // dropped in the network (once)
        const { ackNow } = r.onData(g.seq, g.len, undefined);
        // The receiver ACKs every segment here (dup ACKs for out-of-order ones, as Linux does).
        if (ackNow || true) { s.onAck(r.rcvNxt, BIG); r.ackSent(); }
        r.read(BIG);
      }
      if (segs.length === 0) break;
    }
  }

  it('three duplicate ACKs: fast retransmit of the lost segment only, then each partial ACK retransmits the next hole once; recovery ends at `recover`', () => {
    const { s, ca } = sender();
    const r = new TcpReceiver<undefined>(MSS, BIG, true);
    // Grow the window to 32 segments without loss, as a connection's start would.
    for (let i = 0; i < 3; i++) { const segs = burst(s); for (const g of segs) { r.onData(g.seq, g.len, undefined); s.onAck(r.rcvNxt, BIG); } r.read(BIG); }
    const una = s.sndUna;
    const flight = 30 * MSS; // outstanding when the third duplicate arrives: the window less the two segments ACKed
    // Three segments of the next window are lost: its 3rd, 10th and 20th.
    const lose = new Set([una + 2 * MSS, una + 9 * MSS, una + 19 * MSS]);
    const log: Segment[] = [];
    const states: string[] = [];
    const orig = s.onAck.bind(s);
    s.onAck = (a, w) => { const n = orig(a, w); if (states.at(-1) !== ca()) states.push(ca()); return n; };
    lossy(s, r, lose, log);
    const rtx = log.filter((g) => g.retransmit).map((g) => g.seq);
    expect(rtx).to.deep.equal([...lose]); // each hole once, in order; nothing that arrived is sent again
    expect(s.retransmits).to.equal(3);
    expect(states).to.deep.equal(['open', 'disorder', 'recovery', 'open']);
    expect(s.cc.ssthresh).to.equal(flight / 2); // FlightSize / 2 when the third duplicate came
    expect(s.cc.cwnd).to.be.at.most(s.cc.ssthresh + MSS);
    expect(r.rcvNxt).to.equal(s.sndNxt); // everything arrived, in order
  });

  it('a retransmission timeout collapses cwnd to one segment and ssthresh to half the flight; repeated timeouts keep ssthresh', () => {
    const { s, ca } = sender();
    for (let i = 0; i < 3; i++) lossless(s);
    const segs = burst(s); // 32 segments in flight, none ACKed
    expect(segs).to.have.length(32);
    s.onRto();
    expect(ca()).to.equal('loss');
    expect([s.cc.cwnd, s.cc.ssthresh]).to.deep.equal([MSS, 16 * MSS]);
    expect(burst(s).map((g) => [g.seq, g.retransmit])).to.deep.equal([[segs[0].seq, true]]); // one segment from snd_una
    s.onRto();
    expect([s.cc.cwnd, s.cc.ssthresh]).to.deep.equal([MSS, 16 * MSS]);
    // Slow start again from one segment once ACKs come back.
    s.onAck(segs[0].seq + MSS, BIG);
    expect(burst(s)).to.have.length(2);
  });

  it('congestion avoidance adds one segment per round trip above ssthresh', () => {
    const { s } = sender();
    for (let i = 0; i < 3; i++) lossless(s);
    burst(s);
    s.onRto(); // ssthresh 16 segments, cwnd 1
    const rounds = Array.from({ length: 8 }, () => lossless(s));
    // 1, 2, 4, 8 in slow start, 16 at ssthresh, then +1 per round.
    expect(rounds).to.deep.equal([1, 2, 4, 8, 16, 17, 18, 19]);
  });

  it('the out-of-order queue hands the application every byte once and in order, whatever the arrival order, duplicates and overlaps', function () {
    this.timeout(60_000); // a property: sized for a loaded 2-core machine
    fc.assert(fc.property(
      fc.array(fc.integer({ min: 1, max: 3000 }), { minLength: 1, maxLength: 30 }),
      fc.array(fc.nat(), { maxLength: 60 }), fc.array(fc.nat(), { maxLength: 10 }),
      (lens, order, dups) => {
        const segs: Array<[number, number]> = [];
        let at = 0;
        for (const l of lens) { segs.push([at, l]); at += l; }
        const total = at;
        // Arrivals: every segment once in a shuffled order, plus duplicates and segments spanning two.
        const arrivals = [...segs];
        for (let i = arrivals.length - 1; i > 0; i--) { const j = (order[i % Math.max(1, order.length)] ?? 0) % (i + 1); [arrivals[i], arrivals[j]] = [arrivals[j], arrivals[i]]; }
        for (const d of dups) {
          const a = segs[d % segs.length], b = segs[(d + 1) % segs.length];
          arrivals.splice(d % (arrivals.length + 1), 0, b[0] > a[0] ? [a[0], a[1] + b[1]] : a);
        }
        const r = new TcpReceiver<number>(1000, 1 << 20, true);
        const got: Array<[number, number]> = [];
        for (const [seq, len] of arrivals) {
          const { ready } = r.onData(seq, len, seq);
          for (const p of ready) {
            expect(p.item + p.off).to.equal(p.at); // the piece is where its segment holds it
            got.push([p.at, p.len]);
          }
          r.read(1 << 20);
        }
        let next = 0;
        for (const [a, l] of got) { expect(a).to.equal(next); next += l; }
        expect(next).to.equal(total);
        expect(r.ofoSegments).to.equal(0);
      }), { numRuns: 300 });
  });

  describe('in a running system', function () {
    this.timeout(60_000);
    it('sustained receive-ring overflow: NewReno keeps most of the link where go-back-N is driven by timeouts', () => {
      const at = (cc: 'newreno' | 'none') => {
        const sc = loadScenario(join('scenarios', 'faults', 'rx-overflow-sustained.yaml'));
        sc.run = { warmupMs: 10, durationMs: 40 };
        sc.tcp.congestionControl = cc;
        return runScenario(sc);
      };
      const nr = at('newreno'), gbn = at('none');
      expect(nr.counters.drops['nic-rx-overflow'] ?? 0).to.be.greaterThan(0);
      expect(nr.counters.violations).to.deep.equal({});
      expect(nr.throughputMbps).to.be.greaterThan(10 * Math.max(gbn.throughputMbps, 10));
    });
  });
});
