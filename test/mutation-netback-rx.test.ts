import { expect } from 'chai';
import { HDR_LEN } from '../src/domains/packet.js';
import { NETIF_RSP, NETRXF } from '../src/channels/netif.js';
import { DOM0, GUEST, harness } from './support/netback-double.js';

/**
 * Netback's receive path and its interrupt handling on their own (found by mutation testing,
 * issue 14), over the doubles of test/support/netback-double.ts: the three ways a packet reaches
 * the guest (grant copy, map-and-copy, page flip; docs/protocol.md 2.3, 2.7, 3.5), response flags
 * and statuses, the queue limit, waiting for buffers, expiry and carrier-off (XSA-392), and the
 * late EOI for spurious events (4.6, XSA-332).
 */
const PS_PER_US = 1e6;

describe('netback RX (mutation): delivery into posted buffers', () => {
  it('grant copy: the packet\'s bytes go into the buffer the guest granted; the response echoes the id with the byte count', () => {
    const h = harness();
    const p = h.incoming({ len: 1000, csum: 'done' });
    h.vif.xmit(h.x, p);
    expect(h.queue.map((t) => t.name)).to.deep.equal(['vif3.0-rx']);
    expect(h.vif.control.rx).to.equal('working');
    h.post({ id: 0x1_0007, gref: 9 });
    expect(h.calls.copies).to.deep.equal([{ source: { dom: DOM0, frame: p.frames[0], offset: 0 }, dest: { dom: GUEST, ref: 9, offset: 0 }, len: 1000 + HDR_LEN, cold: false, dstCold: true }]);
    expect(h.rxResponses()).to.deep.equal([{ id: 7, offset: 0, flags: 0, status: 1000 + HDR_LEN }]);
    expect(h.contents.get(h.frameOf(9))).to.include({ flow: p.flow, seq: p.seq, len: 1000 });
    expect(h.freed).to.include(p.frames[0]); // our frame goes back to the pool
    expect(h.vif.rxUnitsOk).to.equal(1);
    expect(h.vif.control.rx).to.equal('idle');
    expect(h.calls.sends).to.deep.equal([{ channel: 'evtchn-vif3.0', end: 'b' }]);
  });

  it('a copy never exceeds one page', () => {
    const h = harness();
    h.vif.xmit(h.x, h.incoming({ len: 64 * 1024 }));
    h.post({ id: 1, gref: 1 });
    expect(h.calls.copies[0].len).to.equal(4096);
  });

  it('checksum flags: verified -> data_validated; partial -> data_validated|csum_blank if negotiated, else none; done -> none', () => {
    const cases = [['verified', true, NETRXF.data_validated], ['partial', true, NETRXF.data_validated | NETRXF.csum_blank], ['partial', false, 0], ['done', true, 0]] as const;
    for (const [csum, negotiated, flags] of cases) {
      const h = harness({ feat: { csum: negotiated } });
      h.vif.xmit(h.x, h.incoming({ csum }));
      h.post({ id: 1, gref: 1 });
      expect(h.rxResponses()[0].flags, `${csum}/${negotiated}`).to.equal(flags);
    }
  });

  it('a failed copy answers ERROR for that buffer only and counts the packet dropped', () => {
    const h = harness({ badRefs: new Set([2]) });
    h.vif.xmit(h.x, h.incoming({ len: 100 }));
    h.vif.xmit(h.x, h.incoming({ len: 200 }));
    h.post({ id: 1, gref: 1 }, { id: 2, gref: 2 });
    expect(h.rxResponses().map((r) => [r.id, r.status])).to.deep.equal([[1, 100 + HDR_LEN], [2, NETIF_RSP.ERROR]]);
    expect(h.counters.drops['rx-grant-error']).to.equal(1);
    expect(h.vif.rxUnitsOk).to.equal(1);
    expect(h.contents.has(h.frameOf(2))).to.equal(false);
  });

  it('map-and-copy (ATC 2006): buffers mapped writable, copied on our CPU, then unmapped in one batch with a flush', () => {
    const h = harness({ rxCopyVia: 'map', badRefs: new Set([2]) });
    const p = h.incoming({ len: 300 });
    h.vif.xmit(h.x, p);
    h.vif.xmit(h.x, h.incoming({ len: 300 }));
    h.post({ id: 1, gref: 1 }, { id: 2, gref: 2 });
    expect(h.calls.maps).to.deep.equal([{ ref: 1, readonly: false, device: false }, { ref: 2, readonly: false, device: false }]);
    expect(h.calls.unmaps).to.deep.equal([{ handles: [1], host: true }]); // only the mapping that succeeded
    expect(h.contents.get(h.frameOf(1))).to.include({ seq: p.seq, len: 300 });
    expect(h.contents.has(h.frameOf(2))).to.equal(false);
    expect(h.rxResponses().map((r) => r.status)).to.deep.equal([300 + HDR_LEN, NETIF_RSP.ERROR]);
  });

  it('page flipping: fresh frames for us, one multicall, the packet frame transferred to the guest; bad_page keeps ours', () => {
    const h = harness({ feat: { rxCopy: false }, badPageRefs: new Set([2]), badRefs: new Set([3]) });
    const ps = [h.incoming({ len: 100 }), h.incoming({ len: 100 }), h.incoming({ len: 100 })];
    for (const p of ps) h.vif.xmit(h.x, p);
    h.post({ id: 1, gref: 1 }, { id: 2, gref: 2 }, { id: 3, gref: 3 });
    expect(h.calls.increase).to.deep.equal([3]);
    expect(h.calls.mmu).to.deep.equal([3]);
    expect(h.calls.transfers).to.deep.equal(ps.map((p, i) => ({ mfn: p.frames[0], domid: GUEST, ref: i + 1 })));
    expect(h.rxResponses().map((r) => r.status)).to.deep.equal([100 + HDR_LEN, NETIF_RSP.ERROR, NETIF_RSP.ERROR]);
    expect(h.owner.get(ps[0].frames[0])).to.equal(GUEST);
    expect(h.freed).to.include(ps[1].frames[0]); // bad_page: never left us, back to our pool
    expect(h.freed).to.not.include(ps[2].frames[0]); // any other failure: Xen freed it
    expect(h.freed).to.not.include(ps[0].frames[0]);
  });

  it('at most `budget` packets per pass; the rest is kicked again', () => {
    const h = harness({ budget: 2 });
    for (let i = 0; i < 3; i++) h.vif.xmit(h.x, h.incoming());
    h.rxFront.putRequest({ id: 1, gref: 1 });
    h.rxFront.putRequest({ id: 2, gref: 2 });
    h.rxFront.putRequest({ id: 3, gref: 3 });
    h.rxFront.pushRequests();
    h.queue.shift()!.run(h.x);
    expect(h.rxResponses()).to.have.length(2);
    expect(h.vif.stats.maxRxPerPass).to.equal(2);
    expect(h.queue.map((t) => t.name)).to.deep.equal(['vif3.0-rx']);
    h.drain();
    expect(h.rxResponses()).to.have.length(1);
    expect(h.vif.rxQueueLength()).to.equal(0);
  });
});

describe('netback RX (mutation): the queue for the guest', () => {
  it('packets wait for buffers: the backend asks to be notified at the next request, and delivers when they come', () => {
    const h = harness();
    h.vif.xmit(h.x, h.incoming());
    h.drain();
    expect(h.vif.control.rx).to.equal('stalled');
    expect(h.rings.rx.reqEvent).to.equal(1); // req_prod + 1
    expect(h.vif.rxQueueLength()).to.equal(1);
    h.post({ id: 1, gref: 1 });
    expect(h.rxResponses()).to.have.length(1);
    expect(h.vif.rxQueueLength()).to.equal(0);
  });

  it('a full queue drops at the limit (netback-rx-queue-full), and the stats keep the longest queue', () => {
    const h = harness({ rxQueueLimit: 2 });
    for (let i = 0; i < 3; i++) h.vif.xmit(h.x, h.incoming());
    expect(h.vif.rxQueueLength()).to.equal(2);
    expect(h.counters.drops['netback-rx-queue-full']).to.equal(1);
    expect(h.vif.stats.rxQueued).to.equal(2);
    expect(h.vif.stats.maxRxQueue).to.equal(2);
  });

  it('a vif that is disconnected, disabled or without carrier drops what the bridge hands it', () => {
    const h = harness();
    h.vif.connected = false;
    h.vif.xmit(h.x, h.incoming());
    expect(h.counters.drops['vif-not-connected']).to.equal(1);
    const d = harness();
    d.send({ gref: 1, offset: 0, flags: 0, id: 1, size: 5000 }); // size past the page: fatal, disabled
    expect(d.vif.disabled).to.equal('slot-crosses-page');
    d.vif.xmit(d.x, d.incoming());
    expect(d.counters.drops['vif-disabled']).to.equal(1);
    expect(d.vif.rxQueueLength()).to.equal(0);
  });

  it('packets that waited longer than the drain timeout expire; the rest stay', () => {
    const h = harness();
    h.vif.opts = { ...h.vif.opts, rxDrainUs: 100, rxStallUs: 1_000_000, rxPollUs: 1_000_000 };
    h.vif.xmit(h.x, h.incoming());
    h.drain();
    h.advance(60 * PS_PER_US);
    h.vif.xmit(h.x, h.incoming());
    h.drain();
    h.advance(100 * PS_PER_US); // the timer fires at the first packet's expiry
    h.drain();
    expect(h.counters.drops['netback-rx-expired']).to.equal(1);
    expect(h.vif.rxQueueLength()).to.equal(1);
    h.advance(160 * PS_PER_US);
    h.drain();
    expect(h.counters.drops['netback-rx-expired']).to.equal(2);
    expect(h.vif.rxQueueLength()).to.equal(0);
    expect(h.vif.control.rx).to.equal('idle');
  });

  it('a queue that cannot deliver for the stall timeout drops its carrier (XSA-392); buffers bring it back', () => {
    const h = harness();
    h.vif.opts = { ...h.vif.opts, rxDrainUs: 1_000_000, rxStallUs: 50, rxPollUs: 1_000_000 };
    h.vif.xmit(h.x, h.incoming());
    h.drain();
    h.advance(49 * PS_PER_US);
    h.drain();
    expect(h.vif.control.rx).to.equal('stalled');
    h.advance(50 * PS_PER_US);
    h.drain();
    expect(h.vif.control.rx).to.equal('carrierOff');
    expect(h.counters.violations['vif-rx-stalled']).to.equal(1);
    expect(h.counters.drops['vif-carrier-off']).to.equal(1);
    h.vif.xmit(h.x, h.incoming());
    expect(h.counters.drops['vif-carrier-off']).to.equal(2);
    h.post({ id: 1, gref: 1 });
    expect(h.vif.control.rx).to.equal('idle');
    expect(h.counters.violations['vif-carrier-on']).to.equal(1);
  });

  it('without feature-rx-notify the backend polls the ring at the poll interval', () => {
    const h = harness();
    h.vif.rxNotify = false;
    h.vif.opts = { ...h.vif.opts, rxDrainUs: 1_000_000, rxStallUs: 1_000_000, rxPollUs: 30 };
    h.vif.xmit(h.x, h.incoming());
    h.drain();
    expect(h.timers.map((t) => t.at)).to.deep.equal([30 * PS_PER_US]);
    h.rxFront.putRequest({ id: 1, gref: 1 });
    h.rxFront.pushRequests(); // no event sent
    h.advance(30 * PS_PER_US);
    h.drain();
    expect(h.rxResponses()).to.have.length(1);
  });

  it('disconnecting drops the queue, and the ring pages are unmapped once nothing is in flight', () => {
    const h = harness();
    h.vif.ringHandles = [41, 42];
    let again = 0;
    h.vif.xmit(h.x, h.incoming());
    h.vif.disconnect(h.x);
    expect(h.counters.drops['vif-disconnected']).to.equal(1);
    expect(h.vif.ringMappings()).to.equal(0);
    expect(h.calls.unmaps).to.deep.equal([{ handles: [41], host: true }, { handles: [42], host: true }]);
    // With TX packets still at the NIC, the unmap waits for them; a reconnect request waits too.
    const t = harness();
    t.contents.set(t.frameOf(1), { ...t.incoming(), owner: GUEST });
    t.send({ gref: 1, offset: 0, flags: 0, id: 1, size: HDR_LEN + 100 });
    t.vif.ringHandles = [7];
    t.vif.reconnect = () => { again++; };
    t.vif.disconnect(t.x);
    expect(t.vif.ringMappings()).to.equal(1);
    expect(again).to.equal(0);
    t.complete();
    expect(t.vif.ringMappings()).to.equal(0);
    expect(again).to.equal(1);
  });
});

describe('netback (mutation): events and the late EOI (4.6, XSA-332)', () => {
  it('a useful event resets the spurious count; from the second spurious event in a row the port is masked for 2^(n-2) ticks', () => {
    const h = harness();
    const { port } = h.withPort();
    h.vif.opts = { ...h.vif.opts, lateEoiTickUs: 10 };
    h.vif.onEvent(h.x);
    expect(h.vif.stats.spuriousEvents).to.equal(1);
    expect(port.masked).to.equal(false);
    h.vif.onEvent(h.x);
    expect(port.masked).to.equal(true);
    expect(h.vif.control.lateEoi).to.equal('backoff');
    expect(h.timers.map((t) => t.at)).to.deep.equal([10 * PS_PER_US]); // 2^0 ticks
    h.advance(10 * PS_PER_US);
    expect(port.masked).to.equal(false);
    expect(h.vif.control.lateEoi).to.equal('normal');
    h.vif.onEvent(h.x);
    expect(h.timers.map((t) => t.at - h.now())).to.deep.equal([20 * PS_PER_US]); // 2^1 ticks
    h.advance(h.now() + 20 * PS_PER_US);
    h.vif.onEvent(h.x);
    expect(h.timers.map((t) => t.at - h.now())).to.deep.equal([40 * PS_PER_US]);
    h.advance(h.now() + 40 * PS_PER_US);
    // A useful event: the count starts over (the next spurious one is the first again: no mask).
    h.vif.xmit(h.x, h.incoming());
    h.rxFront.putRequest({ id: 1, gref: 1 });
    h.rxFront.pushRequests();
    h.vif.onEvent(h.x);
    expect(h.vif.spurious).to.equal(0);
    h.drain();
    h.vif.onEvent(h.x);
    expect(port.masked).to.equal(false);
    expect(h.vif.stats.events).to.equal(6);
    expect(h.vif.stats.spuriousEvents).to.equal(5);
  });

  it('the back-off is capped at one second', () => {
    const h = harness();
    h.withPort();
    h.vif.opts = { ...h.vif.opts, lateEoiTickUs: 1000 };
    h.vif.spurious = 40;
    h.vif.onEvent(h.x);
    expect(h.timers.map((t) => t.at)).to.deep.equal([1_000_000 * PS_PER_US]);
  });

  it('a port replaced meanwhile is not unmasked by the old timer', () => {
    const h = harness();
    const { port } = h.withPort();
    h.vif.spurious = 1;
    h.vif.onEvent(h.x);
    expect(port.masked).to.equal(true);
    h.withPort();
    h.advance(10 ** 9 * PS_PER_US);
    expect(port.masked).to.equal(true);
  });

  it('events bring no work to a disconnected or disabled vif', () => {
    const h = harness();
    h.front.putRequest({ gref: 1, offset: 0, flags: 0, id: 1, size: 100 });
    h.front.pushRequests();
    h.vif.connected = false;
    h.vif.onEvent(h.x);
    expect(h.queue).to.deep.equal([]);
    expect(h.vif.stats.spuriousEvents).to.equal(1);
  });
});
