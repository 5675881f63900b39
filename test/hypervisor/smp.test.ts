/**
 * Multi-core hosts: vCPU placement, IPIs for notifications that cross CPUs, and Xen 3's credit
 * scheduler (weights, caps, BOOST), beside the BVT-like default.
 */
import { expect } from 'chai';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { PS_PER_MS, type Ps } from '../../src/actors/scheduler.js';
import type { Kernel } from '../../src/domains/kernel.js';
import { CreditPolicy, PRI } from '../../src/hypervisor/sched-credit.js';
import type { SchedView } from '../../src/hypervisor/sched.js';
import { build } from '../../src/scenario/build.js';
import { runBuilt, runScenario } from '../../src/scenario/run.js';
import { loadScenario, parseScenario, ScenarioError, type Scenario } from '../../src/scenario/schema.js';
import { columnHeader, columnValue, loadSweep, showValue } from '../../src/sweep/sweep.js';
import { xennet } from '../support/cli.js';

const smp = (f: string) => join(process.cwd(), 'scenarios', 'smp', f);
const short = (sc: Scenario, durationMs = 20, warmupMs = 10): Scenario => ({ ...sc, run: { durationMs, warmupMs } });
const perPkt = (n: number, segs: number) => n / Math.max(1, segs);

describe('SMP hosts', function () {
  this.timeout(60_000);

  it('Xen 2.0 guest transmit: the driver domain on its own core moves more and switches domains less per packet than sharing one', () => {
    const own = runScenario(short(loadScenario(smp('guest-tx-own-core.yaml'))));
    const shared = runScenario(short(loadScenario(smp('guest-tx-shared.yaml'))));
    expect(own.throughputMbps).to.be.greaterThan(1.2 * shared.throughputMbps);
    const sw = (r: typeof own) => perPkt(r.counters.domainSwitches, r.counters.goodputSegments);
    expect(sw(shared)).to.be.greaterThan(0.05);
    expect(sw(own)).to.be.lessThan(sw(shared) / 10);
  });

  it('counts and charges IPIs only for notifications that cross CPUs', () => {
    const cyclesOf = (b: ReturnType<typeof build>, cat: string) => b.cpus.reduce((n, c) => n + (c.ledger.get('xen')?.get(cat) ?? 0), 0);
    // Own core: every event-channel kick between dom0 and the guest crosses CPUs.
    const own = build(short(loadScenario(smp('guest-rx-own-core.yaml'))));
    const r = runBuilt(own);
    own.sys.stop();
    expect(r.counters.ipis).to.be.greaterThan(100);
    // Each IPI costs one ipiSend on the sender and one ipiReceive on the target (a few straddle the window's edges).
    expect(Math.abs(cyclesOf(own, 'ipiSend') / own.costs.ipiSend - r.counters.ipis!)).to.be.lessThan(5);
    expect(Math.abs(cyclesOf(own, 'ipiReceive') / own.costs.ipiReceive - r.counters.ipis!)).to.be.lessThan(5);
    // Shared: both domains on CPU 0 of the same machine: no IPI, nothing charged for one.
    const shared = runScenario(short(loadScenario(smp('guest-rx-shared.yaml'))));
    expect(shared.counters.ipis).to.equal(0);
    expect(shared.cyclesPerPacket.byCategory).to.not.have.any.keys('ipiSend', 'ipiReceive');
    // One CPU: there is no such counter.
    const one = runScenario(short(loadScenario('scenarios/guest-rx.yaml')));
    expect(one.counters).to.not.have.property('ipis');
    // A NIC interrupt taken on another CPU than the driver domain's wakes it with an IPI.
    const driver = (irqCpu?: number) => runScenario(short(parseScenario({
      name: 'drv', topology: 'driver', direction: 'rx', machine: { cpus: 2, nics: 1 }, placement: { dom0: 1, ...(irqCpu === undefined ? {} : { irqCpu }) },
    })));
    expect(driver().counters.ipis).to.equal(0);
    expect(driver(0).counters.ipis).to.be.greaterThan(10);
  });

  it('a weighted credit scheduler splits CPU-bound guests\' goodput in proportion to their weights', () => {
    // A 30 ms warm-up (both flows out of slow start) and 100 ms measured (about 17 accounting periods).
    const r = runScenario(short(loadScenario(smp('credit-weights.yaml')), 100, 30));
    const [a, b] = r.perGuest!.mbps;
    expect(a).to.be.greaterThan(50);
    expect(b / a).to.be.within(2 * 0.9, 2 * 1.1);
    // ... because the scheduler splits the CPU that way.
    expect(r.cpuUtilPct.byAccount.domU2 / r.cpuUtilPct.byAccount.domU1).to.be.within(2 * 0.9, 2 * 1.1);
    // Equal weights: equal shares.
    const eq = loadScenario(smp('credit-weights.yaml'));
    eq.xen.credit.guests = [{ weight: 256, cap: 0 }, { weight: 256, cap: 0 }];
    const [c, d] = runScenario(short(eq, 100, 30)).perGuest!.mbps;
    expect(d / c).to.be.within(0.9, 1.1);
  });

  it('a cap limits a domain\'s CPU time even when its CPU is otherwise idle', () => {
    const share = (cap: number) => {
      const sc = short(loadScenario(smp('credit-cap.yaml')), 40);
      sc.xen.credit.guests = [{ weight: 256, cap }];
      const b = build(sc);
      const r = runBuilt(b);
      b.sys.stop();
      const guest = b.kernels.find((k) => k.name === 'domU1')!;
      const ran = (b.xen!.policy as CreditPolicy).state(guest).ranPs;
      return { cpu: ran / ((sc.run.warmupMs + sc.run.durationMs) * PS_PER_MS), mbps: r.throughputMbps };
    };
    const capped = share(30), free = share(0);
    expect(capped.cpu).to.be.within(0.2, 0.35);
    expect(free.cpu).to.be.greaterThan(0.6);
    expect(capped.mbps).to.be.lessThan(0.6 * free.mbps);
  });

  describe('credit policy (sched_credit.c) on one CPU', () => {
    // Two domains pinned to CPU 0; the view is what xen.ts would show the policy.
    const k1 = { domid: 1, name: 'domU1' } as Kernel, k2 = { domid: 2, name: 'domU2' } as Kernel;
    const setup = () => {
      const st = { now: 0 as Ps, cur: null as Kernel | null, work: new Set<Kernel>([k1]), slice: 0 as Ps };
      const view: SchedView<Kernel> = {
        now: () => st.now, onCpu: () => [k1, k2], canRun: (k) => st.work.has(k), current: () => st.cur,
        sliceStart: () => st.slice, recheckAt: () => {},
      };
      const p = new CreditPolicy(view, 1, { tickUs: 1000, ticksPerAcct: 3, tsliceUs: 3000, params: () => ({ weight: 256, cap: 0 }) });
      /** Let `k` run alone from now for `ms` and make the next decision. */
      const run = (k: Kernel, ms: number) => {
        st.cur = k; const t0 = st.now; st.now += ms * PS_PER_MS;
        p.ran(k, 0, t0, st.now);
        return p.pick(0);
      };
      return { st, p, run };
    };

    it('BOOST: a domain woken by an event preempts an OVER one', () => {
      const { st, p, run } = setup();
      // domU2 runs over a tick (it joins the accounting), then blocks; domU1 then runs CPU-bound and,
      // earning half the CPU while using all of it, goes OVER.
      st.work = new Set([k2]);
      expect(run(k2, 1.5)).to.equal(k2);
      st.work = new Set([k1]);
      expect(run(k1, 10)).to.equal(k1);
      expect(p.state(k1).pri).to.equal(PRI.OVER);
      st.work.add(k2);
      p.wake(k2);
      expect(p.state(k2).pri).to.equal(PRI.BOOST);
      expect(p.preempts(k2, 0)).to.equal(true);
      expect(p.pick(0)).to.equal(k2);
      // A boosted domain loses BOOST at the first tick it is found running.
      expect(run(k2, 1)).to.not.equal(undefined);
      expect(p.state(k2).pri).to.not.equal(PRI.BOOST);
    });

    it('an UNDER domain running its slice is preempted by a woken (boosted) one, not by one merely runnable', () => {
      const { st, p, run } = setup();
      st.work = new Set([k1]);
      expect(run(k1, 0.5)).to.equal(k1);
      expect(p.state(k1).pri).to.equal(PRI.UNDER);
      st.work.add(k2);
      // Runnable but not woken from blocked in the policy's eyes: equal priority waits for the slice to end.
      expect(p.preempts(k2, 0)).to.equal(false);
      p.wake(k2);
      expect(p.preempts(k2, 0)).to.equal(true);
      expect(p.pick(0)).to.equal(k2);
    });

    it('equal priorities take turns at the end of each time slice, FIFO', () => {
      const { st, run } = setup();
      st.work = new Set([k1, k2]);
      const seq: string[] = [];
      let k: Kernel | null = k1;
      for (let i = 0; i < 6; i++) { k = run(k!, 3); seq.push(k!.name); }
      expect(seq).to.deep.equal(['domU2', 'domU1', 'domU2', 'domU1', 'domU2', 'domU1']);
    });
  });

  it('gives byte-identical SMP results with one and with two workers', () => {
    const dir = mkdtempSync(join(tmpdir(), 'xennet-smp-'));
    const file = join(dir, 's.yaml');
    writeFileSync(file, `name: smp\nbase: ${resolve(smp('guest-rx-own-core.yaml'))}\ndurationMs: 4\nvary:\n  placement.guests: [[0], [1]]\n  xen.scheduler: [bvt, credit]\n`);
    const run = (w: string) => xennet(['sweep', file, '--json', '--workers', w]);
    const a = run('1'), b = run('2');
    expect(a.status, a.stderr).to.equal(0);
    expect(a.stdout).to.equal(b.stdout);
    const rows = JSON.parse(a.stdout) as Array<{ result: { counters: { ipis: number } } }>;
    expect(rows.map((r) => r.result.counters.ipis > 0)).to.deep.equal([false, false, true, true]);
  });

  it('the own-core sweep varies whole fields (all optimizations at once, the guest\'s pin) and reports per-packet columns', () => {
    const runs = loadSweep(join(process.cwd(), 'scenarios', 'sweeps', 'smp-own-core.yaml'));
    expect(runs).to.have.length(8);
    const allOpt = runs.find((r) => r.label.direction === 'rx' && showValue(r.label.optimizations) !== '{}' && showValue(r.label['placement.guests']) === '[1]')!;
    expect(allOpt.scenario.optimizations).to.include({ vnicOffload: true, txNoRemap: true, rxCopy: true, superpages: true, globalPages: true });
    expect(allOpt.scenario.placement).to.deep.include({ dom0: 0, guests: [1] });
    expect(runs.filter((r) => showValue(r.label.optimizations) === '{}').every((r) => !r.scenario.optimizations.vnicOffload)).to.equal(true);
    const result = { counters: { ipis: 30, goodputSegments: 120 }, cpuUtilPct: { byAccount: { dom0: 12.5 } } };
    expect(columnValue(result, 'counters.ipis/pkt')).to.equal('0.250');
    expect(columnValue(result, 'cpuUtilPct.byAccount.dom0')).to.equal('12.5');
    expect(columnValue(result, 'counters.nothing')).to.equal('');
    expect(columnHeader('cpuUtilPct.byAccount.domU1')).to.equal('CPU% domU1');
    expect(columnHeader('counters.ipis/pkt')).to.equal('ipis/pkt');
  });

  it('refuses pins to CPUs the machine does not have, naming the field', () => {
    const base = { name: 'p', topology: 'guest', direction: 'tx', guests: 2, machine: { cpus: 2, nics: 2 } };
    const err = (o: Record<string, unknown>) => { try { parseScenario({ ...base, ...o }); } catch (e) { expect(e).to.be.instanceOf(ScenarioError); return (e as Error).message; } return ''; };
    expect(err({ placement: { dom0: 2 } })).to.match(/placement\.dom0: no CPU 2 \(machine\.cpus is 2/);
    expect(err({ placement: { guests: [0, 5] } })).to.match(/placement\.guests\.1: guest 2: no CPU 5/);
    expect(err({ placement: { guests: [1] } })).to.match(/placement\.guests: 1 CPU\(s\) for 2 guest\(s\)/);
    expect(err({ placement: { irqCpu: 3 } })).to.match(/placement\.irqCpu: no CPU 3/);
    expect(err({ placement: { guests: [0, -1] } })).to.match(/placement\.guests\.1/);
    expect(err({ xen: { scheduler: 'credit', credit: { guests: [{}, {}, { weight: 3 }] } } })).to.match(/xen\.credit\.guests: 3 entries for 2 guest/);
    expect(err({ xen: { scheduler: 'credit', credit: { guests: [{ cap: 101 }] } } })).to.match(/xen\.credit\.guests\.0\.cap/);
    expect(err({ xen: { scheduler: 'fifo' } })).to.match(/xen\.scheduler/);
    expect(err({ placement: { dom0: 1, guests: [1, 0] } })).to.equal('');
  });
});
