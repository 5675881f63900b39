/** A capture through a switch: one pcapng interface per switch port and per other cable. */
import { expect } from 'chai';
import { setup } from 'xstate';
import { ActorSystem } from '../../src/actors/runtime.js';
import { PS_PER_US } from '../../src/actors/scheduler.js';
import { newCounters } from '../../src/model/counters.js';
import { cable, FlowMacs, putOnWire, UNCABLED, type PortRef } from '../../src/hardware/link.js';
import { createSwitch } from '../../src/toolstack/switch.js';
import { capturedLinks, toPcapngCapture, type Endpoints } from '../../src/inspect/pcap.js';
import type { WireFrame } from '../../src/inspect/recorder.js';
import type { Packet } from '../../src/core/packet.js';

const station = setup({}).createMachine({ id: 'station', initial: 'up', states: { up: {} } });
class Station { link: PortRef = UNCABLED; constructor(readonly name: string) {} plug(_p: number, far: PortRef): void { this.link = far; } }

/** The blocks of a pcapng file: type and body offset. */
function blocks(file: Uint8Array): Array<{ type: number; at: number }> {
  const dv = new DataView(file.buffer);
  const out: Array<{ type: number; at: number }> = [];
  for (let o = 0; o < file.length; o += dv.getUint32(o + 4, true)) out.push({ type: dv.getUint32(o, true), at: o });
  return out;
}

describe('pcapng through a switch', () => {
  it('names one interface per cabled switch port and per other cable, and tags each frame with the cable it crossed', () => {
    const sys = new ActorSystem(1);
    for (const n of ['h0', 'h1', 'h2', 'h3']) sys.spawn(n, 'station', station, {});
    const macs = new FlowMacs().set(1, 1, 2);
    const sw = createSwitch(sys, 'sw0', { ports: [0, 1, 2].map(() => ({ mbps: 1000, queueBytes: 1 << 20, latencyUs: 1 })), forwardUs: 1, fdb: { kind: 'static', table: new Map([[1, 0], [2, 1]]) } }, macs, newCounters());
    const [h0, h1, h2, h3] = ['h0', 'h1', 'h2', 'h3'].map((n) => new Station(n));
    cable(h0, 0, sw, 0);
    cable(h1, 0, sw, 1);
    cable(h2, 0, h3, 0); // a NIC-to-NIC cable beside the switch; switch port 2 has none
    const frames: WireFrame[] = [];
    sys.wire$.subscribe((w) => { const p = w.frame as Packet; frames.push({ t: w.t, from: w.from, to: w.to, kind: p.kind, flow: p.flow, seq: p.seq, len: p.len, ack: p.ack, wnd: p.wnd }); });
    const pkt: Packet = { id: 1, flow: 1, reply: false, kind: 'data', seq: 0, len: 1448, ack: 0, wnd: 65536, mss: 1448, csum: 'done', frames: [], owner: -1, cold: undefined, release: undefined, data: undefined };
    putOnWire(sys, 'h0', h0.link, pkt, 'data:1:0', 0, 10 * PS_PER_US);
    sys.sched.run(1000 * PS_PER_US);
    expect(frames.map((f) => [f.from, f.to])).to.deep.equal([['h0', 'sw0'], ['sw0', 'h1']]);

    const links = capturedLinks([h0, h1, h2, h3, sw]);
    expect(links.map((l) => [l.name, l.ends])).to.deep.equal([['sw0-p0', ['sw0', 'h0']], ['sw0-p1', ['sw0', 'h1']], ['h2-wire', ['h2', 'h3']]]);
    // h0 sends the flow's data: a frame's side is its kind's, whichever actor put it on the cable.
    const ep: Endpoints = { isServer: (a) => a === 'h0', fromServer: (f) => f.kind === 'data', nicOf: () => 0, domidOf: () => 1, bridged: false, nics: ['h0'], serverSends: true, mss: 1448, links };
    const file = toPcapngCapture(frames, ep, 128);
    const bs = blocks(file);
    const dv = new DataView(file.buffer);
    expect(bs.filter((b) => b.type === 1).length).to.equal(3);
    const text = new TextDecoder().decode(file);
    for (const l of links) expect(text).to.include(l.name);
    // Each link gets the flow's handshake (3 frames) then its frame: interface 0 (sw0-p0), then interface 1 (sw0-p1).
    const epbs = bs.filter((b) => b.type === 6);
    expect(epbs.map((b) => dv.getUint32(b.at + 8, true))).to.deep.equal([0, 0, 0, 0, 1, 1, 1, 1]);
    // The forwarded frame is the same IP packet: the same IP id on both links (Ethernet 14 bytes, id at IP offset 4).
    const ipId = (b: { at: number }) => dv.getUint16(b.at + 28 + 14 + 4, false);
    expect(ipId(epbs[7])).to.equal(ipId(epbs[3]));
    // ... and the same frame: same bytes after the Ethernet/IP/TCP synthesis, on either link.
    const bytesOf = (b: { at: number }) => [...file.subarray(b.at + 28, b.at + 28 + 66)];
    expect(bytesOf(epbs[7])).to.deep.equal(bytesOf(epbs[3]));
  });
});
