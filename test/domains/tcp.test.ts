import { expect } from 'chai';
import { join } from 'node:path';
import { ActorSystem, type TraceRecord } from '../../src/actors/runtime.js';
import { PS_PER_MS } from '../../src/actors/scheduler.js';
import { TCP_RTO_MAX_US, TcpReceiver, TcpSender } from '../../src/domains/tcp.js';
import { spawnTcpEndpoint } from '../../src/domains/tcp-machine.js';
import { build, type Built } from '../../src/scenario/build.js';
import { loadScenario, type Scenario } from '../../src/scenario/schema.js';

/** The leaf paths of a state value: {"established":{"ca":"loss","chrono":"busy"}} -> established.ca.loss, established.chrono.busy. */
function leaves(v: unknown, prefix = ''): string[] {
  if (typeof v === 'string') return [prefix + v];
  return Object.entries(v as Record<string, unknown>).flatMap(([k, s]) => [prefix + k, ...leaves(s, `${prefix}${k}.`)]);
}

function endpoint<T extends TcpSender | TcpReceiver>(tcp: T): { tcp: T; state: () => string[] } {
  const sys = new ActorSystem(1);
  spawnTcpEndpoint(sys, 'ep', tcp);
  const actor = sys.actors.get('ep')!.actor;
  tcp.connect();
  return { tcp, state: () => leaves(actor.getSnapshot().value).filter((s) => s.split('.').length === 3) };
}

describe('TCP endpoints as machines', () => {
  describe('tcp-sender', () => {
    it('stops on the receiver window and goes on when an ACK opens it', () => {
      const { tcp: s, state } = endpoint(new TcpSender(1000, 8000, 4000));
      s.write(8000);
      for (let i = 0; i < 4; i++) expect(s.nextSegment(1000)).to.not.equal(undefined);
      expect(state()).to.include('established.chrono.busy');
      expect(s.nextSegment(1000)).to.equal(undefined);
      expect(state()).to.include('established.chrono.rwndLimited');
      s.onAck(1000, 4000);
      expect(state()).to.include('established.chrono.rwndLimited'); // nothing sent yet
      expect(s.nextSegment(1000)).to.deep.equal({ seq: 4000, len: 1000, retransmit: false });
      expect(state()).to.deep.equal(['established.ca.open', 'established.chrono.busy']);
    });

    it('is in disorder on duplicate ACKs, recovers from the third until snd_una passes high_seq', () => {
      const { tcp: s, state } = endpoint(new TcpSender(1000, 8000, 8000));
      s.write(8000);
      while (s.nextSegment(1000));
      s.onAck(1000, 8000);
      s.onAck(1000, 8000);
      expect(state()).to.include('established.ca.disorder');
      s.onAck(1000, 8000);
      expect(state()).to.include('established.ca.disorder');
      s.onAck(1000, 8000);
      expect(state()).to.include('established.ca.recovery');
      expect([s.sndNxt, s.highSeq, s.retransmits]).to.deep.equal([1000, 8000, 1]); // go-back-N from snd_una
      while (s.nextSegment(1000));
      s.onAck(5000, 8000); // partial: still recovering
      expect(state()).to.include('established.ca.recovery');
      s.onAck(8000, 8000);
      expect(state()).to.include('established.ca.open');
    });

    it('a new ACK in disorder is back to open; a pure window update is no duplicate', () => {
      const { tcp: s, state } = endpoint(new TcpSender(1000, 8000, 8000));
      s.write(8000);
      while (s.nextSegment(1000));
      s.onAck(1000, 8000);
      s.onAck(1000, 6000); // window update
      expect(state()).to.include('established.ca.open');
      s.onAck(1000, 6000);
      expect(state()).to.include('established.ca.disorder');
      s.onAck(2000, 6000);
      expect(state()).to.include('established.ca.open');
    });

    it('a retransmission timeout enters loss and doubles the next timeout up to TCP_RTO_MAX; a new ACK collapses it', () => {
      const { tcp: s, state } = endpoint(new TcpSender(1000, 8000, 8000));
      s.write(8000);
      while (s.nextSegment(1000));
      expect(s.rtoUs(200_000)).to.equal(200_000);
      s.onRto();
      expect(state()).to.include('established.ca.loss');
      expect([s.sndNxt, s.rtoUs(200_000)]).to.deep.equal([0, 400_000]);
      s.onRto();
      expect(state()).to.include('established.ca.loss');
      expect(s.rtoUs(200_000)).to.equal(800_000);
      for (let i = 0; i < 20; i++) s.onRto();
      expect(s.rtoUs(200_000)).to.equal(TCP_RTO_MAX_US);
      while (s.nextSegment(1000));
      s.onAck(3000, 8000);
      expect(s.rtoUs(200_000)).to.equal(200_000);
      expect(state()).to.include('established.ca.loss'); // until everything sent before the timeout is acknowledged
      s.onAck(8000, 8000);
      expect(state()).to.include('established.ca.open');
    });
  });

  describe('tcp-receiver', () => {
    it('a hole makes it out of order until rcv_nxt arrives; the delayed-ACK timer is pending while armed', () => {
      const { tcp: r, state } = endpoint(new TcpReceiver(1000, 8000));
      expect(r.onData(0, 1000, undefined)).to.include({ accepted: true, ackNow: false });
      r.armDelAck();
      expect(state()).to.deep.equal(['established.queue.inOrder', 'established.delack.pending']);
      expect(r.onData(2000, 1000, undefined).accepted).to.equal(false);
      expect(state()).to.include('established.queue.outOfOrder');
      expect(r.onData(500, 500, undefined).accepted).to.equal(false); // an old duplicate fills nothing
      expect(state()).to.include('established.queue.outOfOrder');
      r.clearDelAck();
      expect(r.onData(1000, 1000, undefined)).to.include({ accepted: true, ackNow: true });
      expect(state()).to.deep.equal(['established.queue.inOrder', 'established.delack.idle']);
    });
  });

  describe('in a running system', function () {
    this.timeout(120_000);
    const scenario = (name: string, faults: Scenario['faults'], tso = true): Scenario => {
      const sc = loadScenario(join('scenarios', `${name}.yaml`));
      sc.machine.nics = 1;
      sc.machine.nic.tso = tso;
      sc.faults = faults;
      return sc;
    };
    const linkDown = (fromUs: number, toUs: number): Scenario['faults'] =>
      [{ atUs: fromUs, nic: 0, kind: 'link-down', count: 1 }, { atUs: toUs, nic: 0, kind: 'link-up', count: 1 }];
    /** Run to `ms`, collecting the states each TCP actor kind entered (and every message delivered, with `record`). */
    const run = (sc: Scenario, ms: number, seen: Map<string, Set<string>>, record?: TraceRecord[]): Built => {
      const b = build(sc);
      if (record) b.sys.messages$.subscribe(({ t, from, to, type }) => { record.push({ t, from, to, type }); });
      for (const { kind, actor } of b.sys.actors.values()) {
        if (!kind.startsWith('tcp-')) continue;
        let s = seen.get(kind);
        if (!s) seen.set(kind, s = new Set());
        const states = s;
        actor.subscribe((snap: { value: unknown }) => { for (const l of leaves(snap.value)) states.add(l); });
      }
      b.start();
      b.sys.sched.run(ms * PS_PER_MS);
      return b;
    };

    it('link faults drive every tcp-sender and tcp-receiver state (the stack and the client endpoints between them)', () => {
      const seen = new Map<string, Set<string>>();
      // A 50 us link flap under a Linux sender: frames lost on the dead link leave a hole at the client
      // (out of order, duplicate ACKs) and the stack retransmits from snd_una.
      const tx = run(scenario('linux-tx', linkDown(3000, 3050), false), 8, seen);
      expect(tx.counters.drops['link-down']).to.be.greaterThan(0);
      const snd = [...tx.stacks.values()][0].socks.get(0)!.sender!;
      expect(snd.retransmits).to.be.greaterThan(0);
      // A 700 ms outage under a client sender: its retransmission timer fires (loss), the Linux receiver
      // sees a hole once the link is back.
      run(scenario('linux-rx', linkDown(3000, 700_000)), 710, seen);
      expect([...seen.get('tcp-sender')!].sort()).to.deep.equal([
        'established', 'established.ca', 'established.ca.disorder', 'established.ca.loss', 'established.ca.open',
        'established.ca.recovery', 'established.chrono', 'established.chrono.busy', 'established.chrono.rwndLimited',
      ]);
      expect([...seen.get('tcp-receiver')!].sort()).to.deep.equal([
        'established', 'established.delack', 'established.delack.idle', 'established.delack.pending',
        'established.queue', 'established.queue.inOrder', 'established.queue.outOfOrder',
      ]);
    });

    it('retransmission timeouts back off: 1x, 2x, 4x RTO apart while the link is down, 1x again after an ACK', () => {
      const seen = new Map<string, Set<string>>();
      const trace: TraceRecord[] = [];
      const b = run(scenario('linux-rx', linkDown(3000, 1_500_000)), 1_500, seen, trace);
      const rtos = trace.filter((r) => r.type === 'RTO').map((r) => r.t);
      expect(rtos).to.have.length(3);
      // The timer was last armed when the last ACK reached the client.
      const lastAck = trace.filter((r) => r.to === 'client0' && r.type === 'WIRE_RX' && r.t < rtos[0]).at(-1)!.t;
      const spacing = [lastAck, ...rtos].slice(1).map((t, i) => (t - [lastAck, ...rtos][i]) / PS_PER_MS);
      expect(spacing).to.deep.equal([200, 400, 800]);
      const s = b.clients[0].endpoint(0)!.sender!;
      expect(s.backoff).to.equal(3);
      // The link is back: the next ACK resets the back-off and the flow recovers.
      const una = s.sndUna;
      b.sys.sched.run(1_510 * PS_PER_MS);
      expect(s.sndUna).to.be.greaterThan(una);
      expect(s.backoff).to.equal(0);
      expect(s.rtoUs(200_000)).to.equal(200_000);
    });
  });
});
