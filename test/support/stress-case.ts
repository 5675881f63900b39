/** The stress case the hand-written regression and behaviour tests start from. */
import type { CaseScenario } from '../../src/stress/case.js';

type M = CaseScenario['machine'];
/** Changes to a case: top-level fields replace, nested ones (machine, its NIC, optimizations, tcp, netback) are merged field by field. */
export type CaseChanges = Partial<Omit<CaseScenario, 'machine' | 'optimizations' | 'tcp' | 'netback'>> & {
  machine?: Partial<Omit<M, 'nic'>> & { nic?: Partial<M['nic']> };
  optimizations?: Partial<CaseScenario['optimizations']>;
  tcp?: Partial<CaseScenario['tcp']>;
  netback?: Partial<CaseScenario['netback']>;
};

/**
 * A short case (3 ms, no warm-up) on one CPU and one NIC with every offload: one guest transmits,
 * its vif offloads, receive copies by grant copy, no superpages or global pages, 64 KiB socket buffers,
 * the stress campaign's netback timers; no faults, no adversary.
 */
export function stressCase(c: CaseChanges = {}): CaseScenario {
  const { machine, optimizations, tcp, netback, ...rest } = c;
  const { nic, ...m } = machine ?? {};
  return {
    name: 'case', topology: 'guest', direction: 'tx', seed: 1, run: { durationMs: 3, warmupMs: 0 },
    guests: 1, faults: [], hostile: [], ...rest,
    machine: { cpus: 1, nics: 1, vifRingSize: 256, memoryMiB: 2048, ...m, nic: { ringSize: 256, csumOffload: true, tso: true, sg: true, ...nic } },
    optimizations: { vnicOffload: true, txNoRemap: false, rxCopy: true, rxCopyVia: 'gnttab', superpages: false, globalPages: false, ...optimizations },
    tcp: { mss: 1448, sndBufKiB: 64, rcvBufKiB: 64, appChunkKiB: 16, ...tcp },
    netback: { rxDrainMs: 1, rxStallMs: 2, rxPollMs: 0.5, lateEoiTickUs: 500, ...netback },
  };
}
