import { expect } from 'chai';
import fc from 'fast-check';
import { createMachine } from 'xstate';
import { Scheduler } from '../../src/actors/scheduler.js';
import { ActorSystem } from '../../src/actors/runtime.js';

describe('deterministic scheduler', () => {
  it('orders by time, then actor rank, then the actor\'s own send order', () => {
    const s = new Scheduler();
    const seen: string[] = [];
    s.at(10, 2, () => seen.push('r2-a'));
    s.at(10, 1, () => seen.push('r1-a'));
    s.at(5, 9, () => seen.push('early'));
    s.at(10, 1, () => seen.push('r1-b'));
    s.at(10, 2, () => seen.push('r2-b'));
    s.run(100);
    expect(seen).to.deep.equal(['early', 'r1-a', 'r1-b', 'r2-a', 'r2-b']);
  });

  it('the delivery order does not depend on the order events were inserted (property)', function () {
    this.timeout(60_000); // a property: sized for a loaded 2-core machine, not mocha's 2 s default
    fc.assert(fc.property(fc.array(fc.record({ t: fc.nat(50), rank: fc.nat(5) }), { maxLength: 40 }), (evs) => {
      // Per rank, the relative order of inserts is part of the key; shuffling across ranks must not matter.
      const run = (order: number[]) => {
        const s = new Scheduler();
        const out: string[] = [];
        const perRank = new Map<number, number>();
        for (const i of order) {
          const e = evs[i];
          const k = (perRank.get(e.rank) ?? 0) + 1;
          perRank.set(e.rank, k);
          s.at(e.t, e.rank, () => out.push(`${e.t}/${e.rank}/${k}`));
        }
        s.run(1000);
        return out;
      };
      const idx = evs.map((_, i) => i);
      const byRankThenIndex = [...idx].sort((a, b) => evs[a].rank - evs[b].rank || a - b);
      expect(run(idx)).to.deep.equal(run(byRankThenIndex));
    }));
  });

  it('cancelled timers never fire and time never runs backwards', () => {
    const s = new Scheduler();
    let fired = false;
    const h = s.at(10, 0, () => { fired = true; });
    h.cancel();
    s.run(20);
    expect(fired).to.equal(false);
    expect(s.now).to.equal(20);
    expect(() => s.at(5, 0, () => {})).to.throw(/bad time/);
  });

  it('drives xstate `after` delays in virtual time', () => {
    const sys = new ActorSystem(1);
    const m = createMachine({ initial: 'a', states: { a: { after: { 2: 'b' } }, b: {} } }); // 2 ms
    const a = sys.spawn('m', 'test', m, {});
    sys.sched.run(1_999_999_999);
    expect(a.getSnapshot().value).to.equal('a');
    sys.sched.run(2_000_000_000);
    expect(a.getSnapshot().value).to.equal('b');
  });
});
