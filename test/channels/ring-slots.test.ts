import { expect } from 'chai';
import { BackRing, FrontRing, SharedRing, u32 } from '../../src/channels/ring.js';

/**
 * Ring behaviour the first suite left open (found by mutation testing, issue 14): private copies of
 * non-object slots, slots a lying frontend never wrote (read as the backend's blank), final checks
 * that find work must not move the consumer's event index, and the clamp of over-consumption.
 */
type Req = { id: number };
type Rsp = { id: number; status: number };

describe('ring (mutation): slots, copies and blanks', () => {
  it('a size outside 1..2^31 or not a power of two is refused by the ring itself', () => {
    for (const bad of [2 ** 32, 2 ** 31 + 2, 12]) expect(() => new SharedRing(bad), String(bad)).to.throw(RangeError, /power of two/);
  });

  it('every slot of a new ring is an empty slot object (no request, no response)', () => {
    const s = new SharedRing<Req, Rsp>(4);
    for (const slot of s.slots) expect(slot).to.deep.equal({});
    expect(new Set(s.slots).size).to.equal(4); // one object per slot, not one shared
  });

  it('requests and responses that are not objects travel unchanged (RING_COPY of a scalar is the scalar)', () => {
    const s = new SharedRing<number | null, string>(4);
    const front = new FrontRing(s);
    const back = new BackRing(s);
    front.putRequest(7);
    front.putRequest(null);
    front.pushRequests();
    expect(back.takeRequest()).to.equal(7);
    expect(back.takeRequest()).to.equal(null);
    back.putResponse('ok');
    back.putResponse('again');
    back.pushResponses();
    expect(front.takeResponse()).to.equal('ok');
    expect(front.takeResponse()).to.equal('again');
  });

  it('a backend with a blank reads a slot the frontend never wrote as the blank; without one it refuses', () => {
    const s = new SharedRing<Req, Rsp>(4);
    const blank = { id: -1 };
    const back = new BackRing(s, 0, () => ({ ...blank }));
    s.reqProd = 2; // claims two requests, wrote none
    expect(back.takeRequest()).to.deep.equal(blank);
    expect(back.takeRequest()).to.deep.equal(blank);
    expect(back.reqCons).to.equal(2);
    const strict = new BackRing(new SharedRing<Req, Rsp>(4));
    strict.sring.reqProd = 1;
    expect(() => strict.takeRequest()).to.throw(/no request in slot/);
    expect(strict.reqCons).to.equal(0); // nothing consumed
  });

  it('a slot the frontend did write is copied even when a blank exists', () => {
    const s = new SharedRing<Req, Rsp>(4);
    const front = new FrontRing(s);
    const back = new BackRing(s, 0, () => ({ id: -1 }));
    front.putRequest({ id: 3 });
    front.pushRequests();
    const r = back.takeRequest();
    expect(r).to.deep.equal({ id: 3 });
    expect(r).to.not.equal(s.slots[0].req);
  });

  it('takeResponse refuses a slot that holds no response (the backend claimed one it never wrote)', () => {
    const s = new SharedRing<Req, Rsp>(4);
    const front = new FrontRing(s);
    front.putRequest({ id: 1 });
    front.pushRequests();
    s.rspProd = 1; // lying backend: the slot still holds the request
    expect(() => front.takeResponse()).to.throw(/no response in slot/);
    expect(front.rspCons).to.equal(0);
  });

  it('over-consumption (more taken than the ring holds without responses) reads as no work, never a negative count', () => {
    const s = new SharedRing<Req, Rsp>(4);
    const back = new BackRing(s, 0, () => ({ id: 0 }));
    s.reqProd = 100; // lying producer
    for (let i = 0; i < 6; i++) back.takeRequest(); // a careless consumer ignoring unconsumedRequests()
    expect(back.unconsumedRequests()).to.equal(0);
    expect(back.requestConsOverflow()).to.equal(true);
  });
});

describe('ring (mutation): a final check that finds work leaves the event index alone (1.6)', () => {
  it('requests: a batching backend\'s reqEvent survives a final check that finds pending requests', () => {
    const s = new SharedRing<Req, Rsp>(8);
    const front = new FrontRing(s);
    const back = new BackRing(s);
    back.setReqEvent(5); // wants to hear only once reqProd passes 5
    front.putRequest({ id: 0 });
    front.pushRequests();
    expect(back.finalCheckForRequests()).to.equal(true);
    expect(s.reqEvent).to.equal(5);
    back.takeRequest();
    expect(back.finalCheckForRequests()).to.equal(false);
    expect(s.reqEvent).to.equal(2); // re-armed at reqCons + 1
  });

  it('responses: the frontend\'s rspEvent survives a final check that finds pending responses', () => {
    const s = new SharedRing<Req, Rsp>(8);
    const front = new FrontRing(s);
    const back = new BackRing(s);
    front.putRequest({ id: 0 });
    front.pushRequests();
    back.takeRequest();
    s.rspEvent = 9;
    back.putResponse({ id: 0, status: 0 });
    back.pushResponses();
    expect(front.finalCheckForResponses()).to.equal(true);
    expect(s.rspEvent).to.equal(9);
    front.takeResponse();
    expect(front.finalCheckForResponses()).to.equal(false);
    expect(s.rspEvent).to.equal(u32(front.rspCons + 1));
  });
});

describe('ring (mutation): the access points sit where the other end may come in', () => {
  it('push, final check and consumer reads each stop at their shared accesses, in order', () => {
    const s = new SharedRing<number, number>(4);
    const f = new FrontRing(s), b = new BackRing(s);
    const seen: string[] = [];
    s.onAccess = () => { seen.push(`reqProd=${s.reqProd} reqEvent=${s.reqEvent} rspProd=${s.rspProd} rspEvent=${s.rspEvent}`); };
    f.putRequest(1);
    expect(f.pushRequests().notify).to.equal(true);
    expect(seen).to.deep.equal(['reqProd=0 reqEvent=1 rspProd=0 rspEvent=1', 'reqProd=1 reqEvent=1 rspProd=0 rspEvent=1']);
    seen.length = 0;
    expect(b.unconsumedRequests()).to.equal(1);
    b.takeRequest();
    expect(b.finalCheckForRequests()).to.equal(false);
    // unconsumed (1 read), then the final check: read, stop before the event write, read again.
    expect(seen).to.have.length(4);
    expect(seen[3]).to.equal('reqProd=1 reqEvent=2 rspProd=0 rspEvent=1');
    seen.length = 0;
    b.putResponse(1);
    expect(b.pushResponses().notify).to.equal(true);
    expect(seen).to.deep.equal(['reqProd=1 reqEvent=2 rspProd=0 rspEvent=1', 'reqProd=1 reqEvent=2 rspProd=1 rspEvent=1']);
    seen.length = 0;
    expect(f.unconsumedResponses()).to.equal(1);
    f.takeResponse();
    expect(f.finalCheckForResponses()).to.equal(false);
    expect(seen).to.have.length(4);
    expect(seen[2]).to.equal('reqProd=1 reqEvent=2 rspProd=1 rspEvent=1'); // before the event write
    expect(seen[3]).to.equal('reqProd=1 reqEvent=2 rspProd=1 rspEvent=2');
  });
});
