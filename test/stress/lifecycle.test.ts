/**
 * `stress --lifecycle`: cases with vif unplugs and plugs, destroys and crashes pass with the release
 * checker on; and the checks catch the two classes of lifecycle bug when a test double injects them
 * through the system's own interfaces: stale state (a netback that forgets to end one ring mapping
 * on disconnect) and a lost wakeup (a hot-plugged frontend that never posts its receive buffers).
 */
import { expect } from 'chai';
import { sampleCase } from '../../src/stress/case.js';
import { runStressCase } from '../../src/stress/pool.js';
import type { Built } from '../../src/scenario/build.js';
import { stressCase } from '../support/stress-case.js';
import { runWrapped } from '../support/wrapped-case.js';

/** Guest 1 unplugged at 1 ms and plugged again at 1.5 ms, guest 2 destroyed at 2 ms, while both stream. */
const lifecycleCase = (direction: 'tx' | 'rx') => stressCase({
  direction, guests: 2, events: [{ at: 1, detach: 'guest1' }, { at: 1.5, attach: 'guest1', vif: 0 }, { at: 2, destroy: 'guest2' }],
});

describe('stress: lifecycle campaigns', function () {
  this.timeout(300_000);

  it('draws every verb, and its cases pass with the release checker on', () => {
    const verbs = new Set<string>();
    for (let i = 0; i < 12; i++) {
      const r = runStressCase({ base: 3, index: i, hostile: false, lifecycle: true, replay: false, shrink: false });
      expect(r.result.failures, `case ${i}`).to.deep.equal([]);
      for (const e of r.scenario.events ?? []) for (const v of ['attach', 'detach', 'destroy', 'crash']) if (v in e) verbs.add(v);
    }
    expect([...verbs].sort()).to.deep.equal(['attach', 'crash', 'destroy', 'detach']);
    // A campaign without --lifecycle draws no events at all (and so its cases are those of before).
    expect(sampleCase(3, 0, false)).to.not.have.property('events');
  });

  it('a clean unplug, plug and destroy under load pass every check; the trigger happened', () => {
    let b: Built | null = null;
    const r = runWrapped(lifecycleCase('rx'), (built) => { b = built; });
    expect(r.failures).to.deep.equal([]);
    const l = (b as unknown as Built).lifecycle!;
    expect(l.toolstacks[0].released.map((x) => [x.what, x.problems])).to.deep.equal([['vif1.0-front', []]]);
    expect([...l.goneDomains].map((k) => k.name)).to.deep.equal(['domU2']);
  });

  it('stale state: a netback that forgets to end one ring mapping on disconnect is caught by the release checker', () => {
    let skipped = 0;
    const r = runWrapped(lifecycleCase('tx'), (b) => {
      const gops = b.xen!.grants;
      const unmap = gops.unmap.bind(gops);
      gops.unmap = (caller, handle) => {
        const nb = b.netbacks.find((n) => !n.connected && n.ringHandles.includes(handle));
        if (nb && skipped === 0) { skipped++; return { status: 0 }; }
        return unmap(caller, handle);
      };
    });
    expect(skipped, 'the fault was injected').to.equal(1);
    expect(r.failures.some((f) => /^release: vif1\.0: grant \d+ still mapped/.test(f)), r.failures.join('\n')).to.equal(true);
  });

  it('lost wakeup: a hot-plugged frontend that never posts its receive buffers is caught (its flow never completes)', () => {
    let plugged = 0;
    const r = runWrapped(lifecycleCase('rx'), (b) => {
      const xl = b.lifecycle!.toolstacks[0];
      const plug = xl.x.plug;
      xl.x.plug = (guest, vif, instance) => {
        const v = plug(guest, vif, instance);
        plugged++;
        v.nf.refill = () => {};
        return v;
      };
    });
    expect(plugged, 'the fault was injected').to.equal(1);
    expect(r.failures.some((f) => /progress: flow 0 \(domU1\)|lost wakeup|did not quiesce/.test(f)), r.failures.join('\n')).to.equal(true);
  });

  it('the hostile crash variant (H21/2) goes through domain_crash, and the toolstack destroys the guest and releases everything', () => {
    let b: Built | null = null;
    const states: string[] = [];
    const r = runWrapped(stressCase({
      guests: 2, run: { durationMs: 4, warmupMs: 2 },
      hostile: [{ guest: 1, vif: 0, behaviour: 'H21', variant: 2, startUs: 300, periodUs: 200 }],
    }), (built) => {
      b = built;
      built.sys.entry('domU1').actor.subscribe((st: { value: unknown }) => { const v = JSON.stringify(st.value); if (states.at(-1) !== v) states.push(v); });
    });
    expect(r.failures).to.deep.equal([]);
    expect(r.hostile).to.equal('H21/2');
    const l = (b as unknown as Built).lifecycle!;
    // The trigger: Xen's domain_crash, then the toolstack's destroy.
    expect(states.slice(-3)).to.deep.equal(['"crashed"', '"dying"', '"dead"']);
    expect([...l.goneDomains].map((k) => k.name)).to.deep.equal(['domU1']);
    expect(l.toolstacks[0].checkDestroyed().map((x) => [x.what, x.problems])).to.deep.equal([['domU1', []]]);
  });
});
