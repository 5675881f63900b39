/**
 * The control state of one TCP flow endpoint, as a Linux reader knows it.
 * TcpSender / TcpReceiver (tcp.ts) do the per-segment arithmetic and report
 * each decision to their endpoint's actor; the machine keeps which phase the
 * connection is in and decides when a phase ends (recovery and loss end
 * once everything sent before them is acknowledged: Linux's high_seq).
 *
 * tcp-sender, once established, has two regions:
 *   ca      Linux tcp_ca_state: open; disorder (duplicate ACKs seen, fewer
 *           than 3); recovery (the third duplicate: with NewReno, fast retransmit
 *           of the segment at snd_una and fast recovery, each partial ACK
 *           retransmitting the next hole; without congestion control, go-back-N
 *           from snd_una); loss (the retransmission timer fired: back to snd_una
 *           with a one-segment window, timeout backed off).
 *   chrono  Linux tcp_chrono: busy (the window lets segments out) or
 *           rwndLimited (data waits beyond the receiver's window).
 * tcp-receiver, once established, has two regions:
 *   queue   inOrder, or outOfOrder (a hole at rcv_nxt: later segments wait in
 *           the out-of-order queue, or without one are dropped, and are answered
 *           with duplicate ACKs until the hole is filled).
 *   delack  idle, or pending (the delayed-ACK timer runs: ICSK_ACK_TIMER).
 */
import { setup } from 'xstate';
import type { ActorSystem } from '../actors/runtime.js';
import { TcpSender, type TcpReceiver } from './tcp.js';

export interface TcpSenderInput { tcp: TcpSender }
export interface TcpReceiverInput { tcp: TcpReceiver<unknown> }

type SenderEvent =
  | { type: 'CONNECT' } | { type: 'XMIT' } | { type: 'RWND_LIMITED' }
  | { type: 'ACK_NEW' } | { type: 'ACK_DUP' } | { type: 'FAST_RETRANSMIT' } | { type: 'RTO' };

type ReceiverEvent =
  | { type: 'CONNECT' } | { type: 'SEG_IN_ORDER' } | { type: 'SEG_OUT_OF_ORDER' }
  | { type: 'DELACK_ARMED' } | { type: 'DELACK_CLEARED' };

export const tcpSenderMachine = setup({
  types: { context: {} as TcpSenderInput, input: {} as TcpSenderInput, events: {} as SenderEvent },
  guards: {
    /** Everything outstanding when recovery or loss began is acknowledged (snd_una >= high_seq). */
    recovered: ({ context }) => context.tcp.sndUna >= context.tcp.highSeq,
  },
}).createMachine({
  id: 'tcp-sender',
  context: ({ input }) => ({ ...input }),
  initial: 'closed',
  states: {
    closed: { on: { CONNECT: 'established' } },
    established: {
      type: 'parallel',
      states: {
        ca: {
          initial: 'open',
          // A third duplicate ACK, or a timeout, in any phase goes back to snd_una (again).
          states: {
            open: { on: { ACK_DUP: 'disorder', FAST_RETRANSMIT: 'recovery', RTO: 'loss' } },
            disorder: { on: { ACK_NEW: 'open', FAST_RETRANSMIT: 'recovery', RTO: 'loss' } },
            recovery: {
              on: { ACK_NEW: { guard: 'recovered', target: 'open' }, FAST_RETRANSMIT: { target: 'recovery', reenter: true }, RTO: 'loss' },
            },
            loss: {
              on: { ACK_NEW: { guard: 'recovered', target: 'open' }, FAST_RETRANSMIT: 'recovery', RTO: { target: 'loss', reenter: true } },
            },
          },
        },
        chrono: {
          initial: 'busy',
          states: {
            busy: { on: { RWND_LIMITED: 'rwndLimited' } },
            rwndLimited: { on: { XMIT: 'busy' } },
          },
        },
      },
    },
  },
});

export const tcpReceiverMachine = setup({
  types: { context: {} as TcpReceiverInput, input: {} as TcpReceiverInput, events: {} as ReceiverEvent },
}).createMachine({
  id: 'tcp-receiver',
  context: ({ input }) => ({ ...input }),
  initial: 'closed',
  states: {
    closed: { on: { CONNECT: 'established' } },
    established: {
      type: 'parallel',
      states: {
        queue: {
          initial: 'inOrder',
          states: {
            inOrder: { on: { SEG_OUT_OF_ORDER: 'outOfOrder' } },
            outOfOrder: { on: { SEG_IN_ORDER: 'inOrder' } },
          },
        },
        delack: {
          initial: 'idle',
          states: {
            idle: { on: { DELACK_ARMED: 'pending' } },
            pending: { on: { DELACK_CLEARED: 'idle' } },
          },
        },
      },
    },
  },
});

/** Run one flow endpoint's machine as its own actor `name`; the endpoint reports to it directly (not traced). */
export function spawnTcpEndpoint(sys: ActorSystem, name: string, tcp: TcpSender | TcpReceiver<unknown>): void {
  tcp.fsm = tcp instanceof TcpSender
    ? sys.spawn(name, 'tcp-sender', tcpSenderMachine, { tcp })
    : sys.spawn(name, 'tcp-receiver', tcpReceiverMachine, { tcp });
}
