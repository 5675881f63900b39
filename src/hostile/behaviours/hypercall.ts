/** The hypercall surface (H23-H25): grant copy abuse, map/unmap races, transfer (flip) abuse. */
import { DOMID_SELF, GNTMAP, GNTST, GTF } from '../../hypervisor/grant-table.js';
import { type Behaviour, notDisabled, attacked, statusMismatches, expectStatus, afterRxPost } from './common.js';

export const H23: Behaviour = {
  id: 'H23', title: 'grant copy abuse', invariants: 'I1 I3', variants: 7,
  step(h, x, n) {
    if (n > 0) return;
    const me = h.kernel.domid, own = h.frame(0), own2 = h.frame(1);
    const selfRef = h.grant(own2, false, me); // a grant of our own page to ourselves
    const foreign = 3; // some frame of another domain (the driver domain's, low in memory)
    const honestRef = 8; // another guest's first buffer grant (granted to the driver domain, not to us)
    const honest = h.env.kernels.find((k) => k.domid !== me && k.domid !== 0);
    type Op = { op: Parameters<typeof h.env.xen.grantCopy>[2][number]; want: number };
    const raw = (frame: number, offset = 0) => ({ dom: DOMID_SELF, frame, offset });
    const ops: Op[] = [];
    const v = h.variant;
    if (v === 0) ops.push({ op: { source: raw(own, 4000), dest: raw(own2), len: 200 }, want: GNTST.bad_copy_arg });
    if (v === 1) ops.push({ op: { source: { dom: 0, frame: foreign, offset: 0 }, dest: raw(own), len: 64 }, want: GNTST.permission_denied });
    if (v === 2) ops.push({ op: { source: { dom: 0, frame: foreign, offset: 5000 }, dest: raw(own), len: 0 }, want: GNTST.okay });
    if (v === 3) for (let i = 0; i < 1000; i++) ops.push(i % 2 ? { op: { source: raw(own), dest: raw(own2), len: 64 }, want: GNTST.okay } : { op: { source: raw(own, 4090), dest: raw(own2), len: 64 }, want: GNTST.bad_copy_arg });
    if (v === 4) for (let i = 0; i < 40; i++) {
      const k = i % 4;
      if (k === 0) ops.push({ op: { source: { dom: me, ref: selfRef, offset: 0 }, dest: raw(own), len: 32 }, want: GNTST.okay });
      if (k === 1) ops.push({ op: { source: { dom: 0, ref: 8, offset: 0 }, dest: raw(own), len: 32 }, want: GNTST.general_error });
      if (k === 2) ops.push({ op: { source: raw(own2), dest: raw(own), len: 32 }, want: GNTST.okay });
      if (k === 3) ops.push({ op: { source: { dom: 0, frame: own2, offset: 0 }, dest: raw(own), len: 32 }, want: GNTST.permission_denied });
    }
    if (v === 5 && honest) ops.push({ op: { source: raw(own), dest: { dom: honest.domid, ref: honestRef, offset: 0 }, len: 64 }, want: GNTST.general_error });
    if (v === 6) ops.push({ op: { source: raw(foreign), dest: raw(own), len: 64 }, want: GNTST.bad_page });
    h.env.xen.grantCopyBatch(x, h.kernel, ops.map((o) => o.op), (res) => {
      if (res.length !== ops.length) h.record('mismatch', `${res.length} statuses for ${ops.length} ops`);
      res.forEach((r, i) => { if (i < 50 || r.status !== ops[i].want) expectStatus(h, `copy op ${i}`, r.status, ops[i].want); });
      h.record('copyDone', res.length);
    });
  },
  expect: (o) => [...attacked(o), ...statusMismatches(o), ...(o.quiescent && !(o.h.log.copyDone ?? []).length && o.h.steps > 0 ? ['the copy batch never completed'] : [])],
};

export const H24: Behaviour = {
  id: 'H24', title: 'map/unmap races', invariants: 'I5 I6', variants: 6,
  step(h, x, n) {
    if (n > 0) return;
    const xen = h.env.xen, k = h.kernel, me = k.domid, gt = h.gt;
    const selfRef = h.grant(h.frame(3), true, me);
    const map = (flags: number, dom = DOMID_SELF, ref = selfRef) => xen.grantMapFlags(x, k, [{ dom, ref, flags }])[0];
    const unmap = (hd: number) => xen.grantUnmap(x, k, [hd], false)[0].status;
    const v = h.variant;
    const RO = GNTMAP.host_map | GNTMAP.readonly;
    if (v === 0) {
      const m = map(RO);
      expectStatus(h, 'map own grant', m.status, GNTST.okay);
      expectStatus(h, 'unmap', unmap(m.handle!), GNTST.okay);
      expectStatus(h, 'second unmap', unmap(m.handle!), GNTST.bad_handle);
    }
    if (v === 1) for (let hd = 0; hd < 64; hd++) expectStatus(h, `unmap handle ${hd}`, unmap(hd), GNTST.bad_handle);
    if (v === 2) {
      const a = map(RO), b = map(GNTMAP.device_map | GNTMAP.readonly), c = map(GNTMAP.host_map | GNTMAP.device_map | GNTMAP.readonly);
      for (const m of [a, b, c]) expectStatus(h, 'host/device map', m.status, GNTST.okay);
      expectStatus(h, 'unmap device', unmap(b.handle!), GNTST.okay);
      if (!(gt.entries[selfRef].flags & GTF.reading)) h.record('mismatch', 'GTF_reading cleared with pins left');
      expectStatus(h, 'unmap host', unmap(a.handle!), GNTST.okay);
      expectStatus(h, 'unmap both', unmap(c.handle!), GNTST.okay);
      if (gt.entries[selfRef].flags & (GTF.reading | GTF.writing)) h.record('mismatch', 'pin flags left after the last unmap');
    }
    if (v === 3) {
      const hs: number[] = [];
      let firstFail = -1;
      for (let i = 0; i < 200; i++) { const m = map(RO); if (m.status === GNTST.okay) hs.push(m.handle!); else if (firstFail < 0) firstFail = i; }
      expectStatus(h, 'pins before the overflow guard', firstFail, 128);
      for (const hd of hs) unmap(hd);
      if (gt.entries[selfRef].flags & GTF.reading) h.record('mismatch', 'GTF_reading left after unmapping every pin');
    }
    if (v === 4) expectStatus(h, 'set_version with live grants', xen.grantSetVersion(x, k, 2), -16);
    if (v === 5) {
      const other = h.env.kernels.find((d) => d.domid !== me && d.domid !== 0);
      if (other) expectStatus(h, "map another guest's grant", map(RO, other.domid, 8).status, GNTST.general_error);
    }
  },
  expect: (o) => [...attacked(o), ...statusMismatches(o)],
};

export const H25: Behaviour = {
  id: 'H25', title: 'transfer (flip) abuse', invariants: 'I1 I5', variants: 6,
  setup(h) {
    const v = h.variant, nf = h.nf, gt = h.gt;
    if (v < 4) return;
    // As the recipient: our accept-transfer entries flip (4) or are reclaimed right after posting (5).
    afterRxPost(nf, (s) => {
      if (!s.req) return;
      const e = gt.entries[s.req.gref];
      if (v === 5) { if ((e.flags & 3) === GTF.accept_transfer) gt.endTransfer(s.req.gref); else gt.endAccess(s.req.gref); return; }
      let base = e.flags, k = 0;
      Object.defineProperty(e, 'flags', { configurable: true, enumerable: true, get() { return k++ % 3 === 2 ? GTF.invalid : base; }, set(val: number) { base = val; } });
    });
  },
  step(h, x, n) {
    if (n > 0 || h.variant >= 4) return;
    const xen = h.env.xen, k = h.kernel, me = k.domid, mem = k.mem;
    const v = h.variant;
    const fr = h.frame(5 + v);
    const pagesBefore = mem.pages(me);
    if (v === 0) {
      const r = h.grant(fr, true, me);
      const m = xen.grantMapFlags(x, k, [{ dom: DOMID_SELF, ref: r, flags: GNTMAP.host_map | GNTMAP.readonly }])[0];
      expectStatus(h, 'transfer a mapped frame', xen.grantTransfer(x, k, [{ mfn: fr, domid: 0, ref: 8 }])[0].status, GNTST.bad_page);
      if (mem.ownerOf(fr) !== me) h.record('mismatch', 'bad_page transfer lost the page');
      if (m.status === GNTST.okay) xen.grantUnmap(x, k, [m.handle!], true);
    }
    if (v === 1) {
      const other = 3;
      const owner = mem.ownerOf(other);
      expectStatus(h, 'transfer a frame we do not own', xen.grantTransfer(x, k, [{ mfn: other, domid: 0, ref: 8 }])[0].status, GNTST.bad_page);
      if (mem.ownerOf(other) !== owner) h.record('mismatch', 'a foreign frame changed owner');
    }
    if (v === 2) {
      expectStatus(h, 'transfer to a domain that does not exist', xen.grantTransfer(x, k, [{ mfn: fr, domid: 999, ref: 8 }])[0].status, GNTST.bad_domain);
      if (mem.ownerOf(fr) !== undefined || mem.pages(me) !== pagesBefore - 1) h.record('mismatch', 'a failed transfer did not free the page');
    }
    if (v === 3) {
      const other = h.env.kernels.find((d) => d.domid !== me && d.domid !== 0);
      const otherPages = other ? mem.pages(other.domid) : 0;
      if (other) {
        expectStatus(h, 'transfer to a ref that is not ours to fill', xen.grantTransfer(x, k, [{ mfn: fr, domid: other.domid, ref: 8 }])[0].status, GNTST.general_error);
        if (mem.pages(other.domid) !== otherPages) h.record('mismatch', "the recipient's page count changed");
      }
    }
  },
  expect: (o) => [...(o.h.variant < 4 ? attacked(o) : []), ...statusMismatches(o), ...notDisabled(o)],
};
