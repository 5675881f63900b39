import { expect } from 'chai';
import fc from 'fast-check';
import { createMachine } from 'xstate';
import { Scheduler, EVENT_QUEUES, type EventQueueKind } from '../../src/actors/scheduler.js';
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
  describe('the ladder queue pops exactly what the heap pops', () => {
    // A random program of scheduler operations, run on each queue: every fired event is logged with
    // its time, and events fired at run time schedule and cancel more (the simulation's pattern).
    type Op =
      | { op: 'at'; dt: number; rank: number; children: Array<{ dt: number; rank: number }>; cancelAt?: number }
      | { op: 'burst'; dt: number; n: number; spread: number; rank: number }
      | { op: 'cancel'; which: number }
      | { op: 'run'; dt: number };
    // Time spreads from equal instants through ns to seconds, so buckets collide, rungs split and Top refills.
    const delay = fc.oneof(fc.constant(0), fc.nat(3), fc.nat(1000), fc.nat(1_000_000), fc.integer({ min: 0, max: 2 ** 40 }));
    const child = fc.record({ dt: delay, rank: fc.nat(6) });
    const op: fc.Arbitrary<Op> = fc.oneof(
      { weight: 6, arbitrary: fc.record({ op: fc.constant('at' as const), dt: delay, rank: fc.nat(6), children: fc.array(child, { maxLength: 3 }), cancelAt: fc.option(fc.nat(200), { nil: undefined }) }) },
      { weight: 2, arbitrary: fc.record({ op: fc.constant('cancel' as const), which: fc.nat(400) }) },
      // Many events close together: a bucket past the split threshold, a long Bottom, nested rungs.
      { weight: 1, arbitrary: fc.record({ op: fc.constant('burst' as const), dt: delay, n: fc.integer({ min: 40, max: 160 }), spread: fc.oneof(fc.nat(3), fc.nat(5000)), rank: fc.nat(6) }) },
      { weight: 1, arbitrary: fc.record({ op: fc.constant('run' as const), dt: delay }) },
    );
    const replay = (queue: EventQueueKind, ops: Op[]) => {
      const s = new Scheduler(queue);
      const log: string[] = [];
      const handles: Array<{ cancel(): void }> = [];
      let label = 0;
      const schedule = (dt: number, rank: number, children: Array<{ dt: number; rank: number }>, cancelAt?: number) => {
        const me = label++;
        handles.push(s.at(s.now + dt, rank, () => {
          log.push(`${s.now}:${me}`);
          // Children scheduled from inside an event, some cancelled at once, some later.
          for (const c of children) schedule(c.dt, c.rank, []);
          if (cancelAt !== undefined && handles[cancelAt]) handles[cancelAt].cancel();
        }));
        // call(): the uncancellable path, interleaved with at().
        if (me % 3 === 0) s.call(s.now + dt, rank + 1, (x: number) => log.push(`${s.now}:c${x}`), me, undefined, undefined);
      };
      for (const o of ops) {
        if (o.op === 'at') schedule(o.dt, o.rank, o.children, o.cancelAt);
        else if (o.op === 'burst') for (let i = 0; i < o.n; i++) schedule(o.dt + ((i * 7919) % (o.spread + 1)), o.rank, []);
        else if (o.op === 'cancel') handles[o.which % Math.max(1, handles.length)]?.cancel();
        else s.run(s.now + o.dt);
      }
      s.run(Number.MAX_SAFE_INTEGER - 1);
      return { log, delivered: s.delivered, now: s.now, pending: s.pendingCount() };
    };

    it('over random schedules with cancellations (property)', function () {
      this.timeout(120_000); // a property: sized for a loaded 2-core machine
      fc.assert(fc.property(fc.array(op, { maxLength: 400 }), (ops) => {
        const heap = replay('heap', ops), ladder = replay('ladder', ops);
        expect(ladder).to.deep.equal(heap);
      }), { numRuns: 300 });
    });

    it('over a large PHOLD-like population: Top refills, rungs split, Bottom spills into a rung', function () {
      this.timeout(60_000);
      // Thousands of pending events (rungs of thousands of buckets), bursts at one instant (Bottom
      // grows past its bound) and at nearby instants (a bucket above the split threshold).
      const out = EVENT_QUEUES.map((queue) => {
        const s = new Scheduler(queue);
        let x = 12345;
        const rnd = () => { x = (Math.imul(x, 1103515245) + 12345) >>> 0; return x / 2 ** 32; };
        const log: number[] = [];
        let fired = 0;
        const leaf = (lp: number) => { log.push(s.now * 4096 + lp); };
        const ev = (lp: number) => {
          log.push(s.now * 4096 + lp);
          if (++fired % 997 === 0) for (let i = 0; i < 150; i++) s.call(s.now + (i % 7), lp, leaf, (lp + i) % 4096, undefined, undefined);
          s.call(s.now + 100_000 + Math.round(-Math.log(1 - rnd()) * 1_000_000), lp, ev, Math.floor(rnd() * 4096), undefined, undefined);
        };
        for (let i = 0; i < 4096; i++) s.call(Math.round(-Math.log(1 - rnd()) * 1_000_000), i, ev, i, undefined, undefined);
        s.run(30_000_000);
        return log;
      });
      expect(out[0].length).to.be.greaterThan(100_000);
      expect(out[1]).to.deep.equal(out[0]);
    });
  });
});
