/**
 * Save and restore (xl save / xl restore) on one host, and the migrate/save/restore events' checks.
 * A guest receiving a stream is saved (suspended, its image written to dom0's disk, the domain
 * destroyed and released) and restored later as a new domain: the stream resumes and every byte
 * arrives once, in order; the saved domain left nothing behind.
 */
import { expect } from 'chai';
import { parseScenario, ScenarioError, type Scenario, type ScenarioInput } from '../../src/scenario/schema.js';
import { build } from '../../src/scenario/build.js';
import { PS_PER_MS } from '../../src/actors/scheduler.js';
import { stateValue } from '../../src/actors/runtime.js';
import { SAVE_DISK_MBPS } from '../../src/toolstack/migration.js';
import { scenarioEvents } from '../../src/scenario/lifecycle-host.js';

const parse = (input: ScenarioInput): Scenario => parseScenario(structuredClone(input), 'test');
const problem = (input: ScenarioInput): string => {
  try { parse(input); } catch (e) { expect(e).to.be.instanceOf(ScenarioError); return (e as Error).message; }
  throw new Error('accepted');
};
const world = (events: ScenarioInput['events']): ScenarioInput => ({
  name: 'w', topology: 'guest', guests: 1, machine: { nics: 1 }, hosts: { host1: {}, host2: {} }, links: [{ a: 'host1/eth0', b: 'host2/eth0' }],
  flows: [{ from: 'host1/guest1', to: 'host2/guest1' }], run: { warmupMs: 2, durationMs: 100 }, events,
});

describe('save, restore and migrate events: checks', () => {
  it('refuses a migrate without a world, without or to an unknown or the same host; a restore of nothing saved; anything after a migrate', () => {
    expect(problem({ name: 'x', topology: 'guest', direction: 'rx', events: [{ at: 3, migrate: 'guest1', to: 'host2' }] })).to.match(/migrate needs a world/);
    expect(problem(world([{ at: 3, migrate: 'host1/guest1' }]))).to.match(/give the destination host in `to`/);
    expect(problem(world([{ at: 3, migrate: 'host1/guest1', to: 'host9' }]))).to.match(/events\.0\.to.*no host host9/s);
    expect(problem(world([{ at: 3, migrate: 'host1/guest1', to: 'host1' }]))).to.match(/already on host1/);
    expect(problem(world([{ at: 3, save: 'host1/guest1', to: 'host2' }]))).to.match(/only for migrate/);
    expect(problem(world([{ at: 3, restore: 'host1/guest1' }]))).to.match(/was not saved/);
    expect(problem(world([{ at: 3, migrate: 'host1/guest1', to: 'host2' }, { at: 5, destroy: 'host1/guest1' }]))).to.match(/migrated away or saved/);
    expect(() => parse(world([{ at: 3, save: 'host1/guest1' }, { at: 50, restore: 'host1/guest1' }]))).to.not.throw();
  });
  it("checks a migrate's rateLimit, naming the field: only for migrate, positive rates, the start not above the maximum", () => {
    expect(problem(world([{ at: 3, save: 'host1/guest1', rateLimit: {} }]))).to.match(/events\.0\.rateLimit.*only for migrate/s);
    expect(problem(world([{ at: 3, migrate: 'host1/guest1', to: 'host2', rateLimit: { maxMbps: 0 } }]))).to.match(/events\.0\.rateLimit\.maxMbps/);
    expect(problem(world([{ at: 3, migrate: 'host1/guest1', to: 'host2', rateLimit: { startMbps: 600 } }]))).to.match(/events\.0\.rateLimit\.startMbps.*600 Mb\/s is above maxMbps \(500\)/s);
    expect(problem(world([{ at: 3, migrate: 'host1/guest1', to: 'host2', rateLimit: { mbps: 100 } as never }]))).to.match(/events\.0\.rateLimit.*mbps/s);
    const ev = scenarioEvents(parse(world([{ at: 3, migrate: 'host1/guest1', to: 'host2', rateLimit: { maxMbps: 800 } }])));
    expect(ev[0].rateLimit, "the paper's defaults for what is not given").to.deep.equal({ startMbps: 100, maxMbps: 800, incrementMbps: 50 });
    expect(scenarioEvents(parse(world([{ at: 3, migrate: 'host1/guest1', to: 'host2' }])))[0]).to.not.have.property('rateLimit');
  });
});

describe('save and restore on one host', function () {
  this.timeout(300_000);
  const sc = parse({
    name: 'save-restore', topology: 'guest', direction: 'rx', guests: 1, machine: { nics: 1 }, optimizations: { rxCopy: true },
    events: [{ at: '30ms', save: 'guest1' }, { at: '120ms', restore: 'guest1' }], run: { warmupMs: 10, durationMs: 390 },
  });
  const b = build(sc);
  let atSave = 0, atRestore = 0;
  before(() => {
    b.start();
    b.sys.sched.run(30 * PS_PER_MS);
    atSave = b.flowGoodput(0);
    b.sys.sched.run(125 * PS_PER_MS);
    atRestore = b.flowGoodput(0);
    b.sys.sched.run(400 * PS_PER_MS);
  });
  after(() => b.sys.stop());

  it('writes the image (every page, one round, not live), destroys the domain, and restores it as a new one', () => {
    const m = b.migrations![0];
    expect(m.kind).to.equal('save');
    expect(m.rounds).to.equal(1);
    expect(m.stop).to.equal('save');
    expect(m.pagesPerRound[0]).to.be.at.least(1024);
    expect(m.sourceLeft, 'the saved domain left nothing behind').to.deep.equal([]);
    // Paused from the save to the restore, plus the image read back.
    const readBackMs = m.bytesSent / (SAVE_DISK_MBPS * 1e6) * 1000;
    expect(m.downtimeMs!).to.be.closeTo(120 - 30 + readBackMs, 0.5);
    expect(stateValue(b.sys.actors.get('domU1')!.actor)).to.equal('dead');
    expect(stateValue(b.sys.actors.get('domU2')!.actor)).to.not.equal('created');
    expect(stateValue(b.sys.actors.get('migration0')!.actor)).to.equal('done');
  });

  it('the stream stops while the guest is saved and resumes after the restore, every byte once and in order', () => {
    expect(atSave, 'moving before the save').to.be.greaterThan(1_000_000);
    expect(atRestore - atSave, 'nothing while saved (a little of what was read in before)').to.be.lessThan(200_000);
    expect(b.flowGoodput(0) - atRestore, 'after the restore').to.be.greaterThan(5_000_000);
    expect(b.streams.mismatches).to.deep.equal([]);
    expect(b.migrations![0].flows[0].recoveryMs).to.not.equal(null);
  });
});
