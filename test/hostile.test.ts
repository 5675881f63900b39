import { expect } from 'chai';
import { BEHAVIOURS } from '../src/hostile/behaviours.js';
import type { CaseScenario } from '../src/stress/case.js';
import { runCase } from '../src/stress/run.js';

/**
 * Every behaviour of the catalogue, every variant, next to honest guests on the same driver domain:
 * the behaviour's own expectations (what Linux netback / Xen do with it), the invariants I1-I12 and
 * the honest guests' progress (src/stress/run.ts) must all hold. The configuration rotates with the
 * variant so that both directions and the three receive paths (flip, copy by mapping, grant copy)
 * and both transmit paths (map, no-remap) are covered.
 */
function scenario(behaviour: string, variant: number): CaseScenario {
  const k = variant + Number(behaviour.slice(1));
  return {
    name: `${behaviour}-${variant}`,
    topology: 'guest',
    direction: k % 2 ? 'rx' : 'tx',
    seed: 1 + variant,
    run: { durationMs: 3, warmupMs: 2 },
    machine: { cpus: 1, nics: 2, vifRingSize: k % 3 ? 256 : 64, memoryMiB: 2048, nic: { ringSize: 256, csumOffload: true, tso: true, sg: true } },
    guests: 3,
    optimizations: { vnicOffload: k % 4 < 2, txNoRemap: k % 5 === 1, rxCopy: k % 3 !== 0, rxCopyVia: k % 2 ? 'gnttab' : 'map', superpages: false, globalPages: false },
    tcp: { mss: 1448, sndBufKiB: 64, rcvBufKiB: 64, appChunkKiB: 16 },
    netback: { rxDrainMs: 1, rxStallMs: 2, rxPollMs: 0.5, lateEoiTickUs: 500 },
    faults: [],
    hostile: [{ guest: 2, vif: 0, behaviour, variant, startUs: 300, periodUs: 200 }],
  };
}

describe('hostile guests H1-H26 (docs/protocol.md 5.2)', function () {
  this.timeout(120_000);
  for (const b of BEHAVIOURS) {
    it(`${b.id} ${b.title} (${b.variants} variant${b.variants > 1 ? 's' : ''}; ${b.invariants}): contained, honest guests progress`, () => {
      const bad: string[] = [];
      for (let v = 0; v < b.variants; v++) {
        const r = runCase(scenario(b.id, v));
        if (!r.ok) bad.push(`variant ${v}: ${r.failures.join('; ')}`);
      }
      expect(bad, bad.join('\n')).to.deep.equal([]);
    });
  }
});
