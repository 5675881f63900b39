/**
 * Xen's credit scheduler policy (sched-credit.ts) against a scheduler test double, no machine
 * (issue 28). What each test expects is what xen/common/sched_credit.c does:
 * - csched_acct: an accounting period of CPU time (30 ms, 300 credits) shared among the active
 *   vCPUs by weight, rounded up ((credit_total * weight + weight_total - 1) / weight_total); a capped
 *   domain gets at most ceil(cap% of a period); credit < 0 is OVER, and a capped vCPU with
 *   credit < -credit_cap is parked (checked on the credit before the lower bound is applied); the
 *   lower bound is minus one time slice; credit >= 0 is UNDER and unparks; credit above one time
 *   slice takes the vCPU off the active list (Xen 3: its credit is reset to 0).
 * - csched_vcpu_acct, at each tick, for the vCPU running then: BOOST -> UNDER, and it (re)joins the
 *   active list. A vCPU that never runs at a tick earns nothing.
 * - csched_vcpu_wake: an UNDER vCPU that is not parked is BOOSTed; the vCPU goes to the end of its
 *   priority class (__runq_insert).
 * - csched_schedule: BOOST > UNDER > OVER, FIFO within a priority; __runq_tickle interrupts a CPU
 *   that is idle or runs a vCPU of strictly lower priority.
 */
import { expect } from 'chai';
import { PS_PER_MS } from '../../src/actors/scheduler.js';
import { CreditPolicy, CSCHED_DEFAULT_WEIGHT, PRI, PRI_NAME, PS_PER_CREDIT, type CreditConfig } from '../../src/hypervisor/sched-credit.js';
import { schedDouble, type Dom } from '../support/sched-double.js';

const MS = PS_PER_MS;

function setup(placement: number[], params: Array<{ weight?: number; cap?: number }> = [], over: Partial<CreditConfig> = {}) {
  const cpus = Math.max(...placement) + 1;
  const s = schedDouble(cpus, placement);
  const cfg: CreditConfig = {
    tickUs: 10_000, ticksPerAcct: 3, tsliceUs: 30_000,
    params: (domid) => ({ weight: params[domid]?.weight ?? CSCHED_DEFAULT_WEIGHT, cap: params[domid]?.cap ?? 0 }),
    ...over,
  };
  const p = new CreditPolicy(s.view, cpus, cfg);
  s.attach(p);
  const st = (d: Dom) => p.vcpu(s.k(d));
  return { s, p, st, d: s.doms };
}

describe('credit scheduler (mutation): state and constants', () => {
  it('10 credits per ms; a new vCPU is UNDER with no credit, inactive, unparked, with its domain\'s weight and cap', () => {
    expect(PS_PER_CREDIT * 10).to.equal(MS);
    expect(CSCHED_DEFAULT_WEIGHT).to.equal(256);
    expect([PRI.BOOST, PRI.UNDER, PRI.OVER]).to.deep.equal([0, -1, -2]);
    expect([PRI_NAME[PRI.BOOST], PRI_NAME[PRI.UNDER], PRI_NAME[PRI.OVER]]).to.deep.equal(['BOOST', 'UNDER', 'OVER']);
    const { p, s, d } = setup([0, 0], [{ weight: 512, cap: 40 }]);
    expect(p.name).to.equal('credit');
    expect(p.state(s.k(d[0]))).to.deep.include({ credit: 0, pri: PRI.UNDER, active: false, parked: false, weight: 512, cap: 40, ranPs: 0 });
    expect(p.state(s.k(d[1]))).to.deep.include({ weight: 256, cap: 0 });
    expect(p.state(s.k(d[0]))).to.equal(p.vcpu(s.k(d[0]))); // one state per vCPU, kept
  });
});

describe('credit scheduler (mutation): csched_acct', () => {
  it('shares a period by weight among the vCPUs that ran at a tick (1:2), rounding each share up; one that never ran earns nothing', () => {
    const { p, s, d, st } = setup([0, 0, 0], [{ weight: 256 }, { weight: 512 }, { weight: 256 }]);
    const [a, b, c] = d.map(s.k);
    p.ran(a, 0, 0, 10 * MS); // the tick at 10 ms sees a
    p.ran(b, 0, 10 * MS, 20 * MS); // the tick at 20 ms sees b
    expect(st(d[0]).active && st(d[1]).active).to.equal(true);
    expect(st(d[0]).credit).to.equal(-10 * MS); // burnt, nothing earned yet
    p.ran(a, 0, 20 * MS, 30 * MS); // the third tick: accounting
    // 30 ms shared 256:512 (c is not active and does not count): a 10 ms, b 20 ms.
    expect(st(d[0]).credit).to.equal(-20 * MS + 10 * MS);
    expect(st(d[1]).credit).to.equal(-10 * MS + 20 * MS);
    expect(st(d[2])).to.deep.include({ credit: 0, active: false, pri: PRI.UNDER });
    expect(st(d[0]).pri).to.equal(PRI.OVER);
    expect(st(d[1]).pri).to.equal(PRI.UNDER);
    expect(st(d[0]).ranPs).to.equal(20 * MS);
    expect(st(d[1]).ranPs).to.equal(10 * MS);
    void c;
  });

  it('rounds a share that is not a whole number of picoseconds up', () => {
    const { p, s, d, st } = setup([0, 0], [{ weight: 100 }, { weight: 600 }]);
    for (const x of d) { st(x).active = true; }
    s.at(30 * MS);
    p.pick(0); // nobody runs: the three ticks pass idle, the accounting still shares the period
    const share = (30 * MS * 100) / 700;
    expect(Number.isInteger(share)).to.equal(false);
    expect(st(d[0]).credit).to.equal(Math.ceil(share));
    expect(st(d[1]).credit).to.equal(Math.ceil((30 * MS * 600) / 700));
  });

  it('a capped vCPU earns at most cap% of a period even when alone; an uncapped one alone earns the whole period', () => {
    const { p, s, d, st } = setup([0, 1], [{ cap: 25 }, {}]);
    st(d[0]).active = true;
    st(d[1]).active = true;
    s.at(30 * MS);
    p.pick(0);
    p.pick(1); // each CPU is its own pool, with its own ticks
    expect(st(d[0]).credit).to.equal(7.5 * MS);
    expect(st(d[1]).credit).to.equal(30 * MS);
  });

  it('credit 0 is UNDER; below 0 is OVER; at most one time slice is kept, above it the vCPU goes inactive with credit 0', () => {
    const cases: Array<[number, { credit: number; pri: number; active: boolean }]> = [
      [0, { credit: 0, pri: PRI.UNDER, active: true }],
      [-1, { credit: -1, pri: PRI.OVER, active: true }],
      [30 * MS, { credit: 30 * MS, pri: PRI.UNDER, active: true }],
      [30 * MS + 1, { credit: 0, pri: PRI.UNDER, active: false }],
      [-30 * MS, { credit: -30 * MS, pri: PRI.OVER, active: true }],
      [-30 * MS - 1, { credit: -30 * MS, pri: PRI.OVER, active: true }], // the lower bound
    ];
    for (const [after, want] of cases) {
      const { p, s, d, st } = setup([0]);
      Object.assign(st(d[0]), { active: true, credit: after - 30 * MS, pri: PRI.BOOST }); // alone: it earns 30 ms
      s.at(30 * MS);
      p.pick(0);
      expect(st(d[0]), `credit ${after} after accounting`).to.deep.include({ ...want, parked: false });
    }
  });

  it('parks a capped vCPU whose credit is below -cap% of a period, until an accounting leaves it at credit >= 0', () => {
    const capPs = 7.5 * MS; // cap 25
    const cases: Array<[number, boolean]> = [[-capPs, false], [-capPs - 1, true], [-1, false]];
    for (const [after, parked] of cases) {
      const { p, s, d, st } = setup([0], [{ cap: 25 }]);
      Object.assign(st(d[0]), { active: true, credit: after - capPs });
      s.at(30 * MS);
      p.pick(0);
      expect(st(d[0]).parked, `credit ${after}`).to.equal(parked);
      expect(st(d[0]).pri).to.equal(PRI.OVER);
    }
    // Parked stays parked at a negative credit above -cap; unparks at >= 0.
    const { p, s, d, st } = setup([0], [{ cap: 25 }]);
    Object.assign(st(d[0]), { active: true, credit: -capPs - 1 - capPs });
    s.at(30 * MS); p.pick(0);
    expect(st(d[0]).parked).to.equal(true);
    s.at(60 * MS); p.pick(0);
    expect(st(d[0])).to.deep.include({ credit: -1, parked: true });
    s.at(90 * MS); p.pick(0);
    expect(st(d[0])).to.deep.include({ credit: capPs - 1, parked: false, pri: PRI.UNDER });
  });

  it('decides parking on the credit before the lower bound: a cap above one time slice still parks (time slice shorter than the period)', () => {
    // 10 ms slices, 30 ms periods, cap 50: credit_cap is 15 ms, the lower bound 10 ms.
    const { p, s, d, st } = setup([0], [{ cap: 50 }], { tsliceUs: 10_000 });
    Object.assign(st(d[0]), { active: true, credit: -20 * MS - 15 * MS });
    s.at(30 * MS);
    p.pick(0);
    expect(st(d[0])).to.deep.include({ credit: -10 * MS, pri: PRI.OVER, parked: true });
    // The same with Xen's own periods: cap 100 is one time slice of credit, the lower bound too.
    const x = setup([0], [{ cap: 100 }]);
    Object.assign(x.st(x.d[0]), { active: true, credit: -30 * MS - 1 - 30 * MS });
    x.s.at(30 * MS);
    x.p.pick(0);
    expect(x.st(x.d[0])).to.deep.include({ credit: -30 * MS, pri: PRI.OVER, parked: true });
  });

  it('BOOST ends at the tick that finds the vCPU running, or at an accounting that counts it; not before', () => {
    const { p, s, d, st } = setup([0, 0]);
    const [a, b] = d;
    s.wake(a);
    expect(st(a).pri).to.equal(PRI.BOOST);
    p.ran(s.k(a), 0, 0, 9 * MS); // no tick inside
    expect(st(a).pri).to.equal(PRI.BOOST);
    expect(st(a).active).to.equal(false);
    p.ran(s.k(b), 0, 9 * MS, 10 * MS); // the tick at 10 ms sees b, not a
    expect(st(a).pri).to.equal(PRI.BOOST);
    expect(st(b).active).to.equal(true);
    p.ran(s.k(a), 0, 10 * MS, 20 * MS); // the tick at 20 ms sees a
    expect(st(a)).to.deep.include({ pri: PRI.UNDER, active: true });
    // Woken again and boosted while active: the accounting recomputes its priority.
    s.block(a); s.wake(a);
    expect(st(a).pri).to.equal(PRI.BOOST);
    p.ran(s.k(b), 0, 20 * MS, 30 * MS);
    expect(st(a)).to.deep.include({ pri: PRI.OVER, credit: -19 * MS + 15 * MS }); // from its credit: ran 19 ms, earned 15
  });

  it('a tick finding an OVER vCPU running leaves it OVER (only BOOST drops to UNDER)', () => {
    const { p, s, d, st } = setup([0, 0]);
    st(d[0]).pri = PRI.OVER;
    p.ran(s.k(d[0]), 0, 0, 10 * MS);
    expect(st(d[0])).to.deep.include({ pri: PRI.OVER, active: true });
  });

  it('burns exactly the time run, split at the ticks inside it', () => {
    const { p, s, d, st } = setup([0, 0]);
    p.ran(s.k(d[0]), 0, 3 * MS, 27 * MS); // ticks at 10 and 20 ms inside
    expect(st(d[0])).to.deep.include({ credit: -24 * MS, ranPs: 24 * MS, active: true });
    p.ran(s.k(d[1]), 0, 27 * MS, 31 * MS); // the accounting at 30 ms: d0 and d1 active, 15 ms each
    expect(st(d[0]).credit).to.equal(-24 * MS + 15 * MS);
    expect(st(d[1]).credit).to.equal(-3 * MS + 15 * MS - 1 * MS);
  });

  it('ticks that fell before the run began are not paid for by it', () => {
    const { p, s, d, st } = setup([0]);
    p.ran(s.k(d[0]), 0, 15 * MS, 16 * MS); // the tick at 10 ms was nobody's
    expect(st(d[0])).to.deep.include({ credit: -1 * MS, ranPs: 1 * MS });
  });
});

describe('credit scheduler (mutation): csched_vcpu_wake and __runq_tickle', () => {
  it('boosts an UNDER vCPU woken from blocked, not an OVER or a parked one', () => {
    const { s, d, st } = setup([0, 0, 0]);
    st(d[1]).pri = PRI.OVER;
    st(d[2]).parked = true;
    for (const x of d) s.wake(x);
    expect(d.map((x) => st(x).pri)).to.deep.equal([PRI.BOOST, PRI.OVER, PRI.UNDER]);
  });

  it('tickles an idle CPU always, a busy one only for a strictly higher priority, never for a parked vCPU', () => {
    const { p, s, d, st } = setup([0, 0]);
    const [a, b] = d;
    expect(p.preempts(s.k(b), 0)).to.equal(true); // idle
    a.work = true;
    expect(s.decide(0, 0)).to.equal(a);
    expect(p.preempts(s.k(b), 0)).to.equal(false); // UNDER vs UNDER
    st(b).pri = PRI.OVER;
    expect(p.preempts(s.k(b), 0)).to.equal(false);
    s.wake(b);
    expect(p.preempts(s.k(b), 0)).to.equal(false); // an OVER vCPU is not boosted
    st(b).pri = PRI.BOOST;
    expect(p.preempts(s.k(b), 0)).to.equal(true);
    st(b).parked = true;
    expect(p.preempts(s.k(b), 0)).to.equal(false);
    st(b).parked = false;
    st(a).pri = PRI.BOOST;
    expect(p.preempts(s.k(b), 0)).to.equal(false); // BOOST vs BOOST
  });
});

describe('credit scheduler (mutation): csched_schedule', () => {
  it('runs BOOST before UNDER before OVER, first come first served within a priority', () => {
    const { s, d, st } = setup([0, 0, 0, 0]);
    for (const x of d) x.work = true;
    st(d[0]).pri = PRI.OVER;
    st(d[1]).pri = PRI.UNDER;
    st(d[2]).pri = PRI.UNDER;
    st(d[3]).pri = PRI.UNDER;
    s.block(d[1]); s.wake(d[1]); // boosted, and last in the queue
    expect(s.decide(0, 0)).to.equal(d[1]);
    s.block(d[1]);
    expect(s.decide(0, 1 * MS)).to.equal(d[2]); // d2 queued before d3
    s.block(d[2]);
    expect(s.decide(0, 2 * MS)).to.equal(d[3]);
    s.block(d[3]);
    expect(s.decide(0, 3 * MS)).to.equal(d[0]); // work-conserving: OVER runs when nothing else can
    s.block(d[0]);
    expect(s.decide(0, 4 * MS)).to.equal(null);
  });

  it('vCPUs woken one after the other run in the order they woke', () => {
    const { s, d } = setup([0, 0, 0]);
    s.wake(d[2]);
    s.wake(d[1]);
    expect(s.decide(0, 0)).to.equal(d[2]);
    s.block(d[2]);
    expect(s.decide(0, 1 * MS)).to.equal(d[1]);
  });

  it('an idle CPU with nothing runnable asks for no recheck, also when its vCPU has just blocked', () => {
    const { s, d } = setup([0, 0]);
    expect(s.decide(0, 0)).to.equal(null);
    d[0].work = true;
    expect(s.decide(0, 1 * MS)).to.equal(d[0]);
    s.block(d[0]);
    expect(s.decide(0, 2 * MS)).to.equal(null);
    expect(s.rechecks).to.deep.equal([]);
  });

  it('the running vCPU keeps its 30 ms slice against an equal priority, then goes to the end of its class', () => {
    const { s, d } = setup([0, 0, 0]);
    for (const x of d) x.work = true;
    const who = s.run(0, 0, 95 * MS, 1 * MS).map((x) => x?.domid);
    expect(who.slice(0, 30)).to.deep.equal(new Array(30).fill(0));
    expect(who.slice(30, 60)).to.deep.equal(new Array(30).fill(1));
    expect(who.slice(60, 90)).to.deep.equal(new Array(30).fill(2));
    // At 60 ms d0 and d2 are both UNDER: d2 goes first, as d0 went to the end of the class at 30 ms.
    // At 90 ms d0 is the only UNDER one (it ran 30 of 90 ms and earned 15 + 10).
    expect(who.slice(90)).to.deep.equal(new Array(5).fill(0));
  });

  it('a woken (BOOST) vCPU takes the CPU from an UNDER one at the next decision, and BOOST ends at a tick it runs through', () => {
    const { s, d, st } = setup([0, 0]);
    const [a, b] = d;
    a.work = true;
    expect(s.decide(0, 0)).to.equal(a);
    s.wake(b);
    expect(s.decide(0, 0.5 * MS)).to.equal(b);
    expect(s.decide(0, 9 * MS)).to.equal(b);
    expect(st(b).pri).to.equal(PRI.BOOST);
    expect(s.decide(0, 10 * MS)).to.equal(b); // the tick at 10 ms: b is UNDER now, its slice began at 0.5 ms
    expect(st(b).pri).to.equal(PRI.UNDER);
    expect(s.decide(0, 30 * MS)).to.equal(b);
    expect(s.decide(0, 30.5 * MS)).to.equal(a);
  });

  it('a running vCPU keeps a slice that expired while no one of its priority waits, and its new slice starts then', () => {
    const { s, d, st } = setup([0, 0]);
    const [a, b] = d;
    a.work = true; b.work = true;
    st(b).pri = PRI.OVER;
    // Keep b OVER whatever the accounting says (it stands for a vCPU that stays in debt).
    expect(s.decide(0, 0)).to.equal(a);
    expect(s.decide(0, 31 * MS)).to.equal(a); // expired, but only a lower priority waits: a new slice from 31 ms
    st(b).pri = PRI.UNDER;
    expect(s.decide(0, 60 * MS)).to.equal(a); // 29 ms into the new slice
    expect(s.decide(0, 61 * MS)).to.equal(b);
  });

  it('a parked vCPU does not run even on an idle CPU; the CPU looks again at the next accounting', () => {
    const { s, d, st } = setup([0, 0], [{ cap: 25 }]);
    const [a, b] = d;
    a.work = true;
    expect(s.decide(0, 0)).to.equal(a);
    expect(s.decide(0, 30 * MS)).to.equal(null); // ran 30 ms, earned 7.5: parked at the accounting
    expect(st(a)).to.deep.include({ parked: true, pri: PRI.OVER });
    expect(s.rechecks).to.deep.equal([{ cpu: 0, at: 60 * MS, now: 30 * MS }]);
    expect(s.decide(0, 45 * MS)).to.equal(null);
    expect(s.rechecks[1]).to.deep.equal({ cpu: 0, at: 60 * MS, now: 45 * MS });
    b.work = true;
    expect(s.decide(0, 50 * MS)).to.equal(b); // others run meanwhile
    expect(s.rechecks).to.have.length(2);
    b.work = false;
    expect(s.decide(0, 55 * MS)).to.equal(null);
    expect(s.rechecks[2].at).to.equal(60 * MS);
    // Parked at 60 (-15 ms) and 90 (-7.5 ms); unparked at 120 with credit 0.
    for (const t of [60, 90]) expect(s.decide(0, t * MS), `${t} ms`).to.equal(null);
    expect(s.rechecks.slice(3).map((r) => r.at)).to.deep.equal([90 * MS, 120 * MS]);
    expect(s.decide(0, 120 * MS)).to.equal(a);
    expect(st(a)).to.deep.include({ parked: false, credit: 0, pri: PRI.UNDER });
  });

  it('a running vCPU parked at an accounting gives the CPU up to another, and no recheck is needed then', () => {
    const { s, d, st } = setup([0, 0], [{ cap: 10 }]);
    const [a, b] = d;
    a.work = true; b.work = true;
    st(b).pri = PRI.OVER;
    Object.assign(st(b), { active: false });
    expect(s.decide(0, 0)).to.equal(a);
    expect(s.decide(0, 30 * MS)).to.equal(b);
    expect(st(a).parked).to.equal(true);
    expect(s.rechecks).to.deep.equal([]);
  });

  it('over a long run: shares follow the weights (1:2), and a cap of 25% holds a vCPU alone on its CPU to a quarter', () => {
    const w = setup([0, 0], [{ weight: 256 }, { weight: 512 }]);
    for (const x of w.d) x.work = true;
    w.s.run(0, 0, 3000 * MS, 1 * MS);
    const [r0, r1] = w.d.map((x) => w.s.ran.get(x)!);
    expect(r0 + r1).to.be.closeTo(3000 * MS, 1 * MS);
    expect(r1 / r0).to.be.within(1.9, 2.1);
    expect(w.st(w.d[0]).ranPs).to.equal(r0);
    const c = setup([0], [{ cap: 25 }]);
    c.d[0].work = true;
    c.s.run(0, 0, 1200 * MS, 1 * MS);
    expect(c.s.ran.get(c.d[0])! / (1200 * MS)).to.be.within(0.24, 0.26);
  });
});
