import { expect } from 'chai';
import { createActor } from 'xstate';
import { PortTable, eventChannelMachine, type ChannelEnd } from '../../src/hypervisor/event-channel.js';

/**
 * Event-channel behaviour the first suite left open (found by mutation testing, issue 14): port
 * allocation limits and reuse of closed numbers, lookup of invalid ports, close, one upcall for
 * many pending ports (4.2), unmask of a port with nothing pending, and the channel actor's
 * bind/close/send bookkeeping (4.3).
 */
function table(limit?: number) {
  let kicks = 0;
  const handled: string[] = [];
  const t = limit === undefined ? new PortTable(() => { kicks++; }) : new PortTable(() => { kicks++; }, limit);
  const h = (name: string) => () => { handled.push(name); };
  return { t, h, handled, kicks: () => kicks };
}

describe('event channels (mutation): allocation, lookup and close', () => {
  it('ports are 1 .. limit-1: alloc throws and tryAlloc answers null once they are all in use', () => {
    const { t, h } = table(3);
    expect(t.alloc('a', h('a')).port).to.equal(1);
    expect(t.tryAlloc('b', h('b'))!.port).to.equal(2);
    expect(t.tryAlloc('c', h('c'))).to.equal(null);
    expect(() => t.alloc('c', h('c'))).to.throw(/exhausted/);
    expect(t.ports).to.have.length(2);
  });

  it('a closed port number is reused (the lowest first), as a fresh port', () => {
    const { t, h, handled } = table(4);
    const p1 = t.alloc('a', h('a'));
    const p2 = t.alloc('b', h('b'));
    const p3 = t.alloc('c', h('c'));
    p2.virq = 3;
    t.setPending(p2);
    t.mask(p2);
    t.close(p3);
    t.close(p2);
    const q = t.alloc('d', h('d'));
    expect(q.port).to.equal(2);
    expect(q).to.include({ pending: false, masked: false, closed: false, name: 'd' });
    expect(q.virq).to.equal(undefined);
    expect(t.alloc('e', h('e')).port).to.equal(3);
    expect(t.tryAlloc('f', h('f'))).to.equal(null); // 1..3 in use again, limit 4
    t.dispatch({} as never);
    t.setPending(q);
    t.dispatch({} as never);
    expect(handled).to.deep.equal(['d']); // the new handler, not the closed port's
    expect(p1.closed).to.not.equal(true);
  });

  it('lookup finds open ports only: not port 0, negative, fractional, past the end, or closed', () => {
    const { t, h } = table();
    const p1 = t.alloc('a', h('a'));
    const p2 = t.alloc('b', h('b'));
    expect(t.lookup(1)).to.equal(p1);
    expect(t.lookup(2)).to.equal(p2);
    for (const bad of [0, -1, 1.5, 3, NaN]) expect(t.lookup(bad), String(bad)).to.equal(undefined);
    t.close(p1);
    expect(t.lookup(1)).to.equal(undefined);
    expect(t.lookup(2)).to.equal(p2);
  });

  it('close clears pending and mask, drops the handler, and a closed port never raises or runs', () => {
    const { t, h, handled, kicks } = table();
    const p = t.alloc('a', h('a'));
    t.mask(p);
    t.setPending(p);
    t.close(p);
    expect(p).to.include({ closed: true, pending: false, masked: false });
    expect(t.setPending(p)).to.equal('masked');
    expect(p.pending).to.equal(false);
    expect(kicks()).to.equal(0);
    t.dispatch({} as never);
    p.handler({} as never); // the handler left behind is a no-op
    expect(handled).to.deep.equal([]);
  });
});

describe('event channels (mutation): upcall flag (4.2)', () => {
  it('many ports raised before the upcall runs cost one kick; the upcall clears the flag so the next raise kicks again', () => {
    const { t, h, kicks, handled } = table();
    const p1 = t.alloc('a', h('a'));
    const p2 = t.alloc('b', h('b'));
    expect(t.setPending(p1)).to.equal('raised');
    expect(t.setPending(p2)).to.equal('raised');
    expect(kicks()).to.equal(1);
    expect(t.upcallPending).to.equal(true);
    expect(t.dispatch({} as never)).to.equal(2);
    expect(handled).to.deep.equal(['a', 'b']);
    expect(t.upcallPending).to.equal(false);
    expect(t.setPending(p2)).to.equal('raised');
    expect(kicks()).to.equal(2);
  });

  it('mask() holds a raise back; unmasking a port with nothing pending kicks nobody; unmasking two pending ports kicks once', () => {
    const { t, h, kicks } = table();
    const p1 = t.alloc('a', h('a'));
    const p2 = t.alloc('b', h('b'));
    t.mask(p1);
    t.mask(p2);
    expect(p1.masked).to.equal(true);
    t.unmask(p1);
    expect(kicks()).to.equal(0);
    expect(t.upcallPending).to.equal(false);
    t.mask(p1);
    expect(t.setPending(p1)).to.equal('masked');
    expect(t.setPending(p2)).to.equal('masked');
    expect(kicks()).to.equal(0);
    t.unmask(p1);
    t.unmask(p2);
    expect(kicks()).to.equal(1);
    expect(t.upcallPending).to.equal(true);
  });
});

describe('event channels (mutation): the channel actor (4.3)', () => {
  const ends = () => {
    const A = table();
    const B = table();
    const a: ChannelEnd = { table: A.t, port: A.t.alloc('a', A.h('a')), domain: 'A' };
    const b: ChannelEnd = { table: B.t, port: B.t.alloc('b', B.h('b')), domain: 'B' };
    return { A, B, a, b };
  };

  it('a channel created with both ends is interdomain at once and counts its sends', () => {
    const { a, b } = ends();
    const ch = createActor(eventChannelMachine, { input: { a, b } }).start();
    expect(ch.getSnapshot().value).to.equal('interdomain');
    ch.send({ type: 'SEND', from: 'a' });
    ch.send({ type: 'SEND', from: 'a' });
    ch.send({ type: 'SEND', from: 'b' });
    expect(b.port.pending).to.equal(true);
    expect(a.port.pending).to.equal(true);
    expect(ch.getSnapshot().context).to.include({ sends: 3, dropped: 0 });
  });

  it('a channel with one end stays unbound and counts every send as dropped', () => {
    const { a } = ends();
    const ch = createActor(eventChannelMachine, { input: { a, b: null } }).start();
    expect(ch.getSnapshot().value).to.equal('unbound');
    ch.send({ type: 'SEND', from: 'a' });
    ch.send({ type: 'SEND', from: 'a' });
    expect(ch.getSnapshot().context).to.include({ sends: 0, dropped: 2 });
  });

  it('closing one end leaves the other bound end in place, the channel unbound; closing without an end detaches both', () => {
    for (const from of ['a', 'b'] as const) {
      const { a, b } = ends();
      const ch = createActor(eventChannelMachine, { input: { a, b } }).start();
      ch.send({ type: 'CLOSE', from });
      const { value, context } = ch.getSnapshot();
      expect(value, from).to.equal('unbound');
      expect(context.a, from).to.equal(from === 'a' ? null : a);
      expect(context.b, from).to.equal(from === 'b' ? null : b);
      ch.send({ type: 'SEND', from: from === 'a' ? 'b' : 'a' });
      expect(ch.getSnapshot().context.dropped).to.equal(1);
    }
    const { a, b } = ends();
    const ch = createActor(eventChannelMachine, { input: { a, b } }).start();
    ch.send({ type: 'CLOSE' });
    expect(ch.getSnapshot().context).to.include({ a: null, b: null });
    // CLOSE while unbound detaches too.
    const one = createActor(eventChannelMachine, { input: { a, b: null } }).start();
    one.send({ type: 'CLOSE', from: 'a' });
    expect(one.getSnapshot().context.a).to.equal(null);
  });
});

describe('event channels (mutation): the access points of the pending/mask handshakes', () => {
  it('set-pending and unmask each stop before their write and between their two halves; dispatch after clearing the upcall flag', async () => {
    const { PortTable } = await import('../../src/hypervisor/event-channel.js');
    let kicks = 0;
    const t = new PortTable(() => { kicks++; });
    const p = t.alloc('p', () => {});
    const seen: string[] = [];
    t.onAccess = () => { seen.push(`pending=${p.pending} masked=${p.masked} upcall=${t.upcallPending}`); };
    t.mask(p);
    expect(t.setPending(p)).to.equal('masked');
    expect(seen).to.deep.equal(['pending=false masked=true upcall=false', 'pending=true masked=true upcall=false']);
    seen.length = 0;
    t.unmask(p);
    expect(seen).to.deep.equal(['pending=true masked=true upcall=false', 'pending=true masked=false upcall=false']);
    expect(kicks).to.equal(1); // the event that became pending while masked is raised on unmask
    seen.length = 0;
    t.dispatch(undefined as never);
    expect(seen).to.deep.equal(['pending=true masked=false upcall=false']);
  });
});
