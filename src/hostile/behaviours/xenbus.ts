/** XenStore and lifecycle (H20-H22): hostile keys, teardown with I/O in flight, control-ring abuse. */
import { FrontRing, SharedRing } from '../../channels/ring.js';
import { NET_CTRL_RING_SIZE, XEN_NETBK_MAX_HASH_KEY_SIZE, XEN_NETBK_MAX_HASH_MAPPING_SIZE, XEN_NETIF_CTRL_STATUS, XEN_NETIF_CTRL_TYPE, XenbusState, pageWords, type CtrlRequest, type CtrlResponse } from '../../channels/netif.js';
import { GTF } from '../../hypervisor/grant-table.js';
import { type Behaviour, notDisabled, attacked, closedWithError, statusMismatches, kick } from './common.js';

const H20_KEYS: Array<[string, string | number] | null> = [
  ['multi-queue-num-queues', 0], ['multi-queue-num-queues', 9], ['multi-queue-num-queues', 4294967295], ['tx-ring-ref', 'ring'],
  ['event-channel', ''], ['request-rx-copy', 'yes'], ['mac', '00:16:3e:zz:00:01'],
];
export const H20: Behaviour = {
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

export const H21: Behaviour = {
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
    if (h.variant === 2) { nf.crashGuest(); return; } // the guest crashes with its I/O in flight
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
export const H22: Behaviour = {
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
