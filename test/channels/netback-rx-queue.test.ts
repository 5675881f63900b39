import { expect } from 'chai';
import { HDR_LEN, type Packet } from '../../src/core/packet.js';
import { NETIF_RSP } from '../../src/channels/netif.js';
import type { Exec } from '../../src/core/exec.js';
import { xenvif_rx_queue_drop_expired } from '../../src/channels/netback/rx.js';
import { writePayload } from '../../src/hardware/payload.js';
import type { MachineMemory } from '../../src/hardware/memory.js';
import { GUEST, harness, type Harness } from '../support/netback-double.js';

/**
 * Netback's receive queue over time (Linux rx.c: xenvif_rx_queue_drop_expired, the stall check of
 * xenvif_rx_queue_stalled, the kthread's timed wait; issue 28), over the doubles of
 * test/support/netback-double.ts: when the re-check timer is due, what a delivery does to the stall
 * clock, that stall detection needs feature-rx-notify (without it Linux sets stall_timeout = 0 and
 * polls instead), and which frames a delivered packet gives back.
 */
const PS_PER_US = 1e6;
const at = (h: Harness) => h.timers.map((t) => t.at / PS_PER_US);
/** Virtual time moves to `us` (due timers fire), then the driver domain runs the work they queued. */
const until = (h: Harness, us: number) => { h.advance(us * PS_PER_US); h.drain(); };

/** A vif with these timeouts (us) and `n` packets queued for the guest, which has posted no buffers yet. */
function waiting(opts: { rxDrainUs?: number; rxStallUs?: number; rxPollUs?: number }, n = 1, rxNotify = true): Harness {
  const h = harness();
  h.vif.rxNotify = rxNotify;
  h.vif.opts = { ...h.vif.opts, ...opts };
  for (let i = 0; i < n; i++) h.vif.xmit(h.x, h.incoming());
  h.drain();
  return h;
}

/** Every RX state the vif's actor goes through from now on. */
function rxStates(h: Harness): string[] {
  const seen: string[] = [];
  h.vif.actor!.subscribe(() => seen.push(h.vif.control.rx));
  return seen;
}

describe('netback RX queue: the re-check timer', () => {
  it('with feature-rx-notify the backend does not poll: the timer is due at the first expiry or stall, whichever is first', () => {
    const h = harness(); // defaults: drain 10 s, stall 60 s, poll 30 ms
    h.vif.xmit(h.x, h.incoming());
    h.drain();
    expect(h.vif.control.rx).to.equal('stalled');
    expect(at(h)).to.deep.equal([10_000_000]);
    const s = waiting({ rxDrainUs: 500, rxStallUs: 200 });
    expect(at(s)).to.deep.equal([200]);
  });

  it('after an expiry the timer is re-armed for the next packet\'s own expiry, counted from when it was queued', () => {
    const h = waiting({ rxDrainUs: 100, rxStallUs: 1_000_000, rxPollUs: 1_000_000 });
    h.advance(60 * PS_PER_US);
    h.vif.xmit(h.x, h.incoming());
    h.drain();
    expect(at(h)).to.deep.equal([100]); // one timer: the one armed for the first packet
    until(h, 100);
    expect(h.counters.drops['netback-rx-expired']).to.equal(1);
    expect(at(h)).to.deep.equal([160]);
  });

  it('one timer at a time: passes that find no buffers while it is pending arm no other', () => {
    const h = harness();
    h.vif.opts = { ...h.vif.opts, rxDrainUs: 100, rxStallUs: 1_000_000, rxPollUs: 1_000_000 };
    for (let i = 0; i < 3; i++) {
      h.advance(i * 10 * PS_PER_US);
      h.vif.xmit(h.x, h.incoming());
      h.drain();
    }
    h.vif.kick(h.x);
    h.drain();
    expect(h.vif.control.rx).to.equal('stalled');
    expect(at(h)).to.deep.equal([100]);
  });

  it('a timer that finds the queue empty (delivered meanwhile) schedules no receive pass', () => {
    const h = harness();
    h.vif.xmit(h.x, h.incoming());
    h.drain();
    expect(h.timers).to.have.length(1);
    h.post({ id: 1, gref: 1 });
    expect(h.vif.rxQueueLength()).to.equal(0);
    const posted = h.posted.length;
    h.advance(h.timers[0].at);
    expect(h.posted.slice(posted)).to.deep.equal([]);
    expect(h.vif.control.rx).to.equal('idle');
  });

  it('a vif without a clock delivers, waits for buffers and arms no timer', () => {
    const h = harness();
    h.vif.clock = null;
    h.vif.xmit(h.x, h.incoming());
    h.drain();
    expect(h.vif.control.rx).to.equal('stalled');
    expect(h.timers).to.deep.equal([]);
    h.post({ id: 1, gref: 1 });
    expect(h.rxResponses()).to.have.length(1);
    expect(h.vif.control.rx).to.equal('idle');
  });
});

describe('netback RX queue: stalls and expiry', () => {
  it('a delivery restarts the stall clock: the carrier goes only a full stall timeout after the last progress', () => {
    const h = waiting({ rxDrainUs: 1_000_000, rxStallUs: 50, rxPollUs: 1_000_000 }, 2);
    expect(at(h)).to.deep.equal([50]);
    h.advance(40 * PS_PER_US);
    h.post({ id: 1, gref: 1 }); // one buffer: one packet goes, the other waits
    expect(h.rxResponses()).to.have.length(1);
    expect(h.vif.rxQueueLength()).to.equal(1);
    until(h, 50);
    expect(h.vif.control.rx).to.equal('stalled'); // 10 us since the delivery, not 50 since the queue started
    expect(at(h)).to.deep.equal([90]);
    until(h, 89);
    expect(h.vif.control.rx).to.equal('stalled');
    until(h, 90);
    expect(h.vif.control.rx).to.equal('carrierOff');
    expect(h.counters.violations['vif-rx-stalled']).to.equal(1);
  });

  it('without feature-rx-notify there is no stall detection (Linux: stall_timeout 0): the queue is polled and its packets expire', () => {
    const h = waiting({ rxDrainUs: 1_000, rxStallUs: 50, rxPollUs: 30 }, 1, false);
    for (let t = 30; t < 1_000; t += 30) until(h, t);
    expect(h.vif.control.rx).to.equal('stalled');
    expect(h.counters.violations['vif-rx-stalled']).to.equal(undefined);
    until(h, 1_020);
    expect(h.counters.drops['netback-rx-expired']).to.equal(1);
    expect(h.counters.drops['vif-carrier-off']).to.equal(undefined);
  });

  it('a pass that finds nothing expired drains nothing', () => {
    const h = harness();
    h.vif.opts = { ...h.vif.opts, rxDrainUs: 100, rxStallUs: 1_000, rxPollUs: 1_000 };
    const seen = rxStates(h);
    h.vif.xmit(h.x, h.incoming());
    h.drain();
    h.advance(99 * PS_PER_US);
    h.vif.kick(h.x);
    h.drain();
    expect(seen).to.not.include('draining');
    expect(h.counters.drops).to.not.have.property('netback-rx-expired');
    expect(h.vif.rxQueueLength()).to.equal(1);
  });

  it('an empty queue is never stalled, however long since the last delivery', () => {
    const h = harness();
    h.vif.opts = { ...h.vif.opts, rxStallUs: 50 };
    h.vif.xmit(h.x, h.incoming());
    h.post({ id: 1, gref: 1 });
    h.advance(1_000 * PS_PER_US);
    xenvif_rx_queue_drop_expired(h.vif);
    expect(h.vif.control.rx).to.equal('idle');
    expect(h.counters.violations).to.not.have.property('vif-rx-stalled');
  });
});

describe('netback RX queue: passes and the frames of delivered packets', () => {
  it('a packet that carries its own release (zero-copy pages of another vif) is released once delivered, its frames not freed by us', () => {
    const h = harness();
    const released: Exec[] = [];
    const p: Packet = { ...h.incoming({ len: 200 }), release: (x) => { released.push(x); } };
    h.vif.xmit(h.x, p);
    h.post({ id: 1, gref: 1 });
    expect(h.rxResponses().map((r) => r.status)).to.deep.equal([200 + HDR_LEN]);
    expect(released).to.deep.equal([h.x]);
    expect(h.freed).to.not.include(p.frames[0]);
  });

  it('only frames the driver domain owns go back to its pool', () => {
    const h = harness();
    const p = h.incoming({ len: 200 });
    h.owner.set(p.frames[0], GUEST + 1); // a frame of another domain (e.g. not yet returned)
    h.vif.xmit(h.x, p);
    h.post({ id: 1, gref: 1 });
    expect(h.rxResponses()).to.have.length(1);
    expect(h.freed).to.not.include(p.frames[0]);
  });

  it('the stats keep the largest receive pass, not the latest', () => {
    const h = harness();
    for (let i = 0; i < 3; i++) h.vif.xmit(h.x, h.incoming());
    h.post({ id: 1, gref: 1 }, { id: 2, gref: 2 });
    h.post({ id: 3, gref: 3 });
    expect(h.rxResponses()).to.have.length(3);
    expect(h.vif.stats.maxRxPerPass).to.equal(2);
  });

  it('a receive pass queued before a disconnect does no work when it runs', () => {
    const h = harness();
    h.vif.xmit(h.x, h.incoming());
    expect(h.queue.map((t) => t.name)).to.deep.equal(['vif3.0-rx']);
    h.vif.disconnect(h.x);
    h.drain();
    expect(h.cpu.touches).to.deep.equal([]);
    expect(h.vif.control.rx).to.equal('idle');
  });

  it('map-and-copy: a buffer that failed to map is neither touched nor copied into', () => {
    const h = harness({ rxCopyVia: 'map', badRefs: new Set([2]) });
    h.vif.xmit(h.x, h.incoming({ len: 300 }));
    h.vif.xmit(h.x, h.incoming({ len: 400 }));
    h.post({ id: 1, gref: 1 }, { id: 2, gref: 2 });
    expect(h.cpu.copies.map((c) => c.bytes)).to.deep.equal([300 + HDR_LEN]);
    expect(h.cpu.transient.map((t) => t.frame)).to.deep.equal([h.frameOf(1)]);
    expect([...h.contents.keys()].filter((f) => f === undefined || f >= 500 && f < 10_000)).to.deep.equal([h.frameOf(1)]);
  });

  it('map-and-copy copies the packet\'s header and payload into the guest\'s buffer, byte for byte', () => {
    const h = harness({ rxCopyVia: 'map' });
    const p = h.incoming({ len: 1000 });
    writePayload(h.vif.kernel.mem as MachineMemory, p.frames, 7, 5000, 1000);
    h.vif.xmit(h.x, p);
    h.post({ id: 1, gref: 1 });
    expect(h.vif.kernel.mem.payload.get(h.frameOf(1))).to.deep.equal({ flow: 7, off: 5000, len: 1000, gen: 0, at: HDR_LEN });
  });

  it('grant copy: a copy Xen refused writes nothing anywhere', () => {
    const h = harness({ badRefs: new Set([2]) });
    h.vif.xmit(h.x, h.incoming({ len: 100 }));
    h.vif.xmit(h.x, h.incoming({ len: 200 }));
    const before = new Set(h.contents.keys());
    h.post({ id: 1, gref: 1 }, { id: 2, gref: 2 });
    expect([...h.contents.keys()].filter((f) => !before.has(f))).to.deep.equal([h.frameOf(1)]);
  });

  it('page flipping: a frame that is not ours (Xen could not steal it: bad_page) is not put in our pool', () => {
    const h = harness({ feat: { rxCopy: false }, badPageRefs: new Set([1]) });
    const p = h.incoming({ len: 100 });
    h.owner.set(p.frames[0], GUEST + 1);
    h.vif.xmit(h.x, p);
    h.post({ id: 1, gref: 1 });
    expect(h.rxResponses().map((r) => r.status)).to.deep.equal([NETIF_RSP.ERROR]);
    expect(h.freed).to.not.include(p.frames[0]);
  });

  it('the packet ledger: a delivery to an adversary\'s vif counts the packet as sunk, to an honest one not', () => {
    for (const adversary of [true, false]) {
      const h = harness({ badRefs: new Set([2]) });
      h.vif.adversary = adversary;
      h.vif.xmit(h.x, h.incoming());
      h.vif.xmit(h.x, h.incoming());
      h.post({ id: 1, gref: 1 }, { id: 2, gref: 2 });
      expect(h.counters.pkt.sunk, String(adversary)).to.equal(adversary ? 1 : 0);
    }
  });
});
