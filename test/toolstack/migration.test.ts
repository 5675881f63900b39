/**
 * The pre-copy loop (migration.ts) on a world of two hosts cabled NIC to NIC: the pages go over a
 * real dom0-to-dom0 TCP stream, and the guest's own network traffic (a stream into it from host 2)
 * dirties its pages through the modelled mechanisms (log-dirty.ts). Here the "resume" unpauses the
 * guest where it is (the destination's side is tested with the scenario's migrate events): what is
 * checked is the rounds, the stop rule and the downtime.
 */
import { expect } from 'chai';
import { parse } from 'yaml';
import { parseScenario } from '../../src/scenario/schema.js';
import { build } from '../../src/scenario/build.js';
import { PS_PER_MS } from '../../src/actors/scheduler.js';
import { LogDirty } from '../../src/hypervisor/log-dirty.js';
import { Migration, STREAM_BYTES_PER_PAGE, SUSPENDED_STATE_BYTES } from '../../src/toolstack/migration.js';
import { migrationMachine } from '../../src/toolstack/migration-machine.js';
import { XC_SAVE_POLICY } from '../../src/toolstack/precopy.js';
import { stateValue } from '../../src/actors/runtime.js';

const WORLD = (mbps: number) => `
name: precopy
topology: guest
guests: 1
machine: { nics: 1, nic: { mbps: ${mbps} } }
hosts: { host1: {}, host2: {} }
links: [{ a: host1/eth0, b: host2/eth0 }]
flows:
  - { from: host1/dom0, to: host2/dom0 }
  - { from: host2/guest1, to: host1/guest1 }
run: { warmupMs: 0, durationMs: 400 }
`;

function precopy(load: boolean, mbps = 1000) {
  const sc = parseScenario(parse(WORLD(mbps)));
  const b = build(sc);
  const k = (n: string) => b.kernels.find((q) => q.name === n)!;
  const src = b.stacks.get(k('host1/dom0'))!, dst = b.stacks.get(k('host2/dom0'))!;
  const guest = k('host1/domU1');
  src.meter(0);
  if (!load) b.stacks.get(k('host2/domU1'))!.meter(1); // no load: guest 2's sender writes nothing
  const actor = b.sys.spawn('host1/migration', 'migration', migrationMachine, { name: 'host1/migration' });
  const log = new LogDirty(b.mem, guest.domid, () => [...b.ringPages].filter(([f]) => b.mem.ownerOf(f) === guest.domid).map(([frame, ring]) => ({ frame, ring })));
  let resumedAt = -1, released = false;
  const m = new Migration({
    sys: b.sys, actor, actorName: 'host1/migration', xen: b.xen!, domid: guest.domid, log, policy: XC_SAVE_POLICY,
    stream: { flow: 0, from: src, to: dst }, diskMBps: 0, rate: null, names: { guest: guest.name, from: 'host1', to: 'host2' },
    flows: [1], goodput: (f) => b.flowGoodput(f),
    resume: (done) => { resumedAt = b.sys.sched.now; b.xen!.unpauseDomain(guest.domid); done(); },
    release: (done) => { released = true; done(); },
  });
  b.start();
  b.sys.sched.run(20 * PS_PER_MS);
  const pages = b.mem.pages(guest.domid);
  m.start();
  b.sys.sched.run(400 * PS_PER_MS);
  m.stop();
  return { b, m, log, actor, resumedAt, released, guest, dst, pages };
}

describe('pre-copy live migration over a dom0-to-dom0 stream (migration.ts)', function () {
  this.timeout(300_000);
  let idle: ReturnType<typeof precopy>, busy: ReturnType<typeof precopy>;
  before(() => { idle = precopy(false); busy = precopy(true); });

  it('round 1 sends every page of the guest; the destination read every byte the rounds sent', () => {
    for (const r of [idle, busy]) {
      const res = r.m.result;
      expect(res.pagesPerRound[0], 'every page it owned').to.equal(r.pages);
      expect(res.pagesSent).to.equal(res.pagesPerRound.reduce((a, c) => a + c, 0));
      expect(r.dst.flowDelivered(0), 'read at the destination dom0').to.equal(res.pagesSent * STREAM_BYTES_PER_PAGE + SUSPENDED_STATE_BYTES);
      expect(res.bytesSent).to.equal(res.pagesSent * STREAM_BYTES_PER_PAGE + SUSPENDED_STATE_BYTES);
      expect(r.b.streams.mismatches).to.deep.equal([]);
      expect(r.resumedAt).to.be.greaterThan(0);
      expect(stateValue(r.actor)).to.equal('done');
      expect(r.log.enabled, 'log-dirty mode off after the last round').to.equal(false);
    }
  });

  it("the guest's traffic dirties its pages: later rounds send what it wrote, and the last round is bigger under load", () => {
    const i = idle.m.result, bz = busy.m.result;
    // The trigger: the busy guest received data during the rounds.
    expect(busy.b.flowGoodput(1)).to.be.greaterThan(1_000_000);
    expect(bz.pagesPerRound.length).to.be.at.least(2);
    expect(bz.pagesPerRound[1], 'round 2: pages its traffic dirtied in round 1').to.be.greaterThan(50);
    expect(i.pagesPerRound.slice(1).every((n) => n < 50), `idle rounds ${i.pagesPerRound}`).to.equal(true);
    expect(bz.pagesPerRound.at(-1)!).to.be.greaterThan(i.pagesPerRound.at(-1)!);
  });

  it('the stop rule ended the busy migration, and downtime grows with the dirtying', () => {
    const i = idle.m.result, bz = busy.m.result;
    expect(i.stop).to.equal('dirty-small');
    expect(['dirty-small', 'no-progress', 'max-iters', 'max-factor']).to.include(bz.stop);
    expect(i.downtimeMs).to.be.greaterThan(0);
    expect(bz.downtimeMs!, `busy ${bz.downtimeMs} ms, idle ${i.downtimeMs} ms`).to.be.greaterThan(i.downtimeMs!);
    expect(bz.totalMs!).to.be.greaterThan(i.totalMs!);
  });
});
