/**
 * Xen's scheduling mechanism (schedule.ts, after xen/common/schedule.c) on a bare host: CPUs, Xen
 * and a few domains, no devices and no drivers (the toolstack's createHost/createDomain), each
 * domain given work as plain tasks of a known number of cycles. What is checked is the mechanism's
 * own rules: a domain runs only while it has work and is not paused; the runstate it reports; the
 * vCPU time it has had (runstate time in RUNSTATE_running); the BVT allowance counted from the start
 * of a domain's turn even when it resumes without a context switch (the idle vCPU kept its state
 * loaded); vcpu_kick from another CPU, which sends an IPI (smp_send_event_check_cpu) only when the
 * target CPU must act now, coalesced while one is on its way (cpu_raise_softirq); physical
 * interrupt routing to the driver domain's CPU or to the CPU the scenario names.
 */
import { expect } from 'chai';
import type { Ps } from '../../src/actors/scheduler.js';
import type { Kernel } from '../../src/domains/kernel.js';
import { cyclesOf, host, US } from '../support/bare-xen.js';
import { BvtPolicy } from '../../src/hypervisor/sched-bvt.js';
import { CreditPolicy, PRI } from '../../src/hypervisor/sched-credit.js';

describe('Xen scheduling mechanism (schedule.ts)', () => {
  it('picks the policy the configuration names: credit only with scheduler credit and its parameters', () => {
    const credit = { tickUs: 10_000, ticksPerAcct: 3, tsliceUs: 30_000, params: () => ({ weight: 256, cap: 0 }) };
    expect(host([0]).xen.policy).to.be.instanceOf(BvtPolicy);
    expect(host([0], { scheduler: 'credit', credit }).xen.policy).to.be.instanceOf(CreditPolicy);
    expect(host([0], { scheduler: 'bvt', credit }).xen.policy).to.be.instanceOf(BvtPolicy);
  });

  it('the policy sees each CPU\'s run queue: BVT promises each domain an equal share of its own CPU', () => {
    const m = host([0, 0, 1, 0]);
    expect(m.ks.map((k) => m.xen.policy.guaranteedShare(k))).to.deep.equal([1 / 3, 1 / 3, 1, 1 / 3]);
  });

  it('a domain with work runs while another on its CPU stays paused; the paused one is neither woken nor run until unpaused', () => {
    const m = host([0, 0, 0]);
    const [, g1, g2] = m.ks;
    m.xen.unpauseDomain(g1.domid); // g2 keeps its creation pause
    m.work(m.ks[0], 1, 20); // dom0 has the CPU first
    m.work(g1, 3, 10);
    m.work(g2, 3, 10);
    expect(g1.runState, 'woken while another domain is paused').to.equal('runnable');
    expect(g2.runState, 'a paused domain is not woken by its work').to.equal('blocked');
    m.run(500 * US);
    expect(m.log.filter(([n]) => n === g1.name)).to.have.length(3);
    expect(m.log.filter(([n]) => n === g2.name)).to.have.length(0);
    expect(m.xen.vcpuTime(g2)).to.equal(0);
    m.xen.unpauseDomain(g2.domid);
    m.run(1000 * US);
    expect(m.log.filter(([n]) => n === g2.name)).to.have.length(3);
  });

  it('runstates: woken is runnable, preempted with work left is runnable, out of work is blocked, also when the CPU goes idle', () => {
    const m = host([0, 0]);
    const [dom0, g1] = m.ks;
    m.xen.unpauseDomain(g1.domid);
    const seen: string[] = [];
    // dom0 runs first (the allowance is 50 us, its slices 30 us); g1 is woken meanwhile.
    m.work(dom0, 1, 30);
    m.work(g1, 4, 30); // g1 keeps work after its first turn
    expect(g1.runState, 'woken while dom0 has the CPU').to.equal('runnable');
    // dom0 looks at g1 from its next slices: first while g1 still has work, then after g1 ran dry.
    m.at(45 * US, () => dom0.post({ name: 'look', run: (x) => { seen.push(g1.runState); x.charge('copy', cyclesOf(200)); } }, 'proc'));
    m.run(1000 * US);
    expect(m.log.map(([n]) => n).slice(0, 3)).to.deep.equal([dom0.name, g1.name, g1.name]);
    expect(seen).to.deep.equal(['runnable']);
    m.at(1500 * US, () => dom0.post({ name: 'look', run: () => { seen.push(g1.runState); } }, 'proc'));
    m.run(2000 * US);
    expect(seen).to.deep.equal(['runnable', 'blocked']);
    // The CPU is idle now: the domain that ran last is blocked (not left running).
    expect(dom0.runState).to.equal('blocked');
    expect(g1.runState).to.equal('blocked');
    m.work(g1, 1, 5);
    m.run(2100 * US);
    expect(g1.runState, 'ran its one task and the CPU went idle').to.equal('blocked');
    // g1 runs out of work while dom0 waits: switched away from, it is blocked, not runnable.
    m.at(2200 * US, () => m.work(g1, 1, 20));
    m.at(2205 * US, () => dom0.post({ name: 'look', run: () => { seen.push(g1.runState); } }, 'proc'));
    m.run(2400 * US);
    expect(seen).to.deep.equal(['runnable', 'blocked', 'blocked']);
  });

  it('vCPU time: every picosecond of a busy CPU goes to the domain that had it, including the slice in progress', () => {
    const m = host([0, 0]);
    const [dom0, g1] = m.ks;
    m.xen.unpauseDomain(g1.domid);
    m.work(dom0, 100, 7);
    m.work(g1, 100, 11);
    // Domains with work from time 0 and no work of Xen's own: the CPU is never idle, never in Xen alone.
    for (const t of [3, 41, 97, 250.5, 333, 640].map((us) => Math.round(us * US))) {
      m.run(t);
      expect(m.xen.vcpuTime(dom0) + m.xen.vcpuTime(g1), `at ${t} ps`).to.equal(t);
      expect(m.xen.vcpuTime(dom0)).to.be.greaterThan(0);
      if (t > 100 * US) expect(m.xen.vcpuTime(g1)).to.be.greaterThan(0);
    }
    // A domain alone on its CPU: its vCPU time is the time since it started, mid-slice too.
    const solo = host([0, 1]);
    const g = solo.ks[1];
    solo.xen.unpauseDomain(g.domid);
    solo.work(g, 10, 100);
    solo.run(Math.round(250.25 * US));
    expect(solo.xen.vcpuTime(g)).to.equal(Math.round(250.25 * US));
    expect(solo.xen.vcpuTime(solo.ks[0])).to.equal(0);
  });

  it('BVT allowance: a domain resuming without a context switch (its state still loaded) gets a fresh allowance from that moment', () => {
    const m = host([0, 0]);
    const [dom0, g1] = m.ks;
    m.xen.unpauseDomain(g1.domid);
    m.work(g1, 1, 10); // g1 runs at 0, then the CPU idles with g1's state loaded
    m.run(100 * US);
    expect(m.log).to.deep.equal([[g1.name, 0]]);
    const switches = m.h.counters.domainSwitches;
    m.at(1000 * US, () => m.work(g1, 40, 5));
    m.at(1001 * US, () => m.work(dom0, 1, 5));
    m.run(2000 * US);
    const first0 = m.log.find(([n]) => n === dom0.name)![1];
    // g1 keeps the CPU for its 50 us allowance from 1000 us, then dom0 gets it at the next slice boundary.
    expect(first0).to.be.at.least(1050 * US);
    expect(first0).to.be.below(1056 * US);
    expect(m.h.counters.domainSwitches - switches, 'g1 -> dom0 -> g1').to.equal(2);
    // Each context switch is Xen's work (the domainSwitch row on the xen account), inside the incoming domain's slice.
    const sw = m.h.cpus[0].ledger.get('xen')?.get('domainSwitch') ?? 0;
    expect(sw).to.be.closeTo(m.h.counters.domainSwitches * m.h.costs.domainSwitch, 1e-6);
    expect(m.h.cpus[0].ledger.get(g1.name)?.get('domainSwitch') ?? 0).to.equal(0);
  });

  it('vcpu_kick from another CPU: an idle target CPU gets an IPI (one while one is on its way), charged on both sides', () => {
    const m = host([0, 1]);
    const [, g1] = m.ks;
    m.xen.unpauseDomain(g1.domid);
    const got: Ps[] = [];
    const p = g1.evtchn.alloc('kick', () => { got.push(m.sched.now); });
    const q = g1.evtchn.alloc('kick2', () => { got.push(m.sched.now); });
    // Two ports raised, and g1 kicked once more, all before the IPI lands.
    m.at(10 * US, () => { g1.evtchn.setPending(p, 0); g1.evtchn.setPending(q, 0); m.xen.wake(g1, 0); });
    m.run(100 * US);
    expect(m.h.counters.ipis).to.equal(1);
    expect(got).to.have.length(2);
    const latency = m.h.cpus[0].psFor(m.h.costs.ipiLatency);
    expect(got[0]).to.be.at.least(10 * US + latency); // not before the IPI reached CPU 1
    expect(m.charged(0, 'ipiSend')).to.equal(m.h.costs.ipiSend);
    expect(m.charged(1, 'ipiReceive')).to.equal(m.h.costs.ipiReceive);
    expect(m.charged(1, 'ipiSend') + m.charged(0, 'ipiReceive')).to.equal(0);
    // Once it has arrived, the next kick from CPU 0 is a new IPI.
    m.at(200 * US, () => { g1.evtchn.setPending(p, 0); });
    m.run(300 * US);
    expect(m.h.counters.ipis).to.equal(2);
    expect(got).to.have.length(3);
    // From the target's own CPU there is no IPI: the CPU looks at its run queue itself.
    m.at(400 * US, () => { g1.evtchn.setPending(q, 1); });
    m.run(500 * US);
    expect(m.h.counters.ipis).to.equal(2);
    expect(got).to.have.length(4);
  });

  it('vcpu_kick from another CPU to a busy one: IPI when the target runs the woken domain or the woken one preempts, none otherwise', () => {
    const m = host([0, 1, 1]);
    const [, g1, g2] = m.ks;
    for (const g of [g1, g2]) m.xen.unpauseDomain(g.domid);
    const ran: Array<[string, Ps]> = [];
    const port = (k: Kernel) => k.evtchn.alloc('kick', () => { ran.push([k.name, m.sched.now]); });
    const [p1, p2] = [port(g1), port(g2)];
    const ipis = () => m.h.counters.ipis;
    // g2 computes on CPU 1 in 10 us slices from 0; g1 is blocked.
    m.work(g2, 100, 10);
    // At 5 us g1 is woken from CPU 0: g2 is within its allowance, so g1 does not preempt: no IPI.
    m.at(5 * US, () => g1.evtchn.setPending(p1, 0));
    m.run(6 * US);
    expect(ipis()).to.equal(0);
    expect(g1.runState).to.equal('runnable');
    // Woken again at 55 us (g2 past its allowance): g1 is runnable already, not newly woken: no IPI.
    m.at(55 * US, () => { g1.evtchn.upcallPending = true; m.xen.wake(g1, 0); });
    m.run(56 * US);
    expect(ipis()).to.equal(0);
    // g1 gets the CPU at g2's first slice boundary past the allowance (no IPI needed).
    m.run(70 * US);
    const g1at = ran.find(([n]) => n === g1.name)![1];
    expect(g1at).to.be.at.least(50 * US);
    expect(g1at).to.be.below(65 * US); // within one slice of g2's (10 us and the switch's cost)
    // g2 is back on CPU 1; an event for it from CPU 0 while it runs: the IPI makes it look.
    m.run(100 * US);
    expect(g2.runState).to.equal('running');
    m.at(101 * US, () => g2.evtchn.setPending(p2, 0));
    m.run(102 * US);
    expect(ipis()).to.equal(1);
    // g1 blocked again; woken from CPU 0 when g2 has had its allowance: it preempts, so an IPI.
    expect(g1.runState).to.equal('blocked');
    const g2turn = m.xen.cpus[1].busy && g2.runState === 'running';
    expect(g2turn).to.equal(true);
    m.at(190 * US, () => g1.evtchn.setPending(p1, 0));
    m.run(191 * US);
    expect(ipis()).to.equal(2);
    // A paused domain's event from another CPU wakes nothing and sends no IPI.
    m.run(400 * US);
    m.xen.pauseDomain(g1.domid);
    const before = ran.length;
    m.at(401 * US, () => g1.evtchn.setPending(p1, 0));
    m.run(500 * US);
    expect(ipis()).to.equal(2);
    expect(g1.runState).to.equal('blocked');
    expect(ran.length).to.equal(before);
  });

  it('physical interrupts: routed on the driver domain\'s CPU by default; taken on another CPU (placement.irqCpu), dom0 is woken by IPI', () => {
    for (const irqCpu of [undefined, 1]) {
      const m = host([0], irqCpu === undefined ? {} : { irqCpu }, 2); // CPU 1 runs no domain at all
      const dom0 = m.ks[0];
      const handled: Ps[] = [];
      const port = dom0.evtchn.alloc('pirq-eth0', () => { handled.push(m.sched.now); });
      m.at(10 * US, () => m.xen.physicalIrq(dom0, port));
      m.run(100 * US);
      const on = irqCpu ?? 0;
      expect(m.h.counters.interrupts).to.equal(1);
      expect(m.charged(on, 'pirqRoute'), `routed on CPU ${on}`).to.equal(m.h.costs.pirqRoute);
      expect(m.charged(1 - on, 'pirqRoute')).to.equal(0);
      expect(m.h.counters.ipis ?? 0).to.equal(irqCpu === undefined ? 0 : 1);
      expect(handled).to.have.length(1);
    }
  });
});

describe('Xen scheduling mechanism with the credit policy', () => {
  const credit = (cap = 0) => ({ scheduler: 'credit' as const, credit: { tickUs: 10_000, ticksPerAcct: 3, tsliceUs: 30_000, params: (d: number) => ({ weight: 256, cap: d === 1 ? cap : 0 }) } });

  it('vcpu_wake reaches the policy only for a blocked vCPU (BOOST), not for one that runs and gets more work', () => {
    const m = host([0, 0], credit());
    const [, g1] = m.ks;
    const policy = m.xen.policy as CreditPolicy<Kernel>;
    m.xen.unpauseDomain(g1.domid);
    const seen: Array<{ pri: number; queued: number }> = [];
    g1.post({
      name: 'more', run: (x) => {
        const before = { ...policy.state(g1) };
        g1.post({ name: 'next', run: () => {} }, 'proc'); // woken while running
        seen.push(before, { ...policy.state(g1) });
        x.charge('copy', cyclesOf(5));
      },
    }, 'proc');
    m.run(100 * US);
    expect(seen[0].pri, 'an UNDER vCPU woken from blocked is boosted').to.equal(PRI.BOOST);
    expect(seen[1]).to.deep.equal(seen[0]);
  });

  it('a capped domain alone on its CPU is parked and runs again at a later accounting (the recheck timer)', function () {
    this.timeout(20_000);
    const m = host([0, 0], credit(20));
    const [, g1] = m.ks;
    const policy = m.xen.policy as CreditPolicy<Kernel>;
    m.xen.unpauseDomain(g1.domid);
    m.work(g1, 1_000_000, 100);
    let parked = false;
    let ranAfter = 0;
    for (let ms = 1; ms <= 200; ms++) {
      const before = m.xen.vcpuTime(g1);
      m.run(ms * 1000 * US);
      if (policy.state(g1).parked) {
        parked = true;
        expect(g1.runState, 'held off its idle CPU with work to do').to.equal('runnable');
      }
      else if (parked && m.xen.vcpuTime(g1) > before) ranAfter++;
    }
    expect(parked, 'parked over its cap').to.equal(true);
    // Nothing else wants the CPU: only the recheck at a later accounting lets it run again.
    expect(ranAfter, 'ran again after being parked').to.be.greaterThan(0);
    expect(m.xen.vcpuTime(g1)).to.be.below(0.5 * 200 * 1000 * US);
  });
});
