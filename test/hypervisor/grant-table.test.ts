import { expect } from 'chai';
import fc from 'fast-check';
import {
  DOMID_INVALID,
  DOMID_SELF,
  GNTMAP,
  GNTST,
  GTF,
  GrantOps,
  GrantTable,
  type DomId,
  type FrameOwnership,
  type Mfn,
} from '../../src/hypervisor/grant-table.js';
import { GrantMemory } from '../support/grant-memory.js';

/** The memory model double (test/support/grant-memory.ts). */
const Mem = GrantMemory;
type Mem = GrantMemory;

const BACK = 0; // driver domain (grantee)
const GUEST = 1; // granter
const OTHER = 2;
const RW = GNTMAP.host_map;
const RO = GNTMAP.host_map | GNTMAP.readonly;

/** dom0 and two guests; each owns frames 100*d .. 100*d+9. */
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

describe('grant table: guest-side helpers', () => {
  it('grantAccess writes a live permit_access entry (readonly bit when asked)', () => {
    const { guest } = setup();
    guest.grantAccess(3, BACK, 105, true);
    expect(guest.entries[3]).to.deep.equal({ flags: GTF.permit_access | GTF.readonly, domid: BACK, frame: 105 });
    guest.grantAccess(4, BACK, 106, false);
    expect(guest.entries[4].flags).to.equal(GTF.permit_access);
    expect(() => guest.grantAccess(16, BACK, 1, false)).to.throw(RangeError);
  });

  it('endAccess succeeds on an unused entry and clears it', () => {
    const { guest } = setup();
    guest.grantAccess(3, BACK, 105, false);
    expect(guest.endAccess(3)).to.equal(true);
    expect(guest.entries[3].flags).to.equal(0);
  });

  it('endTransfer reclaims an uncommitted entry', () => {
    const { guest } = setup();
    guest.grantTransfer(2, BACK, 77);
    expect(guest.entries[2]).to.deep.equal({ flags: GTF.accept_transfer, domid: BACK, frame: 77 });
    expect(guest.endTransfer(2)).to.deep.equal({ completed: false });
    expect(guest.entries[2].flags).to.equal(0);
  });

  it('endTransfer leaves a committed-but-not-completed entry alone', () => {
    const { guest } = setup();
    guest.grantTransfer(2, BACK, 77);
    guest.entries[2].flags |= GTF.transfer_committed;
    expect(guest.endTransfer(2)).to.deep.equal({ completed: false });
    expect(guest.entries[2].flags).to.equal(GTF.accept_transfer | GTF.transfer_committed);
  });
});

describe('grant table: map validation (section 3.4 order)', () => {
  it('neither host_map nor device_map -> bad_gntref (checked before the domain)', () => {
    const { ops, guest } = setup();
    guest.grantAccess(1, BACK, 101, false);
    expect(ops.map(BACK, { dom: GUEST, ref: 1, flags: GNTMAP.readonly }).status).to.equal(GNTST.bad_gntref);
    expect(ops.map(BACK, { dom: 42, ref: 1, flags: 0 }).status).to.equal(GNTST.bad_gntref);
    expect(ops.map(BACK, { dom: GUEST, ref: 1, flags: GNTMAP.device_map }).status).to.equal(GNTST.okay);
  });

  it('granter table missing -> bad_domain', () => {
    const { ops } = setup();
    expect(ops.map(BACK, { dom: 42, ref: 1, flags: RW }).status).to.equal(GNTST.bad_domain);
  });

  it('maptrack exhausted -> no_space (checked before the ref)', () => {
    const { ops, guest } = setup(2);
    for (const r of [1, 2, 3]) guest.grantAccess(r, BACK, 100 + r, false);
    expect(ops.map(BACK, { dom: GUEST, ref: 1, flags: RW }).status).to.equal(GNTST.okay);
    expect(ops.map(BACK, { dom: GUEST, ref: 2, flags: RW }).status).to.equal(GNTST.okay);
    expect(ops.map(BACK, { dom: GUEST, ref: 3, flags: RW }).status).to.equal(GNTST.no_space);
    expect(ops.map(BACK, { dom: GUEST, ref: 999, flags: RW }).status).to.equal(GNTST.no_space);
    // Limit is per mapping domain.
    guest.grantAccess(4, OTHER, 104, false);
    expect(ops.map(OTHER, { dom: GUEST, ref: 4, flags: RW }).status).to.equal(GNTST.okay);
  });

  it("the mapper's own GrantTable.maxMaptrack also limits it", () => {
    const mem = new Mem();
    mem.domains.add(BACK).add(GUEST);
    mem.owner.set(100, GUEST).set(101, GUEST);
    const guest = new GrantTable(GUEST);
    const ops = new GrantOps(new Map([[GUEST, guest], [BACK, new GrantTable(BACK, 8, 1)]]), mem);
    guest.grantAccess(0, BACK, 100, false);
    guest.grantAccess(1, BACK, 101, false);
    expect(ops.map(BACK, { dom: GUEST, ref: 0, flags: RW }).status).to.equal(GNTST.okay);
    expect(ops.map(BACK, { dom: GUEST, ref: 1, flags: RW }).status).to.equal(GNTST.no_space);
  });

  it('ref out of range or negative -> bad_gntref', () => {
    const { ops } = setup();
    expect(ops.map(BACK, { dom: GUEST, ref: 16, flags: RW }).status).to.equal(GNTST.bad_gntref);
    expect(ops.map(BACK, { dom: GUEST, ref: -1, flags: RW }).status).to.equal(GNTST.bad_gntref);
  });

  it('entry not permit_access -> general_error', () => {
    const { ops, guest } = setup();
    expect(ops.map(BACK, { dom: GUEST, ref: 1, flags: RW }).status).to.equal(GNTST.general_error); // invalid
    guest.grantTransfer(2, BACK, 5);
    expect(ops.map(BACK, { dom: GUEST, ref: 2, flags: RO }).status).to.equal(GNTST.general_error);
  });

  it('entry granted to another domain -> general_error', () => {
    const { ops, guest } = setup();
    guest.grantAccess(1, OTHER, 101, false);
    expect(ops.map(BACK, { dom: GUEST, ref: 1, flags: RO }).status).to.equal(GNTST.general_error);
  });

  it('writable map of a readonly entry -> general_error; readonly map is fine', () => {
    const { ops, guest } = setup();
    guest.grantAccess(1, BACK, 101, true);
    expect(ops.map(BACK, { dom: GUEST, ref: 1, flags: RW }).status).to.equal(GNTST.general_error);
    expect(guest.entries[1].flags & (GTF.reading | GTF.writing)).to.equal(0);
    const r = ops.map(BACK, { dom: GUEST, ref: 1, flags: RO });
    expect(r).to.include({ status: GNTST.okay, frame: 101 });
  });

  it('entry already pinned by another grantee -> general_error (guest rewrote domid)', () => {
    const { ops, guest } = setup();
    guest.grantAccess(1, BACK, 101, false);
    expect(ops.map(BACK, { dom: GUEST, ref: 1, flags: RW }).status).to.equal(GNTST.okay);
    guest.entries[1].domid = OTHER; // hostile
    expect(ops.map(OTHER, { dom: GUEST, ref: 1, flags: RW }).status).to.equal(GNTST.general_error);
  });

  it('granting a frame the granter does not own -> general_error', () => {
    const { ops, guest } = setup();
    guest.grantAccess(1, BACK, 201, false); // frame 201 belongs to OTHER
    expect(ops.map(BACK, { dom: GUEST, ref: 1, flags: RW }).status).to.equal(GNTST.general_error);
    expect(ops.activeMappings()).to.equal(0);
  });
});

describe('grant table: pins, flags and handles', () => {
  it('sets reading/writing on map and clears each only when its last pin goes (XSA-230)', () => {
    const { ops, guest } = setup();
    guest.grantAccess(5, BACK, 105, false);
    const w = ops.map(BACK, { dom: GUEST, ref: 5, flags: RW });
    expect(guest.entries[5].flags).to.equal(GTF.permit_access | GTF.reading | GTF.writing);
    const r1 = ops.map(BACK, { dom: GUEST, ref: 5, flags: RO });
    const r2 = ops.map(BACK, { dom: GUEST, ref: 5, flags: RO | GNTMAP.device_map });
    expect(guest.pinCount(5)).to.equal(3);
    expect(ops.activeMappings(BACK)).to.equal(3);

    expect(ops.unmap(BACK, w.handle!).status).to.equal(GNTST.okay);
    expect(guest.entries[5].flags).to.equal(GTF.permit_access | GTF.reading); // writing gone, reading stays
    expect(ops.unmap(BACK, r1.handle!).status).to.equal(GNTST.okay);
    expect(guest.entries[5].flags & GTF.reading).to.equal(GTF.reading); // one read pin left
    expect(guest.pinCount(5)).to.equal(1);
    expect(ops.unmap(BACK, r2.handle!).status).to.equal(GNTST.okay);
    expect(guest.entries[5].flags).to.equal(GTF.permit_access);
    expect(guest.pinCount(5)).to.equal(0);
    expect(ops.activeMappings()).to.equal(0);
  });

  it('writing stays set while a second write pin remains', () => {
    const { ops, guest } = setup();
    guest.grantAccess(5, BACK, 105, false);
    const a = ops.map(BACK, { dom: GUEST, ref: 5, flags: RW });
    ops.map(BACK, { dom: GUEST, ref: 5, flags: RW });
    ops.unmap(BACK, a.handle!);
    expect(guest.entries[5].flags).to.equal(GTF.permit_access | GTF.reading | GTF.writing);
  });

  it('handles are single-use: a second unmap -> bad_handle', () => {
    const { ops, guest } = setup();
    guest.grantAccess(5, BACK, 105, false);
    const h = ops.map(BACK, { dom: GUEST, ref: 5, flags: RW }).handle!;
    expect(ops.unmap(BACK, h).status).to.equal(GNTST.okay);
    expect(ops.unmap(BACK, h).status).to.equal(GNTST.bad_handle);
    expect(guest.pinCount(5)).to.equal(0);
  });

  it('unknown handle -> bad_handle', () => {
    const { ops } = setup();
    expect(ops.unmap(BACK, 12345).status).to.equal(GNTST.bad_handle);
  });

  it("another domain's handle -> bad_handle and the mapping survives", () => {
    const { ops, guest } = setup();
    guest.grantAccess(5, BACK, 105, false);
    const h = ops.map(BACK, { dom: GUEST, ref: 5, flags: RW }).handle!;
    expect(ops.unmap(OTHER, h).status).to.equal(GNTST.bad_handle);
    expect(guest.pinCount(5)).to.equal(1);
    expect(ops.activeMappings(BACK)).to.equal(1);
  });

  it('endAccess is refused while mapped and allowed after unmap', () => {
    const { ops, guest } = setup();
    guest.grantAccess(5, BACK, 105, true);
    const h = ops.map(BACK, { dom: GUEST, ref: 5, flags: RO }).handle!;
    expect(guest.endAccess(5)).to.equal(false);
    expect(guest.entries[5].flags & GTF.permit_access).to.equal(GTF.permit_access);
    ops.unmap(BACK, h);
    expect(guest.endAccess(5)).to.equal(true);
  });

  it('DOMID_SELF maps the caller\'s own grant', () => {
    const { ops, guest } = setup();
    guest.grantAccess(5, GUEST, 105, false);
    expect(ops.map(GUEST, { dom: DOMID_SELF, ref: 5, flags: RW }).status).to.equal(GNTST.okay);
  });
});

describe('grant table: copy', () => {
  const g = (ref: number, offset = 0) => ({ dom: GUEST, ref, offset });
  const self = (frame: number, offset = 0) => ({ dom: BACK, frame, offset });

  it('copies between a grant and the caller\'s own frame, resolving both frames', () => {
    const { ops, guest } = setup();
    guest.grantAccess(1, BACK, 101, true);
    expect(ops.copy(BACK, { source: g(1, 100), dest: self(3, 200), len: 1000 })).to.deep.equal({ status: GNTST.okay, srcFrame: 101, destFrame: 3 });
  });

  it('len 0 is a no-op, even with otherwise bad arguments', () => {
    const { ops } = setup();
    expect(ops.copy(BACK, { source: { dom: 42, ref: 999, offset: -5 }, dest: self(3), len: 0 }).status).to.equal(GNTST.okay);
  });

  it('raw frame of a foreign domain -> permission_denied', () => {
    const { ops, guest } = setup();
    guest.grantAccess(1, BACK, 101, false);
    expect(ops.copy(BACK, { source: { dom: GUEST, frame: 101, offset: 0 }, dest: self(3), len: 8 }).status).to.equal(GNTST.permission_denied);
    expect(ops.copy(BACK, { source: self(3), dest: { dom: GUEST, frame: 101, offset: 0 }, len: 8 }).status).to.equal(GNTST.permission_denied);
  });

  it('unknown domain -> bad_domain', () => {
    const { ops } = setup();
    expect(ops.copy(BACK, { source: { dom: 42, ref: 1, offset: 0 }, dest: self(3), len: 8 }).status).to.equal(GNTST.bad_domain);
  });

  it('offset + len beyond 4096 or negative -> bad_copy_arg; exactly 4096 is fine', () => {
    const { ops, guest } = setup();
    guest.grantAccess(1, BACK, 101, false);
    expect(ops.copy(BACK, { source: g(1, 4000), dest: self(3), len: 97 }).status).to.equal(GNTST.bad_copy_arg);
    expect(ops.copy(BACK, { source: g(1), dest: self(3, 1), len: 4096 }).status).to.equal(GNTST.bad_copy_arg);
    expect(ops.copy(BACK, { source: g(1, -1), dest: self(3), len: 8 }).status).to.equal(GNTST.bad_copy_arg);
    expect(ops.copy(BACK, { source: g(1), dest: self(3), len: -8 }).status).to.equal(GNTST.bad_copy_arg);
    expect(ops.copy(BACK, { source: g(1, 4000), dest: self(3), len: 96 }).status).to.equal(GNTST.okay);
  });

  it('ref out of range -> bad_gntref', () => {
    const { ops } = setup();
    expect(ops.copy(BACK, { source: g(16), dest: self(3), len: 8 }).status).to.equal(GNTST.bad_gntref);
  });

  it('grant not permit_access for the caller -> general_error', () => {
    const { ops, guest } = setup();
    expect(ops.copy(BACK, { source: g(1), dest: self(3), len: 8 }).status).to.equal(GNTST.general_error); // invalid entry
    guest.grantAccess(1, OTHER, 101, false);
    expect(ops.copy(BACK, { source: g(1), dest: self(3), len: 8 }).status).to.equal(GNTST.general_error);
  });

  it('readonly destination grant -> general_error; readonly source is fine', () => {
    const { ops, guest } = setup();
    guest.grantAccess(1, BACK, 101, true);
    expect(ops.copy(BACK, { source: self(3), dest: g(1), len: 8 }).status).to.equal(GNTST.general_error);
    guest.grantAccess(2, BACK, 102, false);
    expect(ops.copy(BACK, { source: self(3), dest: g(2), len: 8 }).status).to.equal(GNTST.okay);
  });

  it('raw frame the caller does not own -> bad_page', () => {
    const { ops, guest } = setup();
    guest.grantAccess(1, BACK, 101, false);
    expect(ops.copy(BACK, { source: g(1), dest: self(205), len: 8 }).status).to.equal(GNTST.bad_page);
  });

  it('grant pinned by another grantee, or of a frame the granter does not own -> general_error', () => {
    const { ops, guest } = setup();
    guest.grantAccess(1, OTHER, 101, false);
    ops.map(OTHER, { dom: GUEST, ref: 1, flags: RW });
    guest.entries[1].domid = BACK; // hostile rewrite while OTHER holds the pin
    expect(ops.copy(BACK, { source: g(1), dest: self(3), len: 8 }).status).to.equal(GNTST.general_error);
    guest.grantAccess(2, BACK, 201, false); // frame 201 belongs to OTHER
    expect(ops.copy(BACK, { source: g(2), dest: self(3), len: 8 }).status).to.equal(GNTST.general_error);
  });

  it('a side must name exactly one of ref / frame (bad_copy_arg); DOMID_SELF names the caller', () => {
    const { ops, guest } = setup();
    guest.grantAccess(1, BACK, 101, false);
    expect(ops.copy(BACK, { source: g(1), dest: { dom: BACK, offset: 0 }, len: 8 }).status).to.equal(GNTST.bad_copy_arg);
    expect(ops.copy(BACK, { source: { ...g(1), frame: 101 }, dest: self(3), len: 8 }).status).to.equal(GNTST.bad_copy_arg);
    expect(ops.copy(BACK, { source: g(1), dest: { dom: DOMID_SELF, frame: 3, offset: 0 }, len: 8 }).status).to.equal(GNTST.okay);
  });

  it('leaves no pins behind', () => {
    const { ops, guest } = setup();
    guest.grantAccess(1, BACK, 101, false);
    expect(ops.copy(BACK, { source: self(3), dest: g(1), len: 8 }).status).to.equal(GNTST.okay);
    expect(guest.pinCount(1)).to.equal(0);
    expect(guest.entries[1].flags).to.equal(GTF.permit_access);
    expect(ops.activeMappings()).to.equal(0);
    expect(guest.endAccess(1)).to.equal(true);
  });
});

describe('grant table: transfer', () => {
  // BACK flips its frame 5 into GUEST, which offered gref 2.
  const offer = (guest: GrantTable) => guest.grantTransfer(2, BACK, 77);
  const xfer = { mfn: 5, domid: GUEST, ref: 2 };

  it('success moves ownership and completes the entry; the guest reads the new frame', () => {
    const { ops, mem, guest } = setup();
    offer(guest);
    expect(ops.transfer(BACK, xfer).status).to.equal(GNTST.okay);
    expect(mem.ownerOf(5)).to.equal(GUEST);
    expect(guest.entries[2]).to.deep.equal({ flags: GTF.accept_transfer | GTF.transfer_committed | GTF.transfer_completed, domid: BACK, frame: 5 });
    expect(guest.endTransfer(2)).to.deep.equal({ completed: true, frame: 5 });
    expect(guest.entries[2].flags).to.equal(0);
  });

  it('frame not owned by the caller -> bad_page, nobody loses anything', () => {
    const { ops, mem, guest } = setup();
    offer(guest);
    expect(ops.transfer(BACK, { ...xfer, mfn: 105 }).status).to.equal(GNTST.bad_page);
    expect(mem.ownerOf(105)).to.equal(GUEST);
    expect(guest.entries[2].flags).to.equal(GTF.accept_transfer);
  });

  it('frame with extra references -> bad_page, caller keeps the page', () => {
    const { ops, mem, guest } = setup();
    offer(guest);
    mem.refs.set(5, 1);
    expect(ops.transfer(BACK, xfer).status).to.equal(GNTST.bad_page);
    expect(mem.ownerOf(5)).to.equal(BACK);
  });

  it('frame pinned by a grant mapping -> bad_page, caller keeps the page', () => {
    const { ops, mem, guest, back } = setup();
    offer(guest);
    back.grantAccess(0, OTHER, 5, false);
    const h = ops.map(OTHER, { dom: BACK, ref: 0, flags: RW }).handle!;
    expect(ops.transfer(BACK, xfer).status).to.equal(GNTST.bad_page);
    expect(mem.ownerOf(5)).to.equal(BACK);
    ops.unmap(OTHER, h);
    expect(back.endAccess(0)).to.equal(true);
    expect(ops.transfer(BACK, xfer).status).to.equal(GNTST.okay);
  });

  it('recipient missing -> bad_domain and the page is freed', () => {
    const { ops, mem } = setup();
    expect(ops.transfer(BACK, { ...xfer, domid: 42 }).status).to.equal(GNTST.bad_domain);
    expect(mem.ownerOf(5)).to.equal(DOMID_INVALID);
  });

  it('recipient at max_pages -> general_error and the page is freed', () => {
    const { ops, mem, guest } = setup();
    offer(guest);
    mem.atMax.add(GUEST);
    expect(ops.transfer(BACK, xfer).status).to.equal(GNTST.general_error);
    expect(mem.ownerOf(5)).to.equal(DOMID_INVALID);
    expect(guest.entries[2].flags).to.equal(GTF.accept_transfer); // not committed: guest can reclaim
    expect(guest.endTransfer(2)).to.deep.equal({ completed: false });
  });

  it('ref out of range -> bad_gntref and the page is freed', () => {
    const { ops, mem } = setup();
    expect(ops.transfer(BACK, { ...xfer, ref: 16 }).status).to.equal(GNTST.bad_gntref);
    expect(mem.ownerOf(5)).to.equal(DOMID_INVALID);
  });

  it('entry not exactly accept_transfer -> general_error and the page is freed', () => {
    const { ops, mem, guest } = setup();
    guest.grantAccess(2, BACK, 77, false);
    expect(ops.transfer(BACK, xfer).status).to.equal(GNTST.general_error);
    expect(mem.ownerOf(5)).to.equal(DOMID_INVALID);
    // An already-committed entry cannot receive a second frame.
    guest.grantTransfer(3, BACK, 78);
    expect(ops.transfer(BACK, { mfn: 6, domid: GUEST, ref: 3 }).status).to.equal(GNTST.okay);
    expect(ops.transfer(BACK, { mfn: 7, domid: GUEST, ref: 3 }).status).to.equal(GNTST.general_error);
    expect(mem.ownerOf(7)).to.equal(DOMID_INVALID);
    expect(guest.entries[3].frame).to.equal(6);
  });

  it('entry offered to a different sender -> general_error and the page is freed', () => {
    const { ops, mem, guest } = setup();
    guest.grantTransfer(2, OTHER, 77);
    expect(ops.transfer(BACK, xfer).status).to.equal(GNTST.general_error);
    expect(mem.ownerOf(5)).to.equal(DOMID_INVALID);
    expect(guest.entries[2].flags).to.equal(GTF.accept_transfer);
  });
});

describe('grant table: property — random op sequences keep the invariants', () => {
  const DOMS = [0, 1, 2];
  const FRAMES = DOMS.flatMap((d) => [0, 1, 2, 3].map((i) => 100 * d + i));
  const NREF = 6;
  const dom = fc.constantFrom(...DOMS);
  const ref = fc.integer({ min: -1, max: NREF });
  const frame = fc.constantFrom(...FRAMES);
  const opArb = fc.oneof(
    fc.record({ k: fc.constant('grant' as const), d: dom, ref, to: dom, frame, ro: fc.boolean() }),
    fc.record({ k: fc.constant('offer' as const), d: dom, ref, from: dom }),
    fc.record({ k: fc.constant('end' as const), d: dom, ref }),
    fc.record({ k: fc.constant('map' as const), caller: dom, d: dom, ref, ro: fc.boolean() }),
    fc.record({ k: fc.constant('unmap' as const), caller: dom, h: fc.nat(40) }),
    fc.record({ k: fc.constant('copy' as const), caller: dom, d: dom, ref, toGrant: fc.boolean(), frame, off: fc.integer({ min: -1, max: 4096 }), len: fc.integer({ min: 0, max: 4097 }) }),
    fc.record({ k: fc.constant('xfer' as const), caller: dom, frame, to: fc.constantFrom(...DOMS, 9), ref }),
  );
  const statuses = new Set<number>(Object.values(GNTST));

  it('every frame has exactly one owner, GTF_reading iff pins > 0, GTF_writing iff write pins > 0', function () {
    this.timeout(60_000); // a property: sized for a loaded 2-core machine, not mocha's 2 s default
    fc.assert(
      fc.property(fc.array(opArb, { maxLength: 120 }), (script) => {
        const mem = new Mem();
        const tables = new Map<DomId, GrantTable>();
        for (const d of DOMS) {
          mem.domains.add(d);
          tables.set(d, new GrantTable(d, NREF));
        }
        for (const f of FRAMES) mem.owner.set(f, Math.floor(f / 100));
        const ops = new GrantOps(tables, mem, 8);
        const handles: number[] = []; // every handle ever issued (stale ones included)
        const live = new Map<number, { caller: DomId; d: DomId; ref: number; ro: boolean; frame: Mfn }>();
        const inRange = (r: number) => r >= 0 && r < NREF;

        for (const op of script) {
          let status: number | undefined;
          switch (op.k) {
            case 'grant': // honest guest: only (re)use free entries
              if (inRange(op.ref) && tables.get(op.d)!.entries[op.ref].flags === 0) tables.get(op.d)!.grantAccess(op.ref, op.to, op.frame, op.ro);
              break;
            case 'offer':
              if (inRange(op.ref) && tables.get(op.d)!.entries[op.ref].flags === 0) tables.get(op.d)!.grantTransfer(op.ref, op.from, op.ref);
              break;
            case 'end': {
              if (!inRange(op.ref)) break;
              const t = tables.get(op.d)!;
              const type = t.entries[op.ref].flags & 3;
              if (type === GTF.permit_access) expect(t.endAccess(op.ref)).to.equal(t.pinCount(op.ref) === 0);
              else if (type === GTF.accept_transfer) t.endTransfer(op.ref);
              break;
            }
            case 'map': {
              const r = ops.map(op.caller, { dom: op.d, ref: op.ref, flags: op.ro ? RO : RW });
              status = r.status;
              if (r.status === GNTST.okay) {
                handles.push(r.handle!);
                live.set(r.handle!, { caller: op.caller, d: op.d, ref: op.ref, ro: op.ro, frame: r.frame! });
              }
              break;
            }
            case 'unmap': {
              const h = handles.length ? handles[op.h % handles.length] : op.h;
              const m = live.get(h);
              status = ops.unmap(op.caller, h).status;
              expect(status).to.equal(m && m.caller === op.caller ? GNTST.okay : GNTST.bad_handle);
              if (status === GNTST.okay) live.delete(h);
              break;
            }
            case 'copy': {
              const g = { dom: op.d, ref: op.ref, offset: op.off };
              const raw = { dom: op.caller, frame: op.frame, offset: 0 };
              status = ops.copy(op.caller, op.toGrant ? { source: raw, dest: g, len: op.len } : { source: g, dest: raw, len: op.len }).status;
              break;
            }
            case 'xfer': {
              const before = mem.ownerOf(op.frame);
              status = ops.transfer(op.caller, { mfn: op.frame, domid: op.to, ref: op.ref }).status;
              const after = mem.ownerOf(op.frame);
              if (status === GNTST.okay) expect(after).to.equal(op.to);
              else if (status === GNTST.bad_page) expect(after).to.equal(before);
              else expect(after).to.equal(DOMID_INVALID);
              break;
            }
          }
          if (status !== undefined) expect(statuses.has(status), `status ${status}`).to.equal(true);

          // Frame conservation: each frame has exactly one owner (a domain or the freed sentinel).
          for (const f of FRAMES) expect([...DOMS, DOMID_INVALID]).to.include(mem.ownerOf(f));
          expect(mem.owner.size).to.equal(FRAMES.length);
          // A pinned frame never leaves its granter.
          for (const m of live.values()) expect(mem.ownerOf(m.frame)).to.equal(m.d);
          // Flags reflect live pins (section 3.6 / I6).
          let pins = 0;
          for (const [d, t] of tables) {
            for (let r = 0; r < NREF; r++) {
              const mine = [...live.values()].filter((m) => m.d === d && m.ref === r);
              const n = t.pinCount(r);
              pins += n;
              expect(n).to.equal(mine.length);
              if ((t.entries[r].flags & 3) !== GTF.permit_access) {
                expect(n).to.equal(0);
                continue;
              }
              expect((t.entries[r].flags & GTF.reading) !== 0, `reading d${d} r${r}`).to.equal(n > 0);
              expect((t.entries[r].flags & GTF.writing) !== 0, `writing d${d} r${r}`).to.equal(mine.some((m) => !m.ro));
            }
          }
          expect(ops.activeMappings()).to.equal(pins);
          for (const d of DOMS) expect(ops.activeMappings(d)).to.equal([...live.values()].filter((m) => m.caller === d).length);
        }
      }),
      { numRuns: 300 },
    );
  });
});
