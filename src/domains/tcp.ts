/**
 * Bulk-transfer TCP endpoints (netperf TCP_STREAM), enough to make throughput
 * window- and ACK-clocked: cumulative ACKs, an ACK every second full segment,
 * receiver window from socket-buffer space, go-back-N on 3 duplicate ACKs
 * or a retransmission timeout (backed off exponentially, RFC 6298). No
 * congestion control: the paper's runs are on a loss-free LAN where the
 * window, the links or a CPU are the bottleneck.
 *
 * These classes do the per-segment arithmetic; each endpoint's control state
 * (Linux's tcp_ca_state, rwnd-limited, out-of-order, delayed ACK) is a
 * machine in tcp-machine.ts, told of each decision made here through `fsm`,
 * and read back from it (whether the delayed-ACK timer runs).
 */
import { stateValue, type ActorLike } from '../actors/runtime.js';

export interface Segment { seq: number; len: number; retransmit: boolean }


/** Linux TCP_RTO_MAX: the backed-off retransmission timeout never exceeds 120 s. */
export const TCP_RTO_MAX_US = 120_000_000;

// Events are read, never kept, by the machines: one object each.
const XMIT = { type: 'XMIT' } as const;
const RWND_LIMITED = { type: 'RWND_LIMITED' } as const;
const ACK_NEW = { type: 'ACK_NEW' } as const;
const ACK_DUP = { type: 'ACK_DUP' } as const;
const FAST_RETRANSMIT = { type: 'FAST_RETRANSMIT' } as const;
const RTO = { type: 'RTO' } as const;
const CONNECT = { type: 'CONNECT' } as const;
const SEG_IN_ORDER = { type: 'SEG_IN_ORDER' } as const;
const SEG_OUT_OF_ORDER = { type: 'SEG_OUT_OF_ORDER' } as const;
const DELACK_ARMED = { type: 'DELACK_ARMED' } as const;
const DELACK_CLEARED = { type: 'DELACK_CLEARED' } as const;

export class TcpSender {
  sndUna = 0;
  sndNxt = 0;
  written = 0;            // bytes the application has placed in the socket
  peerWnd: number;
  dupAcks = 0;
  retransmits = 0;
  /** Recovery point (Linux high_seq): recovery and loss end once everything sent before them is acknowledged. */
  highSeq = 0;
  /** Retransmission timeouts since data was last acknowledged (Linux icsk_backoff). */
  backoff = 0;
  /** snd_una of the last go-back (fast retransmit or timeout), or -1. */
  private goBackFrom = -1;
  /** This endpoint's tcp-sender actor (sent to directly, untraced). */
  fsm: ActorLike | null = null;
  constructor(readonly mss: number, readonly sndBuf: number, initialPeerWnd: number) {
    this.peerWnd = initialPeerWnd;
  }
  /** Bytes the application may still write without blocking. */
  sndBufSpace(): number { return this.sndBuf - (this.written - this.sndUna); }
  write(bytes: number): void { this.written += bytes; }
  unsent(): number { return this.written - this.sndNxt; }
  /** Connection up (netperf's connection was set up before the measurement). */
  connect(): void { this.fsm?.send(CONNECT); }
  /** Next segment the window allows, at most maxLen (MSS, or 64 KiB with TSO). */
  nextSegment(maxLen: number): Segment | undefined {
    const wndLeft = this.sndUna + this.peerWnd - this.sndNxt;
    let len = Math.min(maxLen, this.unsent(), wndLeft);
    if (len <= 0) return this.held(wndLeft);
    // Silly-window avoidance: a window-limited runt waits while data is in flight.
    if (len < this.mss && len < this.unsent() && this.inFlight() > 0) return this.held(wndLeft);
    // TSO deferral (tcp_tso_should_defer, tso_win_divisor 3): while data is in flight, wait
    // for the window to open by a third before sending a short super-segment.
    if (maxLen > this.mss && len < maxLen && this.inFlight() > 0 && len < this.peerWnd / 3) return this.held(wndLeft);
    if (len > this.mss) len -= len % this.mss; // super-segments are whole MSS multiples
    const seg = { seq: this.sndNxt, len, retransmit: this.sndNxt < this.highestSent };
    this.sndNxt += len;
    this.highestSent = Math.max(this.highestSent, this.sndNxt);
    this.fsm?.send(XMIT);
    return seg;
  }
  /** Nothing goes out now; if data is waiting beyond the usable window, the receiver's window is the limit. */
  private held(wndLeft: number): undefined {
    if (this.unsent() > wndLeft) this.fsm?.send(RWND_LIMITED);
    return undefined;
  }
  private highestSent = 0;
  /** Process a cumulative ACK; returns bytes newly acknowledged. */
  onAck(ack: number, wnd: number): number {
    const prevWnd = this.peerWnd;
    this.peerWnd = wnd;
    if (ack > this.sndUna) {
      const n = ack - this.sndUna;
      this.sndUna = ack;
      if (this.sndNxt < ack) this.sndNxt = ack;
      this.dupAcks = 0;
      this.backoff = 0; // new data acknowledged: the timeout collapses back (RFC 6298 5.7)
      this.fsm?.send(ACK_NEW);
      return n;
    }
    // A duplicate ACK repeats both the ack and the window; a pure window update is not one.
    if (ack === this.sndUna && wnd === prevWnd && this.sndNxt > this.sndUna) {
      // tcp_fastretrans_alert: the third duplicate starts recovery, but never a second go-back from the
      // same snd_una: that resend is under way, and repeating it queued the whole window again behind
      // itself at an overloaded receiver (a livelock). Once snd_una moves, a new hole may start one.
      if (++this.dupAcks === 3 && this.sndUna !== this.goBackFrom) { this.goBack(); this.fsm?.send(FAST_RETRANSMIT); } else this.fsm?.send(ACK_DUP);
    }
    return 0;
  }
  /** Go-back-N: resend everything from the first unacknowledged byte. */
  goBack(): void {
    this.goBackFrom = this.sndUna;
    this.retransmits++;
    this.highSeq = this.highestSent;
    this.sndNxt = this.sndUna;
    this.dupAcks = 0;
  }
  /** tcp_retransmit_timer: go back to snd_una and double the next timeout. */
  onRto(): void {
    this.backoff++;
    this.goBack();
    this.fsm?.send(RTO);
  }
  /** The retransmission timeout to arm now: the base RTO doubled per expiry without progress, capped. */
  rtoUs(baseUs: number): number { return Math.min(baseUs * 2 ** this.backoff, TCP_RTO_MAX_US); }
  inFlight(): number { return this.sndNxt - this.sndUna; }
}

export class TcpReceiver {
  rcvNxt = 0;
  unread = 0;
  delivered = 0;           // bytes the application has consumed
  private sinceAck = 0;    // bytes received since the last ACK
  private lastAdvertised: number;
  outOfOrder = 0;
  /** This endpoint's tcp-receiver actor (sent to directly, untraced): it holds the control state. */
  fsm: ActorLike | null = null;
  /** The delayed-ACK timer is running (Linux ICSK_ACK_TIMER): the actor's delack region is pending. */
  get delAckArmed(): boolean {
    const v = this.fsm === null ? 'closed' : stateValue(this.fsm) as 'closed' | { established: { delack: 'idle' | 'pending' } };
    return v !== 'closed' && v.established.delack === 'pending';
  }
  constructor(readonly mss: number, readonly rcvBuf: number) { this.lastAdvertised = rcvBuf; }
  window(): number { return Math.max(0, this.rcvBuf - this.unread); }
  connect(): void { this.fsm?.send(CONNECT); }
  /** Accept a data segment; returns whether an ACK must be sent now. */
  onData(seq: number, len: number): { accepted: boolean; ackNow: boolean } {
    if (seq !== this.rcvNxt || len > this.window()) {
      this.outOfOrder++;
      // Data beyond rcv_nxt: a hole (segments after it are dropped here, not queued).
      if (seq > this.rcvNxt) this.fsm?.send(SEG_OUT_OF_ORDER);
      return { accepted: false, ackNow: true }; // duplicate ACK tells the sender what we expect
    }
    this.fsm?.send(SEG_IN_ORDER);
    this.rcvNxt += len;
    this.unread += len;
    this.sinceAck += len;
    // Linux acks every second full-sized segment (a GRO/LRO super-segment counts as its MSS units).
    const ackNow = this.sinceAck >= 2 * this.mss;
    return { accepted: true, ackNow };
  }
  ackSent(): void { this.sinceAck = 0; this.lastAdvertised = this.window(); }
  pendingAck(): boolean { return this.sinceAck > 0; }
  /** The host armed the delayed-ACK timer (inet_csk_reset_xmit_timer(ICSK_TIME_DACK)). */
  armDelAck(): void { this.fsm?.send(DELACK_ARMED); }
  /** The delayed-ACK timer fired or was cancelled. */
  clearDelAck(): void { this.fsm?.send(DELACK_CLEARED); }
  /** Application read; returns whether a window update should be sent. */
  read(max: number): { bytes: number; windowUpdate: boolean } {
    const bytes = Math.min(max, this.unread);
    this.unread -= bytes;
    this.delivered += bytes;
    // Window update when the window has opened by at least 2 MSS beyond what the peer knows
    // and the advertised window had dropped below half the buffer (tcp_cleanup_rbuf rule).
    const wnd = this.window();
    const windowUpdate = this.lastAdvertised < this.rcvBuf / 2 && wnd - this.lastAdvertised >= 2 * this.mss;
    return { bytes, windowUpdate };
  }
}
