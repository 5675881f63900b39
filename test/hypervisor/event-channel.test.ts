import { expect } from 'chai';
import { ActorSystem } from '../../src/actors/runtime.js';
import { PortTable, eventChannelMachine } from '../../src/hypervisor/event-channel.js';

describe('event channels (2-level ABI)', () => {
  function setup() {
    let kicks = 0;
    const table = new PortTable(() => { kicks++; });
    const handled: string[] = [];
    const p1 = table.alloc('p1', () => { handled.push('p1'); });
    const p2 = table.alloc('p2', () => { handled.push('p2'); });
    return { table, p1, p2, handled, kicks: () => kicks };
  }

  it('port 0 is reserved', () => {
    const { p1 } = setup();
    expect(p1.port).to.equal(1);
  });

  it('set pending raises one upcall; repeats coalesce until the guest clears the bit', () => {
    const { table, p1, kicks } = setup();
    expect(table.setPending(p1)).to.equal('raised');
    expect(table.setPending(p1)).to.equal('coalesced');
    expect(kicks()).to.equal(1);
    expect(table.coalesced).to.equal(1);
  });

  it('a masked port stays pending without an upcall, and unmasking delivers it', () => {
    const { table, p1, kicks, handled } = setup();
    p1.masked = true;
    expect(table.setPending(p1)).to.equal('masked');
    expect(kicks()).to.equal(0);
    expect(table.upcallPending).to.equal(false);
    table.unmask(p1);
    expect(kicks()).to.equal(1);
    table.dispatch({} as never);
    expect(handled).to.deep.equal(['p1']);
    expect(p1.pending).to.equal(false);
  });

  it('the upcall handles every pending unmasked port in order and leaves masked ones pending', () => {
    const { table, p1, p2, handled } = setup();
    p2.masked = true;
    table.setPending(p2);
    table.setPending(p1);
    expect(table.dispatch({} as never)).to.equal(1);
    expect(handled).to.deep.equal(['p1']);
    expect(p2.pending).to.equal(true);
  });

  it('the channel actor drops sends while unbound and delivers to the other end once bound', () => {
    const sys = new ActorSystem(1);
    const a = setup();
    const b = setup();
    const ch = sys.spawn('ch', 'evtchn', eventChannelMachine, { a: { table: a.table, port: a.p1, domain: 'A' }, b: null });
    sys.deliverNow('ch', 'ch', { type: 'SEND', from: 'a' });
    expect(b.p1.pending).to.equal(false);
    expect(ch.getSnapshot().value).to.equal('unbound');
    sys.deliverNow('ch', 'ch', { type: 'BIND', end: { table: b.table, port: b.p1, domain: 'B' } });
    expect(ch.getSnapshot().value).to.equal('interdomain');
    sys.deliverNow('ch', 'ch', { type: 'SEND', from: 'a' });
    expect(b.p1.pending).to.equal(true);
    expect(a.p1.pending).to.equal(false);
    sys.deliverNow('ch', 'ch', { type: 'SEND', from: 'b' });
    expect(a.p1.pending).to.equal(true);
  });
});
