import { expect } from 'chai';
import { join } from 'node:path';
import { loadScenario } from '../../src/scenario/schema.js';
import { build } from '../../src/scenario/build.js';
import { type Kernel } from '../../src/domains/kernel.js';
import { CpuExec } from '../../src/hardware/exec.js';
import { Xen } from '../../src/hypervisor/xen.js';
import { GNTST } from '../../src/hypervisor/grant-table.js';

/**
 * Xen's guest-visible hypercalls on a built (not started) machine (found by mutation testing, issue
 * 14): event-channel send/close/unmask/alloc_unbound/bind_virq/reset with their error codes (4.3,
 * 4.4), the grant batch wrappers' counting and flushing, and GNTTABOP_copy continuations (XSA-318).
 * An Exec on the caller's CPU stands for the caller's vCPU; deferred effects are run by hand.
 */
function machine() {
  const sc = loadScenario(join('scenarios', 'guest-tx.yaml'));
  sc.guests = 2;
  const b = build(sc);
  const xen = b.xen!;
  const exec = (k: Kernel) => new CpuExec(b.cpus[k.cpuIndex], k, b.costs, b.counters);
  const effects = (x: CpuExec) => { for (const e of x.effects.splice(0)) e(); b.sys.sched.run(b.sys.sched.now); };
  const dom0 = b.kernels[0];
  const [g1, g2] = [b.kernels[1], b.kernels[2]];
  const vif = (g: Kernel) => b.vifs.find((v) => v.guest === g)!;
  return { b, xen, exec, effects, dom0, g1, g2, vif };
}

describe('Xen (mutation): event-channel hypercalls', () => {
  it('send on an interdomain port sets the peer pending once the slice completes; bad ports are -EINVAL, unbound ones drop silently', () => {
    const m = machine();
    const x = m.exec(m.g1);
    const gPort = m.g1.evtchn.ports.find((p) => p.name === m.vif(m.g1).nf.name)!;
    const bPort = m.dom0.evtchn.ports.find((p) => p.name === m.vif(m.g1).nb.name)!;
    const sent = m.b.counters.notificationsSent;
    expect(m.xen.evtchnSendPort(x, m.g1, gPort.port)).to.equal(0);
    expect(m.b.counters.notificationsSent).to.equal(sent + 1);
    expect(bPort.pending).to.equal(false); // not before the slice's effects run
    m.effects(x);
    expect(bPort.pending).to.equal(true);
    for (const bad of [0, -1, 4096, m.g1.evtchn.ports.length + 1]) expect(m.xen.evtchnSendPort(x, m.g1, bad), `port ${bad}`).to.equal(-22);
    const unbound = m.xen.evtchnAllocUnbound(x, m.g1, 0);
    expect(unbound).to.be.greaterThan(0);
    expect(m.xen.evtchnSendPort(x, m.g1, unbound)).to.equal(0);
    expect(m.b.counters.notificationsSent).to.equal(sent + 1);
    const virq = m.xen.evtchnBindVirq(x, m.g1, 3);
    expect(m.xen.evtchnSendPort(x, m.g1, virq)).to.equal(-22); // a VIRQ port cannot be signalled
  });

  it('close frees the port and the peer end reverts to unbound; closing again, or a port 0, is -EINVAL', () => {
    const m = machine();
    const x = m.exec(m.g1);
    const gPort = m.g1.evtchn.ports.find((p) => p.name === m.vif(m.g1).nf.name)!;
    const chan = `evtchn-${m.vif(m.g1).nb.name}`;
    expect(m.b.sys.entry(chan).actor.getSnapshot().value).to.equal('interdomain');
    expect(m.xen.evtchnClose(x, m.g1, gPort.port)).to.equal(0);
    expect(gPort.closed).to.equal(true);
    m.effects(x);
    expect(m.b.sys.entry(chan).actor.getSnapshot().value).to.equal('unbound');
    expect(m.xen.evtchnClose(x, m.g1, gPort.port)).to.equal(-22);
    expect(m.xen.evtchnClose(x, m.g1, 0)).to.equal(-22);
    // The freed number is reused, and the new port is not bound to the old channel.
    const again = m.xen.evtchnAllocUnbound(x, m.g1, 0);
    expect(again).to.equal(gPort.port);
    const sent = m.b.counters.notificationsSent;
    expect(m.xen.evtchnSendPort(x, m.g1, again)).to.equal(0);
    expect(m.b.counters.notificationsSent).to.equal(sent);
  });

  it('unmask: only the caller\'s own open ports; a pending unmasked port raises the upcall', () => {
    const m = machine();
    const x = m.exec(m.g1);
    const p = m.g1.evtchn.ports[0];
    expect(m.xen.evtchnUnmask(x, m.g1, 0)).to.equal(-22);
    expect(m.xen.evtchnUnmask(x, m.g1, m.g1.evtchn.ports.length + 5)).to.equal(-22);
    m.g1.evtchn.mask(p);
    m.g1.evtchn.setPending(p);
    m.g1.evtchn.upcallPending = false;
    expect(m.xen.evtchnUnmask(x, m.g1, p.port)).to.equal(0);
    expect(p.masked).to.equal(false);
    expect(m.g1.evtchn.upcallPending).to.equal(true);
  });

  it('alloc_unbound needs an existing remote domain (-ESRCH) and answers -ENOSPC once every port is used', () => {
    const m = machine();
    const x = m.exec(m.g2);
    expect(m.xen.evtchnAllocUnbound(x, m.g2, 77)).to.equal(-3);
    let last = 0;
    for (let r = m.xen.evtchnAllocUnbound(x, m.g2, 0); r > 0; r = m.xen.evtchnAllocUnbound(x, m.g2, 0)) last = r;
    expect(last).to.equal(m.g2.evtchn.limit - 1);
    expect(m.xen.evtchnAllocUnbound(x, m.g2, 0)).to.equal(-28);
    expect(m.xen.evtchnBindVirq(x, m.g2, 1)).to.equal(-28);
    expect(m.g2.evtchn.ports.some((p) => p.virq === 1)).to.equal(false); // nothing half-bound (XSA-496)
  });

  it('bind_virq: 0 .. NR_VIRQS-1, each once (-EEXIST), again after its port is closed; reset closes every port', () => {
    const m = machine();
    const x = m.exec(m.g1);
    for (const bad of [-1, Xen.NR_VIRQS, 1.5]) expect(m.xen.evtchnBindVirq(x, m.g1, bad), `virq ${bad}`).to.equal(-22);
    const p0 = m.xen.evtchnBindVirq(x, m.g1, 0);
    const pl = m.xen.evtchnBindVirq(x, m.g1, Xen.NR_VIRQS - 1);
    expect(p0).to.be.greaterThan(0);
    expect(pl).to.equal(p0 + 1);
    expect(m.g1.evtchn.lookup(p0)!.virq).to.equal(0);
    expect(m.xen.evtchnBindVirq(x, m.g1, 0)).to.equal(-17);
    expect(m.xen.evtchnClose(x, m.g1, p0)).to.equal(0);
    expect(m.xen.evtchnBindVirq(x, m.g1, 0)).to.equal(p0);
    expect(m.xen.evtchnReset(x, m.g1)).to.equal(0);
    expect(m.g1.evtchn.ports.every((p) => p.closed)).to.equal(true);
    m.effects(x);
    expect(m.b.sys.entry(`evtchn-${m.vif(m.g1).nb.name}`).actor.getSnapshot().value).to.equal('unbound');
  });
});

describe('Xen (mutation): grant batch hypercalls', () => {
  it('map, device map and unmap count per op; unmapping host mappings flushes the TLB once, device pins never', () => {
    const m = machine();
    const x = m.exec(m.dom0);
    const gt = m.xen.grantTables.get(m.g1.domid)!;
    const f1 = m.g1.allocFrame(), f2 = m.g1.allocFrame();
    gt.grantAccess(100, m.dom0.domid, f1, false);
    gt.grantAccess(101, m.dom0.domid, f2, true);
    const c = { ...m.b.counters };
    const host = m.xen.grantMap(x, m.dom0, [{ dom: m.g1.domid, ref: 100, readonly: false }, { dom: m.g1.domid, ref: 101, readonly: false }]);
    expect(host.map((r) => r.status)).to.deep.equal([GNTST.okay, GNTST.general_error]); // 101 is read-only
    const dev = m.xen.grantDeviceMap(x, m.dom0, [{ dom: m.g1.domid, ref: 101 }]);
    expect(dev[0].status).to.equal(GNTST.okay);
    expect(m.b.counters.grantMaps - c.grantMaps).to.equal(2);
    expect(m.b.counters.grantDeviceMaps - c.grantDeviceMaps).to.equal(1);
    const flushes = m.b.counters.tlbFlushes;
    m.xen.grantUnmap(x, m.dom0, [dev[0].handle!], false);
    expect(m.b.counters.tlbFlushes).to.equal(flushes);
    m.xen.grantUnmap(x, m.dom0, [host[0].handle!], true);
    expect(m.b.counters.tlbFlushes).to.equal(flushes + 1);
    m.xen.grantUnmap(x, m.dom0, [], true);
    expect(m.b.counters.tlbFlushes).to.equal(flushes + 1);
    expect(m.b.counters.grantUnmaps - c.grantUnmaps).to.equal(2);
    expect(m.xen.grants.activeMappings(m.dom0.domid)).to.equal(m.b.netbacks.reduce((n, nb) => n + nb.ringMappings(), 0));
  });

  it('copy counts every op but copies bytes only for those that succeed', () => {
    const m = machine();
    const x = m.exec(m.dom0);
    const gt = m.xen.grantTables.get(m.g1.domid)!;
    gt.grantAccess(100, m.dom0.domid, m.g1.allocFrame(), false);
    const mine = m.dom0.allocFrame();
    const c = { ...m.b.counters };
    const res = m.xen.grantCopy(x, m.dom0, [
      { source: { dom: m.dom0.domid, frame: mine, offset: 0 }, dest: { dom: m.g1.domid, ref: 100, offset: 0 }, len: 300 },
      { source: { dom: m.dom0.domid, frame: mine, offset: 0 }, dest: { dom: m.g1.domid, ref: 101, offset: 0 }, len: 500 },
    ]);
    expect(res.map((r) => r.status)).to.deep.equal([GNTST.okay, GNTST.general_error]);
    expect(m.b.counters.grantCopies - c.grantCopies).to.equal(2);
    expect(m.b.counters.bytesCopied - c.bytesCopied).to.equal(300);
  });

  it('a copy batch longer than the preemption chunk continues later on the caller\'s vCPU and reports every status in order', () => {
    const m = machine();
    const x = m.exec(m.dom0);
    const mine = m.dom0.allocFrame();
    const n = 2 * Xen.GNTTAB_PREEMPT_OPS + 5;
    const ops = Array.from({ length: n }, (_, i) => ({ source: { dom: m.dom0.domid, frame: mine, offset: 0 }, dest: { dom: m.dom0.domid, frame: mine, offset: 0 }, len: i % 3 === 0 ? 5000 : 8 }));
    let got: Array<{ status: number }> | null = null;
    const before = m.b.counters.grantCopies;
    m.xen.grantCopyBatch(x, m.dom0, ops, (r) => { got = r; });
    expect(got).to.equal(null);
    expect(m.b.counters.grantCopies - before).to.equal(Xen.GNTTAB_PREEMPT_OPS);
    const queued = () => m.dom0.irqQ.filter((t) => t.name === 'gnttab-continuation');
    expect(queued()).to.have.length(1);
    for (let i = 0; i < 2; i++) { const t = queued()[0]; m.dom0.irqQ.splice(m.dom0.irqQ.indexOf(t), 1); t.run(x); }
    expect(queued()).to.have.length(0);
    expect(m.b.counters.grantCopies - before).to.equal(n);
    expect(got!.map((r) => r.status)).to.deep.equal(ops.map((o) => (o.len > 4096 ? GNTST.bad_copy_arg : GNTST.okay)));
  });

  it('memory hypercalls with nothing to do are not made', () => {
    const m = machine();
    const x = m.exec(m.dom0);
    const h = m.b.counters.hypercalls;
    m.xen.mmuUpdate(x, 0);
    m.xen.decreaseReservation(x, m.dom0, []);
    expect(m.xen.increaseReservation(x, m.dom0, 0)).to.deep.equal([]);
    expect(m.b.counters.hypercalls).to.equal(h);
    m.xen.mmuUpdate(x, 3);
    expect(m.b.counters.mmuUpdates).to.be.at.least(3);
    const fresh = m.xen.increaseReservation(x, m.dom0, 2);
    expect(fresh).to.have.length(2);
    for (const f of fresh) expect(m.b.mem.ownerOf(f)).to.equal(m.dom0.domid);
    m.xen.decreaseReservation(x, m.dom0, fresh);
    for (const f of fresh) expect(m.b.mem.ownerOf(f)).to.equal(undefined);
    expect(m.b.counters.hypercalls).to.equal(h + 3);
  });

  it('set_version goes through to the grant table', () => {
    const m = machine();
    expect(m.xen.grantSetVersion(m.exec(m.g1), m.g1, 3)).to.equal(-22);
    expect(m.xen.grantSetVersion(m.exec(m.g1), m.g1, 1)).to.equal(0);
  });
});

describe('Xen (mutation): domain lifecycle control operations', () => {
  it('pause nests; unpause drops one pause at a time; dom0 and unknown domains are refused', () => {
    const m = machine(); // built, not booted: every guest still holds its creation pause
    const g = m.g1.domid;
    expect(m.xen.pauseDomain(0)).to.equal(-22);
    expect(m.xen.unpauseDomain(0)).to.equal(-22);
    expect(m.xen.pauseDomain(99)).to.equal(-3);
    expect(m.xen.unpauseDomain(99)).to.equal(-3);
    expect(m.xen.pauseDomain(g)).to.equal(0);
    expect(m.xen.unpauseDomain(g)).to.equal(0);
    expect(m.xen.unpauseDomain(g)).to.equal(0); // the creation pause
    expect(m.xen.unpauseDomain(g)).to.equal(-22); // not paused any more
    expect(m.xen.pauseDomain(g)).to.equal(0);
    expect(m.xen.unpauseDomain(g)).to.equal(0);
  });

  it('destroy closes the domain\'s ports (peers revert to unbound), drops its queued work, and refuses everything after', () => {
    const m = machine();
    const g = m.g2;
    g.evtchn.upcallPending = true;
    g.post({ name: 'pending-work', run: () => {} }, 'irq');
    expect(m.xen.destroyDomain(0)).to.equal(-22);
    expect(m.xen.destroyDomain(99)).to.equal(-3);
    expect(m.xen.destroyDomain(g.domid)).to.equal(0);
    expect(g.evtchn.ports.every((p) => p.closed)).to.equal(true);
    expect(g.evtchn.upcallPending).to.equal(false);
    expect(g.irqQ).to.have.length(0);
    m.b.sys.sched.run(m.b.sys.sched.now);
    expect(m.b.sys.entry(`evtchn-${m.vif(g).nb.name}`).actor.getSnapshot().value).to.equal('unbound');
    expect(m.b.sys.entry(`evtchn-${m.vif(m.g1).nb.name}`).actor.getSnapshot().value).to.equal('interdomain');
    expect(m.xen.destroyDomain(g.domid)).to.equal(-3);
    expect(m.xen.pauseDomain(g.domid)).to.equal(-3);
    expect(m.xen.unpauseDomain(g.domid)).to.equal(-3);
  });

  it('destroy releases the grant mappings the dying domain holds on others\' grants', () => {
    const m = machine();
    const x = m.exec(m.g2);
    const gt = m.xen.grantTables.get(m.g1.domid)!;
    gt.grantAccess(200, m.g2.domid, m.g1.allocFrame(), false);
    const r = m.xen.grantMap(x, m.g2, [{ dom: m.g1.domid, ref: 200, readonly: false }]);
    expect(r[0].status).to.equal(GNTST.okay);
    expect(m.xen.grants.activeMappings(m.g2.domid)).to.equal(1);
    m.xen.destroyDomain(m.g2.domid);
    expect(m.xen.grants.activeMappings(m.g2.domid)).to.equal(0);
    expect(gt.pinCount(200)).to.equal(0);
  });
});

describe('Xen (mutation): the domain scheduler in a short run', () => {
  it('every domain with work gets the CPU, each switch is a context switch with a TLB flush, and a paused guest gets none', function () {
    this.timeout(30_000);
    const m = machine();
    m.b.start();
    const cycles = (name: string) => m.b.cpus.reduce((n, c) => n + [...(c.ledger.get(name)?.values() ?? [])].reduce((a, v) => a + v, 0), 0);
    m.b.sys.sched.run(2e9); // 2 ms
    for (const k of m.b.kernels) expect(cycles(k.name), k.name).to.be.greaterThan(0);
    expect(m.b.counters.domainSwitches).to.be.greaterThan(2);
    expect(m.b.counters.tlbFlushes + m.b.cpus.reduce((n, c) => n + c.tlb.stats.flushes + c.tlb.stats.fullFlushes, 0)).to.be.greaterThan(m.b.counters.domainSwitches - 1);
    const pcpu = m.b.sys.entry('cpu0').actor.getSnapshot() as { value: string; context: { switches: number; loaded: string | null } };
    expect(pcpu.context.switches).to.equal(m.b.counters.domainSwitches);
    expect(m.b.kernels.map((k) => k.name)).to.include(pcpu.context.loaded);
    expect(m.xen.pauseDomain(m.g2.domid)).to.equal(0);
    m.b.sys.sched.run(2.5e9);
    const c2 = cycles(m.g2.name);
    m.b.sys.sched.run(5e9);
    expect(cycles(m.g2.name)).to.equal(c2);
    expect(cycles(m.g1.name)).to.be.greaterThan(0);
    expect(m.xen.unpauseDomain(m.g2.domid)).to.equal(0);
    m.b.sys.sched.run(7e9);
    expect(cycles(m.g2.name)).to.be.greaterThan(c2);
  });
});

describe('Xen (mutation): the cache refill after a domain switch varies by the scenario\'s cacheRefillPct', () => {
  /** Cycles charged as cacheRefillPerSwitch over a 2 ms run, and the switches that paid them. */
  function refill(pct: number) {
    const sc = loadScenario(join('scenarios', 'guest-tx.yaml'));
    sc.variability.cacheRefillPct = pct;
    const b = build(sc);
    b.start();
    b.sys.sched.run(2e9);
    const charged = b.cpus.reduce((n, c) => n + [...c.ledger.values()].reduce((a, m) => a + (m.get('cacheRefillPerSwitch') ?? 0), 0), 0);
    return { charged, switches: b.counters.domainSwitches, cost: b.costs.cacheRefillPerSwitch };
  }
  it('exactly the table value per switch without variation; within +-pct of it, not constant, around it on average with', function () {
    this.timeout(30_000);
    const flat = refill(0);
    expect(flat.switches).to.be.greaterThan(10);
    // Equal up to floating-point summation order (the calibrated row is not a whole number of cycles).
    expect(flat.charged).to.be.closeTo(flat.switches * flat.cost, 1e-9 * flat.charged);
    const v = refill(10);
    const mean = v.charged / v.switches;
    expect(mean).to.not.equal(v.cost);
    expect(mean).to.be.within(0.95 * v.cost, 1.05 * v.cost); // a uniform +-10% factor averages out
    const wide = refill(100);
    expect(wide.charged / wide.switches).to.be.within(0.7 * wide.cost, 1.3 * wide.cost);
    expect(wide.charged / wide.switches).to.not.equal(mean);
  });
});
