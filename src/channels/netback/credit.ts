/**
 * Per-vif transmit rate limit (Linux xen-netback netback.c: tx_credit_exceeded, tx_add_credit,
 * xenvif_tx_credit_callback; interface.c: credit_bytes, credit_usec, credit_timeout; the same
 * scheme as Xen 2.0's netback). The toolstack writes `rate` = "bytes,usec" into the vif's backend
 * directory; every credit_usec the vif may take credit_bytes more of the guest's requests (their
 * txreq.size: the whole packet as the guest built it, headers included). A packet larger than the
 * remaining credit stops the TX pass and arms the credit timer for the end of the window; the timer
 * adds credit and schedules the TX work again. Credit never accumulates beyond one window or
 * 128 KiB, whichever is more (so the largest GSO packet can always go).
 *
 * Time is the driver domain's virtual clock (ps), not jiffies: the window ends exactly credit_usec
 * after it began.
 */
import { PS_PER_US } from '../../actors/scheduler.js';

/** tx_add_credit: "allow a burst big enough to transmit a jumbo packet of up to 128kB". */
const MIN_BURST = 131072;

export class TxCredit {
  /** Bytes still allowed in the current window (remaining_credit). */
  remaining: number;
  /** Start of the current credit window, ps (credit_window_start). */
  windowStart: number;
  /** The credit timer is armed (timer_pending(&credit_timeout)): the vif is rate limited. */
  timerPending = false;
  /** Times the limit stopped a TX pass (a statistic). */
  waits = 0;
  constructor(readonly bytes: number, readonly usec: number, now: number) {
    this.remaining = bytes;
    this.windowStart = now;
  }
  /** tx_add_credit. */
  add(): void {
    this.remaining = Math.min(this.remaining + this.bytes, Math.max(MIN_BURST, this.bytes));
  }
  /**
   * tx_credit_exceeded, for a packet of `size` bytes larger than the remaining credit: refill if the
   * window has passed; if it is still too big, returns the delay (ps) after which the timer must fire.
   */
  exceeded(size: number, now: number): number | null {
    if (this.timerPending) return null; // already waiting (Linux "rare cases"): stay limited
    const next = this.windowStart + this.usec * PS_PER_US;
    if (now >= next) { this.windowStart = now; this.add(); }
    if (size <= this.remaining) return -1;
    this.timerPending = true;
    this.windowStart = next;
    this.waits++;
    return Math.max(0, next - now);
  }
}

/** The `rate` a vif gets for a limit of `mbps` over windows of `intervalUs` (xen_net_read_rate's bytes and usec). */
export function creditFor(mbps: number, intervalUs: number): { bytes: number; usec: number } {
  return { bytes: Math.max(1, Math.round((mbps * intervalUs) / 8)), usec: intervalUs };
}
