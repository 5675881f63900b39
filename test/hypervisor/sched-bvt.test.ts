/**
 * The BVT-like policy of Xen 2.0 (sched-bvt.ts) against the scheduler test double (issue 28).
 * Xen 2.0's sched_bvt.c runs the runnable domain with the smallest effective virtual time and lets
 * the running one keep the CPU for the context-switch allowance (ctx_allow) past the point where
 * another domain's virtual time is smaller; a woken domain preempts once that allowance is used.
 * With equal weights every domain's virtual time advances at the same rate while it runs, so the
 * smallest virtual time is the domain that has waited longest: round robin in creation order from
 * the one that ran last. The model keeps exactly that reduction; these tests state it.
 */
import { expect } from 'chai';
import { PS_PER_US } from '../../src/actors/scheduler.js';
import { BvtPolicy } from '../../src/hypervisor/sched-bvt.js';
import { schedDouble } from '../support/sched-double.js';

const US = PS_PER_US;
const ALLOW_US = 100;

function setup(placement: number[]) {
  const cpus = Math.max(...placement) + 1;
  const s = schedDouble(cpus, placement);
  const p = new BvtPolicy(s.view, cpus, ALLOW_US);
  s.attach(p);
  return { s, p, d: s.doms };
}

describe('BVT-like policy (mutation)', () => {
  it('idles with no work, and a domain alone keeps the CPU however long it runs', () => {
    const { s, p, d } = setup([0, 0]);
    expect(p.name).to.equal('bvt');
    expect(s.decide(0, 0)).to.equal(null);
    d[1].work = true;
    expect(s.run(0, 0, 1000 * US, 50 * US).every((x) => x === d[1])).to.equal(true);
    d[1].work = false;
    expect(s.decide(0, 1000 * US)).to.equal(null);
  });

  it('equal domains take turns in creation order, each for its allowance (switching once it has run ctx_allow)', () => {
    const { s, d } = setup([0, 0, 0]);
    for (const x of d) x.work = true;
    const who = s.run(0, 0, 1200 * US, 25 * US).map((x) => x!.domid);
    // Runs of 4 decisions (100 us at 25 us steps), each domain after the one before it.
    for (let i = 0; i < who.length; i += 4) {
      expect(who.slice(i, i + 4), `decisions ${i}..${i + 3}`).to.deep.equal(new Array(4).fill(who[i]));
      if (i) expect(who[i]).to.equal((who[i - 4] + 1) % 3);
    }
    for (const x of d) expect(s.ran.get(x)).to.be.closeTo(400 * US, 100 * US);
  });

  it('the running domain keeps the CPU until it has run exactly its allowance, not one picosecond less', () => {
    const { s, d } = setup([0, 0]);
    for (const x of d) x.work = true;
    const first = s.decide(0, 0)!;
    expect(s.decide(0, ALLOW_US * US - 1)).to.equal(first);
    expect(s.decide(0, ALLOW_US * US)).to.not.equal(first);
  });

  it('when the running domain blocks, the next one with work after it takes over (skipping those without)', () => {
    const { s, d } = setup([0, 0, 0, 0]);
    d[0].work = true;
    expect(s.decide(0, 0)).to.equal(d[0]);
    d[2].work = true;
    d[3].work = true;
    s.block(d[0]);
    expect(s.decide(0, 10 * US)).to.equal(d[2]);
  });

  it('round robin continues from the domain that ran last, also when it had been running alone', () => {
    const { s, d } = setup([0, 0, 0]);
    d[0].work = true;
    s.run(0, 0, 500 * US, 50 * US); // d0 alone, kept at every decision
    d[1].work = true;
    d[2].work = true;
    expect(s.decide(0, 500 * US)).to.equal(d[1]); // d0 ran last: d1 is next, not d2
    s.run(0, 525 * US, 600 * US, 25 * US);
    expect(s.decide(0, 600 * US)).to.equal(d[2]);
    expect(s.decide(0, 700 * US)).to.equal(d[0]);
    // After an idle spell the turn goes on from the last one to run.
    for (const x of d) x.work = false;
    expect(s.decide(0, 800 * US)).to.equal(null);
    d[0].work = true;
    d[1].work = true;
    expect(s.decide(0, 900 * US)).to.equal(d[1]);
  });

  it('each CPU takes turns among its own domains only', () => {
    const { s, d } = setup([0, 1, 0, 1]);
    for (const x of d) x.work = true;
    const c0 = s.run(0, 0, 800 * US, 100 * US).map((x) => x!.domid);
    const c1 = s.run(1, 0, 800 * US, 100 * US).map((x) => x!.domid);
    expect(new Set(c0)).to.deep.equal(new Set([0, 2]));
    expect(new Set(c1)).to.deep.equal(new Set([1, 3]));
    for (let i = 1; i < c0.length; i++) expect(c0[i]).to.not.equal(c0[i - 1]);
  });

  it('tickle (bvt_wake): a woken domain interrupts an idle CPU at once, a busy one once the running domain has had its allowance', () => {
    const { s, p, d } = setup([0, 0]);
    expect(p.preempts(s.k(d[1]), 0)).to.equal(true);
    d[0].work = true;
    s.decide(0, 0);
    s.at(ALLOW_US * US - 1);
    expect(p.preempts(s.k(d[1]), 0)).to.equal(false);
    s.at(ALLOW_US * US);
    expect(p.preempts(s.k(d[1]), 0)).to.equal(true);
    // The allowance counts from the start of the running domain's turn, not from time 0.
    d[1].work = true;
    expect(s.decide(0, 1000 * US)).to.equal(d[1]);
    s.at(1000 * US + ALLOW_US * US - 1);
    expect(p.preempts(s.k(d[0]), 0)).to.equal(false);
    s.at(1000 * US + ALLOW_US * US);
    expect(p.preempts(s.k(d[0]), 0)).to.equal(true);
  });
});
