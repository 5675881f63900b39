/** The external merge sort behind streamed traces and captures: any budget gives the in-memory order, and leaves no file. */
import { expect } from 'chai';
import fc from 'fast-check';
import { mkdtempSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ExternalSorter, FAN_IN } from '../../src/inspect/external-sort.js';

const dir = mkdtempSync(join(tmpdir(), 'xennet-sort-'));

type Item = { t: number; a: number; b: number; s: string };
const arbItems = fc.array(fc.record({ t: fc.nat(40), a: fc.nat(3), b: fc.nat(1000), s: fc.string({ maxLength: 30 }) }), { maxLength: 300 })
  .map((xs) => {
    // Keys are unique in use (the writers number their items): keep the first of each key.
    const seen = new Set<string>();
    return xs.filter((x) => { const k = `${x.t}|${x.a}|${x.b}`; if (seen.has(k)) return false; seen.add(k); return true; });
  });
const byKey = (x: Item, y: Item) => x.t - y.t || x.a - y.a || x.b - y.b;

function sorted(items: Item[], budgetBytes: number): { out: string[]; spilled: number } {
  const s = new ExternalSorter({ tempPrefix: join(dir, 'p'), what: 'out.json', budgetBytes });
  for (const x of items) s.add(x.t, x.a, x.b, x.s);
  const out: string[] = [];
  s.drain((item) => out.push(item));
  return { out, spilled: s.spilled };
}

describe('external merge sort', function () {
  this.timeout(60_000);

  it('gives the items in key order whatever the budget (one run, a few, more than one merge pass can take)', () => {
    fc.assert(fc.property(arbItems, fc.constantFrom(1 << 30, 2000, 1), (items, budget) => {
      const { out } = sorted(items, budget);
      expect(out).to.deep.equal([...items].sort(byKey).map((x) => x.s));
      expect(readdirSync(dir)).to.deep.equal([]);
    }), { numRuns: 60, interruptAfterTimeLimit: 40_000 });
  });

  it('spills when the budget is small, in more runs than one merge takes, and still sorts non-ASCII text', () => {
    const items: Item[] = Array.from({ length: FAN_IN * 3 }, (_, i) => ({ t: (i * 7919) % 97, a: 0, b: i, s: `é${i}→` }));
    const { out, spilled } = sorted(items, 1);
    expect(spilled).to.equal(items.length);
    expect(out).to.deep.equal([...items].sort(byKey).map((x) => x.s));
    expect(sorted(items, 1 << 30).spilled).to.equal(0);
  });

  it('a run that cannot be written is an error naming the output, and leaves no file', () => {
    const s = new ExternalSorter({ tempPrefix: join(dir, 'no-such-dir', 'p'), what: 'out.json', budgetBytes: 1 });
    expect(() => s.add(0, 0, 0, 'x')).to.throw(/cannot write out\.json: no such directory/);
    expect(readdirSync(dir)).to.deep.equal([]);
  });
});
