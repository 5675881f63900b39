/**
 * Lifecycle events (issue 22, part 1): the scenario's `events:` list and its checks, a vif unplugged
 * under load and plugged again (Linux's close order, the release checker, the flow resuming by
 * retransmission with no acknowledged byte lost), and a domain destroyed and one crashed through
 * the toolstack (everything released).
 */
import { expect } from 'chai';
import { parseScenario, ScenarioError, type Scenario, type ScenarioInput } from '../../src/scenario/schema.js';
import { build, type Built } from '../../src/scenario/build.js';
import { PS_PER_MS } from '../../src/actors/scheduler.js';
import { XenbusState } from '../../src/channels/netif.js';
import { scenarioEvents } from '../../src/scenario/lifecycle-host.js';

const base = (events: ScenarioInput['events'], patch: Partial<ScenarioInput> = {}): ScenarioInput => ({
  name: 'lifecycle', topology: 'guest', direction: 'tx', guests: 2, run: { warmupMs: 2, durationMs: 10 }, events, ...patch,
});
const parse = (input: ScenarioInput): Scenario => parseScenario(structuredClone(input), 'test');
const problem = (input: ScenarioInput): string => {
  try { parse(input); } catch (e) { expect(e).to.be.instanceOf(ScenarioError); return (e as Error).message; }
  throw new Error('accepted');
};
const runTo = (b: Built, ms: number) => b.sys.sched.run(Math.round(ms * PS_PER_MS));
const domainState = (b: Built, name: string) => JSON.stringify(b.sys.entry(name).actor.getSnapshot().value);

describe('scenario events: schema', function () {
  this.timeout(30_000);

  it('takes times in ms or with a unit, and resolves targets, default vifs and the toolstack order', () => {
    const sc = parse(base([
      { at: '6ms', attach: 'guest1' },
      { at: 4, detach: 'guest1', vif: 1 },
      { at: '4000us', detach: 'guest2' },
      { at: 0.009e3, destroy: 'guest2' },
    ], { machine: { nics: 4 } }));
    expect(sc.events.map((e) => e.at)).to.deep.equal([6, 4, 4, 9]);
    // By time, then list order; guest 1 has vifs 0 and 1 at boot (4 NICs, 2 guests), so attach takes the free vif 1 again.
    expect(scenarioEvents(sc).map((e) => [e.atMs, e.verb, e.guest, e.vif, e.index])).to.deep.equal([
      [4, 'detach', 1, 1, 1], [4, 'detach', 2, 0, 2], [6, 'attach', 1, 1, 0], [9, 'destroy', 2, null, 3],
    ]);
  });

  it('refuses, naming the event: no verb, two verbs, a guest or vif that does not exist then, a time after the run, anything after a destroy', () => {
    expect(problem(base([{ at: 3 } as never]))).to.match(/events\.0.*no verb/s);
    expect(problem(base([{ at: 3, detach: 'guest1', crash: 'guest1' }]))).to.match(/events\.0.*one verb per event/s);
    expect(problem(base([{ at: 3, detach: 'guest3' }]))).to.match(/events\.0\.detach.*no guest 3/s);
    expect(problem(base([{ at: 3, detach: 'guest1', vif: 2 }]))).to.match(/events\.0\.vif.*has no vif 2/s);
    expect(problem(base([{ at: 3, detach: 'guest1' }, { at: 4, detach: 'guest1' }]))).to.match(/events\.1\.vif.*has no vif 0 at 4 ms/s);
    expect(problem(base([{ at: 3, attach: 'guest1', vif: 0 }]))).to.match(/events\.0\.vif.*already has vif 0/s);
    expect(problem(base([{ at: 12, crash: 'guest1' }]))).to.match(/events\.0\.at.*after the run/s);
    expect(problem(base([{ at: 3, destroy: 'guest1' }, { at: 5, attach: 'guest1' }]))).to.match(/events\.1\.attach.*destroyed/s);
    expect(problem(base([{ at: 3, destroy: 'host1/guest1' }]))).to.match(/no hosts listed/);
    expect(problem(base([{ at: 3, destroy: 'guest1', vif: 0 }]))).to.match(/only for attach and detach/);
    expect(problem(base([{ at: 'soon' as never, destroy: 'guest1' }]))).to.match(/events\.0\.at.*expected a time/s);
    expect(problem({ ...base([{ at: 3, destroy: 'guest1' }]), topology: 'driver', guests: undefined })).to.match(/need topology guest/);
  });
});

describe('scenario events: vif unplug and hot-plug', function () {
  this.timeout(300_000);

  it('a vif unplugged under load closes in Linux\'s order, releases everything, loses nothing acknowledged; plugged again, its flow resumes', () => {
    // One guest, one flow to a peer; unplug at 5 ms while the stream runs, plug again at 8 ms.
    const sc = parse(base([{ at: 5, detach: 'guest1' }, { at: 8, attach: 'guest1' }], { guests: 1, machine: { nics: 1 }, run: { warmupMs: 0, durationMs: 700 } }));
    const b = build(sc);
    const xen = b.xen!;
    const v = b.vifs[0];
    const snd = b.stacks.get(v.guest)!.socks.get(0)!.sender!;
    b.start();
    runTo(b, 5);
    const acked = snd.sndUna;
    expect(acked, 'the flow was under way').to.be.greaterThan(0);
    runTo(b, 7.9);
    // The trigger: the vif was unplugged with packets on its rings or queues (they are lost with it).
    expect(b.counters.drops['vif-unplugged'] ?? 0).to.be.greaterThan(0);
    // Linux's order: the backend Closing (toolstack) -> the frontend Closing, Closed -> the backend Closed.
    expect(v.nf.xenbusStates).to.deep.equal([XenbusState.Initialised, XenbusState.Connected, XenbusState.Closing, XenbusState.Closed]);
    expect(v.nb.transitions.slice(-2)).to.deep.equal([[XenbusState.Connected, XenbusState.Closing], [XenbusState.Closing, XenbusState.Closed]]);
    // Released: the checker found nothing left, and independently: no grant mapping of the guest's, no
    // vif, no open port of the vif, no XenStore directory, no ring page shared.
    const rel = b.lifecycle!.toolstacks[0].released;
    expect(rel.map((r) => [r.what, r.problems])).to.deep.equal([['vif1.0-front', []]]);
    expect(xen.grants.mappingsOn(0, v.guest.domid)).to.equal(0);
    expect(b.vifs).to.deep.equal([]);
    expect([v.ports.front.closed, v.ports.back.closed]).to.deep.equal([true, true]);
    expect(b.xenstore.entries().filter(([k]) => k.startsWith(v.back) || k.startsWith(v.front))).to.deep.equal([]);
    expect(b.ringPages.size).to.equal(0);
    const stalled = b.flowGoodput(0);
    runTo(b, 700);
    // Plugged again through the boot calls: connected, on the bridge, and the flow's retransmissions get through.
    expect(b.vifs.map((q) => [q.nb.name, q.nb.connected])).to.deep.equal([['vif1.0r2', true]]);
    expect(snd.retransmits).to.be.greaterThan(0);
    expect(b.flowGoodput(0)).to.be.greaterThan(stalled);
    // Nothing was lost for good: once the sender stops and the run drains, every byte written (those
    // acknowledged before the unplug among them) reached the receiving application, each checked by its tags.
    b.stopSources();
    runTo(b, 1500);
    expect(b.flowGoodput(0)).to.be.at.least(acked);
    expect([snd.sndUna, b.flowGoodput(0)]).to.deep.equal([snd.written, snd.written]);
    expect(b.streams.mismatches).to.deep.equal([]);
    b.sys.stop();
  });
});

describe('scenario events: destroy and crash', function () {
  this.timeout(120_000);

  it('xl destroy and a guest crash go through the toolstack: backends closed, domains killed, everything released; the other guest goes on', () => {
    const sc = parse(base([{ at: 4, destroy: 'guest1' }, { at: 5, crash: 'guest2' }], { guests: 3, direction: 'rx' }));
    const b = build(sc);
    const states: Record<string, string[]> = {};
    for (const d of ['domU1', 'domU2']) {
      const seen: string[] = states[d] = [];
      b.sys.entry(d).actor.subscribe((s: { value: unknown }) => { const v = JSON.stringify(s.value); if (seen.at(-1) !== v) seen.push(v); });
    }
    b.start();
    runTo(b, 6);
    const g3 = b.flowGoodput(2);
    runTo(b, 12);
    // The trigger: domU2 went through domain_crash (shut down, holding everything) before the toolstack destroyed it.
    expect(states.domU2).to.include.members(['"crashed"', '"dying"', '"dead"']);
    expect(states.domU1).to.not.include('"crashed"');
    expect(states.domU1.slice(-2)).to.deep.equal(['"dying"', '"dead"']);
    const ts = b.lifecycle!.toolstacks[0];
    expect(ts.checkDestroyed().map((r) => [r.what, r.problems])).to.deep.equal([['domU1', []], ['domU2', []]]);
    for (const d of [1, 2]) {
      expect(b.mem.pages(d), `domain ${d} pages`).to.equal(0);
      expect(b.xen!.grantTables.has(d)).to.equal(false);
      expect(b.xenstore.entries().filter(([k]) => k.startsWith(`/local/domain/${d}/`) || k.startsWith(`/local/domain/0/backend/vif/${d}/`))).to.deep.equal([]);
    }
    // Only domU3's vif is left, connected, and its flow still moves.
    expect(b.vifs.map((v) => [v.nb.name, v.nb.connected])).to.deep.equal([['vif3.0', true]]);
    expect(b.flowGoodput(2)).to.be.greaterThan(g3);
    expect(domainState(b, 'domU3')).to.match(/active/);
    b.sys.stop();
  });

  it('a destroy that comes while a vif is being unplugged (at once, or as netback_remove waits) still releases everything', () => {
    for (const later of [0, 0.05, 1]) {
      const sc = parse(base([{ at: 4, detach: 'guest1' }, { at: 4 + later, destroy: 'guest1' }], { guests: 2, machine: { nics: 2 } }));
      const b = build(sc);
      b.start();
      runTo(b, 12);
      const ts = b.lifecycle!.toolstacks[0];
      // The trigger: the detach had begun (the backend went Closing) before the destroy.
      expect(b.lifecycle!.goneVifs.map((v) => v.nb.transitions.some(([a, z]) => a === XenbusState.Connected && z === XenbusState.Closing)), `+${later} ms`).to.include(true);
      expect(ts.checkDestroyed().map((r) => [r.what, r.problems]), `+${later} ms`).to.deep.equal([['domU1', []]]);
      expect(b.vifs.map((v) => v.nb.name), `+${later} ms`).to.deep.equal(['vif2.0']);
      b.sys.stop();
    }
  });
});
