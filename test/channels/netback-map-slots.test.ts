/**
 * Where netback's grant mappings live in the driver domain's address space (issue 26). A mapped
 * guest page is read at its pending slot's address (MMAP_VADDR(pending_idx), one area per pending
 * ring) or at a receive pass's own area, never at an address derived from the grant handle: two
 * live mappings must never share a TLB entry, however many are live and however the handles run.
 */
import { expect } from 'chai';
import { fileURLToPath } from 'node:url';
import { loadScenario, type Scenario } from '../../src/scenario/schema.js';
import type { Built } from '../../src/scenario/build.js';
import { type CaseResult } from '../../src/stress/run.js';
import { runWrapped } from '../support/wrapped-case.js';
import { MAX_PENDING_REQS } from '../../src/channels/netif.js';
import { GNTMAP, type GrantOps } from '../../src/hypervisor/grant-table.js';

const fixture = (name: string) => loadScenario(fileURLToPath(new URL(`../../../test/fixtures/stress/${name}.yaml`, import.meta.url)));

/**
 * Run `sc` with dom0's grant operations observed (a wrapper around the GrantOps the hypervisor
 * uses): whether two of dom0's live mappings ever had handles equal modulo 256 (the slot a
 * handle-derived address `handle & 255` would have given both), and the most live at once.
 */
function observeMappings(sc: Scenario): { handleAliases: number; highWater: number; result: CaseResult } {
  let grants: GrantOps | null = null;
  const live = new Map<number, number>(); // handle & 255 -> dom0's live host mappings with that low byte
  const hostMapped = new Set<number>();
  let handleAliases = 0;
  const observe = (b: Built) => {
    const g = grants = b.xen!.grants;
    const map = g.map.bind(g), unmap = g.unmap.bind(g);
    g.map = (caller, op) => {
      const r = map(caller, op);
      if (caller === 0 && r.handle !== undefined && op.flags & GNTMAP.host_map) {
        const n = live.get(r.handle & 255) ?? 0;
        if (n > 0) handleAliases++;
        live.set(r.handle & 255, n + 1);
        hostMapped.add(r.handle);
      }
      return r;
    };
    g.unmap = (caller, handle) => {
      if (caller === 0 && hostMapped.delete(handle)) live.set(handle & 255, live.get(handle & 255)! - 1);
      return unmap(caller, handle);
    };
  };
  // Every stress check, with the case replayed for determinism (the replay is observed too).
  const result = runWrapped(sc, observe, { replay: true });
  return { handleAliases, highWater: grants!.maptrackHighWater(0), result };
}

describe('netback: grant mappings live at their pending slot\'s address (issue 26)', function () {
  this.timeout(120_000);

  // The three cases fresh stress seeds found (shrunk): guest transmit with data mapped into dom0,
  // per-vif pending rings, 11-15 guests. Before the fix each hit a stale translation in dom0.
  for (const name of ['seed-4242-case-1744-shrunk', 'seed-9001-case-2613-shrunk', 'seed-31337-case-3429-shrunk']) {
    it(`${name}: live mappings whose handles share a low byte do not share a TLB entry`, () => {
      const sc = fixture(name);
      // The trigger: dom0 held two host mappings at once whose handles agree modulo 256.
      const { handleAliases, result } = observeMappings(sc);
      expect(handleAliases, 'live mappings with the same handle & 255').to.be.greaterThan(0);
      // The outcome: no stale translation, and every other invariant holds.
      expect(result.violations['stale-translation'] ?? 0).to.equal(0);
      expect(result.failures, result.failures.join('\n')).to.deep.equal([]);
    });
  }

  it('more mappings live at once than a pending ring holds: no stale translation, every invariant holds', () => {
    const sc = fixture('seed-31337-case-3429-shrunk');
    // Fewer guests and no rate limit, the same per-vif rings: the trigger is checked, not assumed.
    const wide: Scenario = { ...sc, netback: { ...sc.netback, rateLimits: [] } };
    const { highWater, result } = observeMappings(wide);
    expect(highWater, 'dom0 mappings live at once').to.be.greaterThan(MAX_PENDING_REQS);
    expect(result.violations['stale-translation'] ?? 0).to.equal(0);
    expect(result.failures, result.failures.join('\n')).to.deep.equal([]);
  });
});
