/**
 * Congestion control of one TCP sender: Reno's window arithmetic (Linux net/ipv4/tcp_cong.c:
 * tcp_reno_cong_avoid, tcp_reno_ssthresh, tcp_slow_start) with the NewReno fast-recovery rules of
 * RFC 6582 (tcp_input.c tcp_fastretrans_alert without SACK). TcpSender (tcp.ts) decides when each
 * rule applies; this class only keeps cwnd and ssthresh, in bytes (Linux counts packets; here every
 * full segment is one MSS, a TSO super-segment its MSS multiple).
 *
 * Choices, for a Linux 2.6 sender of the paper's era:
 *   initial window  tcp_init_cwnd (RFC 3390): 2 segments above 1460-byte MSS, 3 above 1095, else 4
 *                   (3 for the default 1448-byte MSS);
 *   slow start      byte counting: cwnd grows by every byte newly acknowledged (RFC 3465 without its
 *                   L limit, as Linux >= 3.x tcp_slow_start counts every acked packet), so a receiver
 *                   that ACKs every second segment or a GRO super-segment still doubles cwnd per RTT;
 *   avoidance       one MSS per cwnd of bytes acknowledged (RFC 3465 CA, Linux snd_cwnd_cnt);
 *   growth          only while cwnd limits the sender (tcp_is_cwnd_limited of Linux >= 4.x, RFC
 *                   7661's idea; decided in TcpSender): a receive-window-limited flow does not
 *                   inflate cwnd without bound;
 *   loss            ssthresh = max(FlightSize / 2, 2 MSS) (RFC 5681 eq. 4); fast retransmit sets
 *                   cwnd = ssthresh + 3 MSS, inflates it by an MSS per further duplicate, deflates it on
 *                   a partial ACK (RFC 6582 3.2 step 5) and leaves recovery with
 *                   min(ssthresh, max(FlightSize, MSS) + MSS) (step 6, option 1); a retransmission
 *                   timeout sets cwnd to the loss window, one MSS (RFC 5681 3.1).
 */

/** `tcp.congestionControl`: `newreno` (RFC 5681 + 6582, with an out-of-order queue at receivers) or `none` (go-back-N, no ofo queue). */
export type CongestionControl = 'newreno' | 'none';

/** Linux 2.6 tcp_init_cwnd: the RFC 3390 initial window in segments of `mss`. */
export function initialWindowSegments(mss: number): number {
  return mss > 1460 ? 2 : mss > 1095 ? 3 : 4;
}

export class RenoWindow {
  /** Congestion window, bytes (Infinity: no congestion control). */
  cwnd: number;
  /** Slow-start threshold, bytes (Linux starts it "infinite"). */
  ssthresh = Infinity;
  /** Bytes acknowledged towards the next one-MSS step of congestion avoidance (snd_cwnd_cnt). */
  private caAcked = 0;
  constructor(readonly mss: number, enabled: boolean) {
    this.cwnd = enabled ? initialWindowSegments(mss) * mss : Infinity;
  }
  get slowStart(): boolean { return this.cwnd < this.ssthresh; }
  /** tcp_reno_cong_avoid: `acked` new bytes arrived while cwnd limited the sender. */
  grow(acked: number): void {
    if (this.cwnd === Infinity) return;
    if (this.slowStart) {
      this.cwnd = Math.min(this.cwnd + acked, Math.max(this.ssthresh, this.cwnd)); // slow start stops at ssthresh
      if (this.cwnd < this.ssthresh) return;
      acked = 0;
    }
    this.caAcked += acked;
    if (this.caAcked >= this.cwnd) { this.caAcked -= this.cwnd; this.cwnd += this.mss; }
  }
  /** tcp_reno_ssthresh (RFC 5681 eq. 4). */
  private halve(flight: number): number { return Math.max(Math.floor(flight / 2), 2 * this.mss); }
  /** The third duplicate ACK: fast retransmit, then fast recovery with the window inflated by the three segments that left. */
  enterRecovery(flight: number): void {
    this.ssthresh = this.halve(flight);
    this.cwnd = this.ssthresh + 3 * this.mss;
    this.caAcked = 0;
  }
  /** A further duplicate ACK in recovery: one more segment has left the network. */
  inflate(): void { this.cwnd += this.mss; }
  /** RFC 6582 step 5: a partial ACK deflates the window by what it acknowledged, plus one MSS back if that was at least one. */
  deflate(acked: number): void {
    this.cwnd = Math.max(this.cwnd - acked + (acked >= this.mss ? this.mss : 0), this.mss);
  }
  /** RFC 6582 step 6, option 1: leaving recovery does not release a burst. */
  exitRecovery(flight: number): void { this.cwnd = Math.min(this.ssthresh, Math.max(flight, this.mss) + this.mss); }
  /** tcp_enter_loss: the loss window; ssthresh halves only on the first timeout of a loss episode. */
  onTimeout(flight: number, firstTimeout: boolean): void {
    if (firstTimeout) this.ssthresh = this.halve(flight);
    this.cwnd = this.mss;
    this.caAcked = 0;
  }
}
