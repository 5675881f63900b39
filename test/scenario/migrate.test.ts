/**
 * Live migration in a world (scenarios/worlds/migrate.yaml): guest 1 of host 1 streams to and from
 * guest 1 of host 3 through a learning switch, and is live-migrated to host 2 at 30 ms. Checked on the
 * mechanism: the migration ran its rounds over the dom0-to-dom0 stream and resumed the guest as a new
 * domain of host 2 with a new vif; the gratuitous ARP moved the guest's MAC to host 2's switch port;
 * both TCP streams carry on and deliver every byte once, in order (the end-to-end data check across
 * hosts); and host 1 holds nothing of the guest after its release.
 */
import { expect } from 'chai';
import { join } from 'node:path';
import { loadScenario } from '../../src/scenario/schema.js';
import { build } from '../../src/scenario/build.js';
import { PS_PER_MS } from '../../src/actors/scheduler.js';
import { stateValue } from '../../src/actors/runtime.js';
import { domainReleased, vifReleased } from '../../src/toolstack/release.js';
import { GARP_FLOW_BASE } from '../../src/scenario/migrate-host.js';

describe('live migration between hosts (scenarios/worlds/migrate.yaml)', function () {
  this.timeout(300_000);
  const sc = loadScenario(join('scenarios', 'worlds', 'migrate.yaml'));
  const b = build(sc);
  const k = (n: string) => b.kernels.find((q) => q.name === n);
  const guestMac = 0x00163e010100; // host1 (01), domain 1, vif 0
  const sw = b.switches![0];
  let pre: { f0: number; f1: number; port: number | undefined };
  let atResume: { f0: number; f1: number };
  let atSuspend: { tx: Array<{ flow: number; seq: number; len: number; data: boolean }>; rx: number };

  /** Frames host 2 put on its cable to the switch after the resume, by flow, in order. */
  const fromHost2: number[] = [];
  before(() => {
    b.sys.wire$.subscribe((w) => { if (w.from === 'host2/eth0' && b.migrations?.[0]?.downtimeMs) fromHost2.push((w.frame as { flow: number }).flow); });
    b.start();
    b.sys.sched.run(29 * PS_PER_MS);
    pre = { f0: b.flowGoodput(0), f1: b.flowGoodput(1), port: sw.fdb.get(guestMac) };
    // Run to the suspension (in 50 us steps: the guest is paused from then on, its frontend unchanged), then to the resume.
    const oldNf = b.vifs.find((v) => v.guest.name === 'host1/domU1')!.nf;
    let t = 29;
    while (b.migrations?.[0]?.stop == null) { t += 0.05; b.sys.sched.run(Math.round(t * PS_PER_MS)); if (t > 400) break; }
    atSuspend = { tx: oldNf.inFlightTx().map((p) => ({ flow: p.flow, seq: p.seq, len: p.len, data: p.kind === 'data' })), rx: oldNf.postedRxFrames().length };
    while (!(b.migrations?.[0]?.downtimeMs)) { t += 1; b.sys.sched.run(Math.round(t * PS_PER_MS)); if (t > 400) break; }
    atResume = { f0: b.flowGoodput(0), f1: b.flowGoodput(1) };
    b.sys.sched.run(600 * PS_PER_MS);
  });
  after(() => b.sys.stop());

  it('ran pre-copy rounds over the stream, stopped by the rule, and resumed the guest as a new domain of host 2', () => {
    const m = b.migrations![0];
    expect(m.kind).to.equal('migrate');
    expect(m.rounds).to.be.at.least(2);
    expect(m.pagesPerRound[0], 'round 1: every page').to.be.at.least(1024);
    expect(m.pagesPerRound[1], "round 2: what the guest's traffic dirtied").to.be.greaterThan(0);
    expect(['dirty-small', 'no-progress', 'max-iters', 'max-factor']).to.include(m.stop);
    expect(m.downtimeMs).to.be.greaterThan(0);
    expect(m.totalMs).to.be.greaterThan(m.downtimeMs!);
    const dst = k('host2/domU2')!;
    expect(dst, 'the destination domain').to.not.equal(undefined);
    expect(stateValue(b.sys.actors.get('host2/domU2')!.actor)).to.not.equal('created');
    const v = b.vifs.find((q) => q.guest === dst)!;
    expect(v.nb.connected, "the new vif's backend connected").to.equal(true);
    expect(v.nf.control.xenbus).to.equal('Connected');
    expect(v.mac, 'the guest kept its MAC').to.equal('00:16:3e:01:01:00');
    expect(stateValue(b.sys.actors.get('host1/migration0')!.actor)).to.equal('done');
  });

  it("the gratuitous ARP is the guest's first frame out of host 2, and moved its MAC from host 1's switch port to host 2's", () => {
    const guestFlows = new Set([0, 1]);
    const first = fromHost2.find((f) => guestFlows.has(f) || f >= GARP_FLOW_BASE);
    expect(first, `frames from host 2 after the resume: ${fromHost2.slice(0, 8)}`).to.equal(GARP_FLOW_BASE + 0);
    expect(pre.port).to.equal(0);
    expect(sw.fdb.get(guestMac)).to.equal(1);
  });

  it('both TCP streams resume after the migration and deliver every byte exactly once, in order', () => {
    // The trigger: both flows were moving before, and the guest was paused in between.
    expect(pre.f0).to.be.greaterThan(100_000);
    expect(pre.f1).to.be.greaterThan(100_000);
    // Resumed: each delivered much more after the resume than it had.
    expect(b.flowGoodput(0) - atResume.f0, 'into the guest').to.be.greaterThan(5_000_000);
    expect(b.flowGoodput(1) - atResume.f1, 'out of the guest').to.be.greaterThan(5_000_000);
    // Every byte handed to an application was the stream's next byte: no loss, duplicate or garbling across the hosts.
    expect(b.streams.mismatches).to.deep.equal([]);
    expect(b.counters.violations['data-integrity'] ?? 0).to.equal(0);
    const flows = b.migrations![0].flows;
    for (const f of flows) expect(f.recoveryMs, `flow ${f.flow} recovered`).to.not.equal(null);
  });

  it("netfront_resume released the old frontend's in-flight buffers (as many as at the suspension); TCP sent their data again, delivered once", () => {
    const m = b.migrations![0];
    // The trigger: the guest was suspended with packets on its old TX ring and buffers posted on its RX ring.
    const data = atSuspend.tx.filter((p) => p.data && p.len > 0);
    expect(data.length, 'data segments in flight at the suspension').to.be.greaterThan(0);
    expect(m.netfrontReleased).to.deep.equal({ tx: atSuspend.tx.length, rx: atSuspend.rx });
    // The new frontend: no grant to a backend it does not hold, no TX id or grant ref lost.
    expect(m.resumeLeft).to.deep.equal([]);
    const nv = b.vifs.find((v) => v.guest.name === 'host2/domU2')!;
    expect(nv.nf.released.tx).to.equal(atSuspend.tx.length);
    // Their bytes reached the receiver after all (sent again), once and in order (the stream check).
    for (const p of data) expect(b.flowGoodput(p.flow), `flow ${p.flow} past seq ${p.seq + p.len}`).to.be.greaterThan(p.seq + p.len);
    expect(b.streams.mismatches).to.deep.equal([]);
  });

  it('host 1 holds nothing of the guest once it released it', () => {
    const m = b.migrations![0];
    expect(m.sourceLeft).to.deep.equal([]);
    const host1 = b.lifecycle!.toolstacks[0].x;
    const g = host1.h.kernels.find((q) => q.name === 'host1/domU1')!;
    expect(host1.h.mem.pages(g.domid), 'pages').to.equal(0);
    expect(host1.h.xen!.isReleased(g.domid)).to.equal(true);
    expect(domainReleased(host1.h, g, host1.dom0)).to.deep.equal([]);
    expect(host1.vifs.some((v) => v.guest === g), 'no vif of it on host 1').to.equal(false);
    // Its vif on host 1: no grant mapped or granted, ring mapping, packet in flight or pending slot, port open, XenStore key.
    const old = b.lifecycle!.goneVifs.filter((v) => v.guest === g);
    expect(old.length).to.equal(1);
    // (What its frontend still listed as in flight or posted was the guest's bookkeeping, in the guest's
    // memory: it went to host 2 in the image, where netfront_resume drops it; host 1's side is checked.)
    expect(vifReleased(host1.h, old[0]).filter((p) => !/frontend holds/.test(p))).to.deep.equal([]);
    expect(old[0].nb.txInflight, 'TX packets in flight in netback').to.equal(0);
  });
});
