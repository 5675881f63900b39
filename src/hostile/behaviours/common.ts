/**
 * The helpers every family of behaviours uses (what a behaviour is: ../netfront.ts).
 */
import type { Exec } from '../../core/exec.js';
import { XenbusState, type RxRequest, type TxSlot } from '../../channels/netif.js';
import type { Hostile, Outcome } from '../netfront.js';

// What a behaviour is and what its expectations see live with the adversary that runs them (../netfront.ts).
export type { Behaviour, Outcome } from '../netfront.js';

// ---------------------------------------------------------------- expectation helpers

export const disabled = (o: Outcome, ...reasons: string[]): string[] =>
  o.nb.disabled && reasons.includes(o.nb.disabled) ? [] : [`expected the vif disabled for ${reasons.join(' | ')}, got ${o.nb.disabled ?? 'not disabled'}`];
export const notDisabled = (o: Outcome): string[] => (o.nb.disabled ? [`vif disabled (${o.nb.disabled}) for a legal or non-fatal request`] : []);
export const dropped = (o: Outcome, reason: string): string[] => ((o.counters.drops[reason] ?? 0) > 0 ? [] : [`expected drops '${reason}'`]);
export const attacked = (o: Outcome): string[] => (o.h.steps > 0 || o.h.nf.crashed ? [] : ['the adversary never ran (run too short?)']);
export const closedWithError = (o: Outcome): string[] => {
  const out: string[] = [];
  if (o.nb.state !== XenbusState.Closing && o.nb.state !== XenbusState.Closed) out.push(`backend state ${o.nb.state}, expected Closing/Closed`);
  if (!o.nb.error || !o.h.env.xs.read(`${o.back}/error`)) out.push('no error node');
  if (o.nb.connected) out.push('backend connected');
  if (o.nb.ringMappings() !== 0) out.push(`${o.nb.ringMappings()} ring pages still mapped`);
  return out;
};
/** Statuses the adversary recorded that differ from what Xen must return. */
export const statusMismatches = (o: Outcome): string[] => ((o.h.log.mismatch ?? []) as string[]).slice(0, 3);
export const expectStatus = (h: Hostile, what: string, got: number, want: number | number[]): void => {
  const ok = Array.isArray(want) ? want.includes(got) : got === want;
  if (!ok) h.record('mismatch', `${what}: got ${got}, expected ${String(want)}`);
  h.record('checked', what);
};

/** The adversary keeps its own stack off the TX ring (the device stays busy): the ring is its canvas. */
export const ownRing = (h: Hostile): void => { h.nf.xmit = () => false; };
/** Push a crafted packet when the ring has room for it (or regardless, when `force`). */
export const inject = (h: Hostile, x: Exec, slots: TxSlot[], force = false): boolean => {
  if (!force && !h.room(slots.length)) return false;
  h.push(x, slots);
  h.record('injected', slots.length);
  return true;
};
/** Poke the backend through the event channel regardless of the ring's notification rule. */
export const kick = (h: Hostile, x: Exec): void => { h.env.xen.evtchnSendPort(x, h.kernel, h.env.port.port); };

/** Wrap the frontend's RX refill: after it posts buffers, visit each newly posted slot (to tamper with it). */
export function afterRxPost(nf: Hostile['nf'], visit: (slot: { req?: RxRequest }) => void): void {
  const refill = nf.refill.bind(nf);
  nf.refill = (x) => {
    const from = nf.rxr.reqProdPvt;
    refill(x);
    for (let i = from; i !== nf.rxr.reqProdPvt; i = (i + 1) >>> 0) visit(nf.rxr.sring.slots[i & (nf.rxr.size - 1)] as { req?: RxRequest });
  };
}
