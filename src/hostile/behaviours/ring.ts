/** Ring-index attacks (H1-H5): runaway and moving producers, bad rings at connect, scribbling on the backend's fields, double fetches. */
import { SharedRing } from '../../channels/ring.js';
import { NETTXF, type TxSlot } from '../../channels/netif.js';
import { GTF } from '../../hypervisor/grant-table.js';
import type { Hostile } from '../netfront.js';
import { PAGE_SIZE } from '../../core/packet.js';
import { type Behaviour, disabled, notDisabled, attacked, closedWithError, ownRing, inject, kick, afterRxPost } from './common.js';

export const H1: Behaviour = {
  id: 'H1', title: 'runaway producer', invariants: 'I2 I3 I4', variants: 5,
  setup: ownRing,
  step(h, x, n) {
    if (n > 0) return;
    const s = h.nf.tx.sring, size = s.size;
    const base = s.rspProd >>> 0;
    const k = [size + 1, 2 ** 31, 2 ** 32 - 1, 3 * size, -5][h.variant];
    s.reqProd = (base + k) >>> 0;
    kick(h, x);
  },
  expect: (o) => [...attacked(o), ...disabled(o, 'impossible-number-of-requests'),
    ...(o.nb.stats.maxTxSlotsPerPass <= o.nb.tx.size ? [] : [`${o.nb.stats.maxTxSlotsPerPass} slots in one pass`])],
};

export const H2: Behaviour = {
  id: 'H2', title: 'moving target', invariants: 'I3 I7', variants: 3,
  setup(h) {
    ownRing(h);
    const s = h.nf.tx.sring as SharedRing<TxSlot, unknown>;
    let base = s.reqProd, reads = 0;
    const v = h.variant;
    // A concurrent writer: the value changes on every read, for as many reads as the guest spends
    // writes in each of its steps (it is not free to move the producer forever).
    h.state.moves = 0;
    Object.defineProperty(s, 'reqProd', {
      configurable: true, enumerable: true,
      get() {
        if (!h.active || (h.state.moves as number) <= 0) return base;
        h.state.moves = (h.state.moves as number) - 1;
        reads++;
        if (v === 0) return (base + (reads % (s.size / 2))) >>> 0;       // runs ahead of what was written
        if (v === 1) return (base - (reads % 4)) >>> 0;                  // moves backwards
        return reads % 2 ? base : (base + 2 ** 31) >>> 0;                // oscillates to an impossible value
      },
      set(val: number) { base = val; },
    });
  },
  step(h, x) { h.state.moves = 32; inject(h, x, h.packet({ sizes: [600] })); kick(h, x); },
  expect: (o) => [...attacked(o),
    ...(o.nb.stats.maxTxSlotsPerPass <= o.nb.tx.size ? [] : [`${o.nb.stats.maxTxSlotsPerPass} slots in one pass`]),
    ...(o.nb.disabled === null || ['impossible-number-of-requests', 'chain-past-producer', 'missing-extra-info', 'too-many-slots', 'slot-crosses-page', 'bad-extra-type', 'bad-gso'].includes(o.nb.disabled) ? [] : [`disabled for ${o.nb.disabled}`])],
};

export const H3: Behaviour = {
  id: 'H3', title: 'bad ring at connect', invariants: 'I1 I5 I11', variants: 7,
  publish(h) {
    const e = h.env, nf = h.nf, gt = h.gt;
    h.honestPublish();
    const v = h.variant;
    if (v === 0) gt.entries[nf.ringRefs.tx].flags = GTF.invalid;                                  // ring-ref not granted
    if (v === 1) gt.grantAccess(nf.ringRefs.tx, 0, e.rings.txFrame, true);                         // granted read-only
    if (v === 2) gt.grantAccess(nf.ringRefs.tx, 7, e.rings.txFrame, false);                        // granted to another domain
    if (v === 3) e.rings.tx.reqProd = e.rings.size + 5;                                            // header claims too many requests
    if (v === 4) e.xs.write(`${e.front}/tx-ring-ref`, '0x1f');                                     // not a number
    if (v === 5) e.xs.write(`${e.front}/rx-ring-ref`, 99_999);                                     // TX maps, RX ref out of range: TX must be unmapped
    if (v === 6) Object.assign(e.rings.tx, { reqEvent: 0xdeadbeef, rspEvent: 7, pad: [1, 2, 3] }); // garbage that Linux ignores: connects
  },
  expect: (o) => (o.h.variant === 6
    ? (o.nb.connected || o.nb.disabled ? [] : ['a ring with garbage in its event fields and padding must still connect'])
    : [...closedWithError(o), ...(o.dom0Mappings === 0 ? [] : [`${o.dom0Mappings} mappings of the guest's grants left`])]),
};

export const H4: Behaviour = {
  id: 'H4', title: "scribbling on the backend's fields", invariants: 'I7 I9', variants: 3,
  setup(h) { if (h.variant === 1) { h.nf.skipTxCompletions = true; h.nf.skipRx = true; } },
  step(h, x, n) {
    const rnd = (k: number) => (Math.imul(n + 1, 2654435761) ^ k) >>> 0;
    const t = h.nf.tx.sring, r = h.nf.rxr.sring;
    if (h.variant === 0) { t.reqEvent = rnd(1); r.reqEvent = rnd(2); }
    if (h.variant === 1) { t.rspProd = rnd(3); r.rspProd = rnd(4); }
    if (h.variant === 2) Object.assign(t, { pvt: rnd(5), pad: rnd(6) });
    void x;
  },
  expect: (o) => [...attacked(o), ...notDisabled(o)],
};

/** A slot whose every field counts its reads and changes its value after each one (H5). */
function tocttou<T extends object>(slot: T, reads: Map<string, number>, poison: Record<string, number>): T {
  const out = {} as T;
  for (const k of Object.keys(slot)) {
    let v = (slot as Record<string, unknown>)[k];
    let n = 0;
    Object.defineProperty(out, k, {
      enumerable: true, configurable: true,
      get() {
        n++;
        reads.set(k, Math.max(reads.get(k) ?? 0, n));
        const r = v;
        if (k in poison) v = poison[k];
        return r;
      },
    });
  }
  return out;
}
/**
 * TOCTOU on the data (H5 variants 2, 3): the adversary's own stack sends and receives as usual, and the
 * adversary writes over the pages it lent the backend: TX pages once the request is posted, RX buffers
 * once posted (2: at once; 3: again on every step, while the backend still holds them). Whatever the
 * backend reads or writes later, only the adversary's own streams may change (the stream check, I1).
 */
function scribble(h: Hostile, frame: number): void {
  const gen = (h.state.gen = ((h.state.gen as number | undefined) ?? 0) + 1) as number;
  h.kernel.mem.write(frame, 0, h.flow(), 0, PAGE_SIZE, gen); // the whole page, header bytes too
  h.record('rewrites', frame);
}
function dataToctouSetup(h: Hostile): void {
  const xmit = h.nf.xmit.bind(h.nf);
  h.nf.xmit = (x, p) => {
    const ok = xmit(x, p);
    if (ok) for (const f of p.frames) scribble(h, f);
    return ok;
  };
  afterRxPost(h.nf, (s) => {
    const e = s.req ? h.gt.entries[s.req.gref] : undefined;
    if (e && (e.flags & 3) === GTF.permit_access) scribble(h, e.frame); // copying receive: a page of ours the backend writes into
  });
}
function dataToctouStep(h: Hostile): void {
  if (h.variant !== 3) return;
  for (const f of h.nf.txFramesInFlight()) scribble(h, f);
  for (const f of h.nf.postedRxFrames()) scribble(h, f);
}

export const H5: Behaviour = {
  id: 'H5', title: 'double fetch / TOCTOU', invariants: 'I7 I1', variants: 4,
  setup(h) {
    if (h.variant >= 2) { dataToctouSetup(h); return; }
    ownRing(h);
    const reads = new Map<string, number>();
    h.state.reads = reads;
    if (h.variant === 1) {
      // RX requests too: rewrite each posted slot as a counting, self-poisoning object.
      afterRxPost(h.nf, (s) => { if (s.req) s.req = tocttou(s.req, reads, { gref: 0, id: 0xffff }); });
    }
  },
  step(h, x) {
    if (h.variant >= 2) { dataToctouStep(h); return; }
    const reads = h.state.reads as Map<string, number>;
    const slots = h.packet({ sizes: [900, 300] }).map((s) => tocttou(s, reads, { size: 65535, offset: 4095, gref: 0, flags: NETTXF.more_data | NETTXF.extra_info, id: 0xffff, type: 0, gsoSize: 0 }));
    inject(h, x, slots);
  },
  expect: (o) => {
    if (o.h.variant >= 2) return [...attacked(o), ...notDisabled(o), ...((o.h.log.rewrites ?? []).length ? [] : ['the adversary never rewrote a page it lent'])];
    const reads = o.h.state.reads as Map<string, number>;
    const worst = Math.max(0, ...reads.values());
    return [...attacked(o), ...notDisabled(o), ...(worst <= 1 ? [] : [`a shared slot field was read ${worst} times in one consumption (${[...reads].filter(([, n]) => n > 1).map(([k]) => k).join(', ')})`])];
  },
};
