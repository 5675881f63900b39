import { expect } from 'chai';
import { HDR_LEN } from '../../src/core/packet.js';
import { NETTXF, NET_CTRL_RING_SIZE, XEN_NETIF_CTRL_TYPE, type CtrlRequest, type CtrlResponse } from '../../src/channels/netif.js';
import { BackRing, FrontRing, SharedRing } from '../../src/channels/ring.js';
import { ZERO_CTRL } from '../../src/channels/netback/common.js';
import { GUEST, bytes, harness } from '../support/netback-double.js';

/**
 * Netback's interrupt handler and kick logic, and a vif driven before its actor exists (found by
 * mutation testing, issue 14). Which events count as useful work (xenvif_have_work) decides the
 * late EOI; kicking queues each work item once; the bridge's transmit always takes the packet.
 */
const PS_PER_US = 1e6;

describe('netback (mutation): what counts as work for an event', () => {
  it('RX buffers are work only while packets wait for them or the carrier is off', () => {
    const h = harness();
    h.rxFront.putRequest({ id: 1, gref: 1 });
    h.rxFront.pushRequests();
    h.vif.onEvent(h.x);
    expect(h.vif.stats.spuriousEvents).to.equal(1); // buffers, nothing to put in them
    h.vif.rxQueue.push(h.incoming());
    h.vif.rxQueuedAt.push(0);
    h.vif.onEvent(h.x);
    expect(h.vif.stats.spuriousEvents).to.equal(1);
    expect(h.vif.spurious).to.equal(0);
  });

  it('control requests are work; TX requests to a disabled vif are not', () => {
    const h = harness();
    const s = new SharedRing<CtrlRequest, CtrlResponse>(NET_CTRL_RING_SIZE);
    const front = new FrontRing(s);
    h.vif.ctrl = new BackRing(s, 0, ZERO_CTRL);
    h.vif.onEvent(h.x);
    expect(h.vif.stats.spuriousEvents).to.equal(1);
    front.putRequest({ id: 1, type: XEN_NETIF_CTRL_TYPE.GET_HASH_FLAGS, data: [0, 0, 0] });
    front.pushRequests();
    h.vif.onEvent(h.x);
    expect(h.vif.stats.spuriousEvents).to.equal(1);
    expect(h.queue.map((t) => t.name)).to.deep.equal(['vif3.0-ctrl']);
    h.vif.onEvent(h.x); // already scheduled: not queued again
    expect(h.queue.map((t) => t.name)).to.deep.equal(['vif3.0-ctrl']);
    const d = harness();
    d.send({ gref: 1, offset: 4000, flags: 0, id: 1, size: 200 }); // crosses the page: disabled
    d.front.putRequest({ gref: 1, offset: 0, flags: 0, id: 2, size: 200 });
    d.front.pushRequests();
    const spur = d.vif.stats.spuriousEvents;
    d.vif.onEvent(d.x);
    expect(d.vif.stats.spuriousEvents).to.equal(spur + 1);
    expect(d.queue).to.deep.equal([]);
  });

  it('a TX work item already queued is not queued again; one in a pass or idle is', () => {
    const h = harness();
    h.front.putRequest({ gref: 1, offset: 0, flags: 0, id: 1, size: 100 });
    h.front.pushRequests();
    h.vif.onEvent(h.x);
    h.vif.onEvent(h.x);
    expect(h.queue.map((t) => t.name)).to.deep.equal(['vif3.0-tx']);
    expect(h.vif.stats.spuriousEvents).to.equal(0);
  });

  it('buffers after a carrier-off bring the carrier back only on a vif that is not disabled', () => {
    const h = harness();
    h.vif.actor!.send({ type: 'CARRIER_OFF' });
    h.vif.onEvent(h.x);
    expect(h.vif.control.rx).to.equal('carrierOff'); // no buffers yet
    expect(h.vif.stats.spuriousEvents).to.equal(1);
    h.rxFront.putRequest({ id: 1, gref: 1 });
    h.rxFront.pushRequests();
    h.vif.onEvent(h.x);
    expect(h.vif.control.rx).to.equal('idle');
    expect(h.vif.stats.spuriousEvents).to.equal(1); // carrier off + buffers is work
    expect(h.counters.violations['vif-carrier-on']).to.equal(1);
  });
});

describe('netback (mutation): the bridge\'s transmit entry point', () => {
  it('always takes the packet (drops are netback\'s own), queues it, and measures a stall from when the queue started waiting', () => {
    const h = harness({ rxQueueLimit: 3 });
    h.vif.opts = { ...h.vif.opts, rxDrainUs: 1_000_000, rxStallUs: 50, rxPollUs: 1_000_000 };
    expect(h.vif.xmit(h.x, h.incoming())).to.equal(true);
    h.drain();
    h.advance(30 * PS_PER_US);
    expect(h.vif.xmit(h.x, h.incoming())).to.equal(true); // the queue was not empty: the stall clock keeps running
    h.drain();
    h.advance(50 * PS_PER_US);
    h.drain();
    expect(h.vif.control.rx).to.equal('carrierOff');
    expect(h.vif.xmit(h.x, h.incoming())).to.equal(true); // carrier off: dropped, still taken
    const n = harness({ rxQueueLimit: 1 });
    expect(n.vif.xmit(n.x, n.incoming())).to.equal(true);
    expect(n.vif.xmit(n.x, n.incoming())).to.equal(true);
    expect(n.counters.drops['netback-rx-queue-full']).to.equal(1);
    n.vif.connected = false;
    expect(n.vif.xmit(n.x, n.incoming())).to.equal(true);
  });

  it('the longest queue is remembered, not the latest', () => {
    const h = harness();
    for (let i = 0; i < 3; i++) h.vif.xmit(h.x, h.incoming());
    h.post({ id: 1, gref: 1 }, { id: 2, gref: 2 });
    h.vif.xmit(h.x, h.incoming());
    expect(h.vif.stats.maxRxQueue).to.equal(3);
    expect(h.vif.rxQueueLength()).to.equal(2);
  });

  it('disconnecting with nothing queued drops nothing', () => {
    const h = harness();
    h.vif.disconnect(h.x);
    expect(h.counters.drops).to.deep.equal({});
    expect(h.counters.pkt.dropped).to.equal(0);
  });
});

describe('netback (mutation): a vif before its actor is spawned', () => {
  it('moves TX and RX traffic, answers control requests and handles spurious events without one', () => {
    const h = harness();
    h.vif.actor = null;
    h.withPort();
    h.contents.set(h.frameOf(1), bytes());
    h.send({ gref: 1, offset: 0, flags: 0, id: 1, size: HDR_LEN + 100 });
    expect(h.forwarded).to.have.length(1);
    h.complete();
    expect(h.responses()).to.have.length(1);
    h.vif.xmit(h.x, h.incoming());
    h.drain(); // stalls: no buffers
    h.post({ id: 1, gref: 1 });
    expect(h.rxResponses()).to.have.length(1);
    h.vif.opts = { ...h.vif.opts, rxDrainUs: 10, rxStallUs: 5 };
    h.vif.xmit(h.x, h.incoming());
    h.drain();
    h.advance(h.now() + 100 * PS_PER_US);
    h.vif.xmit(h.x, h.incoming());
    h.drain();
    expect(h.counters.drops['netback-rx-expired']).to.equal(1);
    expect(h.counters.violations['vif-rx-stalled']).to.equal(1);
    const s = new SharedRing<CtrlRequest, CtrlResponse>(NET_CTRL_RING_SIZE);
    const front = new FrontRing(s);
    h.vif.ctrl = new BackRing(s, 0, ZERO_CTRL);
    front.putRequest({ id: 1, type: XEN_NETIF_CTRL_TYPE.GET_HASH_FLAGS, data: [0, 0, 0] });
    front.pushRequests();
    h.vif.kick(h.x);
    h.drain();
    expect(front.unconsumedResponses()).to.equal(1);
    for (let i = 0; i < 3; i++) h.vif.onEvent(h.x);
    h.advance(h.now() + 10 ** 7 * PS_PER_US);
    expect(h.vif.port!.masked).to.equal(false);
    h.send({ gref: 1, offset: 0, flags: NETTXF.more_data, id: 2, size: 100 }); // chain past the producer: fatal
    h.vif.disconnect(h.x);
    expect(h.vif.connected).to.equal(false);
    void GUEST;
  });
});

describe('netback (mutation): the CPU work each path charges', () => {
  it('TX with host mapping: a pass touches netback, each mapped page is touched through the grant-map slot, and per-packet costs are charged', () => {
    const h = harness();
    h.contents.set(h.frameOf(1), bytes());
    h.contents.set(h.frameOf(2), bytes());
    h.send({ gref: 1, offset: 0, flags: NETTXF.more_data, id: 1, size: 200 }, { gref: 2, offset: 0, flags: 0, id: 2, size: 100 });
    expect(h.cpu.touches).to.include('netback');
    expect(h.cpu.transient.map((t) => t.frame)).to.deep.equal([h.frameOf(1), h.frameOf(2)]);
    expect(h.cpu.costs).to.deep.include({ netbackTxPerPacket: 1, skbAllocFree: 1 });
    expect(h.cpu.costs.netbackTxDonePerPacket).to.equal(undefined);
    h.complete();
    expect(h.cpu.costs.netbackTxDonePerPacket).to.equal(1);
    expect(h.vif.stats.maxGrantOpsPerPass).to.equal(2);
  });

  it('TX without remapping touches no mapped page; its grant ops are the pins plus the header copies', () => {
    const h = harness({ txMode: 'noremap' });
    h.contents.set(h.frameOf(1), bytes());
    h.send({ gref: 1, offset: 0, flags: NETTXF.more_data, id: 1, size: 100 }, { gref: 2, offset: 0, flags: 0, id: 2, size: 60 });
    expect(h.cpu.transient).to.deep.equal([]);
    expect(h.vif.stats.maxGrantOpsPerPass).to.equal(4); // 2 device pins + 2 header copies
  });

  it('an answered error costs the examining, and a failed map counts its undo in the pass\'s grant ops', () => {
    const h = harness({ badRefs: new Set([2]) });
    h.send({ gref: 1, offset: 0, flags: 0, id: 1, size: 5 });
    expect(h.cpu.costs.netbackTxDonePerPacket).to.equal(1);
    h.send({ gref: 1, offset: 0, flags: NETTXF.more_data, id: 2, size: 300 }, { gref: 2, offset: 0, flags: 0, id: 3, size: 100 });
    expect(h.vif.stats.maxGrantOpsPerPass).to.equal(3); // 2 maps + 1 undo
  });

  it('RX map-and-copy copies on our CPU into a cold page; grant copy asks Xen for the same; each packet costs the RX path', () => {
    const m = harness({ rxCopyVia: 'map' });
    m.vif.xmit(m.x, m.incoming({ len: 100, cold: true }));
    m.post({ id: 1, gref: 1 });
    expect(m.cpu.copies).to.deep.equal([{ bytes: 100 + HDR_LEN, srcCold: true, dstCold: true }]);
    expect(m.cpu.transient.map((t) => t.frame)).to.deep.equal([m.frameOf(1)]);
    expect(m.cpu.costs.netbackRxPerPacket).to.equal(1);
    const g = harness();
    g.vif.xmit(g.x, g.incoming({ len: 100, cold: false }));
    g.post({ id: 1, gref: 1 });
    expect(g.calls.copies[0]).to.include({ cold: false, dstCold: true });
    expect(g.cpu.copies).to.deep.equal([]);
    expect(g.cpu.touches).to.include('netback');
  });
});
