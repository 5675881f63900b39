import type { DomId, FrameOwnership, Mfn } from '../../src/hypervisor/grant-table.js';

/**
 * Memory model double for the grant table: one owner per frame (a transfer from a non-owner is a
 * bug and throws), which domains exist and which are at max_pages, and every put_page it is told of.
 */
export class GrantMemory implements FrameOwnership {
  owner = new Map<Mfn, DomId>();
  refs = new Map<Mfn, number>();
  domains = new Set<DomId>();
  atMax = new Set<DomId>();
  unpins: Mfn[] = [];
  ownerOf(m: Mfn) { return this.owner.get(m); }
  refCount(m: Mfn) { return this.refs.get(m) ?? 0; }
  transfer(m: Mfn, from: DomId, to: DomId) {
    if (this.owner.get(m) !== from) throw new Error(`transfer of ${m} from non-owner ${from}`);
    this.owner.set(m, to);
  }
  domainExists(d: DomId) { return this.domains.has(d); }
  belowMaxPages(d: DomId) { return !this.atMax.has(d); }
  unpinned(m: Mfn) { this.unpins.push(m); }
}
