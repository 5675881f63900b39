import { expect } from 'chai';
import fc from 'fast-check';
import { TAG, Tlb, tagSpace, tlbTag, type FrameOracle, type TlbReplacement } from '../../src/hardware/tlb.js';

/**
 * The TLB against a plain reference model (found by mutation testing, issue 14): a fully
 * associative LRU array, a list in recency order where a hit moves the entry to the back and a
 * miss evicts the front when full; a CR3 reload drops the non-global entries, a CR4.PGE toggle
 * drops all, INVLPG drops one. The model knows nothing of the hash index or the linked list, so
 * any difference in hit/miss answers, contents, size, statistics or stale-translation reports
 * is a bug in the index (probing, backward-shift deletion, rebuild) or in the LRU bookkeeping.
 */

interface ModelEntry { tag: number; space: number; global: boolean; frame: number | null; filled: number; used: number }
/**
 * The reference model in both replacement modes. It keeps its entries in ways (numbered slots), as the
 * hardware does. A miss takes a free way if there is one, else the victim: under `lru` the entry
 * used longest ago; under `plru` the way a binary tree of bits leads to (per node, the half used less
 * recently; every use makes the nodes above its way point to the other half). Which free way a miss
 * takes decides later pseudo-LRU victims, so the model states the array's rule: the way freed last
 * (a stack; ways 0, 1, 2... at first), and the ways one flush frees go in the order they were filled,
 * so the one filled last is taken first. Under `lru` the choice is invisible.
 */
class ModelTlb {
  readonly ways: Array<ModelEntry | null>;
  private readonly free: number[];
  private readonly half: number[];
  private clock = 0;
  stats = { hits: 0, misses: 0, flushes: 0, fullFlushes: 0 };
  stale: Array<[number, number, number, number]> = [];
  constructor(readonly capacity: number, readonly reachable: ((dom: number, f: number) => boolean) | null, readonly replacement: 'lru' | 'plru' = 'lru') {
    this.ways = new Array(capacity).fill(null);
    this.free = Array.from({ length: capacity }, (_, i) => capacity - 1 - i);
    this.half = new Array(capacity).fill(0);
  }
  get entries(): ModelEntry[] { return this.ways.filter((e): e is ModelEntry => e !== null); }
  /** The tree's nodes from the root down to way w, each with the half w lies in (0 lower, 1 upper). */
  private path(w: number): Array<[number, number]> {
    const out: Array<[number, number]> = [];
    for (let lo = 0, hi = this.capacity, k = 1; hi - lo > 1; ) {
      const mid = (lo + hi) >> 1, upper = w >= mid ? 1 : 0;
      out.push([k, upper]);
      if (upper) { lo = mid; k = 2 * k + 1; } else { hi = mid; k = 2 * k; }
    }
    return out;
  }
  private use(w: number): void {
    this.ways[w]!.used = ++this.clock;
    for (const [k, upper] of this.path(w)) this.half[k] = 1 - upper; // the other half is now the older one
  }
  private victim(): number {
    if (this.replacement === 'lru') {
      let best = 0;
      for (let w = 1; w < this.capacity; w++) if (this.ways[w]!.used < this.ways[best]!.used) best = w;
      return best;
    }
    let lo = 0, hi = this.capacity, k = 1;
    while (hi - lo > 1) { const mid = (lo + hi) >> 1; if (this.half[k]) { lo = mid; k = 2 * k + 1; } else { hi = mid; k = 2 * k; } }
    return lo;
  }
  private hit(tag: number): ModelEntry | undefined {
    const w = this.ways.findIndex((e) => e?.tag === tag);
    if (w < 0) return undefined;
    this.stats.hits++;
    this.use(w);
    return this.ways[w]!;
  }
  private miss(e: Omit<ModelEntry, 'filled' | 'used'>): void {
    this.stats.misses++;
    const w = this.free.length ? this.free.pop()! : this.victim();
    this.ways[w] = { ...e, filled: ++this.clock, used: 0 };
    this.use(w);
  }
  access(tag: number, space: number, global: boolean): boolean {
    if (this.hit(tag)) return true;
    this.miss({ tag, space, global, frame: null });
    return false;
  }
  accessFrame(tag: number, space: number, global: boolean, mfn: number, exact: boolean): boolean {
    const e = this.hit(tag);
    if (e) {
      if (e.frame !== null && this.reachable && ((exact && e.frame !== mfn) || !this.reachable(e.space, e.frame))) this.stale.push([e.space, e.frame, mfn, tag]);
      return true;
    }
    this.miss({ tag, space, global, frame: mfn });
    return false;
  }
  /** Free the ways whose entry `drop` selects, oldest fill first. */
  private drop(which: (e: ModelEntry) => boolean): void {
    const ws = this.ways.flatMap((e, w) => (e !== null && which(e) ? [w] : [])).sort((a, b) => this.ways[a]!.filled - this.ways[b]!.filled);
    for (const w of ws) { this.ways[w] = null; this.free.push(w); }
  }
  flushNonGlobal(): void { this.stats.flushes++; this.drop((e) => !e.global); }
  flushAll(): void { this.stats.fullFlushes++; this.drop(() => true); }
  invalidate(tag: number): void { this.drop((e) => e.tag === tag); }
}

type Op =
  | { k: 'access'; t: number; g: boolean }
  | { k: 'frame'; t: number; g: boolean; mfn: number; exact: boolean }
  | { k: 'flush' } | { k: 'flushAll' } | { k: 'invlpg'; t: number };

/** A universe of translations: several address spaces (tags well above 2^31), kinds and pages. */
const SPACES = [0, 1, 7, 2047];
const UNIVERSE = SPACES.flatMap((s) => [TAG.kernel, TAG.direct, TAG.grantMap].flatMap((k) => [0, 1, 2, 255, 0xfffff].map((p) => ({ s, tag: tlbTag(s, k, p) }))));
const reachableIn = (dom: number, f: number) => (f + dom) % 3 !== 0;

/** What the runs saw: flushes and INVLPGs that hit a full array (the cases a TLB that is never full cannot show). */
const onFull = { flush: 0, flushAll: 0, invlpg: 0 };

function run(capacity: number, ops: Op[], withOracle: boolean, replacement: TlbReplacement = 'lru') {
  const model = new ModelTlb(capacity, withOracle ? reachableIn : null, replacement);
  const reported: Array<[number, number, number, number]> = [];
  const oracle: FrameOracle = { reachable: reachableIn, stale: (d, f, m, t) => { reported.push([d, f, m, t]); } };
  const tlb = new Tlb(capacity, withOracle ? oracle : null, replacement);
  for (const [n, op] of ops.entries()) {
    if ((op.k === 'flush' || op.k === 'flushAll' || op.k === 'invlpg') && tlb.size === capacity) onFull[op.k]++;
    const at = `op ${n} ${JSON.stringify(op)}`;
    switch (op.k) {
      case 'access': {
        const u = UNIVERSE[op.t];
        expect(tlb.access(u.tag, op.g), at).to.equal(model.access(u.tag, u.s, op.g));
        break;
      }
      case 'frame': {
        const u = UNIVERSE[op.t];
        expect(tlb.accessFrame(u.tag, op.g, op.mfn, op.exact), at).to.equal(model.accessFrame(u.tag, u.s, op.g, op.mfn, op.exact));
        break;
      }
      case 'flush': tlb.flushNonGlobal(); model.flushNonGlobal(); break;
      case 'flushAll': tlb.flushAll(); model.flushAll(); break;
      case 'invlpg': tlb.invalidate(UNIVERSE[op.t].tag); model.invalidate(UNIVERSE[op.t].tag); break;
    }
    expect(tlb.size, at).to.equal(model.entries.length);
    for (const u of UNIVERSE) expect(tlb.has(u.tag), `${at}: has ${u.tag}`).to.equal(model.entries.some((e) => e.tag === u.tag));
  }
  expect(tlb.stats).to.deep.equal(model.stats);
  expect(reported).to.deep.equal(model.stale);
}

const t = fc.nat(UNIVERSE.length - 1);
const opArb: fc.Arbitrary<Op> = fc.oneof(
  { weight: 8, arbitrary: fc.record({ k: fc.constant('access' as const), t, g: fc.boolean() }) },
  { weight: 4, arbitrary: fc.record({ k: fc.constant('frame' as const), t, g: fc.boolean(), mfn: fc.nat(8), exact: fc.boolean() }) },
  { weight: 1, arbitrary: fc.record({ k: fc.constant('flush' as const) }) },
  { weight: 1, arbitrary: fc.record({ k: fc.constant('flushAll' as const) }) },
  { weight: 2, arbitrary: fc.record({ k: fc.constant('invlpg' as const), t }) },
);

describe('TLB (mutation): against a reference model (LRU and pseudo-LRU)', function () {
  this.timeout(60_000); // a property: sized for a loaded 2-core machine

  it('tags: the address space is recoverable and distinct (space, kind, page) give distinct tags', () => {
    const seen = new Set<number>();
    for (const s of [0, 1, 2, 2047, 4095]) {
      for (const k of Object.values(TAG)) {
        for (const p of [0, 1, 0xfffff, 0xffffffff]) {
          const tag = tlbTag(s, k, p);
          expect(tagSpace(tag), `${s}/${k}/${p}`).to.equal(s);
          expect(Number.isSafeInteger(tag)).to.equal(true);
          seen.add(tag);
        }
      }
    }
    expect(seen.size).to.equal(5 * Object.keys(TAG).length * 4);
    expect(tlbTag(3, TAG.direct, 5) - tlbTag(3, TAG.direct, 4)).to.equal(1); // consecutive pages, consecutive tags
  });

  it('random operation sequences give the same answers, contents, size, statistics and stale reports', () => {
    fc.assert(
      fc.property(fc.constantFrom(1, 2, 3, 4, 8, 16), fc.array(opArb, { maxLength: 150 }), fc.boolean(), (cap, ops, withOracle) => run(cap, ops, withOracle)),
      { numRuns: 150 },
    );
  });

  for (const replacement of ['lru', 'plru'] as const) {
    it(`${replacement}: full arrays under flushes, INVLPG and global entries give the same answers, contents, statistics and stale reports`, () => {
      // Each sequence first fills the array with distinct translations, some global, then mixes
      // accesses (more distinct tags than entries, so it stays full) with CR3 reloads, CR4.PGE toggles and INVLPGs.
      const caps = replacement === 'plru' ? [1, 2, 4, 8, 16] : [1, 2, 3, 4, 8, 16];
      const before = { ...onFull };
      fc.assert(
        fc.property(fc.constantFrom(...caps), fc.array(opArb, { minLength: 20, maxLength: 120 }), fc.boolean(), fc.nat(), (cap, ops, withOracle, g) => {
          const fill: Op[] = Array.from({ length: cap }, (_, i) => ({ k: 'access', t: (i * 7) % UNIVERSE.length, g: ((g >> (i % 16)) & 1) === 1 }));
          run(cap, [...fill, ...ops], withOracle, replacement);
        }),
        { numRuns: 120 },
      );
      // The property did exercise what it is about.
      for (const k of ['flush', 'flushAll', 'invlpg'] as const) expect(onFull[k] - before[k], `${k} on a full array`).to.be.greaterThan(10);
    });
  }

  it('a full 64-entry TLB (the Xeon DTLB) keeps every entry reachable through the index, and keeps LRU order under eviction', () => {
    const tlb = new Tlb(64);
    const tags = Array.from({ length: 64 }, (_, i) => tlbTag(i % 4, TAG.user, i * 7919));
    for (const tag of tags) expect(tlb.access(tag, false)).to.equal(false);
    expect(tlb.size).to.equal(64);
    for (const tag of tags) expect(tlb.access(tag, false)).to.equal(true);
    // One more translation evicts the least recently used: the first one touched above.
    expect(tlb.access(tlbTag(9, TAG.user, 1), false)).to.equal(false);
    expect(tlb.has(tags[0])).to.equal(false);
    for (const tag of tags.slice(1)) expect(tlb.has(tag)).to.equal(true);
    expect(tlb.stats).to.deep.equal({ hits: 64, misses: 65, flushes: 0, fullFlushes: 0 });
  });

  it('slots freed by flushes and INVLPG are reused: the TLB fills to capacity again without evicting', () => {
    const tlb = new Tlb(4);
    for (let p = 0; p < 4; p++) tlb.access(tlbTag(1, TAG.kernel, p), p === 0);
    tlb.flushNonGlobal(); // three slots back, the global entry stays
    expect(tlb.size).to.equal(1);
    for (let p = 10; p < 13; p++) tlb.access(tlbTag(1, TAG.kernel, p), false);
    expect(tlb.has(tlbTag(1, TAG.kernel, 0))).to.equal(true); // nothing was evicted to make room
    expect(tlb.size).to.equal(4);
    tlb.flushAll();
    for (let p = 20; p < 24; p++) tlb.access(tlbTag(1, TAG.kernel, p), false);
    expect(tlb.size).to.equal(4);
    tlb.invalidate(tlbTag(1, TAG.kernel, 21));
    tlb.invalidate(tlbTag(1, TAG.kernel, 99)); // not present: nothing happens
    expect(tlb.size).to.equal(3);
    tlb.access(tlbTag(1, TAG.kernel, 30), false);
    for (const p of [20, 22, 23, 30]) expect(tlb.has(tlbTag(1, TAG.kernel, p)), `page ${p}`).to.equal(true);
    expect(tlb.stats.flushes).to.equal(1);
    expect(tlb.stats.fullFlushes).to.equal(1);
  });

  it('accessAll translates a whole footprint and returns its misses', () => {
    const tlb = new Tlb(8);
    const fp = Float64Array.from([0, 1, 2, 3].map((p) => tlbTag(2, TAG.kernel, p)));
    expect(tlb.accessAll(fp, true)).to.equal(4);
    expect(tlb.accessAll(fp, true)).to.equal(0);
    tlb.invalidate(fp[2]);
    expect(tlb.accessAll(fp, true)).to.equal(1);
    expect(tlb.accessAll(new Float64Array(0), true)).to.equal(0);
    expect(tlb.stats).to.deep.equal({ hits: 7, misses: 5, flushes: 0, fullFlushes: 0 });
  });
});
