import { expect } from 'chai';
import {
  DOMID_INVALID,
  DOMID_SELF,
  GNTMAP,
  GNTPIN_OVERFLOW,
  GNTST,
  GNTTAB_CAS_RETRIES,
  GTF,
  GrantOps,
  GrantTable,
  type DomId,
  type FrameOwnership,
  type Mfn,
} from '../src/hypervisor/grant-table.js';
import { GrantMemory } from './support/grant-memory.js';

/**
 * Grant-table behaviour the first suite left open (found by mutation testing, issue 14): pin
 * counter overflow, the compare-and-swap against a guest rewriting its entry, the per-frame and
 * per-(caller, frame) bookkeeping behind pinned()/mapsFrame(), set_version, release of a dying
 * domain's mappings, and the copy/transfer domain checks (docs/protocol.md 3.3-3.6).
 */

/** The memory model double (test/support/grant-memory.ts). */
const Mem = GrantMemory;
type Mem = GrantMemory;

const BACK = 0;
const GUEST = 1;
const OTHER = 2;
const RW = GNTMAP.host_map;
const RO = GNTMAP.host_map | GNTMAP.readonly;

/** dom0 and two guests with 16-entry tables; domain d owns frames 100*d .. 100*d+9. */
function setup(maxMaptrack = 1024) {
  const mem = new Mem();
  const tables = new Map<DomId, GrantTable>();
  for (const d of [BACK, GUEST, OTHER]) {
    mem.domains.add(d);
    tables.set(d, new GrantTable(d, 16));
    for (let i = 0; i < 10; i++) mem.owner.set(100 * d + i, d);
  }
  const ops = new GrantOps(tables, mem, maxMaptrack);
  return { mem, tables, ops, guest: tables.get(GUEST)!, back: tables.get(BACK)! };
}

/**
 * Turn an entry's flags word into guest-writable memory that a racing guest rewrites: reads return
 * `seq` in order (the last value repeats) until Xen writes the word, after which reads return what
 * was written. `reads()` counts the reads.
 */
function racingFlags(e: { flags: number }, seq: number[]) {
  let i = 0;
  let written: number | undefined;
  let reads = 0;
  Object.defineProperty(e, 'flags', {
    configurable: true,
    get: () => { reads++; return written ?? seq[Math.min(i++, seq.length - 1)]; },
    set: (v: number) => { written = v; },
  });
  return { reads: () => reads };
}

describe('grant table (mutation): table construction and guest-side misuse', () => {
  it('a table has exactly nrEntries invalid entries; a non-positive or fractional size is refused', () => {
    const t = new GrantTable(GUEST, 1);
    expect(t.entries).to.deep.equal([{ flags: GTF.invalid, domid: 0, frame: 0 }]);
    for (const bad of [0, -1, 1.5]) expect(() => new GrantTable(GUEST, bad), String(bad)).to.throw(RangeError);
  });

  it('endTransfer on an entry that is not accept_transfer is a guest bug and throws', () => {
    const { guest } = setup();
    guest.grantAccess(3, BACK, 105, false);
    expect(() => guest.endTransfer(3)).to.throw();
    expect(() => guest.endTransfer(4)).to.throw(); // an invalid entry is not a transfer entry either
  });
});

describe('grant table (mutation): pins and their bookkeeping (3.3)', () => {
  it('a pin counter stops at GNTPIN_OVERFLOW: exactly 0x80 read maps succeed, the next fails, and read pins also block a write map', () => {
    const { ops, guest } = setup();
    guest.grantAccess(1, BACK, 101, false);
    for (let i = 0; i < GNTPIN_OVERFLOW; i++) expect(ops.map(BACK, { dom: GUEST, ref: 1, flags: RO }).status, `pin ${i}`).to.equal(GNTST.okay);
    expect(ops.map(BACK, { dom: GUEST, ref: 1, flags: RO }).status).to.equal(GNTST.general_error);
    expect(ops.map(BACK, { dom: GUEST, ref: 1, flags: RW }).status).to.equal(GNTST.general_error);
    expect(guest.pins(1)).to.deep.equal({ read: GNTPIN_OVERFLOW, write: 0 });
  });

  it('the same for write pins: 0x80 writable maps, then neither kind of map', () => {
    const { ops, guest } = setup();
    guest.grantAccess(1, BACK, 101, false);
    for (let i = 0; i < GNTPIN_OVERFLOW; i++) expect(ops.map(BACK, { dom: GUEST, ref: 1, flags: RW }).status, `pin ${i}`).to.equal(GNTST.okay);
    expect(ops.map(BACK, { dom: GUEST, ref: 1, flags: RW }).status).to.equal(GNTST.general_error);
    expect(ops.map(BACK, { dom: GUEST, ref: 1, flags: RO }).status).to.equal(GNTST.general_error);
    expect(guest.pins(1)).to.deep.equal({ read: 0, write: GNTPIN_OVERFLOW });
  });

  it('pins() and pinnedRefs() report live pins per kind, sorted by ref, and nothing for unpinned refs', () => {
    const { ops, guest } = setup();
    expect(guest.pins(5)).to.deep.equal({ read: 0, write: 0 });
    expect(guest.pinnedRefs()).to.deep.equal([]);
    for (const r of [9, 2, 5]) guest.grantAccess(r, BACK, 100 + r, false);
    const h9 = ops.map(BACK, { dom: GUEST, ref: 9, flags: RW }).handle!;
    ops.map(BACK, { dom: GUEST, ref: 2, flags: RO });
    ops.map(BACK, { dom: GUEST, ref: 5, flags: RO });
    ops.map(BACK, { dom: GUEST, ref: 5, flags: RW });
    expect(guest.pinnedRefs()).to.deep.equal([2, 5, 9]);
    expect(guest.pins(5)).to.deep.equal({ read: 1, write: 1 });
    expect(guest.pinCount(5)).to.equal(2);
    ops.unmap(BACK, h9);
    expect(guest.pinnedRefs()).to.deep.equal([2, 5]);
  });

  it('unmapping a read-only mapping drops a read pin, never a write pin (the writable mapping keeps GTF_writing)', () => {
    const { ops, guest } = setup();
    guest.grantAccess(1, BACK, 101, false);
    const ro = ops.map(BACK, { dom: GUEST, ref: 1, flags: RO }).handle!;
    ops.map(BACK, { dom: GUEST, ref: 1, flags: RW });
    expect(ops.unmap(BACK, ro).status).to.equal(GNTST.okay);
    expect(guest.pins(1)).to.deep.equal({ read: 0, write: 1 });
    expect(guest.entries[1].flags).to.equal(GTF.permit_access | GTF.reading | GTF.writing);
  });

  it('equal numbers of read and write pins left after an unmap still keep the active entry and both flags', () => {
    const { ops, guest } = setup();
    guest.grantAccess(1, BACK, 101, false);
    ops.map(BACK, { dom: GUEST, ref: 1, flags: RO });
    ops.map(BACK, { dom: GUEST, ref: 1, flags: RW });
    const w2 = ops.map(BACK, { dom: GUEST, ref: 1, flags: RW }).handle!;
    ops.unmap(BACK, w2);
    expect(guest.pins(1)).to.deep.equal({ read: 1, write: 1 });
    expect(guest.pinnedRefs()).to.deep.equal([1]);
    expect(guest.entries[1].flags).to.equal(GTF.permit_access | GTF.reading | GTF.writing);
    expect(guest.endAccess(1)).to.equal(false);
  });

  it('pinned(frame) holds while any mapping of the frame is live, and put_page (unpinned) comes once, with the last one', () => {
    const { ops, guest, mem } = setup();
    guest.grantAccess(1, BACK, 101, false);
    guest.grantAccess(2, BACK, 101, true); // the same frame granted twice
    expect(ops.pinned(101)).to.equal(false);
    const a = ops.map(BACK, { dom: GUEST, ref: 1, flags: RW }).handle!;
    const b = ops.map(BACK, { dom: GUEST, ref: 2, flags: RO }).handle!;
    expect(ops.pinned(101)).to.equal(true);
    expect(ops.pinned(102)).to.equal(false);
    ops.unmap(BACK, a);
    expect(ops.pinned(101)).to.equal(true);
    expect(mem.unpins).to.deep.equal([]);
    ops.unmap(BACK, b);
    expect(ops.pinned(101)).to.equal(false);
    expect(mem.unpins).to.deep.equal([101]);
  });

  it('a frame whose last pin went can be transferred; one still pinned cannot', () => {
    const { ops, guest, back, mem } = setup();
    guest.grantAccess(1, BACK, 101, false);
    back.grantTransfer(4, GUEST, 0);
    const h = ops.map(BACK, { dom: GUEST, ref: 1, flags: RO }).handle!;
    expect(ops.transfer(GUEST, { mfn: 101, domid: BACK, ref: 4 }).status).to.equal(GNTST.bad_page);
    ops.unmap(BACK, h);
    guest.endAccess(1);
    expect(ops.transfer(GUEST, { mfn: 101, domid: BACK, ref: 4 }).status).to.equal(GNTST.okay);
    expect(mem.owner.get(101)).to.equal(BACK);
  });

  it('mapsFrame(caller, frame) is per caller and per frame, and counts several mappings of one frame', () => {
    const { ops, guest } = setup();
    guest.grantAccess(1, BACK, 101, false);
    guest.grantAccess(2, BACK, 101, false);
    guest.grantAccess(3, BACK, 103, false);
    guest.grantAccess(4, OTHER, 104, false);
    const a = ops.map(BACK, { dom: GUEST, ref: 1, flags: RW }).handle!;
    const b = ops.map(BACK, { dom: GUEST, ref: 2, flags: RW }).handle!;
    const c = ops.map(BACK, { dom: GUEST, ref: 3, flags: RO }).handle!;
    ops.map(OTHER, { dom: GUEST, ref: 4, flags: RO });
    expect(ops.mapsFrame(BACK, 101)).to.equal(true);
    expect(ops.mapsFrame(BACK, 103)).to.equal(true);
    expect(ops.mapsFrame(BACK, 102)).to.equal(false);
    expect(ops.mapsFrame(BACK, 104)).to.equal(false);
    expect(ops.mapsFrame(OTHER, 104)).to.equal(true);
    expect(ops.mapsFrame(OTHER, 101)).to.equal(false);
    expect(ops.mapsFrame(GUEST, 101)).to.equal(false);
    ops.unmap(BACK, a);
    expect(ops.mapsFrame(BACK, 101)).to.equal(true); // b still maps it
    ops.unmap(BACK, c);
    expect(ops.mapsFrame(BACK, 103)).to.equal(false);
    expect(ops.mapsFrame(BACK, 101)).to.equal(true);
    ops.unmap(BACK, b);
    expect(ops.mapsFrame(BACK, 101)).to.equal(false);
    // Mapped again after all that: counted from one again.
    const d = ops.map(BACK, { dom: GUEST, ref: 1, flags: RW }).handle!;
    expect(ops.mapsFrame(BACK, 101)).to.equal(true);
    ops.unmap(BACK, d);
    expect(ops.mapsFrame(BACK, 101)).to.equal(false);
  });

  it('activeMappings counts per caller (and in total), going down on unmap; mappingsOn counts per (caller, granter)', () => {
    const { ops, guest, tables } = setup();
    const other = tables.get(OTHER)!;
    guest.grantAccess(1, BACK, 101, false);
    guest.grantAccess(2, BACK, 102, false);
    guest.grantAccess(3, OTHER, 103, false);
    other.grantAccess(1, BACK, 201, false);
    const h1 = ops.map(BACK, { dom: GUEST, ref: 1, flags: RW }).handle!;
    ops.map(BACK, { dom: GUEST, ref: 2, flags: RW });
    ops.map(BACK, { dom: OTHER, ref: 1, flags: RW });
    ops.map(OTHER, { dom: GUEST, ref: 3, flags: RW });
    expect(ops.activeMappings()).to.equal(4);
    expect(ops.activeMappings(BACK)).to.equal(3);
    expect(ops.activeMappings(OTHER)).to.equal(1);
    expect(ops.activeMappings(GUEST)).to.equal(0);
    expect(ops.mappingsOn(BACK, GUEST)).to.equal(2);
    expect(ops.mappingsOn(BACK, OTHER)).to.equal(1);
    expect(ops.mappingsOn(OTHER, GUEST)).to.equal(1);
    expect(ops.mappingsOn(OTHER, BACK)).to.equal(0);
    expect(ops.mappingsOn(GUEST, BACK)).to.equal(0);
    ops.unmap(BACK, h1);
    expect(ops.activeMappings(BACK)).to.equal(2);
    expect(ops.activeMappings()).to.equal(3);
    expect(ops.mappingsOn(BACK, GUEST)).to.equal(1);
  });

  it('handles are distinct while live, and a freed maptrack entry makes room under the limit again', () => {
    const { ops, guest } = setup(2);
    for (const r of [1, 2, 3]) guest.grantAccess(r, BACK, 100 + r, false);
    const a = ops.map(BACK, { dom: GUEST, ref: 1, flags: RW });
    const b = ops.map(BACK, { dom: GUEST, ref: 2, flags: RW });
    expect(a.handle).to.not.equal(b.handle);
    expect(ops.map(BACK, { dom: GUEST, ref: 3, flags: RW }).status).to.equal(GNTST.no_space);
    ops.unmap(BACK, a.handle!);
    const c = ops.map(BACK, { dom: GUEST, ref: 3, flags: RW });
    expect(c.status).to.equal(GNTST.okay);
    expect(c.handle).to.not.equal(b.handle);
    expect(ops.unmap(BACK, a.handle!).status).to.equal(GNTST.bad_handle); // the freed handle is not c's
  });

  it('a mapper without a grant table of its own is limited by the global maptrack limit only', () => {
    const { ops, guest } = setup(2);
    const STRANGER = 7; // maps others' grants, grants nothing itself
    guest.grantAccess(1, STRANGER, 101, false);
    guest.grantAccess(2, STRANGER, 102, false);
    guest.grantAccess(3, STRANGER, 103, false);
    expect(ops.map(STRANGER, { dom: GUEST, ref: 1, flags: RW }).status).to.equal(GNTST.okay);
    expect(ops.map(STRANGER, { dom: GUEST, ref: 2, flags: RW }).status).to.equal(GNTST.okay);
    expect(ops.map(STRANGER, { dom: GUEST, ref: 3, flags: RW }).status).to.equal(GNTST.no_space);
  });

  it("unmapping after the granter's table was torn down (or replaced by a new domain's) succeeds and touches nothing", () => {
    const { ops, guest, tables, mem } = setup();
    guest.grantAccess(1, BACK, 101, false);
    guest.grantAccess(2, BACK, 102, false);
    const a = ops.map(BACK, { dom: GUEST, ref: 1, flags: RW }).handle!;
    const b = ops.map(BACK, { dom: GUEST, ref: 2, flags: RW }).handle!;
    tables.delete(GUEST);
    expect(ops.unmap(BACK, a).status).to.equal(GNTST.okay);
    const fresh = new GrantTable(GUEST, 16);
    tables.set(GUEST, fresh);
    expect(ops.unmap(BACK, b).status).to.equal(GNTST.okay);
    expect(fresh.entries[2].flags).to.equal(GTF.invalid);
    expect(ops.activeMappings(BACK)).to.equal(0);
    expect(mem.unpins).to.deep.equal([101, 102]);
  });
});

describe('grant table (mutation): the compare-and-swap on the guest-writable entry (3.3, XSA-155)', () => {
  it('an entry the guest turns read-only between Xen\'s read and its compare is re-validated: no writable map', () => {
    const { ops, guest } = setup();
    guest.grantAccess(1, BACK, 101, false);
    racingFlags(guest.entries[1], [GTF.permit_access, GTF.permit_access | GTF.readonly]);
    expect(ops.map(BACK, { dom: GUEST, ref: 1, flags: RW }).status).to.equal(GNTST.general_error);
    expect(guest.pinCount(1)).to.equal(0);
  });

  it(`an entry rewritten up to ${GNTTAB_CAS_RETRIES} times (each value valid) still maps, with the last value's pin flags; one more rewrite is "unstable"`, () => {
    const PA = GTF.permit_access;
    const PR = GTF.permit_access | GTF.readonly;
    // k rewrites: k + 1 distinct successive values, then the last one stays.
    const seq = (k: number) => Array.from({ length: k + 1 }, (_, i) => (i % 2 ? PR : PA));
    {
      const { ops, guest } = setup();
      guest.grantAccess(1, BACK, 101, false);
      racingFlags(guest.entries[1], seq(GNTTAB_CAS_RETRIES));
      const r = ops.map(BACK, { dom: GUEST, ref: 1, flags: RO });
      expect(r.status).to.equal(GNTST.okay);
      expect(r.frame).to.equal(101);
      // The pin flags are set on the value that was validated (seq's last: PA, since 4 is even).
      expect(guest.entries[1].flags).to.equal(PA | GTF.reading);
    }
    {
      const { ops, guest } = setup();
      guest.grantAccess(1, BACK, 101, false);
      const probe = racingFlags(guest.entries[1], seq(GNTTAB_CAS_RETRIES + 1));
      expect(ops.map(BACK, { dom: GUEST, ref: 1, flags: RO }).status).to.equal(GNTST.general_error);
      expect(guest.pinCount(1)).to.equal(0);
      // One read to validate, then one per compare: the first and GNTTAB_CAS_RETRIES more.
      expect(probe.reads()).to.equal(2 + GNTTAB_CAS_RETRIES);
    }
  });

  it('a transfer entry the guest reclaims between Xen\'s read and its compare fails, and the sender loses the page', () => {
    const { ops, back, mem } = setup();
    back.grantTransfer(4, GUEST, 0);
    racingFlags(back.entries[4], [GTF.accept_transfer, GTF.invalid]);
    expect(ops.transfer(GUEST, { mfn: 105, domid: BACK, ref: 4 }).status).to.equal(GNTST.general_error);
    expect(mem.owner.get(105)).to.equal(DOMID_INVALID);
    expect(back.entries[4].flags).to.equal(GTF.invalid); // not committed over the reclaimed entry
  });
});

describe('grant table (mutation): copy and transfer domain checks (3.4, 3.5)', () => {
  it('a raw-frame side needs only the domain to exist; a grant side needs the domain to have a grant table', () => {
    const { ops, guest, tables } = setup();
    guest.grantAccess(1, BACK, 101, false);
    tables.delete(BACK); // dom0 exists but has no grant table of its own
    const ok = ops.copy(BACK, { source: { dom: GUEST, ref: 1, offset: 0 }, dest: { dom: DOMID_SELF, frame: 3, offset: 0 }, len: 64 });
    expect(ok).to.deep.equal({ status: GNTST.okay, srcFrame: 101, destFrame: 3 });
    // The raw side's domain must exist; the grant side's domain is found through its table.
    const { ops: ops2, guest: g2, mem: m2 } = setup();
    g2.grantAccess(1, BACK, 101, false);
    m2.domains.delete(BACK);
    expect(ops2.copy(BACK, { source: { dom: GUEST, ref: 1, offset: 0 }, dest: { dom: BACK, frame: 3, offset: 0 }, len: 64 }).status).to.equal(GNTST.bad_domain);
    m2.domains.add(BACK);
    m2.domains.delete(GUEST);
    expect(ops2.copy(BACK, { source: { dom: GUEST, ref: 1, offset: 0 }, dest: { dom: BACK, frame: 3, offset: 0 }, len: 64 }).status).to.equal(GNTST.okay);
  });

  it('a grant of a frame the granter owns is still refused for copy when it is not permit_access for the caller', () => {
    const { ops, guest } = setup();
    guest.grantAccess(1, OTHER, 101, false); // for someone else
    guest.grantTransfer(2, BACK, 102); // a transfer offer, not an access grant
    guest.entries[2].frame = 102;
    for (const ref of [1, 2]) {
      expect(ops.copy(BACK, { source: { dom: GUEST, ref, offset: 0 }, dest: { dom: BACK, frame: 3, offset: 0 }, len: 8 }).status, `ref ${ref}`).to.equal(GNTST.general_error);
    }
  });

  it('the caller may copy through a grant it has mapped itself (its own pin is no obstacle)', () => {
    const { ops, guest } = setup();
    guest.grantAccess(1, BACK, 101, false);
    expect(ops.map(BACK, { dom: GUEST, ref: 1, flags: RW }).status).to.equal(GNTST.okay);
    const r = ops.copy(BACK, { source: { dom: BACK, frame: 3, offset: 0 }, dest: { dom: GUEST, ref: 1, offset: 100 }, len: 100 });
    expect(r).to.deep.equal({ status: GNTST.okay, srcFrame: 3, destFrame: 101 });
  });

  it('transfer to a recipient that has a grant table but no longer exists, or exists without a table, is bad_domain', () => {
    {
      const { ops, back, mem } = setup();
      back.grantTransfer(4, GUEST, 0);
      mem.domains.delete(BACK);
      expect(ops.transfer(GUEST, { mfn: 105, domid: BACK, ref: 4 }).status).to.equal(GNTST.bad_domain);
      expect(mem.owner.get(105)).to.equal(DOMID_INVALID);
    }
    {
      const { ops, tables, mem } = setup();
      tables.delete(BACK);
      expect(ops.transfer(GUEST, { mfn: 106, domid: BACK, ref: 4 }).status).to.equal(GNTST.bad_domain);
      expect(mem.owner.get(106)).to.equal(DOMID_INVALID);
    }
  });
});

describe('grant table (mutation): set_version and release of a dying domain\'s mappings', () => {
  it('set_version: -ESRCH without a table, -EINVAL for versions other than 1 and 2, 0 for the current one, -EBUSY while pinned or mapping, else -EOPNOTSUPP', () => {
    const { ops, guest, back } = setup();
    expect(ops.setVersion(42, 1)).to.equal(-3);
    for (const v of [0, 3, -1]) expect(ops.setVersion(GUEST, v), `v${v}`).to.equal(-22);
    expect(ops.setVersion(GUEST, 1)).to.equal(0);
    expect(ops.setVersion(GUEST, 2)).to.equal(-95); // nothing pinned, nothing mapped
    guest.grantAccess(1, BACK, 101, false);
    const h = ops.map(BACK, { dom: GUEST, ref: 1, flags: RW }).handle!;
    expect(ops.setVersion(GUEST, 2)).to.equal(-16); // its grant is pinned by BACK
    expect(ops.setVersion(BACK, 2)).to.equal(-16); // BACK holds a mapping
    expect(ops.setVersion(OTHER, 2)).to.equal(-95);
    ops.unmap(BACK, h);
    expect(ops.setVersion(GUEST, 2)).to.equal(-95);
    expect(ops.setVersion(BACK, 2)).to.equal(-95);
    expect(back.version).to.equal(1);
  });

  it("releaseMappings undoes exactly the dying domain's own mappings and says how many", () => {
    const { ops, guest, tables, mem } = setup();
    const other = tables.get(OTHER)!;
    guest.grantAccess(1, BACK, 101, false);
    guest.grantAccess(2, BACK, 102, true);
    guest.grantAccess(3, OTHER, 103, false);
    other.grantAccess(1, BACK, 201, false);
    ops.map(BACK, { dom: GUEST, ref: 1, flags: RW });
    ops.map(BACK, { dom: GUEST, ref: 2, flags: RO });
    ops.map(BACK, { dom: OTHER, ref: 1, flags: RW });
    const keep = ops.map(OTHER, { dom: GUEST, ref: 3, flags: RW }).handle!;
    expect(ops.releaseMappings(GUEST)).to.equal(0);
    expect(ops.releaseMappings(BACK)).to.equal(3);
    expect(ops.activeMappings(BACK)).to.equal(0);
    expect(guest.entries[1].flags).to.equal(GTF.permit_access);
    expect(guest.entries[2].flags).to.equal(GTF.permit_access | GTF.readonly);
    expect(other.entries[1].flags).to.equal(GTF.permit_access);
    expect(guest.pinnedRefs()).to.deep.equal([3]);
    expect(mem.unpins.sort()).to.deep.equal([101, 102, 201]);
    expect(ops.unmap(OTHER, keep).status).to.equal(GNTST.okay);
    expect(ops.releaseMappings(BACK)).to.equal(0);
  });
});
