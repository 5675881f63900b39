/** The RX side (H14-H16): starving the backend of buffers, bad RX buffers, refusing notifications. */
import { GTF } from '../../hypervisor/grant-table.js';
import { type Behaviour, notDisabled, dropped, attacked, kick } from './common.js';

export const H14: Behaviour = {
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

export const H15: Behaviour = {
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

export const H16: Behaviour = {
  id: 'H16', title: 'notification refusal', invariants: 'I2', variants: 2,
  publish(h) { h.honestPublish(); if (h.variant === 1) h.env.xs.write(`${h.env.front}/feature-rx-notify`, 0); },
  setup(h) { h.nf.mute = true; },
  expect: (o) => notDisabled(o),
};
