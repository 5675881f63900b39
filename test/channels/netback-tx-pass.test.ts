import { expect } from 'chai';
import { HDR_LEN, type Packet } from '../../src/core/packet.js';
import { Netback, PendingPool } from '../../src/channels/netback.js';
import { tx_work_todo, xenvif_fatal_tx_err, xenvif_tx_action } from '../../src/channels/netback/tx.js';
import { TxCredit } from '../../src/channels/netback/credit.js';
import { writePayload } from '../../src/hardware/payload.js';
import type { MachineMemory } from '../../src/hardware/memory.js';
import type { Exec } from '../../src/core/exec.js';
import type { Kernel } from '../../src/domains/kernel.js';
import type { Gather } from '../../src/core/packet.js';
import { FATAL_SKB_SLOTS, NETIF_RSP, NETTXF, XEN_NETIF_EXTRA_TYPE, XEN_NETIF_GSO_TYPE, type TxExtra, type TxRequest } from '../../src/channels/netif.js';
import { addressSpace, bytes, harness, type Harness } from '../support/netback-double.js';

/**
 * Netback's TX pass around the packet checks (Linux netback.c, issue 28), over the doubles of
 * test/support/netback-double.ts: the pending pool's wake-up threshold (a worst-case packet,
 * XEN_NETBK_LEGACY_SLOTS_MAX + 1 slots), passes on a disconnected or disabled vif, the final check
 * for requests (RING_FINAL_CHECK_FOR_REQUESTS with a validated producer), the credit check on the
 * request at req_cons (tx_credit_exceeded), which error wins when several apply
 * (xenvif_count_requests keeps the first), what a packet handed to the bridge says about its
 * bytes (the header copy, then the slots' [offset, offset + size)), and the dealloc work item.
 */
const PS_PER_US = 1e6;
const req = (over: Partial<TxRequest>): TxRequest => ({ gref: 1, offset: 0, flags: 0, id: 0, size: 100, ...over });
const gsoExtra = (over: Partial<TxExtra> = {}): TxExtra => ({ extra: true, type: XEN_NETIF_EXTRA_TYPE.GSO, flags: 0, gsoSize: 1448, gsoType: XEN_NETIF_GSO_TYPE.TCPV4, ...over });
const more = NETTXF.more_data;

/** Xen's grant copy as xen.ts does it: the bytes move (the double only records the operation). */
function copyingXen(h: Harness): void {
  const xen = h.vif.xen as unknown as { grantCopy: (x: Exec, k: Kernel, ops: Array<{ source: { offset: number }; dest: { offset: number }; len: number }>) => Array<{ status: number; srcFrame?: number; destFrame?: number }> };
  const copy = xen.grantCopy;
  xen.grantCopy = (x, k, ops) => {
    const res = copy(x, k, ops);
    res.forEach((r, i) => { if (r.srcFrame !== undefined && r.destFrame !== undefined) (h.vif.kernel.mem as MachineMemory).copy(r.srcFrame, ops[i].source.offset, r.destFrame, ops[i].dest.offset, ops[i].len); });
    return res;
  };
}

/** Count the grant hypercalls netback makes (each batch is one). */
function countCalls(h: Harness): Record<string, number> {
  const n: Record<string, number> = {};
  const xen = h.vif.xen as unknown as Record<string, (...a: unknown[]) => unknown>;
  for (const name of ['grantMap', 'grantDeviceMap', 'grantCopy', 'grantUnmap']) {
    const f = xen[name];
    xen[name] = (...a: unknown[]) => { n[name] = (n[name] ?? 0) + 1; return f(...a); };
  }
  return n;
}

describe('netback TX pass: the pending pool', () => {
  const nb = (kicks: string[], name: string) => ({ kick: () => { kicks.push(name); } }) as unknown as Netback;

  it('a waiting vif is woken only once a worst-case packet fits (FATAL_SKB_SLOTS + 1 free slots)', () => {
    const kicks: string[] = [];
    const pool = new PendingPool(addressSpace(), 2 * (FATAL_SKB_SLOTS + 1));
    const a = nb(kicks, 'a'), b = nb(kicks, 'b');
    expect(pool.take(2 * (FATAL_SKB_SLOTS + 1), a)).to.equal(true);
    expect(pool.take(1, b)).to.equal(false);
    pool.give(FATAL_SKB_SLOTS, null);
    expect(kicks).to.deep.equal([]);
    pool.give(1, null);
    expect(kicks).to.deep.equal(['b']);
  });

  it('a waiter that tries again while still short keeps one place in the queue; once served, the next vif is not held up', () => {
    const kicks: string[] = [];
    const pool = new PendingPool(addressSpace(), 10);
    const a = nb(kicks, 'a'), b = nb(kicks, 'b'), c = nb(kicks, 'c');
    expect(pool.take(10, c)).to.equal(true);
    expect(pool.take(5, a)).to.equal(false);
    expect(pool.take(5, a)).to.equal(false); // still short, still first
    pool.give(10, null, 5);
    expect(pool.take(5, a)).to.equal(true);
    expect(pool.take(5, b)).to.equal(true); // nobody waits any more
  });

  it('forgetting a vif that is not waiting leaves the queue alone', () => {
    const kicks: string[] = [];
    const pool = new PendingPool(addressSpace(), 1);
    const a = nb(kicks, 'a'), b = nb(kicks, 'b');
    expect(pool.take(2, a)).to.equal(false);
    pool.forget(b, null);
    pool.give(5, null, 1);
    expect(kicks).to.deep.equal(['a']);
  });

  it('a waiter behind the first one leaving wakes nobody', () => {
    const kicks: string[] = [];
    const W = FATAL_SKB_SLOTS + 1;
    const pool = new PendingPool(addressSpace(), 2 * W);
    const x = nb(kicks, 'x'), a = nb(kicks, 'a'), b = nb(kicks, 'b');
    expect(pool.take(2 * W, x)).to.equal(true);
    expect(pool.take(W, a)).to.equal(false);
    expect(pool.take(W, b)).to.equal(false);
    pool.give(W, null); // a's turn
    expect(kicks).to.deep.equal(['a']);
    pool.forget(b, null);
    expect(kicks).to.deep.equal(['a']);
  });
});

describe('netback TX pass: when a pass does nothing', () => {
  it('a TX pass queued before a disconnect takes nothing and costs nothing', () => {
    const h = harness();
    h.front.putRequest(req({ gref: 1, id: 1 }));
    h.front.pushRequests();
    h.vif.onEvent(h.x);
    expect(h.queue.map((t) => t.name)).to.deep.equal(['vif3.0-tx']);
    h.vif.disconnect(h.x);
    h.drain();
    expect(h.vif.tx.reqCons).to.equal(0);
    expect(h.cpu.touches).to.deep.equal([]);
    expect(h.vif.stats.txPasses).to.equal(0);
  });

  it('a TX pass run on a disabled vif takes nothing', () => {
    const h = harness();
    h.send(req({ gref: 1, id: 1, size: 5000 })); // past its page: fatal
    expect(h.vif.disabled).to.equal('slot-crosses-page');
    h.front.putRequest(req({ gref: 2, id: 2 }));
    h.front.pushRequests();
    const passes = h.vif.stats.txPasses;
    xenvif_tx_action(h.vif, h.x);
    expect(h.vif.tx.reqCons).to.equal(1);
    expect(h.vif.stats.txPasses).to.equal(passes);
  });

  it('a pass that takes no packet makes no grant hypercall; a mapping pass makes no copy hypercall', () => {
    const h = harness();
    const n = countCalls(h);
    h.vif.credit = new TxCredit(50, 1000, 0);
    h.send(req({ gref: 1, id: 1, size: 100 })); // over the credit: the pass stops before it
    expect(h.vif.tx.reqCons).to.equal(0);
    expect(n).to.deep.equal({});
    const m = harness();
    const c = countCalls(m);
    m.contents.set(m.frameOf(1), bytes());
    m.send(req({ gref: 1, id: 1, size: HDR_LEN + 100 }));
    expect(m.forwarded).to.have.length(1);
    expect(c).to.deep.equal({ grantMap: 1 });
  });
});

describe('netback TX pass: fatal errors and the final check for requests', () => {
  it('a second fatal error on a disabled vif changes nothing: the first reason stays, counted once', () => {
    const h = harness();
    h.send(req({ gref: 1, id: 1, size: 5000 }));
    expect(h.vif.disabled).to.equal('slot-crosses-page');
    xenvif_fatal_tx_err(h.vif, 'second');
    expect(h.vif.disabled).to.equal('slot-crosses-page');
    expect(h.counters.violations).to.deep.include({ 'vif-disabled:slot-crosses-page': 1 });
    expect(h.counters.violations).to.not.have.property('vif-disabled:second');
  });

  it('a fatal error drops what was queued for the guest (carrier off) as vif-disabled', () => {
    const h = harness();
    h.vif.xmit(h.x, h.incoming());
    h.vif.xmit(h.x, h.incoming());
    h.front.putRequest(req({ gref: 1, id: 1, size: 5000 }));
    h.front.pushRequests();
    h.vif.onEvent(h.x);
    expect(h.queue.map((t) => t.name)).to.deep.equal(['vif3.0-rx', 'vif3.0-tx']);
    h.queue.splice(1, 1)[0].run(h.x); // the TX pass runs first: the packets still wait for the guest
    expect(h.vif.disabled).to.equal('slot-crosses-page');
    expect(h.counters.drops['vif-disabled']).to.equal(2);
    expect(h.vif.rxQueueLength()).to.equal(0);
  });

  it('with requests waiting the final check says so without moving req_event', () => {
    const h = harness();
    h.front.putRequest(req({}));
    h.front.pushRequests();
    const ev = h.rings.tx.reqEvent;
    expect(tx_work_todo(h.vif)).to.equal(true);
    expect(h.rings.tx.reqEvent).to.equal(ev);
  });

  it('a full ring of unanswered requests is legal work', () => {
    const h = harness({ size: 4 });
    for (let i = 0; i < 4; i++) h.front.putRequest(req({ id: i }));
    h.front.pushRequests();
    expect(tx_work_todo(h.vif)).to.equal(true);
    expect(h.vif.disabled).to.equal(null);
  });

  it('a producer that becomes impossible after the pass\'s own read is caught by the final check: disabled, no event re-armed', () => {
    const h = harness();
    h.contents.set(h.frameOf(1), bytes());
    h.front.putRequest(req({ gref: 1, id: 1, size: HDR_LEN + 100 }));
    h.front.pushRequests();
    h.vif.onEvent(h.x);
    // From the pass's first read on, the guest's req_prod reads 1 once, then far ahead (a lying, oscillating producer).
    let reads = 0;
    Object.defineProperty(h.rings.tx, 'reqProd', { get: () => (reads++ === 0 ? 1 : 1 + 1000), configurable: true });
    const ev = h.rings.tx.reqEvent;
    h.drain();
    expect(reads).to.be.greaterThan(1);
    expect(h.forwarded).to.have.length(1);
    expect(h.vif.disabled).to.equal('impossible-number-of-requests');
    expect(h.rings.tx.reqEvent).to.equal(ev);
    expect(h.vif.control.tx).to.equal('disabled');
    // Caught in that pass: no further pass was queued or run.
    expect(h.vif.stats.txPasses).to.equal(1);
    expect(h.posted.filter((n) => n === 'vif3.0-tx')).to.have.length(1);
  });
});

describe('netback TX pass: the credit check (tx_credit_exceeded)', () => {
  it('the credit is checked against the request at req_cons, not the ring\'s first slot', () => {
    const h = harness();
    h.vif.credit = new TxCredit(300, 1000, 0);
    for (let i = 1; i <= 3; i++) h.contents.set(h.frameOf(i), bytes({ seq: i }));
    h.send(req({ gref: 1, id: 1, size: 100 }), req({ gref: 2, id: 2, size: 100 }), req({ gref: 3, id: 3, size: 200 }));
    expect(h.forwarded.map((p) => p.seq)).to.deep.equal([1, 2]);
    expect(h.vif.tx.reqCons).to.equal(2);
  });

  it('a packet of exactly the remaining credit goes', () => {
    const h = harness();
    h.vif.credit = new TxCredit(300, 1000, 0);
    h.contents.set(h.frameOf(1), bytes());
    h.send(req({ gref: 1, id: 1, size: 300 }));
    expect(h.forwarded).to.have.length(1);
    expect(h.timers).to.deep.equal([]);
  });

  it('a window long past refills at once: a packet that then fits goes in the same pass, one that does not gets a timer due now', () => {
    const h = harness();
    h.vif.credit = new TxCredit(1000, 10, 0);
    for (let i = 1; i <= 3; i++) h.contents.set(h.frameOf(i), bytes({ seq: i }));
    h.send(req({ gref: 1, id: 1, size: 1000 }));
    h.complete();
    h.advance(100 * PS_PER_US);
    h.send(req({ gref: 2, id: 2, size: 800 }));
    expect(h.forwarded.map((p) => p.seq)).to.deep.equal([2]);
    expect(h.timers).to.deep.equal([]);
    h.complete();
    h.advance(200 * PS_PER_US);
    h.send(req({ gref: 3, id: 3, size: 1500 })); // refilled to 1200: still short
    expect(h.forwarded).to.deep.equal([]);
    expect(h.timers.map((t) => t.at / PS_PER_US)).to.deep.equal([200]); // the old window's end (110) is past: at once
    h.advance(200 * PS_PER_US);
    h.drain();
    expect(h.forwarded.map((p) => p.seq)).to.deep.equal([3]);
  });

  it('credit is refilled only when a packet does not fit: a window long past then gives a timer due at once', () => {
    const h = harness();
    h.vif.credit = new TxCredit(1000, 10, 0);
    for (let i = 1; i <= 3; i++) h.contents.set(h.frameOf(i), bytes({ seq: i }));
    h.send(req({ gref: 1, id: 1, size: 500 }));
    h.advance(100 * PS_PER_US);
    h.send(req({ gref: 2, id: 2, size: 500 })); // fits what is left: no refill, the window still starts at 0
    h.send(req({ gref: 3, id: 3, size: 1500 })); // refill to 1000, still short: the timer for the old window's end (10 us) fires at once
    expect(h.forwarded.map((p) => p.seq)).to.deep.equal([1, 2]);
    expect(h.timers.map((t) => t.at / PS_PER_US)).to.deep.equal([100]);
  });

  it('a request the guest never wrote (a producer past its slots) counts as size 0 and is answered as a runt', () => {
    const h = harness();
    h.vif.credit = new TxCredit(1000, 1000, 0);
    h.rings.tx.reqProd = 1;
    h.vif.onEvent(h.x);
    h.drain();
    expect(h.responses()).to.deep.equal([{ id: 0, status: NETIF_RSP.ERROR }]);
    expect(h.counters.drops['tx-runt']).to.equal(1);
  });

  it('an impossible producer found by the credit timer\'s final check disables the vif, counted once', () => {
    const h = harness();
    h.vif.credit = new TxCredit(100, 1000, 0);
    h.send(req({ gref: 1, id: 1, size: 200 }));
    expect(h.vif.control.tx).to.equal('creditWait');
    h.rings.tx.reqProd = 1000; // the guest lies while its vif waits for credit
    h.advance(1000 * PS_PER_US);
    expect(h.vif.credit!.timerPending).to.equal(false); // the timer fired
    expect(h.vif.disabled).to.equal('impossible-number-of-requests');
    expect(h.counters.violations).to.deep.equal({ 'vif-disabled:impossible-number-of-requests': 1 });
    expect(h.queue).to.deep.equal([]);
  });

  it('the credit timer of a vif whose pass is already queued queues no second pass', () => {
    const h = harness();
    h.vif.credit = new TxCredit(100, 1000, 0);
    h.contents.set(h.frameOf(1), bytes());
    h.send(req({ gref: 1, id: 1, size: 200 }));
    expect(h.vif.control.tx).to.equal('creditWait');
    h.front.putRequest(req({ gref: 2, id: 2, size: 50 }));
    h.front.pushRequests();
    h.vif.kick(h.x); // a pass is queued (napi_schedule)
    const queued = h.queue.length;
    h.advance(1000 * PS_PER_US);
    expect(h.queue.length).to.equal(queued);
  });
});

describe('netback TX pass: which error wins, and the responses of a refused packet', () => {
  it('the first drop reason stays: fragments exceeding the total, then too many slots, is dropped as fragments-exceed-total', () => {
    const h = harness();
    const slots = [req({ gref: 1, id: 0, flags: more, size: 200 }), req({ gref: 2, id: 1, flags: more, size: 300 })];
    for (let i = 2; i <= 19; i++) slots.push(req({ gref: i + 1, id: i, flags: i < 19 ? more : 0, size: 10 }));
    h.send(...slots);
    expect(h.counters.drops).to.deep.include({ 'tx-fragments-exceed-total': 1 });
    expect(h.counters.drops).to.not.have.property('tx-too-many-slots');
    expect(h.vif.disabled).to.equal(null);
  });

  it('a following slot exactly the size left of the total is no overflow (the first slot is then a runt)', () => {
    const h = harness();
    h.send(req({ gref: 1, id: 1, flags: more, size: 200 }), req({ gref: 2, id: 2, size: 200 }));
    expect(h.counters.drops).to.deep.equal({ 'tx-runt': 1 });
  });

  it('a following slot ending exactly at its page\'s end is within the page', () => {
    const h = harness();
    h.contents.set(h.frameOf(1), bytes());
    h.send(req({ gref: 1, id: 1, flags: more, size: 1000 }), req({ gref: 2, id: 2, offset: 4096 - 500, size: 500 }));
    expect(h.vif.disabled).to.equal(null);
    expect(h.forwarded).to.have.length(1);
  });

  it('a runt with a bad GSO extra is dropped as a runt, not a fatal bad-gso (the size check comes first)', () => {
    const h = harness();
    h.send(req({ gref: 1, id: 1, flags: NETTXF.extra_info | more, size: 200 }), gsoExtra({ gsoSize: 0 }), req({ gref: 2, id: 2, size: 190 }));
    expect(h.vif.disabled).to.equal(null);
    expect(h.counters.drops).to.deep.equal({ 'tx-runt': 1 });
    // Every slot answered once, the extra's NULL right after the first.
    expect(h.responses()).to.deep.equal([{ id: 1, status: NETIF_RSP.ERROR }, { id: 0, status: NETIF_RSP.NULL }, { id: 2, status: NETIF_RSP.ERROR }]);
  });

  it('a multicast address is a key: added twice it is one entry; an extra without an address adds and removes the same one', () => {
    const h = harness();
    const mc = (type: number, addr?: string): TxExtra => ({ extra: true, type, flags: 0, gsoSize: 0, gsoType: 0, ...(addr === undefined ? {} : { addr }) });
    h.send(req({ id: 1, flags: NETTXF.extra_info }), mc(XEN_NETIF_EXTRA_TYPE.MCAST_ADD));
    expect(h.vif.mcast.size).to.equal(1);
    h.send(req({ id: 2, flags: NETTXF.extra_info }), mc(XEN_NETIF_EXTRA_TYPE.MCAST_DEL));
    expect(h.vif.mcast.size).to.equal(0);
  });

  it('a packet whose only page fails to map unmaps nothing; in no-remap mode the undo is a device unmap (no host mapping)', () => {
    const h = harness({ badRefs: new Set([1]) });
    h.send(req({ gref: 1, id: 1, size: 200 }));
    expect(h.responses()).to.deep.equal([{ id: 1, status: NETIF_RSP.ERROR }]);
    expect(h.calls.unmaps).to.deep.equal([]);
    const d = harness({ txMode: 'noremap', badRefs: new Set([2]) });
    d.send(req({ gref: 1, id: 1, flags: more, size: 1200 }), req({ gref: 2, id: 2, size: 1000 }));
    expect(d.calls.unmaps).to.deep.equal([{ handles: [1], host: false }]);
  });
});

describe('netback TX pass: what the bridge gets', () => {
  it('the packet\'s bytes are its slots\' [offset, offset + size), the first slot holding its own part of the total', () => {
    const h = harness();
    h.contents.set(h.frameOf(1), bytes({ mss: 4000 }));
    h.send(req({ gref: 1, id: 1, offset: 64, flags: more, size: 3000 }), req({ gref: 2, id: 2, offset: 8, size: 1000 }));
    expect(h.forwarded).to.have.length(1);
    expect(h.forwarded[0].data).to.deep.equal({ pages: [h.frameOf(1), h.frameOf(2)], offsets: [64, 8], sizes: [2000, 1000], head: null, skip: 0 });
  });

  it('no-remap: the header copy brings the first payload bytes, across slots, for each packet of the pass', () => {
    const h = harness({ txMode: 'noremap' });
    copyingXen(h);
    const mem = h.vif.kernel.mem as MachineMemory;
    // Packet 1: one slot, its payload right after the header. Packet 2: 100 bytes in its first slot, the rest in the next.
    h.contents.set(h.frameOf(1), bytes({ seq: 1 }));
    writePayload(mem, [h.frameOf(1)], 7, 0, 1000);
    h.contents.set(h.frameOf(2), bytes({ seq: 2 }));
    writePayload(mem, [h.frameOf(2)], 9, 0, 100 - HDR_LEN);
    mem.write(h.frameOf(3), 0, 9, 100 - HDR_LEN, 900, 0);
    h.send(
      req({ gref: 1, id: 1, size: HDR_LEN + 1000 }),
      req({ gref: 2, id: 2, flags: more, size: 1000 }), req({ gref: 3, id: 3, size: 900 }),
    );
    expect(h.forwarded.map((p) => p.seq)).to.deep.equal([1, 2]);
    const head = (p: Packet) => (p.data as Gather).head;
    expect(head(h.forwarded[0])).to.deep.equal({ flow: 7, off: 0, len: 128 - HDR_LEN, gen: 0 });
    expect(head(h.forwarded[1])).to.deep.equal({ flow: 9, off: 0, len: 128 - HDR_LEN, gen: 0 });
  });

  it('no-remap: a packet of no more than a header brings no payload in its copy', () => {
    const h = harness({ txMode: 'noremap' });
    copyingXen(h);
    h.contents.set(h.frameOf(1), bytes({ mss: 1448 }));
    h.send(req({ gref: 1, id: 1, size: HDR_LEN }));
    expect(h.forwarded).to.have.length(1);
    expect((h.forwarded[0].data as Gather).head).to.equal(null);
  });

  it('the NIC finishing several packets queues one dealloc work item', () => {
    const h = harness();
    for (let i = 1; i <= 3; i++) h.contents.set(h.frameOf(i), bytes());
    h.send(req({ gref: 1, id: 1 }), req({ gref: 2, id: 2 }), req({ gref: 3, id: 3 }));
    const before = h.posted.length;
    for (const p of h.forwarded.splice(0)) p.release?.(h.x);
    expect(h.posted.slice(before)).to.deep.equal(['vif3.0-tx-done']);
    h.drain();
    expect(h.responses()).to.have.length(3);
    expect(h.calls.unmaps).to.deep.equal([{ handles: [1, 2, 3], host: true }]);
  });
});

describe('netback TX pass: statistics and the packet ledger', () => {
  it('the stats keep the largest pass (slots, grant operations), not the latest; every slot taken is counted', () => {
    const h = harness();
    for (let i = 1; i <= 4; i++) h.contents.set(h.frameOf(i), bytes());
    h.send(req({ gref: 1, id: 1, flags: more, size: 300 }), req({ gref: 2, id: 2, flags: more, size: 100 }), req({ gref: 3, id: 3, size: 100 }));
    h.send(req({ gref: 4, id: 4, size: 100 }));
    expect(h.vif.stats.maxTxSlotsPerPass).to.equal(3);
    expect(h.vif.stats.maxGrantOpsPerPass).to.equal(3);
    expect(h.vif.stats.slotsTaken).to.equal(4);
  });

  it('a packet from an adversary\'s vif counts as injected into the system, one from an honest vif not', () => {
    for (const adversary of [true, false]) {
      const h = harness();
      h.vif.adversary = adversary;
      h.contents.set(h.frameOf(1), bytes());
      h.send(req({ gref: 1, id: 1, size: HDR_LEN + 100 }), req({ gref: 2, id: 2, size: 5 }));
      expect(h.vif.txUnits).to.equal(2);
      expect(h.counters.pkt.injected, String(adversary)).to.equal(adversary ? 2 : 0);
    }
  });
});
