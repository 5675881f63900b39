/**
 * The control state of one vif as a statechart (kind `netback`). Netback decides each change where
 * Linux does (set_backend_state, napi_schedule, xenvif_tx_action, xenvif_fatal_tx_err,
 * xenvif_kick_rx, xenvif_rx_queue_drop_expired, the late-EOI back-off of xenvif_interrupt) and
 * tells this actor directly (untraced); the per-packet work stays in tx.ts / rx.ts / control.ts.
 * Whether the vif is disabled (and why), whether its carrier is off, and whether its TX and control
 * work items are queued are read back from here (netbackState): the driver keeps no copy of them.
 *
 * Regions:
 * - xenbus: the backend's XenbusState, only along BACKEND_EDGES (2.9, I11). The watch on the
 *   frontend's state node delivers XS_WATCH_EVENT here (from xenstored); its action is Linux's
 *   frontend_changed, which decides the next state (connect, close) and tells this actor.
 * - tx: the TX work item: idle, scheduled on the driver domain's kernel, inside a pass, parked on
 *   the pending-slot pool, waiting for the credit timer (rate limited: tx_credit_exceeded), or
 *   disabled after a fatal protocol violation (2.10).
 * - rx: the receive queue: idle, working (the RX work item is queued), stalled (packets wait for
 *   buffers the frontend has not posted), draining (expired or purged packets are dropped),
 *   carrierOff (the queue stalled for the stall timeout: XSA-392).
 * - lateEoi: normal, or backoff while the port stays masked after spurious events (XSA-332).
 * - ctrl: the control-ring work item, idle or scheduled.
 */
import { assign, setup } from 'xstate';
import { stateValue, type ActorLike } from '../actors/runtime.js';

export type NetbackEvent =
  | { type: 'XENBUS_INITWAIT' } | { type: 'XENBUS_CONNECTED' } | { type: 'XENBUS_CLOSING' } | { type: 'XENBUS_CLOSED' }
  | { type: 'NAPI_SCHEDULE' } | { type: 'TX_ACTION' } | { type: 'TX_DONE' } | { type: 'TX_WAIT_PENDING' } | { type: 'TX_CREDIT_WAIT' } | { type: 'TX_STOP' } | { type: 'TX_FATAL_ERR'; reason: string } | { type: 'TX_ENABLE' }
  | { type: 'RX_KICK' } | { type: 'RX_DONE' } | { type: 'RX_STALL' } | { type: 'RX_DRAIN' } | { type: 'RX_DRAINED' } | { type: 'CARRIER_OFF' } | { type: 'CARRIER_ON' }
  | { type: 'LATE_EOI_MASK' } | { type: 'LATE_EOI' }
  | { type: 'CTRL_SCHEDULE' } | { type: 'CTRL_DONE' }
  | { type: 'XS_WATCH_EVENT'; detail: string };

/** The vif's XenBus driver: what runs when a watch fires (frontend_changed, netback/xenbus.ts). */
export interface NetbackInput { name: string; frontendChanged?: (path: string) => void }

type Plain = Exclude<NetbackEvent['type'], 'XS_WATCH_EVENT' | 'TX_FATAL_ERR'>;
/** One event object per type without a payload, made once (the hot paths send them without allocating). */
export const NB = Object.fromEntries(
  ['XENBUS_INITWAIT', 'XENBUS_CONNECTED', 'XENBUS_CLOSING', 'XENBUS_CLOSED', 'NAPI_SCHEDULE', 'TX_ACTION', 'TX_DONE', 'TX_WAIT_PENDING', 'TX_CREDIT_WAIT', 'TX_STOP',
    'TX_ENABLE', 'RX_KICK', 'RX_DONE', 'RX_STALL', 'RX_DRAIN', 'RX_DRAINED', 'CARRIER_OFF', 'CARRIER_ON', 'LATE_EOI_MASK',
    'LATE_EOI', 'CTRL_SCHEDULE', 'CTRL_DONE'].map((t) => [t, Object.freeze({ type: t })]),
) as { [K in Plain]: Readonly<{ type: K }> };

/** XenbusState number -> the event that enters it (only the states netback's backend takes). */
export const XENBUS_EVENT: Readonly<Record<number, Readonly<NetbackEvent>>> = { 2: NB.XENBUS_INITWAIT, 4: NB.XENBUS_CONNECTED, 5: NB.XENBUS_CLOSING, 6: NB.XENBUS_CLOSED };

interface NetbackContext { name: string; frontendChanged: ((path: string) => void) | null; disabledFor: string | null }

/** The vif's state value: one state per region. */
export interface NetbackValue {
  xenbus: 'InitWait' | 'Connected' | 'Closing' | 'Closed';
  tx: 'idle' | 'scheduled' | 'inPass' | 'waitingForPendingSlots' | 'creditWait' | 'disabled';
  rx: 'idle' | 'working' | 'stalled' | 'draining' | 'carrierOff';
  lateEoi: 'normal' | 'backoff';
  ctrl: 'idle' | 'scheduled';
}
const INITIAL: NetbackValue = Object.freeze({ xenbus: 'InitWait', tx: 'idle', rx: 'idle', lateEoi: 'normal', ctrl: 'idle' });

/** The vif's control state, as its actor holds it (the initial state until build() spawns the actor). */
export function netbackState(a: ActorLike | null): NetbackValue {
  return a === null ? INITIAL : stateValue(a) as NetbackValue;
}
/** Why the vif was disabled (the fatal violation xenvif_fatal_tx_err saw), or null while it is not. */
export function netbackDisabledFor(a: ActorLike | null): string | null {
  return netbackState(a).tx === 'disabled' ? (a!.getSnapshot().context as NetbackContext).disabledFor : null;
}

export const netbackMachine = setup({
  types: {
    context: {} as NetbackContext,
    input: {} as NetbackInput,
    events: {} as NetbackEvent,
  },
  actions: {
    frontend_changed: ({ context, event }) => context.frontendChanged?.((event as { detail: string }).detail),
    xenvif_fatal_tx_err: assign({ disabledFor: ({ event }) => (event as { reason: string }).reason }),
  },
}).createMachine({
  id: 'netback',
  context: ({ input }) => ({ name: input.name, frontendChanged: input.frontendChanged ?? null, disabledFor: null }),
  type: 'parallel',
  states: {
    xenbus: {
      initial: 'InitWait',
      on: { XS_WATCH_EVENT: { actions: 'frontend_changed' } },
      states: {
        InitWait: { on: { XENBUS_CONNECTED: 'Connected', XENBUS_CLOSING: 'Closing' } },
        Connected: { on: { XENBUS_CLOSING: 'Closing' } },
        Closing: { on: { XENBUS_CLOSED: 'Closed' } },
        Closed: { on: { XENBUS_INITWAIT: 'InitWait', XENBUS_CLOSING: 'Closing' } },
      },
    },
    tx: {
      initial: 'idle',
      states: {
        idle: { on: { NAPI_SCHEDULE: 'scheduled' } },
        scheduled: { on: { TX_ACTION: 'inPass', TX_DONE: 'idle' } },
        // A fatal protocol violation is found while reading the ring: in a pass, or in the final check the credit timer makes (creditWait); the reason stays in the context.
        inPass: { on: { NAPI_SCHEDULE: 'scheduled', TX_DONE: 'idle', TX_WAIT_PENDING: 'waitingForPendingSlots', TX_CREDIT_WAIT: 'creditWait', TX_FATAL_ERR: { target: 'disabled', actions: 'xenvif_fatal_tx_err' } } },
        // Parked on the pending pool; PendingPool.give kicks the first waiter (or the vif disconnects).
        waitingForPendingSlots: { on: { NAPI_SCHEDULE: 'scheduled', TX_STOP: 'idle' } },
        // Out of credit (rate_limited): the credit timer, or a guest event, schedules the next pass.
        creditWait: { on: { NAPI_SCHEDULE: 'scheduled', TX_DONE: 'idle', TX_STOP: 'idle', TX_FATAL_ERR: { target: 'disabled', actions: 'xenvif_fatal_tx_err' } } },
        disabled: { on: { TX_ENABLE: 'idle' } },
      },
    },
    rx: {
      initial: 'idle',
      states: {
        idle: { on: { RX_KICK: 'working', RX_STALL: 'stalled', RX_DRAIN: 'draining', CARRIER_OFF: 'carrierOff' } },
        working: { on: { RX_DONE: 'idle', RX_STALL: 'stalled', RX_DRAIN: 'draining', CARRIER_OFF: 'carrierOff' } },
        stalled: { on: { RX_KICK: 'working', RX_DONE: 'idle', RX_DRAIN: 'draining', CARRIER_OFF: 'carrierOff' } },
        draining: { on: { RX_DRAINED: 'idle', CARRIER_OFF: 'carrierOff' } },
        // Nothing is queued for the guest until it posts buffers again (xenvif_rx_queue_ready) or reconnects.
        carrierOff: { on: { CARRIER_ON: 'idle' } },
      },
    },
    lateEoi: {
      initial: 'normal',
      states: {
        normal: { on: { LATE_EOI_MASK: 'backoff' } },
        backoff: { on: { LATE_EOI: 'normal' } },
      },
    },
    ctrl: {
      initial: 'idle',
      states: {
        idle: { on: { CTRL_SCHEDULE: 'scheduled' } },
        scheduled: { on: { CTRL_DONE: 'idle' } },
      },
    },
  },
});
