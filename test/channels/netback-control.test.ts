import { expect } from 'chai';
import {
  NET_CTRL_RING_SIZE, XEN_NETBK_MAX_HASH_KEY_SIZE, XEN_NETBK_MAX_HASH_MAPPING_SIZE, XEN_NETIF_CTRL_HASH_TYPES,
  XEN_NETIF_CTRL_STATUS as S, XEN_NETIF_CTRL_TYPE as T, pageWords, type CtrlRequest, type CtrlResponse,
} from '../../src/channels/netif.js';
import { BackRing, FrontRing, SharedRing } from '../../src/channels/ring.js';
import { ZERO_CTRL } from '../../src/channels/netback/common.js';
import { xenvif_ctrl_process_request } from '../../src/channels/netback/control.js';
import { harness } from '../support/netback-double.js';

/**
 * The control ring (docs/protocol.md 2.6, Linux hash.c; found by mutation testing, issue 14): each
 * request type's bounds, checked overflow-safely (XSA-270), the key and mapping copied in from the
 * guest's granted page, and the ring pass answering every request with its id and type.
 */
function setup() {
  const h = harness();
  const words = pageWords(h.vif.kernel.mem);
  const req = (type: number, data: [number, number, number] = [0, 0, 0]) => xenvif_ctrl_process_request(h.vif, h.x, { id: 1, type, data });
  return { h, words, req };
}

describe('netback control ring (mutation): requests', () => {
  it('hash flags: get answers the supported types; set takes a subset of them only', () => {
    const { h, req } = setup();
    expect(req(T.GET_HASH_FLAGS)).to.deep.equal({ status: S.SUCCESS, data: XEN_NETIF_CTRL_HASH_TYPES });
    expect(req(T.SET_HASH_FLAGS, [0x10, 0, 0])).to.deep.equal({ status: S.INVALID_PARAMETER, data: 0 });
    expect(h.vif.hash.flags).to.equal(0);
    expect(req(T.SET_HASH_FLAGS, [0x5, 0, 0])).to.deep.equal({ status: S.SUCCESS, data: 0 });
    expect(h.vif.hash.flags).to.equal(0x5);
  });

  it('hash key: at most 40 bytes, copied from the granted page; a failed copy is an invalid parameter', () => {
    const { h, words, req } = setup();
    words.set(h.frameOf(6), Array.from({ length: 64 }, (_, i) => i + 1));
    expect(req(T.SET_HASH_KEY, [6, XEN_NETBK_MAX_HASH_KEY_SIZE + 1, 0]).status).to.equal(S.INVALID_PARAMETER);
    expect(h.calls.copies).to.deep.equal([]);
    expect(req(T.SET_HASH_KEY, [6, 8, 0])).to.deep.equal({ status: S.SUCCESS, data: 0 });
    expect(h.vif.hash.key).to.deep.equal([1, 2, 3, 4, 5, 6, 7, 8]);
    expect(h.calls.copies[0]).to.deep.include({ len: 8 });
    expect(h.calls.copies[0].source).to.deep.include({ ref: 6, offset: 0 });
    expect(req(T.SET_HASH_KEY, [6, XEN_NETBK_MAX_HASH_KEY_SIZE, 0]).status).to.equal(S.SUCCESS);
    expect(h.vif.hash.key).to.have.length(XEN_NETBK_MAX_HASH_KEY_SIZE);
    expect(req(T.SET_HASH_KEY, [6, 0, 0]).status).to.equal(S.SUCCESS); // an empty key: no copy
    expect(h.vif.hash.key).to.deep.equal([]);
    expect(h.calls.copies).to.have.length(2);
    const bad = harness({ badRefs: new Set([6]) });
    expect(xenvif_ctrl_process_request(bad.vif, bad.x, { id: 1, type: T.SET_HASH_KEY, data: [6, 8, 0] }).status).to.equal(S.INVALID_PARAMETER);
  });

  it('hash mapping size: at most 128; setting it zeroes the table', () => {
    const { h, req } = setup();
    expect(req(T.GET_HASH_MAPPING_SIZE)).to.deep.equal({ status: S.SUCCESS, data: XEN_NETBK_MAX_HASH_MAPPING_SIZE });
    expect(req(T.SET_HASH_MAPPING_SIZE, [XEN_NETBK_MAX_HASH_MAPPING_SIZE + 1, 0, 0]).status).to.equal(S.INVALID_PARAMETER);
    expect(req(T.SET_HASH_MAPPING_SIZE, [XEN_NETBK_MAX_HASH_MAPPING_SIZE, 0, 0]).status).to.equal(S.SUCCESS);
    expect(h.vif.hash.size).to.equal(XEN_NETBK_MAX_HASH_MAPPING_SIZE);
    expect(h.vif.hash.mapping).to.deep.equal(new Array(XEN_NETBK_MAX_HASH_MAPPING_SIZE).fill(0));
  });

  it('hash mapping: [off, off + len) within the table, checked without overflow; one queue only', () => {
    const { h, words, req } = setup();
    req(T.SET_HASH_MAPPING_SIZE, [8, 0, 0]);
    words.set(h.frameOf(2), [0, 0, 0, 0, 0, 0, 0, 0]);
    words.set(h.frameOf(3), [0, 1]);
    expect(req(T.SET_HASH_MAPPING, [2, 1, 9]).status).to.equal(S.INVALID_PARAMETER); // off past the table
    expect(req(T.SET_HASH_MAPPING, [2, 0xffffffff, 1]).status).to.equal(S.INVALID_PARAMETER); // off + len wraps in u32
    expect(req(T.SET_HASH_MAPPING, [2, 5, 4]).status).to.equal(S.INVALID_PARAMETER); // one past the end
    expect(h.calls.copies).to.deep.equal([]);
    expect(req(T.SET_HASH_MAPPING, [2, 4, 4]).status).to.equal(S.SUCCESS); // exactly to the end
    expect(h.calls.copies[0].len).to.equal(16); // 4 u32 entries
    expect(req(T.SET_HASH_MAPPING, [2, 0, 8]).status).to.equal(S.SUCCESS); // empty, at the end
    expect(req(T.SET_HASH_MAPPING, [3, 2, 0]).status).to.equal(S.INVALID_PARAMETER); // queue 1 does not exist
    h.vif.hash.mapping[0] = 0;
    const bad = harness({ badRefs: new Set([2]) });
    xenvif_ctrl_process_request(bad.vif, bad.x, { id: 1, type: T.SET_HASH_MAPPING_SIZE, data: [8, 0, 0] });
    expect(xenvif_ctrl_process_request(bad.vif, bad.x, { id: 1, type: T.SET_HASH_MAPPING, data: [2, 2, 0] }).status).to.equal(S.INVALID_PARAMETER);
  });

  it('hash mapping entries land at their offset', () => {
    const { h, words, req } = setup();
    req(T.SET_HASH_MAPPING_SIZE, [4, 0, 0]);
    h.vif.hash.mapping = [9, 9, 9, 9]; // stale values to be overwritten
    words.set(h.frameOf(2), [0, 0]);
    expect(req(T.SET_HASH_MAPPING, [2, 2, 1]).status).to.equal(S.SUCCESS);
    expect(h.vif.hash.mapping).to.deep.equal([9, 0, 0, 9]);
  });

  it('hash algorithm: none or Toeplitz; anything else is invalid; unknown types are not supported', () => {
    const { h, req } = setup();
    expect(req(T.SET_HASH_ALGORITHM, [1, 0, 0]).status).to.equal(S.SUCCESS);
    expect(h.vif.hash.alg).to.equal(1);
    expect(req(T.SET_HASH_ALGORITHM, [2, 0, 0]).status).to.equal(S.INVALID_PARAMETER);
    expect(h.vif.hash.alg).to.equal(1);
    expect(req(T.SET_HASH_ALGORITHM, [0, 0, 0]).status).to.equal(S.SUCCESS);
    expect(h.vif.hash.alg).to.equal(0);
    for (const t of [T.INVALID, T.GET_GREF_MAPPING_SIZE, T.ADD_GREF_MAPPING, T.DEL_GREF_MAPPING, 99]) expect(req(t).status, `type ${t}`).to.equal(S.NOT_SUPPORTED);
  });
});

describe('netback control ring (mutation): the pass', () => {
  it('answers every request with its id and type (read at 16 bits) and notifies; a lying producer gets at most a ring', () => {
    const h = harness();
    const s = new SharedRing<CtrlRequest, CtrlResponse>(NET_CTRL_RING_SIZE);
    const front = new FrontRing(s);
    h.vif.ctrl = new BackRing(s, 0, ZERO_CTRL);
    front.putRequest({ id: 0x1_0003, type: T.GET_HASH_FLAGS, data: [0, 0, 0] });
    front.putRequest({ id: 4, type: T.SET_HASH_ALGORITHM, data: [7, 0, 0] });
    front.pushRequests();
    h.vif.onEvent(h.x);
    expect(h.vif.control.ctrl).to.equal('scheduled');
    h.drain();
    const rs: CtrlResponse[] = [];
    while (front.unconsumedResponses() > 0) rs.push(front.takeResponse());
    expect(rs).to.deep.equal([
      { id: 3, type: T.GET_HASH_FLAGS, status: S.SUCCESS, data: XEN_NETIF_CTRL_HASH_TYPES },
      { id: 4, type: T.SET_HASH_ALGORITHM, status: S.INVALID_PARAMETER, data: 0 },
    ]);
    expect(h.calls.sends).to.have.length(1);
    expect(h.vif.control.ctrl).to.equal('idle');
    expect(h.vif.stats.maxCtrlPerPass).to.equal(2);
    // A producer claiming far more than a ring: one ring's worth per pass, never more.
    s.reqProd = (s.reqProd + 10 * NET_CTRL_RING_SIZE) >>> 0;
    h.vif.onEvent(h.x);
    h.queue.shift()!.run(h.x);
    expect(h.vif.stats.maxCtrlPerPass).to.equal(NET_CTRL_RING_SIZE);
  });

  it('a disconnected vif, or one without a control ring, answers nothing', () => {
    const h = harness();
    const s = new SharedRing<CtrlRequest, CtrlResponse>(NET_CTRL_RING_SIZE);
    const front = new FrontRing(s);
    h.vif.ctrl = new BackRing(s, 0, ZERO_CTRL);
    front.putRequest({ id: 1, type: T.GET_HASH_FLAGS, data: [0, 0, 0] });
    front.pushRequests();
    h.vif.connected = false;
    h.vif.ctrlTask.run(h.x);
    expect(front.unconsumedResponses()).to.equal(0);
  });
});

describe('netback control ring (mutation): pass bookkeeping', () => {
  it('an empty pass answers and signals nothing; the per-pass maximum keeps the largest pass; more than a ring claimed queues another pass', () => {
    const h = harness();
    const s = new SharedRing<CtrlRequest, CtrlResponse>(NET_CTRL_RING_SIZE);
    const front = new FrontRing(s);
    h.vif.ctrl = new BackRing(s, 0, ZERO_CTRL);
    h.vif.ctrlTask.run(h.x);
    expect(h.counters.notificationsSuppressed).to.equal(0);
    expect(h.calls.sends).to.deep.equal([]);
    expect(h.cpu.touches).to.deep.equal(['netback']);
    for (let i = 0; i < 3; i++) front.putRequest({ id: i, type: T.GET_HASH_FLAGS, data: [0, 0, 0] });
    front.pushRequests();
    h.vif.ctrlTask.run(h.x);
    while (front.unconsumedResponses() > 0) front.takeResponse();
    front.putRequest({ id: 9, type: T.GET_HASH_FLAGS, data: [0, 0, 0] });
    front.pushRequests();
    h.vif.ctrlTask.run(h.x);
    expect(h.vif.stats.maxCtrlPerPass).to.equal(3);
    expect(h.queue).to.deep.equal([]);
    s.reqProd = (s.reqProd + 2 * NET_CTRL_RING_SIZE) >>> 0;
    h.vif.ctrlTask.run(h.x);
    expect(h.queue.map((t) => t.name)).to.deep.equal(['vif3.0-ctrl']);
    expect(h.vif.control.ctrl).to.equal('scheduled');
  });

  it('after a pass the backend asks for an event at the next request (RING_FINAL_CHECK_FOR_REQUESTS)', () => {
    const h = harness();
    const s = new SharedRing<CtrlRequest, CtrlResponse>(NET_CTRL_RING_SIZE);
    const front = new FrontRing(s);
    h.vif.ctrl = new BackRing(s, 0, ZERO_CTRL);
    for (let i = 0; i < 2; i++) front.putRequest({ id: i, type: T.GET_HASH_FLAGS, data: [0, 0, 0] });
    front.pushRequests();
    h.vif.ctrlTask.run(h.x);
    expect(s.reqEvent).to.equal(3); // req_cons + 1
    expect(h.queue).to.deep.equal([]);
  });

  it('the key is copied by Xen from the guest\'s grant into a page of ours, at its start', () => {
    const { h, words, req } = setup();
    words.set(h.frameOf(6), [9, 8, 7, 6]);
    expect(req(T.SET_HASH_KEY, [6, 4, 0]).status).to.equal(S.SUCCESS);
    expect(h.calls.copies).to.have.length(1);
    expect(h.calls.copies[0].dest).to.deep.include({ dom: h.vif.kernel.domid, offset: 0 });
    expect(h.freed).to.include(h.calls.copies[0].dest.frame); // the bounce page goes back
  });

  it('a disabled vif answers nothing on its control ring', () => {
    const h = harness();
    const s = new SharedRing<CtrlRequest, CtrlResponse>(NET_CTRL_RING_SIZE);
    const front = new FrontRing(s);
    h.vif.ctrl = new BackRing(s, 0, ZERO_CTRL);
    h.send({ gref: 1, offset: 4000, flags: 0, id: 1, size: 200 });
    expect(h.vif.disabled).to.equal('slot-crosses-page');
    front.putRequest({ id: 1, type: T.GET_HASH_FLAGS, data: [0, 0, 0] });
    front.pushRequests();
    h.vif.ctrlTask.run(h.x);
    expect(front.unconsumedResponses()).to.equal(0);
  });
});
