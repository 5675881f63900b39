import { expect } from 'chai';
import fc from 'fast-check';
import { BackRing, FrontRing, SharedRing, ringDiff, u32 } from '../../src/channels/ring.js';

type Req = { id: number };
type Rsp = { id: number; status: number };

const mk = (size: number, start = 0) => {
  const s = new SharedRing<Req, Rsp>(size);
  const front = new FrontRing(s, start);
  const back = new BackRing(s, start);
  return { s, front, back };
};

/** Drives the shared header directly to the given old/new/event values and pushes. */
const pushWith = (oldProd: number, newProd: number, event: number) => {
  const { s, front } = mk(8, oldProd);
  for (let i = 0; i < ringDiff(newProd, oldProd); i++) front.putRequest({ id: i });
  s.reqEvent = event;
  const r = front.pushRequests();
  expect(s.reqProd).to.equal(newProd);
  return r.notify;
};

describe('ring: construction and helpers', () => {
  it('u32 and ringDiff wrap at 2^32', () => {
    expect(u32(-1)).to.equal(0xffffffff);
    expect(u32(0x100000000)).to.equal(0);
    expect(ringDiff(1, 0xfffffffe)).to.equal(3);
    expect(ringDiff(0xfffffffe, 1)).to.equal(0xfffffffd);
  });

  it('rejects sizes that are not powers of two >= 1', () => {
    for (const bad of [0, -4, 3, 6, 2.5, NaN]) expect(() => new SharedRing(bad), String(bad)).to.throw(RangeError);
    for (const ok of [1, 2, 256]) expect(new SharedRing(ok).slots).to.have.length(ok);
  });

  it('initialises like SHARED_RING_INIT / *_RING_ATTACH', () => {
    const { s } = mk(4);
    expect([s.reqProd, s.reqEvent, s.rspProd, s.rspEvent]).to.deep.equal([0, 1, 0, 1]);
    const w = mk(4, 0xffffffff);
    expect([w.s.reqProd, w.s.reqEvent, w.s.rspProd, w.s.rspEvent]).to.deep.equal([0xffffffff, 0, 0xffffffff, 0]);
    expect([w.front.reqProdPvt, w.front.rspCons, w.back.rspProdPvt, w.back.reqCons]).to.deep.equal(Array(4).fill(0xffffffff));
    expect(w.front.freeRequests()).to.equal(4);
    expect(w.back.unconsumedRequests()).to.equal(0);
  });

  it('the frontend alone initialises the whole header at startIdx; the backend only writes its own fields', () => {
    const s = new SharedRing<Req, Rsp>(4);
    const front = new FrontRing(s, 0xffffffff);
    expect([s.reqProd, s.reqEvent, s.rspProd, s.rspEvent]).to.deep.equal([0xffffffff, 0, 0xffffffff, 0]);
    front.putRequest({ id: 1 });
    front.pushRequests();
    front.finalCheckForResponses();
    new BackRing(s, 0xffffffff); // late attach must not clobber the published request or the front's rspEvent
    expect([s.reqProd, s.reqEvent, s.rspProd, s.rspEvent]).to.deep.equal([0, 0, 0xffffffff, 0]);
  });

  it('first push and first response notify (events start at prod + 1)', () => {
    const { front, back } = mk(4, 0xfffffffe);
    front.putRequest({ id: 1 });
    expect(front.pushRequests().notify).to.equal(true);
    back.takeRequest();
    back.putResponse({ id: 1, status: 0 });
    expect(back.pushResponses().notify).to.equal(true);
  });
});

describe('ring: wraparound', () => {
  it('moves 100 items through a size-8 ring started at 0xFFFFFFF0, in order', () => {
    const { front, back } = mk(8, 0xfffffff0);
    const got: number[] = [];
    const rsps: number[] = [];
    let next = 0;
    while (rsps.length < 100) {
      while (next < 100 && !front.full()) front.putRequest({ id: next++ });
      front.pushRequests();
      while (back.unconsumedRequests() > 0) {
        const r = back.takeRequest();
        got.push(r.id);
        back.putResponse({ id: r.id, status: 0 });
      }
      back.pushResponses();
      while (front.unconsumedResponses() > 0) rsps.push(front.takeResponse().id);
    }
    const expected = Array.from({ length: 100 }, (_, i) => i);
    expect(got).to.deep.equal(expected);
    expect(rsps).to.deep.equal(expected);
    // 100 items from 0xFFFFFFF0 crossed 2^32 and landed at 0x54.
    expect(front.reqProdPvt).to.equal(0x54);
    expect(back.reqCons).to.equal(0x54);
    expect([back.rspProdPvt, front.rspCons, back.sring.reqProd, back.sring.rspProd]).to.deep.equal(Array(4).fill(0x54));
    expect(front.freeRequests()).to.equal(8);
  });

  it('refuses to overfill and reports free slots across the wrap', () => {
    const { front } = mk(4, 0xfffffffe);
    for (let i = 0; i < 4; i++) front.putRequest({ id: i });
    expect(front.reqProdPvt).to.equal(2);
    expect(front.full()).to.equal(true);
    expect(() => front.putRequest({ id: 9 })).to.throw();
  });

  it('a response overwrites its request in the same slot', () => {
    const { s, front, back } = mk(2, 0xffffffff);
    front.putRequest({ id: 7 });
    front.pushRequests();
    back.takeRequest();
    back.putResponse({ id: 7, status: 1 });
    expect(s.slots[0xffffffff & 1]).to.deep.equal({ rsp: { id: 7, status: 1 } });
  });
});

describe('ring: notification hold-off (section 1.5)', () => {
  it('old 10, new 13, event 11 -> notify', () => expect(pushWith(10, 13, 11)).to.equal(true));
  it('old 10, new 13, event 14 -> no notify', () => expect(pushWith(10, 13, 14)).to.equal(false));
  it('wrap: old 0xFFFFFFFE, new 1, event 0xFFFFFFFF -> notify', () => expect(pushWith(0xfffffffe, 1, 0xffffffff)).to.equal(true));
  it('event exactly at new notifies, event at old does not', () => {
    expect(pushWith(10, 13, 13)).to.equal(true);
    expect(pushWith(10, 13, 10)).to.equal(false);
  });

  it('a consumer that has not re-armed gets no notify for later pushes; after finalCheck it does', () => {
    const { front, back } = mk(8);
    front.putRequest({ id: 0 });
    expect(front.pushRequests().notify).to.equal(true); // event 1 in (0,1]
    front.putRequest({ id: 1 });
    expect(front.pushRequests().notify).to.equal(false); // consumer busy, not re-armed
    back.takeRequest();
    back.takeRequest();
    front.putRequest({ id: 2 });
    expect(front.pushRequests().notify).to.equal(false); // still not re-armed
    back.takeRequest();
    expect(back.finalCheckForRequests()).to.equal(false); // re-arms reqEvent = reqCons + 1
    expect(back.sring.reqEvent).to.equal(4);
    front.putRequest({ id: 3 });
    expect(front.pushRequests().notify).to.equal(true);
  });

  it('responses follow the same rule with rspEvent', () => {
    const { front, back } = mk(8);
    for (let i = 0; i < 3; i++) front.putRequest({ id: i });
    front.pushRequests();
    for (let i = 0; i < 3; i++) back.takeRequest();
    back.putResponse({ id: 0, status: 0 });
    expect(back.pushResponses().notify).to.equal(true);
    back.putResponse({ id: 1, status: 0 });
    expect(back.pushResponses().notify).to.equal(false);
    front.takeResponse();
    front.takeResponse();
    expect(front.finalCheckForResponses()).to.equal(false);
    back.putResponse({ id: 2, status: 0 });
    expect(back.pushResponses().notify).to.equal(true);
  });

  it('setReqEvent batches: no notify until reqProd passes the threshold', () => {
    const { front, back } = mk(8);
    front.putRequest({ id: 0 });
    front.pushRequests();
    back.takeRequest();
    back.setReqEvent(back.sring.reqProd + 3); // want 3 more
    front.putRequest({ id: 1 });
    front.putRequest({ id: 2 });
    expect(front.pushRequests().notify).to.equal(false);
    front.putRequest({ id: 3 });
    expect(front.pushRequests().notify).to.equal(true);
  });
});

describe('ring: final check closes the lost-wakeup race (section 1.6)', () => {
  it('a request pushed before the re-arm is found by the recheck', () => {
    const { front, back } = mk(8);
    front.putRequest({ id: 0 });
    front.pushRequests();
    back.takeRequest();
    // Consumer saw no work and decides to sleep; the producer pushes with the stale event first.
    expect(back.unconsumedRequests()).to.equal(0);
    front.putRequest({ id: 1 });
    expect(front.pushRequests().notify).to.equal(false); // reqEvent still 1: no wakeup is sent
    expect(back.finalCheckForRequests()).to.equal(true); // so the final check must find it
    expect(back.takeRequest()).to.deep.equal({ id: 1 });
  });

  it('re-checks after re-arming: a push racing with the re-arm (stale event read) is still found', () => {
    const { s, front, back } = mk(8);
    front.putRequest({ id: 0 });
    front.pushRequests();
    back.takeRequest();
    // Hook the shared reqEvent so the producer publishes "during" the re-arm, having read the old event.
    let ev = s.reqEvent;
    let racedNotify: boolean | undefined;
    Object.defineProperty(s, 'reqEvent', {
      configurable: true,
      get: () => ev,
      set: (v: number) => {
        if (racedNotify === undefined) {
          front.putRequest({ id: 1 });
          racedNotify = front.pushRequests().notify;
        }
        ev = v;
      },
    });
    expect(back.finalCheckForRequests()).to.equal(true);
    expect(racedNotify).to.equal(false); // the producer did not notify, only the recheck saves us
    expect(ev).to.equal(2);
    expect(back.takeRequest()).to.deep.equal({ id: 1 });
  });

  it('the same holds for responses: a push racing with the rspEvent re-arm is found by the recheck', () => {
    const { s, front, back } = mk(8);
    front.putRequest({ id: 0 });
    front.putRequest({ id: 1 });
    front.pushRequests();
    back.takeRequest();
    back.takeRequest();
    back.putResponse({ id: 0, status: 0 });
    back.pushResponses();
    front.takeResponse();
    let ev = s.rspEvent;
    let racedNotify: boolean | undefined;
    Object.defineProperty(s, 'rspEvent', {
      configurable: true,
      get: () => ev,
      set: (v: number) => {
        if (racedNotify === undefined) {
          back.putResponse({ id: 1, status: 0 });
          racedNotify = back.pushResponses().notify;
        }
        ev = v;
      },
    });
    expect(front.finalCheckForResponses()).to.equal(true);
    expect(racedNotify).to.equal(false);
    expect(front.takeResponse()).to.deep.equal({ id: 1, status: 0 });
  });

  it('finalCheckForResponses returns true immediately when work is pending, without re-arming', () => {
    const { front, back } = mk(8);
    front.putRequest({ id: 0 });
    front.pushRequests();
    back.takeRequest();
    back.putResponse({ id: 0, status: 0 });
    back.pushResponses();
    const ev = front.sring.rspEvent;
    expect(front.finalCheckForResponses()).to.equal(true);
    expect(front.sring.rspEvent).to.equal(ev);
  });
});

describe('ring: defensive predicates (section 1.7)', () => {
  it('caps a lying producer at size and flags requestProdOverflow', () => {
    const { s, back } = mk(8, 0xfffffffc);
    expect(back.requestProdOverflow()).to.equal(false);
    s.reqProd = u32(back.rspProdPvt + 1000);
    expect(back.unconsumedRequests()).to.equal(8);
    expect(back.requestProdOverflow()).to.equal(true);
    s.reqProd = u32(back.rspProdPvt + 8);
    expect(back.requestProdOverflow()).to.equal(false);
  });

  it('unconsumedRequests shrinks as requests are held without responses; consOverflow at size', () => {
    const { s, back } = mk(4);
    for (let i = 0; i < 4; i++) s.slots[i] = { req: { id: i } };
    s.reqProd = 1000; // lying
    for (let i = 0; i < 4; i++) {
      expect(back.unconsumedRequests()).to.equal(4 - i);
      expect(back.requestConsOverflow()).to.equal(false);
      back.takeRequest();
    }
    expect(back.unconsumedRequests()).to.equal(0);
    expect(back.requestConsOverflow()).to.equal(true);
  });

  it('takeRequest returns a private copy (later writes to the slot do not change it) and throws on empty slots', () => {
    const { s, front, back } = mk(4);
    front.putRequest({ id: 5 });
    front.pushRequests();
    const r = back.takeRequest();
    s.slots[0].req!.id = 666; // hostile frontend rewrites after the fetch
    expect(r.id).to.equal(5);
    s.reqProd = 2;
    expect(() => back.takeRequest()).to.throw();
  });

  it('putResponse refuses to answer more requests than were consumed', () => {
    const { back } = mk(4);
    expect(() => back.putResponse({ id: 0, status: 0 })).to.throw();
  });

  it('responseProdOverflow flags a lying backend', () => {
    const { s, front } = mk(4, 0xfffffff0);
    s.rspProd = u32(front.rspCons + 5);
    expect(front.responseProdOverflow()).to.equal(true);
    s.rspProd = u32(front.rspCons + 4);
    expect(front.responseProdOverflow()).to.equal(false);
  });
});

describe('ring: property — honest peers under any interleaving', () => {
  type Op = 'produce' | 'pushReq' | 'consume' | 'respond' | 'pushRsp' | 'takeRsp' | 'backSleep' | 'frontSleep';
  const ops: Op[] = ['produce', 'pushReq', 'consume', 'respond', 'pushRsp', 'takeRsp', 'backSleep', 'frontSleep'];

  /** Independent statement of the rule: notify iff some index in (old, new] equals event. */
  const eventInWindow = (oldP: number, newP: number, event: number) => {
    for (let k = 1; k <= ringDiff(newP, oldP); k++) if (u32(oldP + k) === event) return true;
    return false;
  };

  it('never loses or duplicates an item, notify matches the formula, no lost wakeups', function () {
    this.timeout(60_000); // a property: sized for a loaded 2-core machine, not mocha's 2 s default
    fc.assert(
      fc.property(
        fc.constantFrom(1, 2, 4, 8),
        fc.oneof(fc.integer({ min: 0xffffff00, max: 0xffffffff }), fc.integer({ min: 0, max: 0xffffffff })),
        fc.array(fc.constantFrom(...ops), { maxLength: 300 }),
        (size, start, script) => {
          const { s, front, back } = mk(size, start);
          let produced = 0;
          const consumed: number[] = [];
          const pendingRsp: number[] = []; // consumed, not yet answered
          const received: number[] = [];
          let backAsleep = false;
          let frontAsleep = false;

          const pushReq = () => {
            const [oldP, newP, ev] = [s.reqProd, front.reqProdPvt, s.reqEvent];
            const { notify } = front.pushRequests();
            expect(notify).to.equal(ringDiff(newP, ev) < ringDiff(newP, oldP));
            expect(notify).to.equal(eventInWindow(oldP, newP, ev));
            // I9: a sleeping consumer must be woken by the first push that publishes work.
            if (backAsleep && newP !== oldP) expect(notify, 'lost wakeup (requests)').to.equal(true);
            if (notify) backAsleep = false;
          };
          const pushRsp = () => {
            const [oldP, newP, ev] = [s.rspProd, back.rspProdPvt, s.rspEvent];
            const { notify } = back.pushResponses();
            expect(notify).to.equal(ringDiff(newP, ev) < ringDiff(newP, oldP));
            expect(notify).to.equal(eventInWindow(oldP, newP, ev));
            if (frontAsleep && newP !== oldP) expect(notify, 'lost wakeup (responses)').to.equal(true);
            if (notify) frontAsleep = false;
          };

          for (const op of script) {
            switch (op) {
              case 'produce':
                if (!front.full()) front.putRequest({ id: produced++ });
                break;
              case 'pushReq':
                pushReq();
                break;
              case 'consume':
                if (!backAsleep && back.unconsumedRequests() > 0) {
                  const r = back.takeRequest();
                  consumed.push(r.id);
                  pendingRsp.push(r.id);
                }
                break;
              case 'respond': {
                const id = pendingRsp.shift();
                if (id !== undefined) back.putResponse({ id, status: 0 });
                break;
              }
              case 'pushRsp':
                pushRsp();
                break;
              case 'takeRsp':
                if (!frontAsleep && front.unconsumedResponses() > 0) received.push(front.takeResponse().id);
                break;
              case 'backSleep':
                if (!backAsleep && !back.finalCheckForRequests()) backAsleep = true;
                break;
              case 'frontSleep':
                if (!frontAsleep && !front.finalCheckForResponses()) frontAsleep = true;
                break;
            }
            expect(back.requestProdOverflow()).to.equal(false);
            expect(front.responseProdOverflow()).to.equal(false);
            expect(ringDiff(back.reqCons, back.rspProdPvt)).to.be.at.most(size);
          }

          // Drain: everything published must be reachable; sleepers only wake via notify.
          pushReq();
          for (let guard = 0; guard < 10_000; guard++) {
            if (!backAsleep) {
              while (back.unconsumedRequests() > 0) {
                const r = back.takeRequest();
                consumed.push(r.id);
                pendingRsp.push(r.id);
              }
            }
            for (let id = pendingRsp.shift(); id !== undefined; id = pendingRsp.shift()) back.putResponse({ id, status: 0 });
            pushRsp();
            if (!backAsleep && !back.finalCheckForRequests()) backAsleep = true;
            if (!frontAsleep) {
              while (front.unconsumedResponses() > 0) received.push(front.takeResponse().id);
              if (!front.finalCheckForResponses()) frontAsleep = true;
            }
            if (backAsleep && frontAsleep) break; // I9: both asleep must mean no work left
          }
          const all = Array.from({ length: produced }, (_, i) => i);
          expect(consumed).to.deep.equal(all);
          expect(received).to.deep.equal(all);
        },
      ),
      { numRuns: 300 },
    );
  });
});
