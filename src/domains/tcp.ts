/**
 * Bulk-transfer TCP endpoints (netperf TCP_STREAM), enough to make throughput
 * window- and ACK-clocked: cumulative ACKs, an ACK every second full segment,
 * receiver window from socket-buffer space, go-back-N on 3 duplicate ACKs
 * or a retransmission timeout. No congestion control: the paper's runs are
 * on a loss-free LAN where the window, the links or a CPU are the bottleneck.
 */
export interface Segment { seq: number; len: number; retransmit: boolean }

export class TcpSender {
  sndUna = 0;
  sndNxt = 0;
  written = 0;            // bytes the application has placed in the socket
  peerWnd: number;
  dupAcks = 0;
  retransmits = 0;
  constructor(readonly mss: number, readonly sndBuf: number, initialPeerWnd: number) {
    this.peerWnd = initialPeerWnd;
  }
  /** Bytes the application may still write without blocking. */
  sndBufSpace(): number { return this.sndBuf - (this.written - this.sndUna); }
  write(bytes: number): void { this.written += bytes; }
  unsent(): number { return this.written - this.sndNxt; }
  /** Next segment the window allows, at most maxLen (MSS, or 64 KiB with TSO). */
  nextSegment(maxLen: number): Segment | undefined {
    const wndLeft = this.sndUna + this.peerWnd - this.sndNxt;
    let len = Math.min(maxLen, this.unsent(), wndLeft);
    if (len <= 0) return undefined;
    // Silly-window avoidance: a window-limited runt waits while data is in flight.
    if (len < this.mss && len < this.unsent() && this.inFlight() > 0) return undefined;
    // TSO deferral (tcp_tso_should_defer, tso_win_divisor 3): while data is in flight, wait
    // for the window to open by a third before sending a short super-segment.
    if (maxLen > this.mss && len < maxLen && this.inFlight() > 0 && len < this.peerWnd / 3) return undefined;
    if (len > this.mss) len -= len % this.mss; // super-segments are whole MSS multiples
    const seg = { seq: this.sndNxt, len, retransmit: this.sndNxt < this.highestSent };
    this.sndNxt += len;
    this.highestSent = Math.max(this.highestSent, this.sndNxt);
    return seg;
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
      return n;
    }
    // A duplicate ACK repeats both the ack and the window; a pure window update is not one.
    if (ack === this.sndUna && wnd === prevWnd && this.sndNxt > this.sndUna) {
      if (++this.dupAcks === 3) this.goBack();
    }
    return 0;
  }
  /** Go-back-N: resend everything from the first unacknowledged byte. */
  goBack(): void {
    this.retransmits++;
    this.sndNxt = this.sndUna;
    this.dupAcks = 0;
  }
  inFlight(): number { return this.sndNxt - this.sndUna; }
}

export class TcpReceiver {
  rcvNxt = 0;
  unread = 0;
  delivered = 0;           // bytes the application has consumed
  private sinceAck = 0;    // bytes received since the last ACK
  private lastAdvertised: number;
  outOfOrder = 0;
  constructor(readonly mss: number, readonly rcvBuf: number) { this.lastAdvertised = rcvBuf; }
  window(): number { return Math.max(0, this.rcvBuf - this.unread); }
  /** Accept a data segment; returns whether an ACK must be sent now. */
  onData(seq: number, len: number): { accepted: boolean; ackNow: boolean } {
    if (seq !== this.rcvNxt || len > this.window()) {
      this.outOfOrder++;
      return { accepted: false, ackNow: true }; // duplicate ACK tells the sender what we expect
    }
    this.rcvNxt += len;
    this.unread += len;
    this.sinceAck += len;
    // Linux acks every second full-sized segment (a GRO/LRO super-segment counts as its MSS units).
    const ackNow = this.sinceAck >= 2 * this.mss;
    return { accepted: true, ackNow };
  }
  ackSent(): void { this.sinceAck = 0; this.lastAdvertised = this.window(); }
  pendingAck(): boolean { return this.sinceAck > 0; }
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
