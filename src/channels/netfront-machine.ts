/**
 * The control state of one netfront as a statechart (kind `netfront`). Netfront decides each change
 * where Linux xen-netfront does (talk_to_netback / xenbus_switch_state, netif_stop_queue in
 * xennet_start_xmit, netif_wake_queue in xennet_tx_buf_gc, xennet_alloc_rx_buffers, napi_schedule /
 * napi_complete around xennet_poll) and tells this actor directly (untraced). Whether a poll is
 * queued is read back from here (netfrontState): the driver keeps no copy of it.
 *
 * Regions:
 * - xenbus: the frontend's XenbusState (2.9): Initialising, Initialised (rings granted, keys being
 *   written; Linux netfront does not publish it and goes on to Connected), Connected; Closing and
 *   Closed when the guest closes the device (a hostile guest may, H21). The watch on the backend's
 *   state node delivers XS_WATCH_EVENT here (from xenstored); its action is netback_changed, which
 *   connects (talk_to_netback) when the backend is in InitWait and this end still Initialising.
 * - txQueue: running, or stopped while the TX ring (or the ids/grant refs) has no room for a packet.
 * - rxBuffers: empty before the first refill; full while every RX slot holds a posted buffer;
 *   refilling once the backend used some and they are not all replaced yet.
 * - napi: idle, or scheduled while a poll is queued (the event channel's upcall does not re-queue it).
 */
import { setup } from 'xstate';
import { stateValue, type ActorLike } from '../actors/runtime.js';

export type NetfrontEvent =
  | { type: 'XENBUS_INITIALISING' } | { type: 'XENBUS_INITIALISED' } | { type: 'XENBUS_CONNECTED' } | { type: 'XENBUS_CLOSING' } | { type: 'XENBUS_CLOSED' }
  | { type: 'NETIF_STOP_QUEUE' } | { type: 'NETIF_WAKE_QUEUE' }
  | { type: 'RX_BUFFERS_USED' } | { type: 'RX_RING_FULL' } | { type: 'RX_RING_PARTIAL' }
  | { type: 'NAPI_SCHEDULE' } | { type: 'NAPI_COMPLETE' }
  | { type: 'XS_WATCH_EVENT'; detail: string };

/** The frontend's XenBus driver: what runs when a watch fires (netback_changed, netfront.ts). */
export interface NetfrontInput { name: string; backendChanged?: (path: string) => void }

/** One event object per type, made once. */
export const NF = Object.fromEntries(
  ['XENBUS_INITIALISING', 'XENBUS_INITIALISED', 'XENBUS_CONNECTED', 'XENBUS_CLOSING', 'XENBUS_CLOSED', 'NETIF_STOP_QUEUE', 'NETIF_WAKE_QUEUE',
    'RX_BUFFERS_USED', 'RX_RING_FULL', 'RX_RING_PARTIAL', 'NAPI_SCHEDULE', 'NAPI_COMPLETE'].map((t) => [t, Object.freeze({ type: t })]),
) as { [K in NetfrontEvent['type']]: Readonly<{ type: K }> };

/** XenbusState number -> the event that enters it (the states a netif frontend takes). */
export const FRONT_XENBUS_EVENT: Readonly<Record<number, Readonly<NetfrontEvent>>> = {
  1: NF.XENBUS_INITIALISING, 3: NF.XENBUS_INITIALISED, 4: NF.XENBUS_CONNECTED, 5: NF.XENBUS_CLOSING, 6: NF.XENBUS_CLOSED,
};

/** The frontend's state value: one state per region. */
export interface NetfrontValue {
  xenbus: 'Initialising' | 'Initialised' | 'Connected' | 'Closing' | 'Closed';
  txQueue: 'running' | 'stopped';
  rxBuffers: 'empty' | 'refilling' | 'full';
  napi: 'idle' | 'scheduled';
}
const INITIAL: NetfrontValue = Object.freeze({ xenbus: 'Initialising', txQueue: 'running', rxBuffers: 'empty', napi: 'idle' });

/** The frontend's control state, as its actor holds it (the initial state until build() spawns the actor). */
export function netfrontState(a: ActorLike | null): NetfrontValue {
  return a === null ? INITIAL : stateValue(a) as NetfrontValue;
}

export const netfrontMachine = setup({
  types: {
    context: {} as { name: string; backendChanged: ((path: string) => void) | null },
    input: {} as NetfrontInput,
    events: {} as NetfrontEvent,
  },
  actions: {
    netback_changed: ({ context, event }) => context.backendChanged?.((event as { detail: string }).detail),
  },
}).createMachine({
  id: 'netfront',
  context: ({ input }) => ({ name: input.name, backendChanged: input.backendChanged ?? null }),
  type: 'parallel',
  states: {
    xenbus: {
      initial: 'Initialising',
      on: { XS_WATCH_EVENT: { actions: 'netback_changed' } },
      states: {
        Initialising: { on: { XENBUS_INITIALISED: 'Initialised', XENBUS_CONNECTED: 'Connected', XENBUS_CLOSING: 'Closing', XENBUS_CLOSED: 'Closed' } },
        Initialised: { on: { XENBUS_CONNECTED: 'Connected', XENBUS_CLOSING: 'Closing', XENBUS_CLOSED: 'Closed' } },
        Connected: { on: { XENBUS_CLOSING: 'Closing', XENBUS_CLOSED: 'Closed' } },
        Closing: { on: { XENBUS_CLOSED: 'Closed' } },
        // A frontend may come back (re-publish its rings and connect again).
        Closed: { on: { XENBUS_INITIALISING: 'Initialising', XENBUS_INITIALISED: 'Initialised', XENBUS_CONNECTED: 'Connected' } },
      },
    },
    txQueue: {
      initial: 'running',
      states: {
        running: { on: { NETIF_STOP_QUEUE: 'stopped' } },
        stopped: { on: { NETIF_WAKE_QUEUE: 'running' } },
      },
    },
    rxBuffers: {
      initial: 'empty',
      states: {
        empty: { on: { RX_RING_FULL: 'full', RX_RING_PARTIAL: 'refilling' } },
        refilling: { on: { RX_RING_FULL: 'full' } },
        full: { on: { RX_BUFFERS_USED: 'refilling' } },
      },
    },
    napi: {
      initial: 'idle',
      states: {
        idle: { on: { NAPI_SCHEDULE: 'scheduled' } },
        scheduled: { on: { NAPI_COMPLETE: 'idle' } },
      },
    },
  },
});
