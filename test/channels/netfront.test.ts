import { expect } from 'chai';
import { createActor } from 'xstate';
import type { Kernel } from '../../src/domains/kernel.js';
import type { Exec, Task } from '../../src/core/exec.js';
import { HDR_LEN, type Packet } from '../../src/core/packet.js';
import type { Xen } from '../../src/hypervisor/xen.js';
import { GTF, GrantTable } from '../../src/hypervisor/grant-table.js';
import { Netfront } from '../../src/channels/netfront.js';
import { netfrontMachine } from '../../src/channels/netfront-machine.js';
import {
  NETIF_RSP, NETRXF, NETTXF, VifRings, XEN_NETIF_EXTRA_TYPE, XEN_NETIF_GSO_TYPE, XenbusState,
  type RxRequest, type RxResponse, type TxResponse, type TxSlot,
} from '../../src/channels/netif.js';
import { BackRing } from '../../src/channels/ring.js';
import { newCounters } from '../../src/model/counters.js';
import { execDouble } from '../support/netback-double.js';

/**
 * netfront on its own (found by mutation testing, issue 14): the guest's kernel, Xen's memory and
 * event-channel hypercalls and the CPU are doubles, the grant table is real, and the backend's
 * side of both rings is driven through BackRings. Rules: docs/protocol.md 2.1 (TX layout: first
 * size is the total, more_data chains, GSO extra after the first), 2.3 (RX responses in the slot of
 * their request), 3.2 (end access, never reuse a page still mapped: XSA-396), 3.5 (flipping).
 */
const DOM = 3;
const BACKEND = 0;
const REF_BASE = 8;

function setup(opts: { rxCopy?: boolean; size?: number; budget?: number } = {}) {
  const size = opts.size ?? 8;
  const rings = new VifRings(size);
  const gt = new GrantTable(DOM, 64);
  const counters = newCounters();
  const queue: Task[] = [];
  const contents = new Map<number, Packet>();
  const freed: number[] = [];
  let next = 2000;
  const kernel = {
    domid: DOM,
    post: (t: Task, kind: string) => { if (kind !== 'irq') throw new Error(`${t.name} queued as ${kind}`); queue.push(t); },
    allocFrame: () => next++,
    freeFrame: (f: number) => { freed.push(f); },
    mem: { contents },
  } as unknown as Kernel;
  const calls = { sends: [] as string[], mmu: [] as number[], decrease: [] as number[][] };
  const xen = {
    evtchnSend: (_x: Exec, _k: Kernel, ch: string, end: string) => { calls.sends.push(`${ch}:${end}`); },
    mmuUpdate: (_x: Exec, n: number) => { calls.mmu.push(n); },
    decreaseReservation: (_x: Exec, _k: Kernel, frames: number[]) => { calls.decrease.push([...frames]); },
  } as unknown as Xen;
  const cpu = execDouble();
  const x = cpu.x;
  const nf = new Netfront('vif3.0', kernel, xen, gt, BACKEND, rings, { sg: true, csum: true, tso: true, rxCopy: opts.rxCopy ?? true }, 'ch', counters, REF_BASE, opts.budget ?? 64);
  nf.actor = createActor(netfrontMachine, { input: { name: 'vif3.0' } }).start();
  const delivered: Packet[] = [];
  nf.rx = (_x, p) => { delivered.push(p); };
  let wakes = 0;
  nf.wake = () => { wakes++; };
  const tx = new BackRing<TxSlot, TxResponse>(rings.tx);
  const rx = new BackRing<RxRequest, RxResponse>(rings.rx);
  const txSlots = (): TxSlot[] => { const out: TxSlot[] = []; while (tx.unconsumedRequests() > 0) out.push(tx.takeRequest()); return out; };
  const rxReqs = (): RxRequest[] => { const out: RxRequest[] = []; while (rx.unconsumedRequests() > 0) out.push(rx.takeRequest()); return out; };
  const drain = () => { for (let n = 0; queue.length && n < 100; n++) queue.shift()!.run(x); };
  const pkt = (over: Partial<Packet> = {}): Packet => ({ id: 1, flow: 1, reply: false, kind: 'data', seq: 0, len: 1000, ack: 0, wnd: 0, mss: 1448, csum: 'done', frames: [100], owner: DOM, cold: false, release: undefined, data: undefined, ...over });
  return { cpu, nf, gt, rings, counters, queue, contents, freed, calls, x, tx, rx, txSlots, rxReqs, drain, pkt, delivered, wakes: () => wakes };
}

describe('netfront (mutation): transmit', () => {
  it('one request per frame: the first carries the total size, the rest their own, more_data on all but the last; pages granted read-only', () => {
    const s = setup();
    const p = s.pkt({ len: 6000, mss: 9000, frames: [100, 101] }); // one jumbo frame, no GSO
    expect(s.nf.xmit(s.x, p)).to.equal(true);
    const slots = s.txSlots() as Array<{ gref: number; offset: number; flags: number; id: number; size: number }>;
    expect(slots.map((q) => [q.size, q.flags, q.offset])).to.deep.equal([[6000 + HDR_LEN, NETTXF.more_data, 0], [6000 + HDR_LEN - 4096, 0, 0]]);
    for (const [i, q] of slots.entries()) expect(s.gt.entries[q.gref]).to.deep.equal({ flags: GTF.permit_access | GTF.readonly, domid: BACKEND, frame: [100, 101][i] });
    expect(new Set(slots.map((q) => q.id)).size).to.equal(2);
    expect(s.counters.ioRequests).to.equal(2);
    expect(s.counters.txRingRequests).to.equal(2);
    expect(s.nf.outstandingTx()).to.equal(1);
    expect(s.nf.txUnits).to.equal(1);
    expect(s.calls.sends).to.deep.equal(['ch:a']); // first push notifies
  });

  it('checksum offload and GSO: csum_blank|data_validated and extra_info on the first, then a GSO extra with the MSS', () => {
    const s = setup();
    s.nf.xmit(s.x, s.pkt({ len: 3000, mss: 1448, csum: 'partial', frames: [100] }));
    const slots = s.txSlots();
    expect(slots).to.have.length(2);
    expect((slots[0] as { flags: number }).flags).to.equal(NETTXF.csum_blank | NETTXF.data_validated | NETTXF.extra_info);
    expect(slots[1]).to.deep.equal({ extra: true, type: XEN_NETIF_EXTRA_TYPE.GSO, flags: 0, gsoSize: 1448, gsoType: XEN_NETIF_GSO_TYPE.TCPV4 });
    expect(s.counters.txRingRequests).to.equal(2);
  });

  it('a packet that does not fit stops the queue and is refused, until responses free the ring', () => {
    const s = setup({ size: 2 });
    expect(s.nf.xmit(s.x, s.pkt({ len: 6000, mss: 9000, frames: [100, 101] }))).to.equal(true);
    expect(s.nf.xmit(s.x, s.pkt({ len: 10 }))).to.equal(false);
    expect(s.nf.control.txQueue).to.equal('stopped');
    expect(s.nf.txUnits).to.equal(1);
    // A GSO packet needs one slot more than its frames.
    const g = setup({ size: 2 });
    expect(g.nf.xmit(g.x, g.pkt({ len: 3000, frames: [100, 101] }))).to.equal(false);
    expect(g.nf.xmit(g.x, g.pkt({ len: 3000, frames: [100] }))).to.equal(true);
  });

  it('responses end the grants and release the packet once all its slots are answered; extras answered NULL', () => {
    const s = setup();
    let released = 0;
    s.nf.xmit(s.x, s.pkt({ len: 6000, mss: 1448, frames: [100, 101], release: () => { released++; } }));
    const slots = s.txSlots() as Array<{ id: number; gref: number }>;
    expect(slots).to.have.length(3);
    s.tx.putResponse({ id: slots[0].id, status: NETIF_RSP.OKAY });
    s.tx.putResponse({ id: 0, status: NETIF_RSP.NULL });
    s.tx.pushResponses();
    s.nf.onEvent(s.x);
    expect(s.nf.control.napi).to.equal('scheduled');
    s.nf.onEvent(s.x); // already scheduled: not queued twice
    expect(s.queue).to.have.length(1);
    s.drain();
    expect(released).to.equal(0);
    expect(s.nf.outstandingTx()).to.equal(1);
    s.tx.putResponse({ id: slots[2].id, status: NETIF_RSP.OKAY });
    s.tx.pushResponses();
    s.nf.onEvent(s.x);
    s.drain();
    expect(released).to.equal(1);
    expect(s.nf.outstandingTx()).to.equal(0);
    expect(s.gt.entries[slots[0].gref].flags).to.equal(GTF.invalid);
    expect(s.gt.entries[slots[2].gref].flags).to.equal(GTF.invalid);
    expect(s.wakes()).to.equal(1);
    expect(s.nf.control.txQueue).to.equal('running');
    expect(s.nf.protocolErrors).to.deep.equal({});
    expect(s.nf.leakedRefs).to.equal(0);
  });

  it('a grant the backend still maps when its response comes is never reused (XSA-396)', () => {
    const s = setup();
    s.nf.xmit(s.x, s.pkt({ len: 100, frames: [100] }));
    const [q] = s.txSlots() as Array<{ id: number; gref: number }>;
    s.gt.entries[q.gref].flags |= GTF.reading; // still mapped
    s.tx.putResponse({ id: q.id, status: NETIF_RSP.OKAY });
    s.tx.pushResponses();
    s.nf.onEvent(s.x);
    s.drain();
    expect(s.nf.leakedRefs).to.equal(1);
  });

  it('a NULL response without an extra outstanding, or a response for an unknown id, is the backend\'s protocol error', () => {
    const s = setup();
    s.nf.xmit(s.x, s.pkt({ len: 5000, mss: 9000, frames: [100, 101] }));
    s.txSlots();
    s.tx.putResponse({ id: 0, status: NETIF_RSP.NULL });
    s.tx.putResponse({ id: 77, status: NETIF_RSP.OKAY });
    s.tx.pushResponses();
    s.nf.onEvent(s.x);
    s.drain();
    expect(s.nf.protocolErrors).to.deep.equal({ 'netfront-tx-unexpected-null-response': 1, 'netfront-tx-unexpected-response': 1 });
    expect(s.counters.violations['netfront-tx-unexpected-response']).to.equal(1);
  });
});

describe('netfront (mutation): receive', () => {
  it('refill posts one buffer per free slot: a fresh frame granted writable, the slot\'s id remembered', () => {
    const s = setup({ size: 4 });
    s.nf.refill(s.x);
    expect(s.nf.control.rxBuffers).to.equal('full');
    const reqs = s.rxReqs();
    expect(reqs).to.have.length(4);
    for (const r of reqs) expect(s.gt.entries[r.gref]).to.deep.include({ flags: GTF.permit_access, domid: BACKEND });
    expect(s.nf.postedRxFrames()).to.have.length(4);
    expect(s.counters.ioRequests).to.equal(4);
    s.nf.refill(s.x); // ring full: nothing
    expect(s.rxReqs()).to.deep.equal([]);
  });

  it('a response in its request\'s slot is delivered with the checksum state of its flags; the buffer is refilled', () => {
    const s = setup({ size: 4 });
    s.nf.refill(s.x);
    const reqs = s.rxReqs();
    const frame = s.gt.entries[reqs[0].gref].frame;
    s.contents.set(frame, s.pkt({ flow: 4, seq: 99, len: 500 }));
    s.rx.putResponse({ id: reqs[0].id, offset: 0, flags: NETRXF.data_validated, status: 500 + HDR_LEN });
    s.rx.pushResponses();
    s.nf.onEvent(s.x);
    s.drain();
    expect(s.delivered).to.have.length(1);
    expect(s.delivered[0]).to.include({ flow: 4, seq: 99, len: 500, csum: 'verified', owner: DOM });
    expect(s.delivered[0].frames).to.deep.equal([frame]);
    expect(s.nf.rxUnitsTaken).to.equal(1);
    const [again] = s.rxReqs(); // refilled: the ended grant is reused for a fresh page
    expect(again.gref).to.equal(reqs[0].gref);
    expect(s.gt.entries[again.gref].frame).to.not.equal(frame);
    expect(s.nf.protocolErrors).to.deep.equal({});
  });

  it('an error status frees the buffer page; data without validation is delivered as done', () => {
    const s = setup({ size: 4 });
    s.nf.refill(s.x);
    const [a, b] = s.rxReqs();
    const fa = s.gt.entries[a.gref].frame;
    const fb = s.gt.entries[b.gref].frame;
    s.contents.set(fb, s.pkt());
    s.rx.putResponse({ id: a.id, offset: 0, flags: 0, status: NETIF_RSP.ERROR });
    s.rx.putResponse({ id: b.id, offset: 0, flags: 0, status: 100 });
    s.rx.pushResponses();
    s.nf.onEvent(s.x);
    s.drain();
    expect(s.freed).to.deep.equal([fa]);
    expect(s.delivered.map((p) => p.csum)).to.deep.equal(['done']);
    expect(s.nf.rxUnitsTaken).to.equal(1);
  });

  it('a positive status on an empty page is dropped; a response out of its slot or with an unknown id is a protocol error', () => {
    const s = setup({ size: 4 });
    s.nf.refill(s.x);
    const [a, b] = s.rxReqs();
    s.rx.putResponse({ id: b.id, offset: 0, flags: 0, status: 100 }); // in a's slot
    s.rx.putResponse({ id: 999, offset: 0, flags: 0, status: 100 });
    s.rx.pushResponses();
    s.nf.onEvent(s.x);
    s.drain();
    expect(s.nf.protocolErrors).to.deep.equal({ 'netfront-rx-response-not-in-request-slot': 2, 'netfront-rx-unknown-id': 1 });
    expect(s.counters.drops['netfront-rx-empty-page']).to.equal(1);
    void a;
  });

  it('a packet of a flow this vif does not carry breaks isolation (I1)', () => {
    const s = setup({ size: 4 });
    s.nf.flows = new Set([1]);
    s.nf.refill(s.x);
    const [a, b] = s.rxReqs();
    s.contents.set(s.gt.entries[a.gref].frame, s.pkt({ flow: 1 }));
    s.contents.set(s.gt.entries[b.gref].frame, s.pkt({ flow: 2 }));
    s.rx.putResponse({ id: a.id, offset: 0, flags: 0, status: 100 });
    s.rx.putResponse({ id: b.id, offset: 0, flags: 0, status: 100 });
    s.rx.pushResponses();
    s.nf.onEvent(s.x);
    s.drain();
    expect(s.nf.protocolErrors).to.deep.equal({ 'netfront-rx-foreign-flow': 1 });
  });

  it('a poll takes at most `budget` packets and schedules itself again for the rest', () => {
    const s = setup({ size: 4, budget: 1 });
    s.nf.refill(s.x);
    const [a, b] = s.rxReqs();
    for (const r of [a, b]) {
      s.contents.set(s.gt.entries[r.gref].frame, s.pkt());
      s.rx.putResponse({ id: r.id, offset: 0, flags: 0, status: 100 });
    }
    s.rx.pushResponses();
    s.nf.onEvent(s.x);
    s.queue.shift()!.run(s.x);
    expect(s.delivered).to.have.length(1);
    expect(s.queue).to.have.length(1);
    s.drain();
    expect(s.delivered).to.have.length(2);
  });

  it('flipping receive: buffers are pfn slots offered for transfer, their frames returned to Xen; a completed transfer delivers the new frame', () => {
    const s = setup({ rxCopy: false, size: 2 });
    s.nf.refill(s.x);
    expect(s.calls.decrease).to.have.length(1);
    expect(s.calls.decrease[0]).to.have.length(2);
    expect(s.calls.mmu).to.deep.equal([2]);
    const [a, b] = s.rxReqs();
    expect(s.gt.entries[a.gref]).to.deep.include({ flags: GTF.accept_transfer, domid: BACKEND });
    expect(s.nf.postedRxFrames()).to.deep.equal([]);
    // The backend flips frame 777 into a; b's transfer never completed (memory squeeze).
    s.gt.entries[a.gref].frame = 777;
    s.gt.entries[a.gref].flags |= GTF.transfer_committed | GTF.transfer_completed;
    s.contents.set(777, s.pkt({ seq: 5 }));
    s.rx.putResponse({ id: a.id, offset: 0, flags: 0, status: 100 });
    s.rx.putResponse({ id: b.id, offset: 0, flags: 0, status: 100 });
    s.rx.pushResponses();
    s.nf.onEvent(s.x);
    s.drain();
    expect(s.delivered.map((p) => p.frames)).to.deep.equal([[777]]);
    expect(s.counters.drops['netfront-rx-no-page']).to.equal(1);
    expect(s.nf.rxUnitsTaken).to.equal(2);
    expect(s.calls.mmu).to.deep.equal([2, 1, 2]); // the flipped page entered, then the refill's
  });
});

describe('netfront (mutation): XenBus', () => {
  const xs = () => {
    const kv = new Map<string, string>();
    const w = (p: string, v: unknown) => { kv.set(p, String(typeof v === 'boolean' ? Number(v) : v)); };
    return { kv, read: (p: string) => kv.get(p), write: w, transaction: (body: (t: { write: typeof w }) => void) => body({ write: w }), watch: () => {} };
  };

  it('talks to the backend only when the backend is in InitWait and this end still Initialising', () => {
    const s = setup();
    const store = xs();
    let talks = 0;
    store.kv.set('b/state', '2');
    store.kv.set('f/state', '1');
    s.nf.backendChanged(store as never, 'f', 'b', () => { talks++; });
    store.kv.set('f/state', '4');
    s.nf.backendChanged(store as never, 'f', 'b', () => { talks++; });
    store.kv.set('b/state', '4');
    store.kv.set('f/state', '1');
    s.nf.backendChanged(store as never, 'f', 'b', () => { talks++; });
    expect(talks).to.equal(1);
  });

  it('publish grants the ring pages, writes the keys in one transaction and goes Connected', () => {
    const s = setup();
    const store = xs();
    s.rings.txFrame = 40;
    s.rings.rxFrame = 41;
    s.nf.publish(store as never, 'f', s.rings, 9, '00:16:3e:00:00:01');
    expect(s.gt.entries[s.nf.ringRefs.tx]).to.deep.equal({ flags: GTF.permit_access, domid: BACKEND, frame: 40 });
    expect(s.gt.entries[s.nf.ringRefs.rx]).to.deep.equal({ flags: GTF.permit_access, domid: BACKEND, frame: 41 });
    expect(s.nf.ringRefs).to.deep.equal({ tx: REF_BASE + 16, rx: REF_BASE + 17, ctrl: REF_BASE + 18 });
    expect(Object.fromEntries(store.kv)).to.deep.equal({
      'f/feature-sg': '1', 'f/feature-gso-tcpv4': '1', 'f/feature-no-csum-offload': '0', 'f/request-rx-copy': '1', 'f/feature-rx-notify': '1',
      'f/tx-ring-ref': String(REF_BASE + 16), 'f/rx-ring-ref': String(REF_BASE + 17), 'f/event-channel': '9', 'f/mac': '00:16:3e:00:00:01', 'f/state': '4',
    });
    expect(s.nf.xenbusStates).to.deep.equal([XenbusState.Initialised, XenbusState.Connected]);
    expect(s.nf.control.xenbus).to.equal('Connected');
  });
});

describe('netfront (mutation): before its actor is spawned', () => {
  it('transmits, stops on a full ring, takes responses, refills and receives without one', () => {
    const s = setup({ size: 2 });
    s.nf.actor = null;
    s.nf.switchState(XenbusState.Initialised);
    expect(s.nf.xmit(s.x, s.pkt({ len: 100 }))).to.equal(true);
    expect(s.nf.xmit(s.x, s.pkt({ len: 5000, mss: 9000, frames: [1, 2] }))).to.equal(false);
    const [q] = s.txSlots() as Array<{ id: number }>;
    s.tx.putResponse({ id: q.id, status: NETIF_RSP.OKAY });
    s.tx.pushResponses();
    s.nf.refill(s.x);
    const [r] = s.rxReqs();
    s.contents.set(s.gt.entries[r.gref].frame, s.pkt());
    s.rx.putResponse({ id: r.id, offset: 0, flags: 0, status: 100 });
    s.rx.pushResponses();
    s.nf.onEvent(s.x);
    s.drain();
    expect(s.wakes()).to.equal(1);
    expect(s.delivered).to.have.length(1);
    expect(s.nf.xenbusStates).to.deep.equal([XenbusState.Initialised]);
  });
});

describe('netfront (mutation): costs, notifications and limits', () => {
  it('transmit charges per packet and per extra slot and touches netfront; a push the backend did not ask for is suppressed', () => {
    const s = setup();
    s.nf.xmit(s.x, s.pkt({ len: 6000, mss: 9000, frames: [100, 101, 102] }));
    expect(s.cpu.costs).to.deep.equal({ netfrontTxPerPacket: 1, netfrontTxPerSlot: 2 });
    expect(s.cpu.touches).to.deep.equal(['netfront']);
    expect(s.counters.notificationsSuppressed).to.equal(0);
    s.nf.xmit(s.x, s.pkt({ len: 100 })); // the backend has not re-armed req_event
    expect(s.calls.sends).to.have.length(1);
    expect(s.counters.notificationsSuppressed).to.equal(1);
  });

  it('a packet exactly one MSS long is not GSO', () => {
    const s = setup();
    s.nf.xmit(s.x, s.pkt({ len: 1448, mss: 1448 }));
    expect(s.txSlots()).to.have.length(1);
  });

  it('grant refs: 2 x ring size for buffers from refBase, distinct; a frontend out of refs or ids stops its queue', () => {
    const s = setup({ size: 2 });
    s.nf.refill(s.x);
    const rx = s.rxReqs().map((r) => r.gref);
    s.nf.xmit(s.x, s.pkt({ len: 100, frames: [100] }));
    s.nf.xmit(s.x, s.pkt({ len: 100, frames: [101] }));
    const tx = (s.txSlots() as Array<{ gref: number }>).map((q) => q.gref);
    const all = [...rx, ...tx];
    expect(new Set(all).size).to.equal(4);
    for (const r of all) expect(r).to.be.within(REF_BASE, REF_BASE + 3);
    expect(Math.min(...all)).to.equal(REF_BASE);
  });

  it('receive charges per packet delivered, touches netfront once per poll and refill', () => {
    const s = setup({ size: 2 });
    s.nf.refill(s.x);
    const [a] = s.rxReqs();
    s.contents.set(s.gt.entries[a.gref].frame, s.pkt());
    s.rx.putResponse({ id: a.id, offset: 0, flags: 0, status: 100 });
    s.rx.pushResponses();
    s.nf.onEvent(s.x);
    s.drain();
    expect(s.cpu.costs).to.deep.equal({ netfrontRxPerPacket: 1, skbAllocFree: 1 });
    expect(s.cpu.touches).to.deep.equal(['netfront', 'netfront', 'netfront']); // refill, poll, refill
  });

  it('nothing to refill sends nothing', () => {
    const s = setup({ size: 2 });
    s.nf.refill(s.x);
    const sends = s.calls.sends.length;
    s.nf.refill(s.x);
    expect(s.calls.sends).to.have.length(sends);
    expect(s.cpu.touches).to.deep.equal(['netfront']);
  });
});

describe("netfront: the release walk (xennet_release_tx_bufs, xennet_release_rx_bufs) and netfront_resume", () => {
  /** A frontend with `n` one-page packets in flight (ids and grants taken) and its RX ring stocked. */
  function loaded(n: number) {
    const s = setup();
    const released: number[] = [];
    for (let i = 0; i < n; i++) expect(s.nf.xmit(s.x, s.pkt({ id: i, frames: [100 + i], release: () => { released.push(i); } }))).to.equal(true);
    s.nf.refill(s.x);
    return { ...s, released };
  }

  it('unplug: every in-flight TX packet freed, its grant ended and its id free again; every RX buffer ended and its page freed', () => {
    const s = loaded(3);
    const posted = s.nf.postedRxFrames();
    // The trigger: ids and grants in use.
    expect(s.nf.outstandingTx()).to.equal(3);
    expect(posted.length).to.equal(8);
    expect(s.nf.bookkeeping().lostTxIds, 'ids on the ring are not lost').to.deep.equal([]);
    const d = s.nf.releaseBufs(s.x, true);
    expect(d).to.deep.equal({ tx: 3, rx: 8 });
    expect(s.released).to.deep.equal([0, 1, 2]);
    expect(s.freed).to.include.members(posted);
    for (let r = REF_BASE; r < REF_BASE + 16; r++) expect(s.gt.entries[r].flags & 3, `grant ${r}`).to.equal(GTF.invalid);
    expect(s.nf.outstandingTx()).to.equal(0);
    expect(s.nf.postedRxFrames()).to.deep.equal([]);
    const book = s.nf.bookkeeping();
    expect(book.lostTxIds).to.deep.equal([]);
    expect(book.lostRefs).to.equal(0);
    expect(s.nf.released).to.deep.equal({ tx: 3, rx: 8 });
  });

  it('a grant the backend still maps is not freed for reuse (XSA-396): counted as leaked, not lost', () => {
    const s = loaded(1);
    const ref = (s.txSlots()[0] as { gref: number }).gref;
    s.gt.entries[ref].flags |= GTF.reading; // the backend's mapping
    s.nf.releaseBufs(s.x, true);
    expect(s.nf.leakedRefs).to.equal(1);
    expect(s.nf.bookkeeping().lostRefs).to.equal(0);
  });

  it("resume: the new frontend takes the guest's bookkeeping over and walks it; every id and ref usable on the new ring", () => {
    const old = loaded(5);
    const fresh = setup(); // the destination's device: new rings, the new domain's grant table
    const d = fresh.nf.resumeFrom(old.nf);
    expect(d).to.deep.equal({ tx: 5, rx: 8 });
    expect(old.nf.outstandingTx(), "the source's copy is left to its domain's destruction").to.equal(5);
    expect(old.released, 'no page of the source freed by the walk').to.deep.equal([]);
    expect(fresh.nf.bookkeeping().lostTxIds).to.deep.equal([]);
    // Every TX id is usable again: a full ring of packets goes out on the new ring.
    for (let i = 0; i < 8; i++) expect(fresh.nf.xmit(fresh.x, fresh.pkt({ id: 10 + i, frames: [300 + i] })), `packet ${i}`).to.equal(true);
    expect(new Set(fresh.txSlots().map((q) => (q as { id: number }).id)).size).to.equal(8);
  });

  it('the checker finds the ids of a resume that skipped the walk: lost on the old ring', () => {
    class NoWalk extends Netfront {
      override releaseBufs(): { tx: number; rx: number } { return { tx: 0, rx: 0 }; }
    }
    const old = loaded(2);
    const f = setup();
    const nf = new NoWalk('vif3.0', f.nf.kernel, f.nf.xen, f.gt, BACKEND, f.rings, f.nf.feat, 'ch', f.counters, REF_BASE);
    nf.resumeFrom(old.nf);
    const ids = (old.txSlots() as Array<{ id: number }>).map((q) => q.id).sort((a, b) => a - b);
    expect(nf.bookkeeping().lostTxIds).to.deep.equal(ids);
  });
});
