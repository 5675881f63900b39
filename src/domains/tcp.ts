/**
 * Bulk-transfer TCP endpoints (netperf TCP_STREAM), enough to make throughput
 * window- and ACK-clocked: cumulative ACKs, an ACK every second full segment,
 * receiver window from socket-buffer space, a retransmission timeout (backed
 * off exponentially, RFC 6298). Two loss-recovery models (`tcp.congestionControl`):
 *   newreno  congestion window (tcp-cc.ts), fast retransmit of the one lost
 *            segment and NewReno fast recovery retransmitting each further hole
 *            on its partial ACK (RFC 5681, 6582); the receiver keeps segments
 *            beyond a hole in an out-of-order queue (tcp_data_queue_ofo) and
 *            ACKs cumulatively once the hole is filled; a timeout goes back to
 *            snd_una with a one-segment window (tcp_enter_loss marks all lost).
 *   none     no congestion window; go-back-N from snd_una on 3 duplicate ACKs
 *            or a timeout, and a receiver that drops segments beyond a hole.
 * See docs/tcp.md.
 *
 * These classes do the per-segment arithmetic; each endpoint's control state
 * (Linux's tcp_ca_state, rwnd-limited, out-of-order, delayed ACK) is a
 * machine in tcp-machine.ts, told of each decision made here through `fsm`,
 * and read back from it (whether the delayed-ACK timer runs).
 */
import { stateValue, type ActorLike } from '../actors/runtime.js';
import { RenoWindow, type CongestionControl } from './tcp-cc.js';

export interface Segment { seq: number; len: number; retransmit: boolean }

/** Linux TCP_RTO_MAX: the backed-off retransmission timeout never exceeds 120 s. */
export const TCP_RTO_MAX_US = 120_000_000;
/** Linux's timers every TCP end here uses: the delayed-ACK timeout (TCP_DELACK_MIN, 40 ms) and the initial retransmission timeout (TCP_RTO_MIN, 200 ms). */
export const TCP_TIMERS = { delAckUs: 40_000, rtoUs: 200_000 } as const;

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
  /**
   * The application writes what it has and waits for it to arrive (no MSG_MORE: tcp_push with
   * TCP_NAGLE_PUSH), so the tail of its data goes at once. netperf streams do not push.
   */
  push = false;
  /** Congestion window and slow-start threshold (cwnd Infinity without congestion control). */
  readonly cc: RenoWindow;
  private readonly newReno: boolean;
  /** In NewReno fast recovery (until snd_una reaches highSeq, Linux TCP_CA_Recovery). */
  private inRecovery = false;
  /** The segment at snd_una is to be retransmitted next (fast retransmit or a partial ACK). */
  private rtxHead = false;
  /** The last nextSegment call could build TSO super-segments (tcp_is_cwnd_limited's TSO allowance). */
  private tso = false;
  constructor(readonly mss: number, readonly sndBuf: number, initialPeerWnd: number, cc: CongestionControl = 'none') {
    this.peerWnd = initialPeerWnd;
    this.newReno = cc === 'newreno';
    this.cc = new RenoWindow(mss, this.newReno);
  }
  /**
   * The usable window: the receiver's, and the congestion window's; the first two duplicate ACKs
   * each let one more new segment out (limited transmit, RFC 3042: Linux gets it from counting each
   * duplicate as a segment that left the network), so a small window still gets its three duplicates.
   */
  private wnd(): number {
    const limited = this.newReno && !this.inRecovery && this.dupAcks > 0 ? Math.min(this.dupAcks, 2) * this.mss : 0;
    return Math.min(this.peerWnd, this.cc.cwnd + limited);
  }
  /** Bytes the application may still write without blocking. */
  sndBufSpace(): number { return this.sndBuf - (this.written - this.sndUna); }
  write(bytes: number): void { this.written += bytes; }
  unsent(): number { return this.written - this.sndNxt; }
  /** Connection up (netperf's connection was set up before the measurement). */
  connect(): void { this.fsm?.send(CONNECT); }
  /** Next segment the window allows, at most maxLen (MSS, or 64 KiB with TSO). */
  nextSegment(maxLen: number): Segment | undefined {
    this.tso = maxLen > this.mss;
    if (this.rtxHead) return this.retransmitHead();
    const wnd = this.wnd();
    const wndLeft = this.sndUna + wnd - this.sndNxt;
    let len = Math.min(maxLen, this.unsent(), wndLeft);
    if (len <= 0) return this.held(wndLeft);
    // Silly-window avoidance: a window-limited runt waits while data is in flight.
    if (len < this.mss && len < this.unsent() && this.inFlight() > 0) return this.held(wndLeft);
    // TSO deferral (tcp_tso_should_defer, tso_win_divisor 3): while data is in flight, wait
    // for the window to open by a third before sending a short super-segment.
    // A pushing writer's tail (all it has to send) is not held back for more that will not come.
    if (maxLen > this.mss && len < maxLen && this.inFlight() > 0 && len < wnd / 3 && !(this.push && len === this.unsent())) return this.held(wndLeft);
    if (len > this.mss) len -= len % this.mss; // super-segments are whole MSS multiples
    const seg = { seq: this.sndNxt, len, retransmit: this.sndNxt < this.highestSent };
    this.sndNxt += len;
    this.highestSent = Math.max(this.highestSent, this.sndNxt);
    if (this.newReno) this.noteSent(this.cwndFullNow(this.sndNxt - this.sndUna));
    this.fsm?.send(XMIT);
    return seg;
  }
  /** Nothing goes out now; if data is waiting beyond the usable window, the receiver's window is the limit. */
  private held(wndLeft: number): undefined {
    if (this.unsent() > wndLeft) {
      if (this.peerWnd <= this.cc.cwnd) this.fsm?.send(RWND_LIMITED);
      else this.noteSent(true); // the congestion window holds data back
    }
    return undefined;
  }
  /** Largest flight of the current round trip, the snd_nxt that ends it, and whether cwnd was the limit in it (Linux max_packets_out, max_packets_seq, is_cwnd_limited). */
  private maxOut = 0;
  private maxOutSeq = 0;
  private cwndFull = false;
  /** tcp_cwnd_validate: after a send, or when cwnd held data back. */
  private noteSent(limited: boolean): void {
    const flight = this.sndNxt - this.sndUna;
    if (this.sndUna >= this.maxOutSeq || flight > this.maxOut) {
      this.maxOut = flight;
      this.maxOutSeq = this.sndNxt;
      this.cwndFull = limited;
    } else if (limited) this.cwndFull = true;
  }
  /** The flight fills cwnd: less than a segment left, or (TSO) less than a third of it (tcp_tso_should_defer's divisor). */
  private cwndFullNow(flight: number): boolean {
    const left = this.cc.cwnd - flight;
    return this.tso ? left * 3 < this.cc.cwnd : left < this.mss;
  }
  /** tcp_retransmit_skb of the head: one MSS from snd_una, whatever the window (RFC 5681 3.2 step 2, RFC 6582 step 5). */
  private retransmitHead(): Segment | undefined {
    this.rtxHead = false;
    const len = Math.min(this.mss, this.highestSent - this.sndUna);
    if (len <= 0) return undefined;
    this.fsm?.send(XMIT);
    return { seq: this.sndUna, len, retransmit: true };
  }
  private highestSent = 0;
  /** New data acknowledged: snd_una moves to `ack`, duplicates and the timeout's back-off reset (RFC 6298 5.7). Returns the bytes acknowledged. */
  private advance(ack: number): number {
    const n = ack - this.sndUna;
    this.sndUna = ack;
    if (this.sndNxt < ack) this.sndNxt = ack;
    this.dupAcks = 0;
    this.backoff = 0;
    return n;
  }
  /** Process a cumulative ACK; returns bytes newly acknowledged. */
  onAck(ack: number, wnd: number): number {
    if (this.newReno) return this.onAckNewReno(ack, wnd);
    const prevWnd = this.peerWnd;
    this.peerWnd = wnd;
    if (ack > this.sndUna) {
      const n = this.advance(ack);
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
  /** Recovery point of RFC 6582 (`recover`): no new fast retransmit until snd_una passes it. -1: none yet. */
  private recover = -1;
  /** tcp_ack + tcp_fastretrans_alert for a NewReno sender (no SACK). */
  private onAckNewReno(ack: number, wnd: number): number {
    const prevWnd = this.peerWnd;
    this.peerWnd = wnd;
    if (ack > this.sndUna) {
      const n = this.advance(ack);
      if (this.inRecovery) {
        if (ack >= this.recover) { this.inRecovery = false; this.cc.exitRecovery(this.highestSent - ack); } // full ACK
        else { this.cc.deflate(n); this.rtxHead = true; this.retransmits++; } // partial ACK: the next hole was lost too
      } else if (this.cwndLimited()) this.cc.grow(n);
      this.fsm?.send(ACK_NEW);
      return n;
    }
    if (ack === this.sndUna && wnd === prevWnd && this.highestSent > this.sndUna) {
      this.dupAcks++;
      if (this.inRecovery) { this.cc.inflate(); this.fsm?.send(ACK_DUP); return 0; }
      // RFC 6582 3.2 step 1: a third duplicate starts recovery only beyond the last recovery point
      // (after a timeout, duplicates of data sent before it are expected).
      if (this.dupAcks === 3 && this.sndUna > this.recover) {
        this.recover = this.highSeq = this.highestSent;
        this.cc.enterRecovery(this.highestSent - this.sndUna);
        this.inRecovery = true;
        this.rtxHead = true;
        this.retransmits++;
        this.fsm?.send(FAST_RETRANSMIT);
      } else this.fsm?.send(ACK_DUP);
    }
    return 0;
  }
  /**
   * tcp_is_cwnd_limited (Linux >= 4.x, RFC 7661's idea): in slow start while cwnd is below twice the
   * largest flight of the last round trip, in congestion avoidance when cwnd held data back in it. A
   * flow limited by the receiver's window, the CPU or the application does not inflate cwnd.
   */
  private cwndLimited(): boolean {
    return this.cc.slowStart ? this.cc.cwnd < 2 * this.maxOut : this.cwndFull;
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
    if (this.newReno) {
      // tcp_enter_loss: everything outstanding is lost; resend from snd_una in slow start from one segment.
      this.cc.onTimeout(this.highestSent - this.sndUna, this.backoff === 1);
      this.recover = this.highestSent;
      this.inRecovery = false;
      this.rtxHead = false;
    }
    this.goBack();
    this.fsm?.send(RTO);
  }
  /** The retransmission timeout to arm now: the base RTO doubled per expiry without progress, capped. */
  rtoUs(baseUs: number): number { return Math.min(baseUs * 2 ** this.backoff, TCP_RTO_MAX_US); }
  inFlight(): number { return this.sndNxt - this.sndUna; }
}

/** Bytes [at, at + len) of the stream, held by `item` from its byte `off`: ready for the application. */
export interface InOrder<T> { item: T; off: number; at: number; len: number }
/** What a data segment did at the receiver. */
export interface DataResult<T> {
  /** The segment (or its part beyond rcv_nxt) was in order. */
  accepted: boolean;
  /** An ACK must go out now (every second segment, out of order, or a hole filled). */
  ackNow: boolean;
  /** Stream pieces now in order, in stream order: the arriving segment's, then any the out-of-order queue released. */
  ready: InOrder<T>[];
  /** The arriving segment waits in the out-of-order queue (its buffers are kept). */
  queued: boolean;
  /** Queued segments made redundant by what arrived (their buffers can go). */
  dropped: T[];
}
const NONE: never[] = [];

export class TcpReceiver<T = undefined> {
  rcvNxt = 0;
  unread = 0;
  delivered = 0;           // bytes the application has consumed
  private sinceAck = 0;    // bytes received since the last ACK
  private lastAdvertised: number;
  outOfOrder = 0;
  /** tcp_data_queue_ofo: segments beyond a hole, sorted by sequence (only with an out-of-order queue). */
  private readonly ofo: Array<{ seq: number; end: number; item: T }> = [];
  /** This endpoint's tcp-receiver actor (sent to directly, untraced): it holds the control state. */
  fsm: ActorLike | null = null;
  /** The delayed-ACK timer is running (Linux ICSK_ACK_TIMER): the actor's delack region is pending. */
  get delAckArmed(): boolean {
    const v = this.fsm === null ? 'closed' : stateValue(this.fsm) as 'closed' | { established: { delack: 'idle' | 'pending' } };
    return v !== 'closed' && v.established.delack === 'pending';
  }
  constructor(readonly mss: number, readonly rcvBuf: number, readonly ofoQueue = false) { this.lastAdvertised = rcvBuf; }
  window(): number { return Math.max(0, this.rcvBuf - this.unread); }
  /** Segments held in the out-of-order queue. */
  get ofoSegments(): number { return this.ofo.length; }
  /** Each out-of-order segment's item, replaced by what `fn` makes of it (its pages moved: a migrated guest). */
  mapQueued(fn: (item: T) => T): void { for (const q of this.ofo) q.item = fn(q.item); }
  connect(): void { this.fsm?.send(CONNECT); }
  /** Accept a data segment held by `item`; says what is now in order for the application. */
  onData(seq: number, len: number, item: T): DataResult<T> {
    if (this.ofoQueue) return this.onDataOfo(seq, len, item);
    if (seq !== this.rcvNxt || len > this.window()) {
      this.outOfOrder++;
      // Data beyond rcv_nxt: a hole (segments after it are dropped here, not queued).
      if (seq > this.rcvNxt) this.fsm?.send(SEG_OUT_OF_ORDER);
      return { accepted: false, ackNow: true, ready: NONE, queued: false, dropped: NONE }; // duplicate ACK tells the sender what we expect
    }
    this.fsm?.send(SEG_IN_ORDER);
    this.take(len);
    // Linux acks every second full-sized segment (a GRO/LRO super-segment counts as its MSS units).
    return { accepted: true, ackNow: this.sinceAck >= 2 * this.mss, ready: [{ item, off: 0, at: seq, len }], queued: false, dropped: NONE };
  }
  private take(len: number): void {
    this.rcvNxt += len;
    this.unread += len;
    this.sinceAck += len;
  }
  /** tcp_data_queue with an out-of-order queue: in-order data goes up, then whatever the queue now continues. */
  private onDataOfo(seq: number, len: number, item: T): DataResult<T> {
    const end = seq + len;
    // Nothing new (a duplicate), or beyond the window we advertised: dropped, answered at once.
    if (end <= this.rcvNxt || end > this.rcvNxt + this.window()) {
      this.outOfOrder++;
      return { accepted: false, ackNow: true, ready: NONE, queued: false, dropped: NONE };
    }
    if (seq > this.rcvNxt) {
      // A hole before it: queue it (unless queued data already covers it) and send a duplicate ACK.
      this.outOfOrder++;
      this.fsm?.send(SEG_OUT_OF_ORDER);
      let i = 0;
      while (i < this.ofo.length && this.ofo[i].seq < seq) i++;
      const covered = this.ofo.some((q) => q.seq <= seq && q.end >= end);
      if (!covered) this.ofo.splice(i, 0, { seq, end, item });
      return { accepted: false, ackNow: true, ready: NONE, queued: !covered, dropped: NONE };
    }
    // In order (its head may repeat bytes we have: only the rest is new).
    const hadHole = this.ofo.length > 0;
    const ready: InOrder<T>[] = [{ item, off: this.rcvNxt - seq, at: this.rcvNxt, len: end - this.rcvNxt }];
    this.take(end - this.rcvNxt);
    let dropped: T[] = NONE;
    // tcp_ofo_queue: queued segments that now continue the stream follow it up; covered ones go.
    while (this.ofo.length && this.ofo[0].seq <= this.rcvNxt) {
      const q = this.ofo.shift()!;
      if (q.end <= this.rcvNxt) { if (dropped === NONE) dropped = []; dropped.push(q.item); continue; }
      ready.push({ item: q.item, off: this.rcvNxt - q.seq, at: this.rcvNxt, len: q.end - this.rcvNxt });
      this.take(q.end - this.rcvNxt);
    }
    if (this.ofo.length === 0) this.fsm?.send(SEG_IN_ORDER);
    // A segment that fills (part of) a hole is ACKed at once (RFC 5681 4.2), so is one beyond a remaining hole.
    return { accepted: true, ackNow: hadHole || this.sinceAck >= 2 * this.mss, ready, queued: false, dropped };
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
