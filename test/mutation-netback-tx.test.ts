import { expect } from 'chai';
import { ETH_HLEN, HDR_LEN } from '../src/domains/packet.js';
import { Netback, PendingPool, COPY_LEN } from '../src/channels/netback.js';
import { xenvif_tx_copy_ops } from '../src/channels/netback/tx.js';
import { TAG, tlbTag } from '../src/hardware/tlb.js';
import { asExtra, asRequest, type PendingTx } from '../src/channels/netback/common.js';
import {
  FATAL_SKB_SLOTS, NETIF_RSP, NETTXF, VifRings, XEN_NETBK_MCAST_MAX, XEN_NETIF_EXTRA_FLAG_MORE, XEN_NETIF_EXTRA_TYPE,
  XEN_NETIF_GSO_TYPE, XEN_NETIF_NR_SLOTS_MIN, type TxExtra, type TxRequest, type TxSlot,
} from '../src/channels/netif.js';
import { GUEST, addressSpace, bytes, harness } from './support/netback-double.js';

/**
 * Netback's transmit path on its own (found by mutation testing, issue 14): a vif built over test
 * doubles of the driver domain's kernel, of Xen's grant hypercalls and of the CPU (Exec), with the
 * guest's side of the TX ring driven through a FrontRing. Each case states a rule of
 * docs/protocol.md 2.1, 2.2, 2.5 and the validation table of 2.10 and checks the responses on the
 * ring, the packets handed to the bridge, the grant operations and whether the vif was disabled.
 */

const req = (over: Partial<TxRequest>): TxRequest => ({ gref: 1, offset: 0, flags: 0, id: 0, size: 100, ...over });
const extra = (over: Partial<TxExtra>): TxExtra => ({ extra: true, type: XEN_NETIF_EXTRA_TYPE.GSO, flags: 0, gsoSize: 1448, gsoType: XEN_NETIF_GSO_TYPE.TCPV4, ...over });

describe('netback TX (mutation): a well-formed packet', () => {
  it('one slot: mapped read-only, forwarded with the first request\'s size as its length, answered OKAY once the NIC is done', () => {
    const h = harness();
    h.contents.set(h.frameOf(4), bytes({ flow: 9, seq: 5000, mss: 1448 }));
    h.send(req({ gref: 4, id: 11, size: HDR_LEN + 1000 }));
    expect(h.calls.maps).to.deep.equal([{ ref: 4, readonly: true, device: false }]);
    expect(h.counters.txDataMaps).to.equal(1);
    expect(h.forwarded).to.have.length(1);
    expect(h.forwarded[0]).to.include({ flow: 9, seq: 5000, len: 1000, mss: 1448, csum: 'done', owner: GUEST });
    expect(h.forwarded[0].frames).to.deep.equal([h.frameOf(4)]);
    expect(h.responses()).to.deep.equal([]); // not before the NIC is done
    expect(h.vif.txInflight).to.equal(1);
    h.complete();
    expect(h.responses()).to.deep.equal([{ id: 11, status: NETIF_RSP.OKAY }]);
    expect(h.calls.unmaps).to.deep.equal([{ handles: [1], host: true }]);
    expect(h.vif.txInflight).to.equal(0);
    expect(h.vif.txUnits).to.equal(1);
    expect(h.vif.disabled).to.equal(null);
    expect(h.vif.stats.txPasses).to.equal(1);
    expect(h.vif.stats.maxTxSlotsPerPass).to.equal(1);
  });

  it('csum_blank asks for checksum offload: the packet goes on as partial', () => {
    const h = harness();
    h.contents.set(h.frameOf(1), bytes());
    h.send(req({ flags: NETTXF.csum_blank | NETTXF.data_validated, size: HDR_LEN + 100 }));
    expect(h.forwarded[0].csum).to.equal('partial');
  });

  it('a GSO extra sets the segment size; the extra slot is answered NULL right after its packet\'s first slot', () => {
    const h = harness();
    h.contents.set(h.frameOf(1), bytes({ mss: 1448 }));
    h.contents.set(h.frameOf(2), bytes());
    h.send(
      req({ gref: 1, id: 1, flags: NETTXF.extra_info | NETTXF.more_data, size: 4096 + 2000 }),
      extra({ gsoSize: 1000, gsoType: XEN_NETIF_GSO_TYPE.TCPV6 }),
      req({ gref: 2, id: 2, size: 2000 }),
    );
    expect(h.forwarded).to.have.length(1);
    expect(h.forwarded[0]).to.include({ len: 4096 + 2000 - HDR_LEN, mss: 1000 });
    expect(h.forwarded[0].frames).to.deep.equal([h.frameOf(1), h.frameOf(2)]);
    h.complete();
    expect(h.responses()).to.deep.equal([
      { id: 1, status: NETIF_RSP.OKAY }, { id: 0, status: NETIF_RSP.NULL }, { id: 2, status: NETIF_RSP.OKAY },
    ]);
  });

  it('a packet longer than its MSS without a GSO extra is dropped (OKAY answered, nothing forwarded)', () => {
    const h = harness();
    h.contents.set(h.frameOf(1), bytes({ mss: 500 }));
    h.send(req({ size: HDR_LEN + 501 }));
    expect(h.forwarded).to.deep.equal([]);
    expect(h.counters.drops['tx-oversize-without-gso']).to.equal(1);
    expect(h.responses()).to.deep.equal([{ id: 0, status: NETIF_RSP.OKAY }]); // answered once its pages are unmapped
    expect(h.counters.drops['tx-oversize-without-gso']).to.equal(1);
    const ok = harness();
    ok.contents.set(ok.frameOf(1), bytes({ mss: 500 }));
    ok.send(req({ size: HDR_LEN + 500 }));
    expect(ok.forwarded).to.have.length(1);
  });

  it('a page whose bytes the memory model does not know is dropped as tx-no-data', () => {
    const h = harness();
    h.send(req({ size: HDR_LEN + 10 }));
    expect(h.forwarded).to.deep.equal([]);
    expect(h.counters.drops['tx-no-data']).to.equal(1);
  });

  it('zero-size following slots are answered but never mapped (XSA-448)', () => {
    const h = harness();
    h.contents.set(h.frameOf(1), bytes());
    h.send(
      req({ gref: 1, id: 1, flags: NETTXF.more_data, size: 300 }),
      req({ gref: 2, id: 2, flags: NETTXF.more_data, size: 0 }),
      req({ gref: 3, id: 3, size: 100 }),
    );
    expect(h.calls.maps.map((m) => m.ref)).to.deep.equal([1, 3]);
    expect(h.vif.stats.zeroSizeFrags).to.equal(1);
    h.complete();
    expect(h.responses().map((r) => [r.id, r.status])).to.deep.equal([[1, 0], [2, 0], [3, 0]]);
  });

  it('exactly 18 following slots are accepted (XEN_NETIF_NR_SLOTS_MIN)', () => {
    const h = harness();
    h.contents.set(h.frameOf(0), bytes());
    const n = XEN_NETIF_NR_SLOTS_MIN;
    const slots = [req({ gref: 0, id: 0, flags: NETTXF.more_data, size: 100 + 10 * n })];
    for (let i = 1; i <= n; i++) slots.push(req({ gref: i, id: i, flags: i < n ? NETTXF.more_data : 0, size: 10 }));
    h.send(...slots);
    expect(h.forwarded).to.have.length(1);
    expect(h.vif.disabled).to.equal(null);
  });
});

describe('netback TX (mutation): packets dropped with error responses (2.10)', () => {
  const expectErrors = (h: ReturnType<typeof harness>, ids: number[]) =>
    expect(h.responses()).to.deep.equal(ids.map((id) => ({ id, status: NETIF_RSP.ERROR })));

  it('a first request shorter than an Ethernet header is a runt: ERROR, no map, vif stays up', () => {
    const h = harness();
    h.send(req({ id: 4, size: ETH_HLEN - 1 }));
    expectErrors(h, [4]);
    expect(h.counters.drops['tx-runt']).to.equal(1);
    expect(h.calls.maps).to.deep.equal([]);
    expect(h.vif.disabled).to.equal(null);
    const ok = harness();
    ok.contents.set(ok.frameOf(1), bytes());
    ok.send(req({ id: 4, size: ETH_HLEN }));
    expect(ok.counters.drops['tx-runt']).to.equal(undefined);
  });

  it('the runt check applies to the first slot\'s own bytes (total minus the following slots)', () => {
    const h = harness();
    h.send(req({ id: 1, flags: NETTXF.more_data, size: 1000 }), req({ id: 2, size: 1000 - ETH_HLEN + 1 }));
    expectErrors(h, [1, 2]);
    expect(h.counters.drops['tx-runt']).to.equal(1);
  });

  it('following slots larger than what the total leaves: dropped as fragments-exceed-total, not fatal', () => {
    const h = harness();
    h.send(req({ id: 1, flags: NETTXF.more_data, size: 200 }), req({ id: 2, size: 201 }));
    expectErrors(h, [1, 2]);
    expect(h.counters.drops['tx-fragments-exceed-total']).to.equal(1);
    expect(h.vif.disabled).to.equal(null);
  });

  it('19 or 20 following slots: every consumed slot answered ERROR, dropped as too-many-slots, vif stays up', () => {
    for (const n of [XEN_NETIF_NR_SLOTS_MIN + 1, FATAL_SKB_SLOTS]) {
      const h = harness();
      const slots = [req({ id: 0, flags: NETTXF.more_data, size: 100 + 10 * n })];
      for (let i = 1; i <= n; i++) slots.push(req({ gref: i, id: i, flags: i < n ? NETTXF.more_data : 0, size: 10 }));
      h.send(...slots);
      expectErrors(h, slots.map((s) => (s as TxRequest).id));
      expect(h.counters.drops['tx-too-many-slots'], `n=${n}`).to.equal(1);
      expect(h.vif.disabled, `n=${n}`).to.equal(null);
      expect(h.calls.maps).to.deep.equal([]);
    }
  });

  it('a MCAST_ADD extra is a dummy packet: answered at once, the address filtered; past 64 addresses ERROR; MCAST_DEL removes', () => {
    const h = harness({ size: 256 });
    const add = (addr: string, id: number) => h.send(req({ id, flags: NETTXF.extra_info, size: 0 }), extra({ type: XEN_NETIF_EXTRA_TYPE.MCAST_ADD, addr }));
    for (let i = 0; i < XEN_NETBK_MCAST_MAX; i++) add(`01:00:5e:00:00:${i.toString(16).padStart(2, '0')}`, i);
    expect(h.vif.mcast.size).to.equal(XEN_NETBK_MCAST_MAX);
    const rs = h.responses();
    expect(rs).to.have.length(2 * XEN_NETBK_MCAST_MAX);
    expect(rs.slice(0, 2)).to.deep.equal([{ id: 0, status: NETIF_RSP.OKAY }, { id: 0, status: NETIF_RSP.NULL }]);
    add('01:00:5e:00:00:00', 100); // already there: fine even when full
    expect(h.responses()[0]).to.deep.equal({ id: 100, status: NETIF_RSP.OKAY });
    add('01:00:5e:00:01:00', 101);
    expect(h.responses()).to.deep.equal([{ id: 101, status: NETIF_RSP.ERROR }, { id: 0, status: NETIF_RSP.NULL }]);
    expect(h.counters.violations['mcast-table-full']).to.equal(1);
    h.send(req({ id: 102, flags: NETTXF.extra_info, size: 0 }), extra({ type: XEN_NETIF_EXTRA_TYPE.MCAST_DEL, addr: '01:00:5e:00:00:05' }));
    expect(h.responses()[0]).to.deep.equal({ id: 102, status: NETIF_RSP.OKAY });
    expect(h.vif.mcast.has('01:00:5e:00:00:05')).to.equal(false);
    expect(h.vif.mcast.size).to.equal(XEN_NETBK_MCAST_MAX - 1);
    expect(h.forwarded).to.deep.equal([]);
    expect(h.calls.maps).to.deep.equal([]);
  });

  it('a grant that fails to map: ERROR for the packet\'s slots, its other mapped pages unmapped, later packets unaffected (XSA-362)', () => {
    const h = harness({ badRefs: new Set([2]) });
    h.contents.set(h.frameOf(5), bytes());
    h.send(
      req({ gref: 1, id: 1, flags: NETTXF.more_data, size: 300 }),
      req({ gref: 2, id: 2, size: 100 }),
      req({ gref: 5, id: 5, size: HDR_LEN + 10 }),
    );
    expect(h.calls.unmaps[0]).to.deep.equal({ handles: [1], host: true }); // gref 1's handle, undone at once
    expect(h.counters.drops['tx-grant-error']).to.equal(1);
    expect(h.forwarded.map((p) => p.frames)).to.deep.equal([[h.frameOf(5)]]);
    expect(h.responses()).to.deep.equal([{ id: 1, status: NETIF_RSP.ERROR }, { id: 2, status: NETIF_RSP.ERROR }]);
    expect(h.pool.free).to.equal(h.pool.size - 1); // only the forwarded packet's slot is still pending
  });
});

describe('netback TX (mutation): fatal violations disable the vif (2.10)', () => {
  const fatal = (build: (h: ReturnType<typeof harness>) => void, reason: string, answered: number[]) => {
    const h = harness();
    build(h);
    expect(h.vif.disabled, reason).to.equal(reason);
    expect(h.vif.control.tx).to.equal('disabled');
    expect(h.counters.violations[`vif-disabled:${reason}`]).to.equal(1);
    expect(h.responses().map((r) => [r.id, r.status]), reason).to.deep.equal(answered.map((id) => [id, id === 0 ? NETIF_RSP.NULL : NETIF_RSP.ERROR]));
    expect(h.forwarded).to.deep.equal([]);
    // A disabled vif takes nothing more from the ring.
    const before = h.vif.tx.reqCons;
    h.send(req({ id: 99, size: 100 }));
    expect(h.vif.tx.reqCons).to.equal(before);
    return h;
  };

  it('a producer more than a ring ahead of the responses: impossible-number-of-requests, nothing consumed', () => {
    const h = fatal((h) => { h.rings.tx.reqProd = h.vif.tx.rspProdPvt + 65; h.vif.onEvent(h.x); h.drain(); }, 'impossible-number-of-requests', []);
    expect(h.vif.tx.reqCons).to.equal(0);
    // Exactly a ring's worth is not impossible.
    const ok = harness();
    ok.rings.tx.reqProd = 64;
    for (let i = 0; i < 64; i++) ok.rings.tx.slots[i] = { req: req({ id: i + 1, size: 1 }) };
    ok.vif.onEvent(ok.x);
    ok.drain();
    expect(ok.vif.disabled).to.equal(null);
  });

  it('extra_info with no slot after it: missing-extra-info', () => {
    fatal((h) => h.send(req({ id: 1, flags: NETTXF.extra_info, size: 100 })), 'missing-extra-info', [1]);
  });

  it('an extra of type NONE or >= MAX: bad-extra-type', () => {
    fatal((h) => h.send(req({ id: 1, flags: NETTXF.extra_info, size: 100 }), extra({ type: XEN_NETIF_EXTRA_TYPE.NONE })), 'bad-extra-type', [1, 0]);
    fatal((h) => h.send(req({ id: 1, flags: NETTXF.extra_info, size: 100 }), extra({ type: XEN_NETIF_EXTRA_TYPE.MAX })), 'bad-extra-type', [1, 0]);
  });

  it('a GSO extra with size 0 or an unknown GSO type: bad-gso', () => {
    fatal((h) => h.send(req({ id: 1, flags: NETTXF.extra_info, size: 100 }), extra({ gsoSize: 0 })), 'bad-gso', [1, 0]);
    fatal((h) => h.send(req({ id: 1, flags: NETTXF.extra_info, size: 100 }), extra({ gsoType: XEN_NETIF_GSO_TYPE.NONE })), 'bad-gso', [1, 0]);
    fatal((h) => h.send(req({ id: 1, flags: NETTXF.extra_info, size: 100 }), extra({ gsoType: 3 })), 'bad-gso', [1, 0]);
  });

  it('chained extras are all read (FLAG_MORE); the chain running past the producer is fatal', () => {
    const h = harness();
    h.contents.set(h.frameOf(1), bytes());
    h.send(req({ id: 1, flags: NETTXF.extra_info, size: HDR_LEN + 100 }), extra({ type: XEN_NETIF_EXTRA_TYPE.HASH, flags: XEN_NETIF_EXTRA_FLAG_MORE }), extra({}));
    expect(h.forwarded).to.have.length(1);
    expect(h.forwarded[0].mss).to.equal(1448);
    fatal((h) => h.send(req({ id: 1, flags: NETTXF.extra_info, size: 100 }), extra({ flags: XEN_NETIF_EXTRA_FLAG_MORE })), 'missing-extra-info', [1, 0]);
  });

  it('a more_data chain that runs past the published requests: chain-past-producer', () => {
    fatal((h) => h.send(req({ id: 1, flags: NETTXF.more_data, size: 100 })), 'chain-past-producer', [1]);
  });

  it('a chain continuing after 20 following slots: too-many-slots (fatal)', () => {
    const n = FATAL_SKB_SLOTS + 1;
    const ids = Array.from({ length: n }, (_, i) => i + 1);
    fatal((h) => h.send(req({ id: 1, flags: NETTXF.more_data, size: 5000 }), ...ids.slice(1).map((id) => req({ id, flags: NETTXF.more_data, size: 1 })), req({ id: 50, size: 1 })), 'too-many-slots', ids);
  });

  it('a following slot with offset + size past its page: slot-crosses-page; the first slot\'s own bytes too', () => {
    fatal((h) => h.send(req({ id: 1, flags: NETTXF.more_data, size: 200 }), req({ id: 2, offset: 4000, size: 97 })), 'slot-crosses-page', [1, 2]);
    fatal((h) => h.send(req({ id: 1, offset: 4000, size: 97 })), 'slot-crosses-page', [1]);
    // Exactly to the end of the page is fine.
    const h = harness();
    h.contents.set(h.frameOf(1), bytes());
    h.send(req({ id: 1, offset: 4096 - 100, size: 100 }));
    expect(h.vif.disabled).to.equal(null);
    expect(h.forwarded).to.have.length(1);
  });
});

describe('netback TX (mutation): passes, budget and the pending-slot pool', () => {
  it('a pass takes at most `budget` packets and queues another pass for the rest', () => {
    const h = harness({ budget: 2 });
    for (let i = 1; i <= 3; i++) h.contents.set(h.frameOf(i), bytes());
    for (let i = 1; i <= 3; i++) h.front.putRequest(req({ gref: i, id: i, size: 100 }));
    h.front.pushRequests();
    h.vif.onEvent(h.x);
    h.queue.shift()!.run(h.x); // one pass
    expect(h.forwarded).to.have.length(2);
    expect(h.queue.map((t) => t.name)).to.deep.equal(['vif3.0-tx']); // the rest is queued as another pass
    expect(h.vif.control.tx).to.equal('scheduled');
    h.drain();
    expect(h.forwarded).to.have.length(3);
    expect(h.vif.stats.txPasses).to.equal(2);
    expect(h.vif.control.tx).to.equal('idle');
    expect(h.rings.tx.reqEvent).to.equal(4); // re-armed after the last request (final check)
  });

  it('a pass with nothing to do ends idle and re-arms the event', () => {
    const h = harness();
    h.vif.onEvent(h.x); // spurious: nothing queued
    expect(h.posted).to.deep.equal([]);
    expect(h.vif.stats.spuriousEvents).to.equal(1);
    expect(h.vif.control.tx).to.equal('idle');
    expect(h.rings.tx.reqEvent).to.equal(1);
  });

  it('a vif that finds the shared pending pool short waits (first come, first served) and is kicked when slots come back', () => {
    const pool = new PendingPool(addressSpace(), FATAL_SKB_SLOTS + 1);
    const a = harness({ pool });
    const b = harness({ pool });
    a.contents.set(a.frameOf(1), bytes());
    b.contents.set(b.frameOf(1), bytes());
    a.send(req({ gref: 1, id: 1, size: 100 }));
    expect(a.forwarded).to.have.length(1);
    expect(pool.free).to.equal(FATAL_SKB_SLOTS);
    b.send(req({ gref: 1, id: 1, size: 100 }));
    expect(b.forwarded).to.have.length(0); // 20 free < 21 needed for a worst-case packet
    expect(b.vif.control.tx).to.equal('waitingForPendingSlots');
    expect(b.vif.tx.reqCons).to.equal(0);
    a.complete(); // a's slot comes back: b is kicked
    expect(pool.free).to.equal(FATAL_SKB_SLOTS + 1);
    expect(b.queue.map((t) => t.name)).to.deep.equal(['vif3.0-tx']);
    b.drain();
    expect(b.forwarded).to.have.length(1);
  });

  it('PendingPool: waiters are served in order; a waiter that goes away hands its turn on', () => {
    const kicked: string[] = [];
    const nb = (name: string) => ({ kick: () => { kicked.push(name); } }) as unknown as Netback;
    const [p, q, r] = [nb('p'), nb('q'), nb('r')];
    const pool = new PendingPool(addressSpace(), 10);
    expect(pool.take(8, p)).to.equal(true);
    expect(pool.take(5, q)).to.equal(false); // waits
    expect(pool.take(1, r)).to.equal(false); // enough free, but q is first in line
    pool.give(2, null, 5); // free 4 < 5: nobody kicked
    expect(kicked).to.deep.equal([]);
    pool.give(1, null, 5); // free 5: the first waiter
    expect(kicked).to.deep.equal(['q']);
    expect(pool.take(1, r)).to.equal(false); // still q's turn
    expect(pool.take(5, q)).to.equal(true);
    expect(pool.free).to.equal(0);
    expect(pool.take(1, r)).to.equal(false);
    pool.give(3, null, 1);
    expect(kicked).to.deep.equal(['q', 'r']);
    expect(pool.take(1, r)).to.equal(true);
    // forget: the head of the queue leaving kicks the next one; any other leaving kicks nobody.
    const pool2 = new PendingPool(addressSpace(), 0);
    pool2.take(1, p); pool2.take(1, q); pool2.take(1, r);
    kicked.length = 0;
    pool2.forget(q, null);
    expect(kicked).to.deep.equal([]);
    pool2.free = 100;
    pool2.forget(p, null);
    expect(kicked).to.deep.equal(['r']);
    pool2.forget(p, null); // not waiting: nothing
    expect(kicked).to.deep.equal(['r']);
  });
});

describe('netback TX (mutation): a mapped page lives at its pending slot\'s address (MMAP_VADDR)', () => {
  it('pending indices come off a FIFO ring and go back in release order; each pool has its own area', () => {
    const space = addressSpace();
    const a = new PendingPool(space, 4), b = new PendingPool(space, 4);
    expect([a.mmap, b.mmap]).to.deep.equal([0, 4]); // two areas, one after the other
    const nb = {} as Netback;
    expect(a.take(3, nb)).to.equal(true);
    expect(a.assign(3)).to.deep.equal([0, 1, 2]);
    a.release([2, 0], null);
    expect(a.free).to.equal(3);
    expect(a.take(4, nb)).to.equal(false); // 3 free
    expect(a.take(3, nb)).to.equal(true);
    expect(a.assign(3)).to.deep.equal([3, 2, 0]); // never-used 3 first, then in the order released
    expect([a.vaddr(3), b.vaddr(3)]).to.deep.equal([3, 7]);
  });

  it('each mapped page is touched at the address of the pending slot of its request, whatever its handle', () => {
    const h = harness();
    const tag = (idx: number) => tlbTag(0, TAG.grantMap, h.pool.vaddr(idx));
    h.contents.set(h.frameOf(1), bytes());
    h.contents.set(h.frameOf(3), bytes());
    // Three slots, the middle one empty (no mapping): slots 0 and 2 are mapped.
    h.send(req({ gref: 1, id: 1, flags: NETTXF.more_data, size: 300 }), req({ gref: 2, id: 2, flags: NETTXF.more_data, size: 0 }), req({ gref: 3, id: 3, size: 100 }));
    expect(h.cpu.transient).to.deep.equal([{ tag: tag(0), frame: h.frameOf(1) }, { tag: tag(2), frame: h.frameOf(3) }]);
    h.complete(); // slots 0, 1, 2 go back, in order
    h.contents.set(h.frameOf(4), bytes());
    h.send(req({ gref: 4, id: 4, size: 100 }));
    // The ring had 3..255 free before 0, 1, 2: the next packet takes slot 3.
    expect(h.cpu.transient.at(-1)).to.deep.equal({ tag: tag(3), frame: h.frameOf(4) });
  });

  it('RX map-and-copy maps the i-th buffer of a pass at the i-th page of the vif\'s own receive area', () => {
    const m = harness({ rxCopyVia: 'map' });
    for (const len of [100, 200]) m.vif.xmit(m.x, m.incoming({ len, cold: false }));
    m.post({ id: 1, gref: 1 }, { id: 2, gref: 2 });
    const area = m.vif.rxMmap;
    expect(area).to.not.equal(m.pool.mmap); // the pending ring's area is another
    expect(m.cpu.transient).to.deep.equal([{ tag: tlbTag(0, TAG.grantMap, area), frame: m.frameOf(1) }, { tag: tlbTag(0, TAG.grantMap, area + 1), frame: m.frameOf(2) }]);
  });
});

describe('netback TX (mutation): no-remap transmit copies only the header (XSA-423)', () => {
  it('pages are pinned for device DMA (no host mapping), and the first COPY_LEN bytes are grant-copied slot by slot', () => {
    const h = harness({ txMode: 'noremap' });
    h.contents.set(h.frameOf(1), bytes());
    h.send(req({ gref: 1, id: 1, offset: 64, flags: NETTXF.more_data, size: 100 }), req({ gref: 2, id: 2, offset: 8, size: 60 }));
    expect(h.calls.maps.map((m) => m.device)).to.deep.equal([true, true]);
    expect(h.counters.txDataMaps).to.equal(0);
    // First slot holds 100 - 60 = 40 bytes at offset 64; the rest of the 128 come from the next slot (60 of them).
    expect(h.calls.copies.map((c) => ({ ref: c.source.ref, offset: c.source.offset, len: c.len }))).to.deep.equal([{ ref: 1, offset: 64, len: 40 }, { ref: 2, offset: 8, len: 60 }]);
    expect(h.calls.copies.every((c) => c.source.dom === GUEST && c.dest.offset === 0)).to.equal(true);
    expect(h.forwarded).to.have.length(1);
    h.complete();
    expect(h.calls.unmaps).to.deep.equal([{ handles: [1, 2], host: false }]); // device pins: no host unmap, so no TLB flush
  });

  it('copy ops: stop once COPY_LEN bytes are covered, skip empty slots', () => {
    const p = (own: number, sizes: number[]): PendingTx => ({
      slots: [], extras: 0, own, gso: null, handles: [], pending: [], mapSlot: [],
      map: [req({ gref: 0, offset: 0, size: own + sizes.reduce((a, b) => a + b, 0) }), ...sizes.map((size, i) => req({ gref: i + 1, offset: 10 * (i + 1), size }))],
    });
    const vif = {} as Netback;
    expect(xenvif_tx_copy_ops(vif, p(1000, [500]))).to.deep.equal([{ ref: 0, offset: 0, len: COPY_LEN }]);
    expect(xenvif_tx_copy_ops(vif, p(COPY_LEN, [500]))).to.deep.equal([{ ref: 0, offset: 0, len: COPY_LEN }]);
    expect(xenvif_tx_copy_ops(vif, p(0, [100, 100]))).to.deep.equal([{ ref: 1, offset: 10, len: 100 }, { ref: 2, offset: 20, len: COPY_LEN - 100 }]);
    expect(xenvif_tx_copy_ops(vif, p(20, [30]))).to.deep.equal([{ ref: 0, offset: 0, len: 20 }, { ref: 1, offset: 10, len: 30 }]);
  });
});

describe('netback TX (mutation): slots read at their C widths (common.h)', () => {
  it('a request reads each field at its width; an extra slot read as a request, and a request read as an extra, overlay the same bytes', () => {
    expect(asRequest(req({ gref: -1, offset: 0x1_0005, flags: 0x1_0004, id: 0x1_0007, size: 0x1_0009 }))).to.deep.equal({ gref: 0xffffffff, offset: 5, flags: 4, id: 7, size: 9 });
    const e = extra({ type: 0x102, flags: 0x101, gsoSize: 0x1_05dc, gsoType: 0x101 });
    expect(asRequest(e)).to.deep.equal({ gref: (0x02 | (0x01 << 8) | (0x05dc << 16)) >>> 0, offset: 0x01, flags: 0, id: 0, size: 0 });
    const r = req({ gref: (0x04 | (0x01 << 8) | (0x0400 << 16)) >>> 0, offset: 0x102 });
    expect(asExtra(r)).to.deep.equal({ extra: true, type: 4, flags: 1, gsoSize: 0x400, gsoType: 2 });
    expect(asExtra(e)).to.include({ type: 2, flags: 1, gsoSize: 0x5dc, gsoType: 1 });
    expect(asExtra(asRequest(e) as TxSlot)).to.include({ type: 2, flags: 1, gsoSize: 0x5dc, gsoType: 1 });
  });
});
