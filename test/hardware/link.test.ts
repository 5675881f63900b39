import { expect } from 'chai';
import { setup } from 'xstate';
import { ActorSystem } from '../../src/actors/runtime.js';
import { PS_PER_US } from '../../src/actors/scheduler.js';
import { cable, frameBytes, putOnWire, serializePs, UNCABLED, type PortRef } from '../../src/hardware/link.js';
import type { Packet } from '../../src/core/packet.js';

const sink = setup({}).createMachine({ id: 'sink', initial: 'up', states: { up: {} } });

/** A device with three ports that only remembers what it was plugged into. */
class Ports {
  far: PortRef[] = [UNCABLED, UNCABLED, UNCABLED];
  constructor(readonly name: string) {}
  plug(port: number, far: PortRef): void { this.far[port] = far; }
}

const frame = (len: number): Packet => ({
  id: 1, flow: 3, reply: false, kind: 'data', seq: 0, len, ack: 0, wnd: 0, mss: 1448, csum: 'done', frames: [], owner: -1, cold: undefined, release: undefined, data: undefined,
});

describe('link: cables between ports', () => {
  it('cable() plugs each end into the other, port by port', () => {
    const a = new Ports('a'), b = new Ports('b');
    cable(a, 2, b, 0);
    expect(a.far[2]).to.deep.equal({ actor: 'b', port: 0 });
    expect(b.far[0]).to.deep.equal({ actor: 'a', port: 2 });
    expect(a.far[0]).to.equal(UNCABLED);
  });

  it('putOnWire: the capture sees the first bit at `start`, the far end gets WIRE_RX on its own port after `delay`', () => {
    const sys = new ActorSystem(1);
    sys.spawn('a', 'sink', sink, {});
    sys.spawn('b', 'sink', sink, {});
    const got: Array<{ t: number; to: string; port: unknown; detail?: string }> = [];
    const taps: Array<{ t: number; from: string; to: string }> = [];
    sys.messages$.subscribe((m) => got.push({ t: m.t, to: m.to, port: (m.msg as { port?: unknown }).port, detail: m.detail }));
    sys.wire$.subscribe((w) => taps.push({ t: w.t, from: w.from, to: w.to }));
    putOnWire(sys, 'a', { actor: 'b', port: 5 }, frame(100), 'data:3:0', 0, 7 * PS_PER_US);
    sys.sched.run(10 * PS_PER_US);
    expect(taps).to.deep.equal([{ t: 0, from: 'a', to: 'b' }]);
    expect(got).to.deep.equal([{ t: 7 * PS_PER_US, to: 'b', port: 5, detail: 'data:3:0' }]);
  });

  it('a frame holds a line for its bytes (with preamble, FCS and gap) times 8 bits over the rate', () => {
    // 1448 payload + 66 header = 1514-byte frame, + 24 of overhead = 1538 bytes = 12304 ns at 1 Gb/s.
    expect(frameBytes(1448)).to.equal(1514);
    expect(serializePs(1448, 1000)).to.equal(12_304_000);
    // A bare ACK is its 66 header bytes (above the 60-byte minimum): 90 bytes on the line, 720 ns.
    expect(frameBytes(0)).to.equal(66);
    expect(serializePs(0, 1000)).to.equal(720_000);
    expect(serializePs(1448, 10_000)).to.equal(1_230_400);
  });
});
