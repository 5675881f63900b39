import { expect } from 'chai';
import { Tlb } from '../src/hardware/tlb.js';

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

  it('rejects a non-positive capacity', () => {
    expect(() => new Tlb(0)).to.throw(RangeError);
  });
});
