/**
 * Xen's domain lifecycle (domctl.ts, after xen/common/domain.c and domctl.c) on a bare host: the
 * domain actor follows pause, unpause and destroy (created -> active <-> paused -> dying -> dead, dead
 * once Xen has relinquished the memory on the domain's CPU); pauses nest (the vCPU comes back when
 * the last one goes, and is woken only if it has work); a dying domain cannot receive a page flip
 * (gnttab_transfer: "Transferee ... is dying", GNTST_general_error, and the page it already stole is freed); a frame is freed only when nothing
 * references it any more (put_page), and one with an extra reference cannot be flipped (steal_page).
 */
import { expect } from 'chai';
import { GNTST } from '../../src/hypervisor/grant-table.js';
import { host, US } from '../support/bare-xen.js';

describe('Xen domain lifecycle (domctl.ts)', () => {
  it('the domain actor goes created -> active -> paused -> active -> dying -> dead; a paused or destroyed vCPU is blocked', () => {
    const m = host([0, 0]);
    const [dom0, g1] = m.ks;
    expect(m.lifecycle(g1)).to.equal('created');
    expect(m.xen.unpauseDomain(g1.domid)).to.equal(0);
    expect(m.lifecycle(g1)).to.equal('active');
    m.work(dom0, 1, 100);
    m.work(g1, 5, 10);
    expect(g1.runState).to.equal('runnable'); // dom0 has the CPU
    expect(m.xen.pauseDomain(g1.domid)).to.equal(0);
    expect(g1.runState).to.equal('blocked');
    expect(m.lifecycle(g1)).to.equal('paused');
    expect(m.xen.unpauseDomain(g1.domid)).to.equal(0);
    expect(m.lifecycle(g1)).to.equal('active');
    expect(g1.runState, 'woken again: it has work').to.equal('runnable');
    expect(m.xen.destroyDomain(g1.domid)).to.equal(0);
    expect(g1.runState).to.equal('blocked');
    expect(m.lifecycle(g1)).to.equal('dying');
    m.run(1000 * US); // dom0's slice ends, then Xen relinquishes g1's memory on CPU 0
    expect(m.lifecycle(g1)).to.equal('dead');
    expect(m.h.mem.framesOf(g1.domid)).to.deep.equal([]);
    expect(m.log.filter(([n]) => n === g1.name)).to.have.length(0);
  });

  it('pauses nest: the vCPU runs again only when the last pause goes, and an unpaused domain without work stays blocked', () => {
    const m = host([0, 0]);
    const [, g1] = m.ks;
    m.xen.unpauseDomain(g1.domid);
    m.xen.pauseDomain(g1.domid);
    m.xen.pauseDomain(g1.domid);
    m.work(g1, 2, 10);
    expect(m.xen.unpauseDomain(g1.domid)).to.equal(0);
    expect(m.lifecycle(g1)).to.equal('paused');
    m.run(100 * US);
    expect(m.log).to.have.length(0);
    expect(g1.runState).to.equal('blocked');
    expect(m.xen.unpauseDomain(g1.domid)).to.equal(0);
    m.run(200 * US);
    expect(m.log.map(([n]) => n)).to.deep.equal([g1.name, g1.name]);
    // Without work, unpausing makes the vCPU eligible but wakes nothing.
    m.xen.pauseDomain(g1.domid);
    m.xen.unpauseDomain(g1.domid);
    expect(g1.runState).to.equal('blocked');
  });

  it('destroy closes every open port, bound to a channel or not, and skips the closed ones', () => {
    const m = host([0, 0]);
    const [, g1] = m.ks;
    m.xen.unpauseDomain(g1.domid);
    const x = m.exec(g1);
    const unbound = m.xen.evtchnAllocUnbound(x, g1, 0);
    const virq = m.xen.evtchnBindVirq(x, g1, 2);
    const closed = m.xen.evtchnAllocUnbound(x, g1, 0);
    expect(m.xen.evtchnClose(x, g1, closed)).to.equal(0);
    expect(m.xen.destroyDomain(g1.domid)).to.equal(0);
    for (const p of [unbound, virq, closed]) expect(g1.evtchn.ports.find((q) => q.port === p)!.closed, `port ${p}`).to.equal(true);
    expect(g1.evtchn.ports.every((q) => q.closed)).to.equal(true);
  });

  it('a page flip to a dying domain is refused (general_error): the frame, already stolen from the caller, is freed, not given', () => {
    const m = host([0, 0, 0]);
    const [dom0, g1, g2] = m.ks;
    for (const g of [g1, g2]) m.xen.unpauseDomain(g.domid);
    const x = m.exec(dom0);
    // g2 offers two transfer slots; dom0 maps one of g2's frames, so g2 stays a zombie after destroy.
    const gt2 = m.xen.grantTables.get(g2.domid)!;
    gt2.grantTransfer(7, dom0.domid, 0);
    gt2.grantTransfer(8, dom0.domid, 0);
    const held = g2.allocFrame();
    gt2.grantAccess(9, dom0.domid, held, false);
    expect(m.xen.grantMap(x, dom0, [{ dom: g2.domid, ref: 9, readonly: false }])[0].status).to.equal(GNTST.okay);
    const f = dom0.allocFrame();
    expect(m.xen.grantTransfer(x, dom0, [{ mfn: f, domid: g2.domid, ref: 7 }])[0].status).to.equal(GNTST.okay);
    expect(m.h.mem.ownerOf(f)).to.equal(g2.domid);
    m.xen.destroyDomain(g2.domid);
    m.run(100 * US);
    expect(m.xen.grantTables.has(g2.domid), 'a zombie: dom0 still maps its frame').to.equal(true);
    const f2 = dom0.allocFrame();
    expect(m.xen.grantTransfer(x, dom0, [{ mfn: f2, domid: g2.domid, ref: 8 }])[0].status).to.equal(GNTST.general_error);
    expect(m.h.mem.ownerOf(f2)).to.equal(undefined); // gnttab_transfer frees a stolen page it cannot hand over
  });

  it('a frame with an extra reference cannot be flipped, and a destroyed domain\'s referenced frame is not freed', () => {
    const m = host([0, 0, 0]);
    const [dom0, g1, g2] = m.ks;
    for (const g of [g1, g2]) m.xen.unpauseDomain(g.domid);
    const x = m.exec(dom0);
    m.xen.grantTables.get(g1.domid)!.grantTransfer(5, dom0.domid, 0);
    const f = dom0.allocFrame();
    m.h.mem.ref(f);
    expect(m.xen.grantTransfer(x, dom0, [{ mfn: f, domid: g1.domid, ref: 5 }])[0].status).to.equal(GNTST.bad_page);
    expect(m.h.mem.ownerOf(f)).to.equal(dom0.domid);
    const kept = g2.allocFrame();
    m.h.mem.ref(kept);
    const others = m.h.mem.framesOf(g2.domid).filter((fr) => fr !== kept);
    m.xen.destroyDomain(g2.domid);
    m.run(100 * US);
    expect(m.h.mem.ownerOf(kept)).to.equal(g2.domid);
    for (const fr of others) expect(m.h.mem.ownerOf(fr)).to.equal(undefined);
  });
});
