/** TX request content (H6-H13): slot chains, size lies, zero-length and header fragments, extra-info and identifier games, bad grant references, hoarding. */
import { NETTXF, XEN_NETBK_MCAST_MAX, XEN_NETIF_EXTRA_FLAG_MORE, XEN_NETIF_EXTRA_TYPE, XEN_NETIF_GSO_TYPE, type TxExtra } from '../../channels/netif.js';
import { GTF } from '../../hypervisor/grant-table.js';
import { type Behaviour, disabled, notDisabled, dropped, attacked, ownRing, inject } from './common.js';

const H6_COUNTS = [17, 18, 19, 20, 21, -1, 40];
export const H6: Behaviour = {
  id: 'H6', title: 'slot-chain abuse', invariants: 'I3 I4', variants: H6_COUNTS.length,
  setup: ownRing,
  step(h, x, n) {
    const k = H6_COUNTS[h.variant];
    if (k === -1) { if (n === 0) inject(h, x, h.packet({ sizes: [100, 100, 100], truncate: true }), true); return; }
    inject(h, x, h.packet({ sizes: new Array(k + 1).fill(100) }), k > 20);
  },
  expect: (o) => {
    const k = H6_COUNTS[o.h.variant];
    const base = attacked(o);
    if (k === -1) return [...base, ...disabled(o, 'chain-past-producer')];
    if (k <= 18) return [...base, ...notDisabled(o), ...((o.counters.drops['tx-too-many-slots'] ?? 0) === 0 ? [] : ['a chain of at most 18 following slots was dropped'])];
    if (k <= 20) return [...base, ...notDisabled(o), ...dropped(o, 'tx-too-many-slots')];
    return [...base, ...disabled(o, 'too-many-slots', 'chain-past-producer', 'impossible-number-of-requests')];
  },
};

const H7_CASES: Array<{ sizes: number[]; total?: number; offsets?: number[]; want: ['drop' | 'fatal' | 'ok', string] }> = [
  { sizes: [100, 800], total: 500, want: ['drop', 'tx-fragments-exceed-total'] },  // total < sum of fragments
  { sizes: [100, 300, 300], total: 500, want: ['drop', 'tx-fragments-exceed-total'] }, // fragment > what remains
  { sizes: [10], want: ['drop', 'tx-runt'] },                                    // total < ETH_HLEN
  { sizes: [100, 200], offsets: [0, 4000], want: ['fatal', 'slot-crosses-page'] }, // following slot crosses the page
  { sizes: [200], offsets: [4000], want: ['fatal', 'slot-crosses-page'] },       // first slot crosses the page
  { sizes: [14], offsets: [4095], want: ['fatal', 'slot-crosses-page'] },        // offset 4095
  { sizes: [0], total: 0, want: ['drop', 'tx-runt'] },                           // total 0
  { sizes: [4095, ...new Array(15).fill(4096)], want: ['ok', ''] },              // exactly 0xFFFF bytes: legal
];
export const H7: Behaviour = {
  id: 'H7', title: 'size lies', invariants: 'I1 I4', variants: H7_CASES.length,
  setup: ownRing,
  step(h, x) { const c = H7_CASES[h.variant]; inject(h, x, h.packet({ sizes: c.sizes, total: c.total, offsets: c.offsets })); },
  expect: (o) => {
    const [kind, what] = H7_CASES[o.h.variant].want;
    return [...attacked(o), ...(kind === 'fatal' ? disabled(o, what) : kind === 'drop' ? [...notDisabled(o), ...dropped(o, what)] : notDisabled(o))];
  },
};

const H8_CASES = [[1000, 0, 500], [1400, 0, 0, 0], [800, 700, 0]];
export const H8: Behaviour = {
  id: 'H8', title: 'zero-length fragments', invariants: 'I2', variants: H8_CASES.length,
  setup: ownRing,
  step(h, x) { inject(h, x, h.packet({ sizes: H8_CASES[h.variant] })); },
  expect: (o) => [...attacked(o), ...notDisabled(o), ...(o.nb.stats.zeroSizeFrags > 0 ? [] : ['no zero-size fragment seen by the backend'])],
};

const H9_COUNTS = [17, 18, 19, 20];
export const H9: Behaviour = {
  id: 'H9', title: 'header fragmentation', invariants: 'I1 I8', variants: H9_COUNTS.length,
  setup: ownRing,
  step(h, x) {
    const k = H9_COUNTS[h.variant];
    inject(h, x, h.packet({ sizes: [14, ...Array.from({ length: k }, (_, i) => 1 + (i % 8))] }));
  },
  expect: (o) => {
    const k = H9_COUNTS[o.h.variant];
    return [...attacked(o), ...notDisabled(o), ...(k <= 18 ? ((o.counters.drops['tx-too-many-slots'] ?? 0) === 0 ? [] : ['tiny slots within the limit were dropped']) : dropped(o, 'tx-too-many-slots'))];
  },
};

const ext = (type: number, more = false, o: Partial<TxExtra> = {}): TxExtra => ({ extra: true, type, flags: more ? XEN_NETIF_EXTRA_FLAG_MORE : 0, gsoSize: 1448, gsoType: XEN_NETIF_GSO_TYPE.TCPV4, ...o });
export const H10: Behaviour = {
  id: 'H10', title: 'extra-info abuse', invariants: 'I3 I4 I8', variants: 11,
  setup: ownRing,
  step(h, x, n) {
    const v = h.variant;
    const T = XEN_NETIF_EXTRA_TYPE;
    if (v === 0) { if (n === 0) { const s = h.packet({ sizes: [600] }); (s[0] as { flags: number }).flags |= NETTXF.extra_info; inject(h, x, s, true); } return; } // extra flag, nothing after
    if (v >= 1 && v <= 3) { inject(h, x, h.packet({ sizes: [600], extras: [ext([0, 0, 5, 255][v])] })); return; }
    if (v === 4) { if (n === 0) inject(h, x, h.packet({ sizes: [600], extras: new Array(40).fill(0).map(() => ext(T.HASH, true)) }), true); return; } // endless MORE chain
    if (v === 5) { inject(h, x, h.packet({ sizes: [600], extras: [ext(T.GSO), ext(T.GSO)] })); return; }
    if (v === 6) { inject(h, x, h.packet({ sizes: [600], extras: [ext(T.GSO, false, { gsoSize: 0 })] })); return; }
    if (v === 7) { inject(h, x, h.packet({ sizes: [600], extras: [ext(T.GSO, false, { gsoType: 7 })] })); return; }
    if (v === 8) { for (let i = 0; i < 10; i++) inject(h, x, h.packet({ sizes: [60], extras: [ext(T.MCAST_ADD, false, { addr: `01:00:5e:00:${(n % 256).toString(16)}:${i}` })] })); return; }
    if (v === 9) { inject(h, x, h.packet({ sizes: [60], extras: [ext(T.MCAST_DEL, false, { addr: `01:00:5e:7f:7f:${n % 100}` })] })); return; }
    inject(h, x, h.packet({ sizes: [600], extras: [ext(T.HASH, false, { hashType: 0xee })] }));
  },
  expect: (o) => {
    const v = o.h.variant;
    const base = attacked(o);
    if (v === 0) return [...base, ...disabled(o, 'missing-extra-info')];
    if (v >= 1 && v <= 3) return [...base, ...disabled(o, 'bad-extra-type')];
    if (v === 4) return [...base, ...disabled(o, 'missing-extra-info', 'impossible-number-of-requests', 'bad-extra-type', 'bad-gso')];
    if (v === 6 || v === 7) return [...base, ...disabled(o, 'bad-gso')];
    if (v === 8) return [...base, ...notDisabled(o), ...(o.nb.mcast.size <= XEN_NETBK_MCAST_MAX ? [] : [`multicast table holds ${o.nb.mcast.size}`]),
      ...(o.h.steps >= 7 ? (o.counters.violations['mcast-table-full'] ? [] : ['no error response beyond 64 multicast addresses']) : [])];
    return [...base, ...notDisabled(o)];
  },
};

export const H11: Behaviour = {
  id: 'H11', title: 'identifier games', invariants: 'I4', variants: 3,
  step(h, x) {
    const ids = [[5, 5], [0, 1], [0xffff, 0xffff]][h.variant];
    for (const id of ids) inject(h, x, h.packet({ sizes: [300], ids: [id] }));
  },
  expect: (o) => [...attacked(o), ...notDisabled(o)],
};

export const H12: Behaviour = {
  id: 'H12', title: 'bad grant references', invariants: 'I1 I2 I5 I6', variants: 8,
  setup: ownRing,
  step(h, x) {
    const v = h.variant, gt = h.gt;
    const fr = h.frame(0);
    let gref: number;
    if (v === 0) gref = 5000;
    else {
      gref = h.ref();
      if (v === 1) gt.entries[gref].flags = GTF.invalid;
      if (v === 2) gt.grantAccess(gref, 7, fr, true);
      if (v === 3) gt.grantTransfer(gref, 0, 0);
      if (v === 4) { gt.grantAccess(gref, 0, fr, true); gt.entries[gref].flags |= GTF.sub_page; }
      if (v === 5) {
        gt.grantAccess(gref, 0, fr, true);
        const e = gt.entries[gref];
        let flips = 0;
        Object.defineProperty(e, 'flags', {
          configurable: true, enumerable: true,
          get() { return flips++ % 2 ? GTF.invalid : GTF.permit_access | GTF.readonly; },
          set() { /* the guest keeps flipping whatever Xen writes */ },
        });
      }
      if (v === 6) gt.grantAccess(gref, 0, fr, true);
      if (v === 7) gt.grantAccess(gref, 0, fr, true);
    }
    const slots = v === 7 ? h.packet({ sizes: [1000, 500, 500], grefs: [undefined, undefined, 4999] }) : h.packet({ sizes: [700], grefs: [gref] });
    if (!inject(h, x, slots)) return;
    if (v === 6) gt.endAccess(gref); // revoked between request and map
  },
  expect: (o) => [...attacked(o), ...notDisabled(o), ...(o.h.variant === 5 ? [] : dropped(o, 'tx-grant-error'))],
};

export const H13: Behaviour = {
  id: 'H13', title: 'resource hoarding', invariants: 'I2 I8', variants: 2,
  setup(h) { h.nf.skipTxCompletions = true; h.nf.skipRx = true; if (h.variant === 1) h.nf.noRefill = true; },
  step(h, x) { while (h.room(2)) inject(h, x, h.packet({ sizes: [1200] })); },
  expect: (o) => [...attacked(o), ...notDisabled(o)],
};
