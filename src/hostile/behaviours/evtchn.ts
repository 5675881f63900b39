/** Event channels (H17-H19): storms, churn, suppression games. */
import type { Exec } from '../../core/exec.js';
import { type Behaviour, notDisabled, attacked, statusMismatches, expectStatus, ownRing, kick } from './common.js';

export const H17: Behaviour = {
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

export const H18: Behaviour = {
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

export const H19: Behaviour = {
  id: 'H19', title: 'suppression games', invariants: 'I9', variants: 2,
  setup(h) {
    const nf = h.nf;
    if (h.variant === 0) nf.afterPoll = () => { nf.tx.sring.rspEvent = (nf.tx.rspCons + 2 ** 30) >>> 0; nf.rxr.sring.rspEvent = (nf.rxr.rspCons + 2 ** 30) >>> 0; };
    else nf.afterPoll = () => { nf.mute = true; }; // acts on a req_event it never re-reads
  },
  expect: (o) => notDisabled(o),
};
