import { expect } from 'chai';
import fc from 'fast-check';
import { CpuTlbs, PageSet, TAG, Tlb, tlbTag } from '../../src/hardware/tlb.js';

describe('TLB', () => {
  it('hits after a miss and evicts the least recently used entry when full', () => {
    const t = new Tlb(2);
    expect(t.access(1, false)).to.equal(false);
    expect(t.access(1, false)).to.equal(true);
    t.access(2, false);
    t.access(1, false); // a is now most recent
    t.access(3, false); // evicts b
    expect(t.has(1)).to.equal(true);
    expect(t.has(2)).to.equal(false);
    expect(t.stats).to.include({ hits: 2, misses: 3 });
  });

  it('a CR3 reload keeps global entries and drops the rest', () => {
    const t = new Tlb(8);
    t.access(10, true);
    t.access(11, false);
    t.flushNonGlobal();
    expect(t.has(10)).to.equal(true);
    expect(t.has(11)).to.equal(false);
    expect(t.access(10, true)).to.equal(true);
  });

  it('a full flush (CR4.PGE toggle) drops global entries too', () => {
    const t = new Tlb(8);
    t.access(10, true);
    t.flushAll();
    expect(t.size).to.equal(0);
    expect(t.access(10, true)).to.equal(false);
  });

  it('a working set larger than the TLB misses on every access under LRU', () => {
    const t = new Tlb(4);
    for (let round = 0; round < 3; round++) for (let i = 0; i < 5; i++) t.access(100 + i, false);
    expect(t.stats.hits).to.equal(0);
    const s = new Tlb(4);
    for (let round = 0; round < 3; round++) for (let i = 0; i < 4; i++) s.access(100 + i, false);
    expect(s.stats.misses).to.equal(4);
  });

  it('rejects a non-positive capacity, and a pseudo-LRU array whose capacity is not a power of two (its tree needs one)', () => {
    expect(() => new Tlb(0)).to.throw(RangeError, 'tlb capacity must be a positive integer');
    expect(() => new Tlb(48, null, 'plru')).to.throw(RangeError, 'a pseudo-LRU tlb needs a power-of-two capacity');
    expect(() => new Tlb(48, null, 'lru')).to.not.throw();
    expect(new Tlb(64, null, 'plru').capacity).to.equal(64);
  });
});

describe('TLB: a CPU\'s instruction and data arrays (CpuTlbs)', () => {
  it('counts both arrays (a flush once per array), and a reset zeroes both', () => {
    const c = new CpuTlbs(4, 8);
    for (const t of [1, 2, 1]) c.itlb.access(t, false); // 2 misses, 1 hit
    for (const t of [5, 6, 7, 5, 6]) c.dtlb.access(t, false); // 3 misses, 2 hits
    c.flushNonGlobal(); // one CR3 reload per array (flushes)
    c.flushAll(); // one CR4.PGE toggle per array (fullFlushes)
    expect(c.itlb.stats).to.deep.equal({ hits: 1, misses: 2, flushes: 1, fullFlushes: 1 });
    expect(c.stats).to.deep.equal({ hits: 3, misses: 5, flushes: 2, fullFlushes: 2 });
    c.resetStats();
    expect(c.itlb.stats).to.deep.equal({ hits: 0, misses: 0, flushes: 0, fullFlushes: 0 });
    expect(c.dtlb.stats).to.deep.equal({ hits: 0, misses: 0, flushes: 0, fullFlushes: 0 });
  });
});

describe('TLB: full arrays, in both replacement modes', () => {
  /** An 8-entry array filled with tags 1-8, of which 1-3 global. */
  const full = (replacement: 'lru' | 'plru') => {
    const t = new Tlb(8, null, replacement);
    for (let tag = 1; tag <= 8; tag++) t.access(tag, tag <= 3);
    expect(t.size).to.equal(8);
    return t;
  };
  const present = (t: Tlb, tags: number[]) => tags.filter((x) => t.has(x));

  for (const replacement of ['lru', 'plru'] as const) {
    it(`${replacement}: a CR3 reload drops every non-global entry and keeps the global ones; the freed slots refill without evicting`, () => {
      const t = full(replacement);
      t.flushNonGlobal();
      expect(present(t, [1, 2, 3, 4, 5, 6, 7, 8])).to.deep.equal([1, 2, 3]);
      expect(t.size).to.equal(3);
      for (const tag of [14, 15, 16, 17, 18]) expect(t.access(tag, false), `tag ${tag} after the reload`).to.equal(false);
      expect(present(t, [1, 2, 3, 14, 15, 16, 17, 18])).to.deep.equal([1, 2, 3, 14, 15, 16, 17, 18]);
      expect(t.size).to.equal(8);
      t.flushNonGlobal();
      expect(t.size).to.equal(3);
      expect(t.stats.flushes).to.equal(2);
    });

    it(`${replacement}: a CR4.PGE toggle empties it, global entries too`, () => {
      const t = full(replacement);
      t.flushAll();
      expect(t.size).to.equal(0);
      expect(present(t, [1, 2, 3, 4, 5, 6, 7, 8])).to.deep.equal([]);
      expect(t.access(1, true)).to.equal(false);
      expect(t.stats.fullFlushes).to.equal(1);
    });

    it(`${replacement}: INVLPG frees one entry, and the next miss takes its slot instead of evicting`, () => {
      const t = full(replacement);
      const all = [1, 2, 3, 4, 5, 6, 7, 8];
      t.invalidate(5);
      t.invalidate(99); // not present: nothing happens
      expect(t.size).to.equal(7);
      expect(t.access(5, false)).to.equal(false);
      expect(present(t, all)).to.deep.equal(all);
      t.access(20, false); // full: evicts one
      const kept = present(t, all);
      expect(kept).to.have.length(7);
      t.invalidate(20);
      t.access(21, false); // takes the freed slot
      expect(present(t, all)).to.deep.equal(kept);
      expect([t.has(20), t.has(21), t.size]).to.deep.equal([false, true, 8]);
    });
  }
});

describe('TLB: stale translations of data frames', () => {
  /** An ownership oracle double: domain -> frames it may reach; records the stale hits it is told about. */
  const oracle = (reach: Map<number, Set<number>>) => {
    const stale: Array<[number, number, number]> = [];
    return { stale, o: { reachable: (d: number, f: number) => reach.get(d)?.has(f) ?? false, stale: (d: number, f: number, m: number) => { stale.push([d, f, m]); } } };
  };
  const tag = (dom: number, kind: number, page: number) => tlbTag(dom, kind, page);

  it('a hit through an entry whose frame the domain still reaches is fine; after losing it, it is stale', () => {
    const reach = new Map([[3, new Set([100])]]);
    const { stale, o } = oracle(reach);
    const t = new Tlb(8, o);
    expect(t.accessFrame(tag(3, TAG.direct, 100), false, 100, true)).to.equal(false);
    expect(t.accessFrame(tag(3, TAG.direct, 100), false, 100, true)).to.equal(true);
    expect(stale).to.deep.equal([]);
    reach.get(3)!.delete(100); // flipped away, no flush
    expect(t.accessFrame(tag(3, TAG.direct, 100), false, 100, true)).to.equal(true);
    expect(stale).to.deep.equal([[3, 100, 100]]);
  });

  it('a flush (or INVLPG) after the loss leaves nothing stale: the next access misses and refills', () => {
    const reach = new Map([[3, new Set([100, 101])]]);
    const { stale, o } = oracle(reach);
    const t = new Tlb(8, o);
    t.accessFrame(tag(3, TAG.grantMap, 7), false, 100, true);
    reach.get(3)!.delete(100);
    t.invalidate(tag(3, TAG.grantMap, 7));
    expect(t.accessFrame(tag(3, TAG.grantMap, 7), false, 101, true)).to.equal(false);
    expect(t.accessFrame(tag(3, TAG.grantMap, 7), false, 101, true)).to.equal(true);
    expect(stale).to.deep.equal([]);
  });

  it('a 4 KiB entry reused for another frame (a map slot not flushed) is stale even if the old frame is still reachable', () => {
    const { stale, o } = oracle(new Map([[0, new Set([100, 200])]]));
    const t = new Tlb(8, o);
    t.accessFrame(tag(0, TAG.grantMap, 5), false, 100, true);
    t.accessFrame(tag(0, TAG.grantMap, 5), false, 200, true);
    expect(stale).to.deep.equal([[0, 100, 200]]);
  });

  it('a superpage entry covers other frames of its extent, but not once the frame it was filled for is gone', () => {
    const reach = new Map([[1, new Set([1024, 1025])]]);
    const { stale, o } = oracle(reach);
    const t = new Tlb(8, o);
    t.accessFrame(tag(1, TAG.direct4M, 1), true, 1024, false);
    expect(t.accessFrame(tag(1, TAG.direct4M, 1), true, 1025, false)).to.equal(true);
    expect(stale).to.deep.equal([]);
    reach.get(1)!.delete(1024);
    t.flushNonGlobal(); // a CR3 reload keeps the global superpage entry
    t.accessFrame(tag(1, TAG.direct4M, 1), true, 1025, false);
    expect(stale).to.deep.equal([[1, 1024, 1025]]);
  });

  it('footprint accesses carry no frame and are never checked; an entry refilled by one forgets its old frame', () => {
    const { stale, o } = oracle(new Map());
    const t = new Tlb(1, o);
    t.access(tag(2, TAG.kernel, 0), true);
    expect(t.access(tag(2, TAG.kernel, 0), true)).to.equal(true);
    t.accessFrame(tag(2, TAG.direct, 9), false, 9, true); // evicts the footprint entry; frame 9 unreachable
    t.access(tag(2, TAG.direct, 9), false); // hit: a plain access does not check
    t.access(tag(2, TAG.kernel, 0), true); // evicts, refills slot 0 without a frame
    t.accessFrame(tag(2, TAG.kernel, 0), true, 9, true); // hit on an untracked entry: no check
    expect(stale).to.deep.equal([]);
  });

  it('without an oracle nothing is checked', () => {
    const t = new Tlb(4);
    t.accessFrame(tag(0, TAG.direct, 1), false, 1, true);
    expect(t.accessFrame(tag(0, TAG.direct, 1), false, 1, true)).to.equal(true);
  });
});

describe('TLB: skipping the walk of a page set that cannot change', () => {
  // Two TLBs driven by the same operations: one walks every page (accessAll), the other may skip
  // (accessSet). Every return value, every count and which tags are resident must agree after every
  // step; evictions follow the replacement state, so a wrong tree bit shows up as a different victim.
  type Op =
    | { op: 'set'; which: number; global: boolean }
    | { op: 'one'; tag: number; global: boolean }
    | { op: 'frame'; tag: number; mfn: number }
    | { op: 'flush' } | { op: 'flushAll' } | { op: 'invlpg'; tag: number };
  const TAGS = 40; // a universe of tags a bit larger than some capacities: resident sets and evictions mix
  const pageSets = fc.array(fc.array(fc.nat(TAGS - 1), { minLength: 1, maxLength: 12 }), { minLength: 1, maxLength: 6 });
  const op: fc.Arbitrary<Op> = fc.oneof(
    { weight: 12, arbitrary: fc.record({ op: fc.constant('set' as const), which: fc.nat(5), global: fc.boolean() }) },
    { weight: 3, arbitrary: fc.record({ op: fc.constant('one' as const), tag: fc.nat(TAGS + 10), global: fc.boolean() }) },
    { weight: 1, arbitrary: fc.record({ op: fc.constant('frame' as const), tag: fc.nat(TAGS + 10), mfn: fc.nat(3) }) },
    { weight: 1, arbitrary: fc.record({ op: fc.constant('flush' as const) }) },
    { weight: 1, arbitrary: fc.record({ op: fc.constant('flushAll' as const) }) },
    { weight: 1, arbitrary: fc.record({ op: fc.constant('invlpg' as const), tag: fc.nat(TAGS - 1) }) },
  );

  it('gives the walk\'s hits, misses, evictions and replacement state (property)', function () {
    this.timeout(120_000); // a property: sized for a loaded 2-core machine
    let skipped = 0;
    fc.assert(fc.property(fc.constantFrom(4, 8, 16, 32), fc.constantFrom('plru' as const, 'lru' as const), pageSets, fc.array(op, { maxLength: 150 }), (cap, repl, sets, ops) => {
      const walk = new Tlb(cap, null, repl), fast = new Tlb(cap, null, repl);
      const ps = sets.map((s) => new PageSet(Float64Array.from(s)));
      const state = (t: Tlb) => ({ stats: { ...t.stats }, size: t.size, resident: Array.from({ length: TAGS + 11 }, (_, i) => t.has(i)) });
      for (const o of ops) {
        let a: unknown, b: unknown;
        if (o.op === 'set') {
          const p = ps[o.which % ps.length];
          const hits = fast.stats.hits;
          a = walk.accessAll(p.tags, o.global); b = fast.accessSet(p, o.global);
          if (b === 0 && fast.stats.hits === hits + p.tags.length && repl === 'plru') skipped++;
        } else if (o.op === 'one') { a = walk.access(o.tag, o.global); b = fast.access(o.tag, o.global); }
        else if (o.op === 'frame') { a = walk.accessFrame(o.tag, false, o.mfn, true); b = fast.accessFrame(o.tag, false, o.mfn, true); }
        else if (o.op === 'flush') { walk.flushNonGlobal(); fast.flushNonGlobal(); }
        else if (o.op === 'flushAll') { walk.flushAll(); fast.flushAll(); }
        else { walk.invalidate(o.tag); fast.invalidate(o.tag); }
        expect(b).to.equal(a);
        expect(state(fast)).to.deep.equal(state(walk));
      }
      // Probe the replacement state: fill fresh tags one by one and compare what each evicts.
      for (let i = 0; i < 2 * cap; i++) {
        expect(fast.access(1000 + i, false)).to.equal(walk.access(1000 + i, false));
        expect(state(fast)).to.deep.equal(state(walk));
      }
    }), { numRuns: 400 });
    expect(skipped).to.be.greaterThan(100); // the fast path was taken, not just the walk
  });

  it('skips when nothing was dropped since the set was last fully resident, and walks again after an eviction', () => {
    const t = new Tlb(4, null, 'plru');
    const p = new PageSet(Float64Array.from([1, 2]));
    expect(t.accessSet(p, false)).to.equal(2);
    t.access(3, false); t.access(4, false); // full now, nothing evicted
    expect(t.accessSet(p, false)).to.equal(0);
    expect(t.stats.hits).to.equal(2);
    t.access(5, false); // evicts one entry: the set is walked again, and misses what was evicted from it
    expect(t.stats.misses).to.equal(5);
    const missing = [1, 2].filter((x) => !t.has(x)).length;
    expect(t.accessSet(p, false)).to.equal(missing);
    expect(t.has(1) && t.has(2)).to.equal(true);
  });

  it('a set still in its recorded slots after an unrelated eviction hits without a walk, with the walk\'s replacement state', () => {
    // Same operations on a TLB that walks every page: an eviction of a page outside the set (the
    // trigger: the set's removal generation is stale), then the set again, then fresh fills.
    const fast = new Tlb(8, null, 'plru'), walk = new Tlb(8, null, 'plru');
    const p = new PageSet(Float64Array.from([1, 2, 3]));
    const fillers = [10, 11, 12, 13, 14, 15];
    expect(fast.accessSet(p, false)).to.equal(walk.accessAll(p.tags, false));
    for (const f of fillers.slice(0, 5)) expect(fast.access(f, false)).to.equal(walk.access(f, false));
    expect(fast.accessSet(p, false)).to.equal(walk.accessAll(p.tags, false)); // full; the tree points away from the set
    expect(fast.access(15, false)).to.equal(walk.access(15, false));
    expect(fast.stats.misses).to.equal(9); // 3 + 6 fills of an 8-entry array: one eviction
    expect([1, 2, 3].every((x) => fast.has(x))).to.equal(true); // it was not one of the set's pages
    expect(fast.accessSet(p, false)).to.equal(0);
    expect(walk.accessAll(p.tags, false)).to.equal(0);
    expect(fast.stats).to.deep.equal(walk.stats);
    for (let i = 0; i < 16; i++) expect(fast.access(100 + i, false)).to.equal(walk.access(100 + i, false));
    for (const x of [1, 2, 3, ...fillers]) expect(fast.has(x)).to.equal(walk.has(x));
    expect(fast.stats).to.deep.equal(walk.stats);
  });

  it('a page the index moved to another slot (evicted, refilled by a single access) is found there, not missed', () => {
    const t = new Tlb(4, null, 'plru'), ref = new Tlb(4, null, 'plru');
    const p = new PageSet(Float64Array.from([1, 2]));
    const both = (f: (x: Tlb) => unknown) => expect(f(t)).to.deep.equal(f(ref));
    both((x) => (x === t ? t.accessSet(p, false) : x.accessAll(p.tags, false)));
    for (const f of [3, 4, 5, 6, 7]) both((x) => x.access(f, false)); // evicts 1 and 2 (the trigger)
    expect(t.has(1) || t.has(2)).to.equal(false);
    both((x) => x.access(2, false)); // 2 comes back, in whatever slot the tree gives
    both((x) => (x === t ? t.accessSet(p, false) : x.accessAll(p.tags, false)));
    expect(t.stats.hits).to.equal(1); // 2 was found where the access put it
    both((x) => x.stats);
  });
});
