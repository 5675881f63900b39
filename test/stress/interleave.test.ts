import { expect } from 'chai';
import { BackRing, FrontRing, u32 } from '../../src/channels/ring.js';
import { PortTable, type Port } from '../../src/hypervisor/event-channel.js';
import { interleaveCampaign, realDeps, runInterleaveCase, sampleInterleaveCase, type InterleaveDeps } from '../../src/stress/interleave.js';

// Lost-wakeup mutants, as test doubles through the harness's own interfaces. Each keeps the real
// method's shared-memory accesses (and so its access points) and drops only the step that closes the race.

/** RING_FINAL_CHECK_FOR_RESPONSES that re-arms rsp_event but does not look at rsp_prod again. */
class NoRecheckFront<Q, S> extends FrontRing<Q, S> {
  override finalCheckForResponses(): boolean {
    if (this.unconsumedResponses() > 0) return true;
    this.sring.onAccess?.();
    this.sring.rspEvent = u32(this.rspCons + 1);
    return false;
  }
}
/** RING_FINAL_CHECK_FOR_REQUESTS with the same omission on the backend side. */
class NoRecheckBack<Q, S> extends BackRing<Q, S> {
  override finalCheckForRequests(): boolean {
    if (this.unconsumedRequests() > 0) return true;
    this.sring.onAccess?.();
    this.sring.reqEvent = u32(this.reqCons + 1);
    return false;
  }
}
/** evtchn_unmask that clears the mask bit but does not re-raise an event that became pending while masked. */
class ForgetfulUnmask extends PortTable {
  override unmask(p: Port): void {
    this.onAccess?.();
    p.masked = false;
    this.onAccess?.();
  }
}

const MUTANTS: Record<string, InterleaveDeps> = {
  "the frontend's final check for responses": { ...realDeps, frontRing: (s) => new NoRecheckFront(s) },
  "the backend's final check for requests": { ...realDeps, backRing: (s) => new NoRecheckBack(s) },
  'event-channel unmask': { ...realDeps, portTable: (kick) => new ForgetfulUnmask(kick) },
};

/** The campaign `xennet stress --interleave --runs N` runs. */
const CAMPAIGN = 5000;

describe('interleaving mode: PCT over the notification protocol at shared-memory access points', function () {
  this.timeout(120_000);

  it('the real ring and event channels lose no wakeup in a whole campaign, under real preemption', () => {
    let preemptions = 0, nested = 0;
    const bad: string[] = [];
    for (const r of interleaveCampaign(1, CAMPAIGN)) {
      preemptions += r.result.preemptions;
      if (r.result.schedule.includes('>')) nested++;
      if (!r.result.ok) bad.push(`case ${r.index}: ${r.result.failures.join('; ')}`);
    }
    expect(bad, bad.join('\n')).to.deep.equal([]);
    // The exploration is real: a large share of cases run one thread's section inside another's.
    expect(nested).to.be.greaterThan(CAMPAIGN / 4);
    expect(preemptions).to.be.greaterThan(CAMPAIGN);
  });

  for (const [what, deps] of Object.entries(MUTANTS)) {
    it(`finds a lost wakeup in ${what} without the re-check, by the campaign alone`, () => {
      let found: { index: number; failures: string[] } | null = null;
      for (const r of interleaveCampaign(1, CAMPAIGN, deps)) if (!r.result.ok) { found = { index: r.index, failures: r.result.failures }; break; }
      expect(found, `${what}: no case of ${CAMPAIGN} failed`).to.not.equal(null);
      expect(found!.failures.join('\n')).to.match(/lost wakeup/);
      // It takes a preemption: with equal priorities nothing preempts (each section runs whole, as in
      // a normal run of the emulator), and the same case passes.
      const { c, seed } = sampleInterleaveCase(1, found!.index);
      const atomic = runInterleaveCase(c, seed, deps, { prios: [1, 1, 1], changes: [] });
      expect(atomic.preemptions).to.equal(0);
      expect(atomic.ok).to.equal(true);
    });
  }

  it('a case is a function of (seed, index): same schedule and result', () => {
    for (const i of [0, 17, 531]) {
      const a = sampleInterleaveCase(9, i), b = sampleInterleaveCase(9, i);
      expect(a).to.deep.equal(b);
      expect(runInterleaveCase(a.c, a.seed)).to.deep.equal(runInterleaveCase(b.c, b.seed));
    }
  });

});
