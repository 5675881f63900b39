import { expect } from 'chai';
import fc from 'fast-check';
import { CpuTlbs, Tlb } from '../../src/hardware/tlb.js';
import { Cpu } from '../../src/hardware/cpu.js';
import { Kernel } from '../../src/domains/kernel.js';
import { CpuExec } from '../../src/hardware/exec.js';
import { MachineMemory } from '../../src/hardware/memory.js';
import { defaultCosts, FOOTPRINT, type Footprint } from '../../src/model/costs.js';
import { newCounters } from '../../src/model/counters.js';

/** A reference pseudo-LRU written from the definition: per node, which half was used less recently. */
class PlruModel {
  readonly ways: Array<number | null>;
  readonly node: number[];
  constructor(readonly n: number) { this.ways = new Array(n).fill(null); this.node = new Array(n).fill(0); }
  access(tag: number): boolean {
    let w = this.ways.indexOf(tag);
    const hit = w >= 0;
    if (!hit) {
      w = this.ways.indexOf(null);
      if (w < 0) { // follow the bits: 0 = left half is older, 1 = right half is older
        let lo = 0, hi = this.n, k = 1;
        while (hi - lo > 1) { const mid = (lo + hi) >> 1; if (this.node[k] === 0) { hi = mid; k = 2 * k; } else { lo = mid; k = 2 * k + 1; } }
        w = lo;
      }
      this.ways[w] = tag;
    }
    let lo = 0, hi = this.n, k = 1;
    while (hi - lo > 1) { const mid = (lo + hi) >> 1; if (w < mid) { this.node[k] = 1; hi = mid; k = 2 * k; } else { this.node[k] = 0; lo = mid; k = 2 * k + 1; } }
    return hit;
  }
}

describe('the Pentium 4 TLBs (split ITLB/DTLB, pseudo-LRU)', function () {
  this.timeout(60_000);

  it('pseudo-LRU and LRU evict different entries: after A B C D, D, B a new page replaces C (PLRU) or A (LRU)', () => {
    const run = (t: Tlb) => {
      for (const x of [1, 2, 3, 4, 4, 2, 5]) t.access(x, false);
      return [1, 2, 3, 4, 5].filter((x) => t.has(x));
    };
    expect(run(new Tlb(4, null, 'plru'))).to.deep.equal([1, 2, 4, 5]);
    expect(run(new Tlb(4, null, 'lru'))).to.deep.equal([2, 3, 4, 5]);
  });

  it('pseudo-LRU matches the tree definition on any access sequence (hits, misses and contents)', () => {
    fc.assert(fc.property(fc.constantFrom(1, 2, 4, 8, 16), fc.array(fc.integer({ min: 0, max: 40 }), { maxLength: 300 }), (n, seq) => {
      const t = new Tlb(n, null, 'plru'), m = new PlruModel(n);
      for (const x of seq) if (t.access(x, false) !== m.access(x)) return false;
      return m.ways.every((x) => x === null || t.has(x)) && t.size === m.ways.filter((x) => x !== null).length;
    }), { numRuns: 300 });
  });

  it('a loop one page larger than the array: LRU misses every time, pseudo-LRU keeps part of it', () => {
    const loop = (t: Tlb) => { for (let r = 0; r < 20; r++) for (let i = 0; i < 65; i++) t.access(1000 + i, false); return t.stats; };
    expect(loop(new Tlb(64, null, 'lru')).hits).to.equal(0);
    const p = loop(new Tlb(64, null, 'plru'));
    expect(p.hits).to.be.greaterThan(0.5 * 19 * 65);
  });

  it('a pseudo-LRU array refuses a capacity that is not a power of two', () => {
    expect(() => new Tlb(48, null, 'plru')).to.throw(RangeError, /power-of-two/);
    expect(() => new Tlb(48, null, 'lru')).to.not.throw();
  });

  it('code and data have 64 entries each: 64 code pages and 64 data pages both stay resident', () => {
    const t = new CpuTlbs(64, 64);
    const code = Float64Array.from({ length: 64 }, (_, i) => 5000 + i), data = Float64Array.from({ length: 64 }, (_, i) => 9000 + i);
    for (let r = 0; r < 3; r++) { t.itlb.accessAll(code, false); t.dtlb.accessAll(data, false); }
    expect(t.itlb.stats.misses).to.equal(64);
    expect(t.dtlb.stats.misses).to.equal(64);
    expect(t.stats.hits).to.equal(2 * 2 * 64);
  });

  it('CR3 reload, CR4.PGE toggle and INVLPG act on both arrays', () => {
    const t = new CpuTlbs(8, 8);
    t.itlb.access(1, true); t.itlb.access(2, false); t.dtlb.access(1, true); t.dtlb.access(3, false);
    t.flushNonGlobal();
    expect([t.itlb.has(1), t.itlb.has(2), t.dtlb.has(1), t.dtlb.has(3)]).to.deep.equal([true, false, true, false]);
    t.invalidate(1);
    expect([t.itlb.has(1), t.dtlb.has(1)]).to.deep.equal([false, false]);
    t.itlb.access(4, true); t.dtlb.access(5, true);
    t.flushAll();
    expect(t.itlb.size + t.dtlb.size).to.equal(0);
    expect(t.stats.flushes).to.equal(2);
    expect(t.stats.fullFlushes).to.equal(2);
  });

  it('a kernel component fetches its code through the ITLB and its data through the DTLB, per its footprint', () => {
    const fp: Footprint = { ...FOOTPRINT, tcp: { code: 5, data: 3 } };
    const cpu = new Cpu(0, 2.4e9, 64, null, 64, 'plru', fp);
    const mem = new MachineMemory(4096);
    const k = new Kernel('dom0', 0, 0, true, { superpages: false, globalPages: false }, mem, 0, fp);
    const x = new CpuExec(cpu, k, defaultCosts(), newCounters());
    x.touch('tcp');
    expect([cpu.tlb.itlb.stats.misses, cpu.tlb.dtlb.stats.misses]).to.deep.equal([5, 3]);
    x.touch('tcp');
    expect([cpu.tlb.itlb.stats.hits, cpu.tlb.dtlb.stats.hits]).to.deep.equal([5, 3]);
    expect(x.cycles).to.equal(8 * defaultCosts().tlbMiss);
    // With superpages the kernel's text and data are one 4 MiB entry in each array.
    const cpu2 = new Cpu(0, 2.4e9, 64, null, 64, 'plru', fp);
    const k2 = new Kernel('dom0', 0, 0, true, { superpages: true, globalPages: false }, mem, 0, fp);
    new CpuExec(cpu2, k2, defaultCosts(), newCounters()).touch('tcp');
    expect([cpu2.tlb.itlb.stats.misses, cpu2.tlb.dtlb.stats.misses]).to.deep.equal([1, 1]);
  });
});
