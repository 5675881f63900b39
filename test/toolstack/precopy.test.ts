/** The pre-copy loop's end (precopy.ts, after xc_domain_save.c): each of Xen's four reasons, and going on otherwise. */
import { expect } from 'chai';
import { precopyStop, XC_SAVE_POLICY } from '../../src/toolstack/precopy.js';

describe('pre-copy stop rule (precopy.ts)', () => {
  const p = XC_SAVE_POLICY;
  it('goes on while rounds shrink and are still big', () => {
    expect(precopyStop(p, [1000], 1000)).to.equal(null);
    expect(precopyStop(p, [1000, 400, 200], 1000)).to.equal(null);
  });
  it('stops when a round sent fewer than 50 pages', () => {
    expect(precopyStop(p, [1000, 49], 1000)).to.equal('dirty-small');
    expect(precopyStop(p, [1000, 50], 1000)).to.equal(null);
  });
  it('stops when a round sent more than the one before (no progress)', () => {
    expect(precopyStop(p, [1000, 300, 301], 1000)).to.equal('no-progress');
    expect(precopyStop(p, [1000, 300, 300], 1000)).to.equal(null);
  });
  it('stops after max_iters rounds, and past max_factor times the memory', () => {
    const rounds = Array.from({ length: 29 }, (_, i) => 100000 - i);
    expect(precopyStop(p, rounds.slice(0, 28), 1e9)).to.equal(null);
    expect(precopyStop(p, rounds, 1e9)).to.equal('max-iters');
    expect(precopyStop(p, [1000, 900, 800, 700], 1000)).to.equal('max-factor');
    expect(precopyStop(p, [1000, 900, 800], 1000)).to.equal(null);
  });
});

describe('pre-copy stop rule under a rate limit below its maximum', () => {
  it("does not stop for lack of progress until the limit is at its maximum (Xen's RATE_IS_MAX)", () => {
    expect(precopyStop(XC_SAVE_POLICY, [1000, 300, 301], 1000, false)).to.equal(null);
    expect(precopyStop(XC_SAVE_POLICY, [1000, 300, 301], 1000, true)).to.equal('no-progress');
    expect(precopyStop(XC_SAVE_POLICY, [1000, 49], 1000, false), 'the other ends still apply').to.equal('dirty-small');
  });
});
