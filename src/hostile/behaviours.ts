/**
 * The hostile-guest catalogue of docs/protocol.md 5.2, H1-H26, as behaviours
 * of an adversarial netfront. Each behaviour says what the adversary does
 * (`publish` for the XenBus handshake, `step` every `periodUs` from
 * `startUs`), and what a correct driver domain and hypervisor must make of
 * it (`expect`, checked on the finished run). The invariants I1-I12 that hold
 * for every run, and the honest guests' progress, are checked by src/stress.
 */
import type { Exec } from '../domains/kernel.js';
import type { Netback } from '../channels/netback.js';
import { FrontRing, SharedRing } from '../channels/ring.js';
import {
  NETTXF, NET_CTRL_RING_SIZE, XEN_NETBK_MAX_HASH_KEY_SIZE, XEN_NETBK_MAX_HASH_MAPPING_SIZE, XEN_NETBK_MCAST_MAX,
  XEN_NETIF_CTRL_STATUS, XEN_NETIF_CTRL_TYPE, XEN_NETIF_EXTRA_FLAG_MORE, XEN_NETIF_EXTRA_TYPE, XEN_NETIF_GSO_TYPE,
  XenbusState, pageWords, type CtrlRequest, type CtrlResponse, type RxRequest, type TxExtra, type TxSlot,
} from '../channels/netif.js';
import { DOMID_SELF, GNTMAP, GNTST, GTF } from '../hypervisor/grant-table.js';
import type { Counters } from '../model/counters.js';
import type { VifInfo } from '../scenario/build.js';
import type { Hostile } from './netfront.js';
import { PAGE_SIZE } from '../hardware/memory.js';

/** What the expectations see of a finished run (the oracle's view, not the adversary's). */
export interface Outcome {
  h: Hostile;
  nb: Netback;
  vif: VifInfo;
  counters: Counters;
  /** The run reached quiescence (no event pending). */
  quiescent: boolean;
  /** Grant mappings the driver domain still holds on this guest's grants. */
  dom0Mappings: number;
}

export interface Behaviour {
  id: string;
  title: string;
  /** The catalogue's invariants for this behaviour. */
  invariants: string;
  /** Sub-cases (the scenario's `variant` picks one, modulo this). */
  variants: number;
  publish?(h: Hostile): void;
  setup?(h: Hostile): void;
  step?(h: Hostile, x: Exec, n: number): void;
  teardown?(h: Hostile): void;
  /** Failures (empty when the driver domain and Xen did what they must). */
  expect(o: Outcome): string[];
}

// ---------------------------------------------------------------- expectation helpers

const disabled = (o: Outcome, ...reasons: string[]): string[] =>
  o.nb.disabled && reasons.includes(o.nb.disabled) ? [] : [`expected the vif disabled for ${reasons.join(' | ')}, got ${o.nb.disabled ?? 'not disabled'}`];
const notDisabled = (o: Outcome): string[] => (o.nb.disabled ? [`vif disabled (${o.nb.disabled}) for a legal or non-fatal request`] : []);
const dropped = (o: Outcome, reason: string): string[] => ((o.counters.drops[reason] ?? 0) > 0 ? [] : [`expected drops '${reason}'`]);
const attacked = (o: Outcome): string[] => (o.h.steps > 0 || o.h.nf.crashed ? [] : ['the adversary never ran (run too short?)']);
const closedWithError = (o: Outcome): string[] => {
  const out: string[] = [];
  if (o.nb.state !== XenbusState.Closing && o.nb.state !== XenbusState.Closed) out.push(`backend state ${o.nb.state}, expected Closing/Closed`);
  if (!o.nb.error || !o.h.env.xs.read(`${o.vif.back}/error`)) out.push('no error node');
  if (o.nb.connected) out.push('backend connected');
  if (o.nb.ringMappings() !== 0) out.push(`${o.nb.ringMappings()} ring pages still mapped`);
  return out;
};
/** Statuses the adversary recorded that differ from what Xen must return. */
const statusMismatches = (o: Outcome): string[] => ((o.h.log.mismatch ?? []) as string[]).slice(0, 3);
const expectStatus = (h: Hostile, what: string, got: number, want: number | number[]): void => {
  const ok = Array.isArray(want) ? want.includes(got) : got === want;
  if (!ok) h.record('mismatch', `${what}: got ${got}, expected ${String(want)}`);
  h.record('checked', what);
};

/** The adversary keeps its own stack off the TX ring (the device stays busy): the ring is its canvas. */
const ownRing = (h: Hostile): void => { h.nf.xmit = () => false; };
/** Push a crafted packet when the ring has room for it (or regardless, when `force`). */
const inject = (h: Hostile, x: Exec, slots: TxSlot[], force = false): boolean => {
  if (!force && !h.room(slots.length)) return false;
  h.push(x, slots);
  h.record('injected', slots.length);
  return true;
};
/** Poke the backend through the event channel regardless of the ring's notification rule. */
const kick = (h: Hostile, x: Exec): void => { h.env.xen.evtchnSendPort(x, h.kernel, h.env.port.port); };

// ---------------------------------------------------------------- ring-index attacks

const H1: Behaviour = {
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

const H2: Behaviour = {
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

const H3: Behaviour = {
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

const H4: Behaviour = {
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
/** Wrap the frontend's RX refill: after it posts buffers, visit each newly posted slot (to tamper with it). */
function afterRxPost(nf: Hostile['nf'], visit: (slot: { req?: RxRequest }) => void): void {
  const refill = nf.refill.bind(nf);
  nf.refill = (x) => {
    const from = nf.rxr.reqProdPvt;
    refill(x);
    for (let i = from; i !== nf.rxr.reqProdPvt; i = (i + 1) >>> 0) visit(nf.rxr.sring.slots[i & (nf.rxr.size - 1)] as { req?: RxRequest });
  };
}

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

const H5: Behaviour = {
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

// ---------------------------------------------------------------- TX request content

const H6_COUNTS = [17, 18, 19, 20, 21, -1, 40];
const H6: Behaviour = {
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
const H7: Behaviour = {
  id: 'H7', title: 'size lies', invariants: 'I1 I4', variants: H7_CASES.length,
  setup: ownRing,
  step(h, x) { const c = H7_CASES[h.variant]; inject(h, x, h.packet({ sizes: c.sizes, total: c.total, offsets: c.offsets })); },
  expect: (o) => {
    const [kind, what] = H7_CASES[o.h.variant].want;
    return [...attacked(o), ...(kind === 'fatal' ? disabled(o, what) : kind === 'drop' ? [...notDisabled(o), ...dropped(o, what)] : notDisabled(o))];
  },
};

const H8_CASES = [[1000, 0, 500], [1400, 0, 0, 0], [800, 700, 0]];
const H8: Behaviour = {
  id: 'H8', title: 'zero-length fragments', invariants: 'I2', variants: H8_CASES.length,
  setup: ownRing,
  step(h, x) { inject(h, x, h.packet({ sizes: H8_CASES[h.variant] })); },
  expect: (o) => [...attacked(o), ...notDisabled(o), ...(o.nb.stats.zeroSizeFrags > 0 ? [] : ['no zero-size fragment seen by the backend'])],
};

const H9_COUNTS = [17, 18, 19, 20];
const H9: Behaviour = {
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
const H10: Behaviour = {
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

const H11: Behaviour = {
  id: 'H11', title: 'identifier games', invariants: 'I4', variants: 3,
  step(h, x) {
    const ids = [[5, 5], [0, 1], [0xffff, 0xffff]][h.variant];
    for (const id of ids) inject(h, x, h.packet({ sizes: [300], ids: [id] }));
  },
  expect: (o) => [...attacked(o), ...notDisabled(o)],
};

const H12: Behaviour = {
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

const H13: Behaviour = {
  id: 'H13', title: 'resource hoarding', invariants: 'I2 I8', variants: 2,
  setup(h) { h.nf.skipTxCompletions = true; h.nf.skipRx = true; if (h.variant === 1) h.nf.noRefill = true; },
  step(h, x) { while (h.room(2)) inject(h, x, h.packet({ sizes: [1200] })); },
  expect: (o) => [...attacked(o), ...notDisabled(o)],
};

// ---------------------------------------------------------------- RX side

const H14: Behaviour = {
  id: 'H14', title: 'RX starvation', invariants: 'I2 I8', variants: 3,
  setup(h) { if (h.variant !== 1) h.nf.noRefill = true; },
  step(h, x) {
    const nf = h.nf;
    if (h.variant === 1) { nf.rxr.sring.reqProd = (nf.rxr.sring.reqProd - 3) >>> 0; kick(h, x); } // producer moves backwards
    if (h.variant === 2) { nf.noRefill = false; const free = nf.rxr.freeRequests(); if (free > 0) { const p = nf.rxr.reqProdPvt; nf.refill(x); void p; } nf.noRefill = true; } // trickle
  },
  expect: (o) => {
    const base = [...attacked(o), ...notDisabled(o)];
    if (o.h.variant !== 0 || !o.quiescent) return base;
    const starved = (o.counters.drops['netback-rx-expired'] ?? 0) + (o.counters.drops['vif-carrier-off'] ?? 0) + (o.counters.drops['netback-rx-queue-full'] ?? 0);
    if (o.nb.rxQueueLength() > 0) base.push(`${o.nb.rxQueueLength()} packets still queued for a guest that posts no buffers`);
    if (o.nb.stats.rxQueued > 0 && starved === 0) base.push('packets for a guest with no buffers were neither expired nor dropped');
    return base;
  },
};

const H15: Behaviour = {
  id: 'H15', title: 'bad RX buffers', invariants: 'I1 I4', variants: 6,
  setup(h) { h.nf.noRefill = true; h.nf.skipRx = true; h.state.rxId = 0x8000; },
  step(h, x) {
    const nf = h.nf, gt = h.gt, r = nf.rxr;
    // Read (and drop) whatever came back.
    while (r.unconsumedResponses() > 0) { const rsp = r.takeResponse(); h.record('rxStatus', rsp.status); }
    const flip = !nf.feat.rxCopy;
    for (let i = 0; i < 8 && r.freeRequests() > 0; i++) {
      const ref = h.ref();
      const fr = h.frame(i);
      const v = h.variant;
      if (v === 0) gt.entries[ref].flags = GTF.invalid;
      if (v === 1) { if (flip) gt.grantAccess(ref, 0, fr, false); else gt.grantAccess(ref, 0, fr, true); }
      if (v === 2) { if (flip) gt.grantTransfer(ref, 7, 0); else gt.grantAccess(ref, 7, fr, false); }
      if (v === 3) { if (flip) gt.grantTransfer(ref, 0, 0); else gt.grantAccess(ref, 0, fr, false); }
      if (v === 4) gt.grantAccess(ref, 0, 1 + i, false); // a frame that is not ours
      if (v === 5) {
        gt.grantAccess(ref, 0, fr, false);
        const e = gt.entries[ref];
        let k = 0;
        Object.defineProperty(e, 'frame', { configurable: true, enumerable: true, get() { return k++ % 2 ? 1 + i : fr; }, set() {} });
      }
      const id = (h.state.rxId as number);
      h.state.rxId = id >= 0xfffe ? 0x8000 : id + 1;
      r.putRequest({ id, gref: ref });
      if (v === 3) { if (flip) gt.endTransfer(ref); else gt.endAccess(ref); } // revoked right after posting
    }
    nf.pushRx(x);
  },
  expect: (o) => [...attacked(o), ...notDisabled(o),
    ...(o.h.variant === 5 || (o.h.log.rxStatus ?? []).length === 0 || (o.counters.drops['rx-grant-error'] ?? 0) > 0 ? [] : ['bad RX buffers did not produce grant errors'])],
};

const H16: Behaviour = {
  id: 'H16', title: 'notification refusal', invariants: 'I2', variants: 2,
  publish(h) { h.honestPublish(); if (h.variant === 1) h.env.xs.write(`${h.env.front}/feature-rx-notify`, 0); },
  setup(h) { h.nf.mute = true; },
  expect: (o) => notDisabled(o),
};

// ---------------------------------------------------------------- event channels

const H17: Behaviour = {
  id: 'H17', title: 'event storm', invariants: 'I3 I2', variants: 2,
  setup(h) { if (h.variant === 1) ownRing(h); h.state.sent = 0; },
  step(h, x, n) {
    if (n > 0) return; // one self-perpetuating tight loop
    const loop = (lx: Exec) => {
      if (!h.active) return;
      for (let i = 0; i < 16; i++) {
        if (h.variant === 1 && h.room(1)) h.push(lx, h.packet({ sizes: [100] }));
        kick(h, lx);
        h.state.sent = (h.state.sent as number) + 1;
      }
      h.kernel.post({ name: 'hostile-storm', run: (nx) => h.nf.guard(() => loop(nx)) }, 'irq');
    };
    loop(x);
  },
  expect: (o) => {
    const sent = o.h.state.sent as number;
    const out = [...attacked(o), ...notDisabled(o)];
    if (o.nb.stats.events > sent + 8) out.push(`backend handled ${o.nb.stats.events} events for ${sent} sent`);
    // Late EOI: a storm on an empty ring costs the driver domain a logarithmic number of spurious events.
    if (o.h.variant === 0 && sent > 100 && o.nb.stats.spuriousEvents > 24) out.push(`${o.nb.stats.spuriousEvents} spurious events handled (no back-off)`);
    return out;
  },
};

const H18: Behaviour = {
  id: 'H18', title: 'channel churn', invariants: 'I2 I3 I5', variants: 6,
  step(h, x, n) {
    const xen = h.env.xen, k = h.kernel, port = h.env.port.port;
    const v = h.variant;
    if (v === 0) {
      if (n === 0) expectStatus(h, 'close vif port', xen.evtchnClose(x, k, port), 0);
      else expectStatus(h, 'send on closed port', xen.evtchnSendPort(x, k, port), -22);
    }
    if (v === 1) {
      const p = xen.evtchnAllocUnbound(x, k, 0);
      if (p > 0) expectStatus(h, 'close churned port', xen.evtchnClose(x, k, p), 0);
      else h.record('mismatch', `alloc_unbound failed ${p}`);
      expectStatus(h, 'unmask vif port', xen.evtchnUnmask(x, k, port), 0);
    }
    if (v === 2 && n < 9) {
      // Exhaust every port, 512 allocations per step (a guest's own CPU time), then bind a VIRQ.
      let last = 0;
      for (let i = 0; i < 512 && last >= 0; i++) last = xen.evtchnAllocUnbound(x, k, 0);
      if (last >= 0) return;
      if (h.state.exhausted) return;
      h.state.exhausted = true;
      expectStatus(h, 'alloc beyond the port limit', last, -28);
      const before = k.evtchn.ports.filter((p) => p.virq !== undefined).length;
      expectStatus(h, 'bind VIRQ with no free port', xen.evtchnBindVirq(x, k, 0), -28);
      if (k.evtchn.ports.filter((p) => p.virq !== undefined).length !== before) h.record('mismatch', 'failed bind_virq left a half-bound port');
    }
    if (v === 3 && n === 0) {
      expectStatus(h, 'bind VIRQ 99', xen.evtchnBindVirq(x, k, 99), -22);
      const p = xen.evtchnBindVirq(x, k, 1);
      if (p <= 0) h.record('mismatch', `bind VIRQ 1 failed ${p}`);
      expectStatus(h, 'bind VIRQ 1 twice', xen.evtchnBindVirq(x, k, 1), -17);
      expectStatus(h, 'send on a VIRQ port', xen.evtchnSendPort(x, k, p), -22);
    }
    if (v === 4) for (const p of [0, -1, 9999, 4096, 2 ** 31]) {
      expectStatus(h, `send ${p}`, xen.evtchnSendPort(x, k, p), -22);
      expectStatus(h, `unmask ${p}`, xen.evtchnUnmask(x, k, p), -22);
      expectStatus(h, `close ${p}`, xen.evtchnClose(x, k, p), -22);
    }
    if (v === 5 && n === 2) expectStatus(h, 'reset', xen.evtchnReset(x, k), 0);
  },
  expect: (o) => [...attacked(o), ...statusMismatches(o)],
};

const H19: Behaviour = {
  id: 'H19', title: 'suppression games', invariants: 'I9', variants: 2,
  setup(h) {
    const nf = h.nf;
    if (h.variant === 0) nf.afterPoll = () => { nf.tx.sring.rspEvent = (nf.tx.rspCons + 2 ** 30) >>> 0; nf.rxr.sring.rspEvent = (nf.rxr.rspCons + 2 ** 30) >>> 0; };
    else nf.afterPoll = () => { nf.mute = true; }; // acts on a req_event it never re-reads
  },
  expect: (o) => notDisabled(o),
};

// ---------------------------------------------------------------- XenStore / lifecycle

const H20_KEYS: Array<[string, string | number] | null> = [
  ['multi-queue-num-queues', 0], ['multi-queue-num-queues', 9], ['multi-queue-num-queues', 4294967295], ['tx-ring-ref', 'ring'],
  ['event-channel', ''], ['request-rx-copy', 'yes'], ['mac', '00:16:3e:zz:00:01'],
];
const H20: Behaviour = {
  id: 'H20', title: 'hostile XenStore keys', invariants: 'I5 I8 I11', variants: 12,
  publish(h) {
    const e = h.env, v = h.variant;
    if (v === 10) { e.xs.write(`${e.front}/state`, XenbusState.Connected); h.state.early = true; return; } // Connected before any key
    h.honestPublish();
    const kv = H20_KEYS[v];
    if (kv) {
      if (kv[0] === 'event-channel') e.xs.write(`${e.front}/event-channel`, 'none');
      else e.xs.write(`${e.front}/${kv[0]}`, kv[1]);
    }
  },
  step(h, x, n) {
    const e = h.env, v = h.variant;
    const set = (s: number) => e.switchState(s);
    if (v === 7 && n === 0) set(9);
    if (v === 8 && n === 0) set(255);
    if (v === 9) set(n % 2 ? XenbusState.Connected : XenbusState.Closing);
    if (v === 10 && n === 0) { h.honestPublish(); set(XenbusState.Connected); }
    if (v === 11) for (let i = 0; i < 200; i++) set(XenbusState.Connected);
  },
  expect: (o) => {
    const v = o.h.variant;
    if (v <= 6) return [...closedWithError(o), ...(o.dom0Mappings === 0 ? [] : [`${o.dom0Mappings} mappings left`])];
    if (v === 7 || v === 8) return [...attacked(o), ...(o.nb.connected ? ['still connected after a garbage state'] : []), ...(o.nb.error ? [] : ['no error node'])];
    if (v === 9) return [...attacked(o), ...(!o.quiescent || o.nb.connected || o.nb.ringMappings() === 0 ? [] : ['rings still mapped while disconnected'])];
    return [...attacked(o), ...(o.nb.connected ? [] : ['a late but complete handshake must connect'])];
  },
};

const H21: Behaviour = {
  id: 'H21', title: 'teardown with I/O in flight', invariants: 'I1 I5 I6', variants: 3,
  step(h, x, n) {
    const e = h.env, gt = h.gt, nf = h.nf;
    if (n !== 1) return;
    if (h.variant === 0) {
      // Revoke every grant we can see: those the backend has mapped must refuse (XSA-396 reversed).
      for (let r = 8; r < gt.entries.length; r++) {
        const pinned = gt.pinCount(r) > 0;
        if ((gt.entries[r].flags & 3) !== GTF.permit_access) continue;
        if (r === nf.ringRefs.tx || r === nf.ringRefs.rx) { if (gt.endAccess(r)) h.record('mismatch', 'ring grant revoked while mapped'); continue; }
        const ok = gt.endAccess(r);
        if (ok && pinned) h.record('mismatch', `grant ${r} revoked while pinned`);
      }
    }
    if (h.variant === 1) for (let r = 8; r < gt.entries.length; r++) if ((gt.entries[r].flags & 3) === GTF.permit_access && r !== nf.ringRefs.tx && r !== nf.ringRefs.rx) gt.endAccess(r);
    if (h.variant === 2) { nf.crashed = true; e.switchState(XenbusState.Closed); return; }
    e.switchState(XenbusState.Closing);
    h.later(50, () => e.switchState(XenbusState.Closed));
  },
  expect: (o) => [...attacked(o), ...statusMismatches(o), ...(o.nb.connected ? ['still connected after the frontend closed'] : []),
    ...(o.quiescent && o.dom0Mappings !== 0 ? [`${o.dom0Mappings} mappings of a closed frontend's grants left`] : [])],
};

const H22_CASES: Array<{ reqs: Array<[number, number, number, number]>; want: number[] }> = (() => {
  const T = XEN_NETIF_CTRL_TYPE, S = XEN_NETIF_CTRL_STATUS;
  return [
    { reqs: [[T.SET_HASH_MAPPING_SIZE, 64, 0, 0], [T.SET_HASH_MAPPING, -1, 2, 0xffffffff]], want: [S.SUCCESS, S.INVALID_PARAMETER] }, // off + len wraps
    { reqs: [[T.SET_HASH_MAPPING_SIZE, 8, 0, 0], [T.SET_HASH_MAPPING, -2, 4, 0]], want: [S.SUCCESS, S.INVALID_PARAMETER] },           // queue numbers >= queues
    { reqs: [[T.SET_HASH_MAPPING_SIZE, XEN_NETBK_MAX_HASH_MAPPING_SIZE + 1, 0, 0]], want: [S.INVALID_PARAMETER] },
    { reqs: [[T.SET_HASH_KEY, -3, XEN_NETBK_MAX_HASH_KEY_SIZE + 1, 0]], want: [S.INVALID_PARAMETER] },
    { reqs: [[T.SET_HASH_KEY, 4999, 16, 0]], want: [S.INVALID_PARAMETER] },                                                          // bad gref
    { reqs: new Array(NET_CTRL_RING_SIZE).fill([T.GET_HASH_FLAGS, 0, 0, 0]), want: new Array(NET_CTRL_RING_SIZE).fill(S.SUCCESS) },  // flood
    { reqs: [[99, 0, 0, 0], [T.ADD_GREF_MAPPING, 0, 0, 0]], want: [S.NOT_SUPPORTED, S.NOT_SUPPORTED] },
    { reqs: [[T.SET_HASH_FLAGS, 0xff0, 0, 0]], want: [S.INVALID_PARAMETER] },
    { reqs: [[T.SET_HASH_ALGORITHM, 7, 0, 0]], want: [S.INVALID_PARAMETER] },
    { reqs: [[T.SET_HASH_MAPPING_SIZE, 8, 0, 0], [T.SET_HASH_KEY, -3, 40, 0], [T.SET_HASH_MAPPING, -1, 8, 0], [T.SET_HASH_ALGORITHM, 1, 0, 0]], want: [S.SUCCESS, S.SUCCESS, S.SUCCESS, S.SUCCESS] },
  ];
})();
const H22: Behaviour = {
  id: 'H22', title: 'control ring abuse', invariants: 'I1 I3', variants: H22_CASES.length,
  publish(h) {
    const e = h.env;
    h.honestPublish();
    const ring = new SharedRing<CtrlRequest, CtrlResponse>(NET_CTRL_RING_SIZE);
    const fr = h.kernel.allocFrame();
    e.rings.ctrl = ring;
    e.rings.ctrlFrame = fr;
    e.ringPages.set(fr, ring as SharedRing<unknown, unknown>);
    h.gt.grantAccess(h.nf.ringRefs.ctrl, 0, fr, false);
    e.xs.write(`${e.front}/ctrl-ring-ref`, h.nf.ringRefs.ctrl);
    h.state.front = new FrontRing(ring);
  },
  setup(h) {
    // Pages the gref arguments point at: a mapping table of zeros, one of queue 3s, a 40-byte key.
    const words = pageWords(h.kernel.mem);
    const f = [h.frame(40), h.frame(41), h.frame(42)];
    words.set(f[0], new Array(1024).fill(0));
    words.set(f[1], new Array(1024).fill(3));
    words.set(f[2], new Array(40).fill(7));
    h.state.grefs = f.map((fr) => h.grant(fr));
    h.state.sent = 0;
  },
  step(h, x, n) {
    const fr = h.state.front as FrontRing<CtrlRequest, CtrlResponse>;
    while (fr.unconsumedResponses() > 0) h.record('ctrl', fr.takeResponse());
    if (n > 0) return;
    const grefs = h.state.grefs as number[];
    const c = H22_CASES[h.variant];
    c.reqs.forEach(([type, a, b, off], i) => {
      if (fr.full()) return;
      const gref = a === -1 ? grefs[0] : a === -2 ? grefs[1] : a === -3 ? grefs[2] : a;
      fr.putRequest({ id: i, type, data: [type === XEN_NETIF_CTRL_TYPE.SET_HASH_MAPPING || type === XEN_NETIF_CTRL_TYPE.SET_HASH_KEY ? gref : a, b, off] });
    });
    fr.pushRequests();
    kick(h, x);
  },
  expect: (o) => {
    const got = (o.h.log.ctrl ?? []) as CtrlResponse[];
    const want = H22_CASES[o.h.variant].want;
    const out = [...attacked(o), ...notDisabled(o)];
    if (o.quiescent && got.length < want.length && o.h.steps > 3) out.push(`${got.length}/${want.length} control responses`);
    got.forEach((r) => { if (r.id < want.length && r.status !== want[r.id]) out.push(`control request ${r.id}: status ${r.status}, expected ${want[r.id]}`); });
    const hs = o.nb.hash;
    if (hs.size > XEN_NETBK_MAX_HASH_MAPPING_SIZE || hs.key.length > XEN_NETBK_MAX_HASH_KEY_SIZE || hs.mapping.some((q) => q >= 1) || hs.mapping.length > XEN_NETBK_MAX_HASH_MAPPING_SIZE) out.push('hash state out of bounds');
    if (o.nb.stats.maxCtrlPerPass > NET_CTRL_RING_SIZE) out.push(`${o.nb.stats.maxCtrlPerPass} control requests in one pass`);
    return out.slice(0, 4);
  },
};

// ---------------------------------------------------------------- hypercall surface

const H23: Behaviour = {
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

const H24: Behaviour = {
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

const H25: Behaviour = {
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

// ---------------------------------------------------------------- information flow

const RX_KEYS = 'flags,id,offset,status';
const TX_KEYS = 'id,status';
const H26: Behaviour = {
  id: 'H26', title: 'padding and stale data', invariants: 'I10', variants: 1,
  setup(h) {
    const mine = h.nf.flows ?? new Set<number>();
    const mem = h.kernel.mem;
    h.nf.onRxResponse = (r, frame) => {
      const keys = Object.keys(r).sort().join(',');
      const rr = r as { offset: number; flags: number; status: number };
      if (keys !== RX_KEYS || rr.offset !== 0 || rr.flags & ~0x1f) h.record('leak', `RX response ${JSON.stringify(r)}`);
      if (frame >= 0 && rr.status > 0) {
        const p = mem.contents.get(frame);
        if (p && !mine.has(p.flow)) h.record('leak', `page holds flow ${p.flow}`);
      }
      h.record('seen', 1);
    };
    h.nf.onTxResponse = (r) => {
      if (Object.keys(r).sort().join(',') !== TX_KEYS) h.record('leak', `TX response ${JSON.stringify(r)}`);
    };
  },
  step() { /* passive */ },
  expect: (o) => ((o.h.log.leak ?? []).length ? [`information leak: ${(o.h.log.leak as string[])[0]}`] : []),
};

export const BEHAVIOURS: Behaviour[] = [H1, H2, H3, H4, H5, H6, H7, H8, H9, H10, H11, H12, H13, H14, H15, H16, H17, H18, H19, H20, H21, H22, H23, H24, H25, H26];
export const BEHAVIOUR_BY_ID = new Map(BEHAVIOURS.map((b) => [b.id, b]));
