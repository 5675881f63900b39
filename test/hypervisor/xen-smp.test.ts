/**
 * Xen's scheduling mechanism on two CPUs with the credit policy (issue 28): a short run of the
 * credit-cap scenario (the driver domain on CPU 0, one transmitting guest capped at 30% alone on
 * CPU 1). Notifications between the CPUs go by IPI (smp_send_event_check_cpu): each one sent is
 * charged once on the sender's CPU and taken once on the other. The vCPU time the mechanism hands
 * the policy (burn_credits) is what the capped guest got, held near its cap although its CPU is
 * otherwise idle, and it runs again after being parked (the CPU looks again at the next accounting).
 */
import { expect } from 'chai';
import { join } from 'node:path';
import { PS_PER_MS } from '../../src/actors/scheduler.js';
import { build } from '../../src/scenario/build.js';
import { loadScenario } from '../../src/scenario/schema.js';
import { CreditPolicy } from '../../src/hypervisor/sched-credit.js';

describe('Xen (mutation): two CPUs under the credit scheduler', function () {
  this.timeout(30_000);
  it('IPIs are charged once on each side; the capped guest gets about its cap, across several accounting periods', () => {
    const b = build(loadScenario(join('scenarios', 'smp', 'credit-cap.yaml')));
    const policy = b.xen!.policy;
    expect(policy).to.be.instanceOf(CreditPolicy);
    const credit = policy as CreditPolicy;
    b.start();
    const [dom0, guest] = b.kernels;
    const ran: number[] = [];
    for (let ms = 3; ms <= 30; ms += 3) { b.sys.sched.run(ms * PS_PER_MS); ran.push(credit.state(guest).ranPs); }
    const n = (cpu: number, row: 'ipiSend' | 'ipiReceive') => (b.cpus[cpu].ledger.get('xen')?.get(row) ?? 0) / b.costs[row];
    expect(b.counters.ipis).to.be.greaterThan(10);
    expect(n(0, 'ipiSend') + n(1, 'ipiSend')).to.be.closeTo(b.counters.ipis, 1e-6);
    expect(n(1, 'ipiReceive')).to.be.closeTo(n(0, 'ipiSend'), 1);
    expect(n(0, 'ipiReceive')).to.be.closeTo(n(1, 'ipiSend'), 1);
    expect(n(0, 'ipiSend')).to.be.greaterThan(0);
    expect(n(1, 'ipiSend')).to.be.greaterThan(0);
    // Capped at 30% of a CPU (plus the one period it may run before its first accounting).
    const total = ran[ran.length - 1];
    expect(total).to.be.within(0.2 * 30 * PS_PER_MS, (0.3 * 30 + 3) * PS_PER_MS);
    // It ran in most 3 ms periods, not once and then never again.
    const periods = ran.filter((r, i) => r > (i ? ran[i - 1] : 0)).length;
    expect(periods).to.be.at.least(7);
    expect(credit.state(dom0).ranPs).to.be.greaterThan(0);
  });
});
