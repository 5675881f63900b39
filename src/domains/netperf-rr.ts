/**
 * netperf's request/response tests (TCP_RR, UDP_RR): what one flow's netperf does and what a run
 * measures of it. netperf runs on the measured endpoint (native Linux, the driver domain or a guest)
 * and sends a request of `requestBytes`, then receives until `responseBytes` came back; netserver on
 * the external client answers each whole request at once. `burst` transactions are kept in flight
 * (netperf's -b; 1 is netperf's default: one request, wait, the next).
 *
 * A transaction's latency is virtual time from the end of the netperf slice that sent its request
 * to the end of the slice whose recv() completed its response: the moment send() returned and the
 * moment recv() returned. With one transaction in flight the next request goes out in the slice that
 * finished the last response, so consecutive transactions tile time and tps x mean latency = flows.
 */
import { PS_PER_US } from '../actors/scheduler.js';

export type RrKind = 'tcp_rr' | 'udp_rr';
export interface RrConfig { kind: RrKind; requestBytes: number; responseBytes: number; burst: number }

/** One netperf flow's transactions: bytes of the current response so far and when each open request was sent. */
export class RrFlow {
  /** Response bytes received toward the oldest open transaction. */
  got = 0;
  /** Send times (ps) of the transactions in flight, oldest first (responses come back in order). */
  readonly sentAt: number[] = [];
  /** Requests the current slice sent (their send time is the slice's end). */
  pendingSends = 0;
  /** Datagram bytes received and not yet read by netperf (UDP_RR; TCP keeps them in its receiver). */
  unread = 0;
  /** Stream offset of the next request datagram (UDP_RR: each datagram's bytes are its flow's stream from that offset). */
  txOff = 0;
  /** Response bytes netperf has read (UDP_RR; TCP_RR counts them in its receiver). */
  delivered = 0;
  /** `server`: netserver's end, which answers requests instead of sending them (no latency of its own). */
  constructor(readonly flow: number, readonly cfg: RrConfig, readonly server = false) {}
}

/** The run's transactions: every latency sample since the last reset (the measured window's). */
export class RrLog {
  samplesPs: number[] = [];
  /** The same samples by flow (flows of a flow list report their own latency). */
  byFlow = new Map<number, number[]>();
  reset(): void { this.samplesPs = []; this.byFlow = new Map(); }
  record(latencyPs: number, flow: number): void {
    this.samplesPs.push(latencyPs);
    let l = this.byFlow.get(flow);
    if (!l) this.byFlow.set(flow, l = []);
    l.push(latencyPs);
  }
}

export interface LatencySummary {
  /** Transactions completed in the measured window, over all flows. */
  transactions: number;
  /** Transactions per second over the window (netperf's result). */
  tps: number;
  /** Round-trip latency of those transactions, us: mean and exact nearest-rank percentiles. */
  meanUs: number; p50Us: number; p99Us: number; p999Us: number;
}

const r3 = (v: number) => Math.round(v * 1000) / 1000;

/** Nearest-rank percentile of sorted values: the smallest value with at least p% of them at or below it. */
export function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return 0;
  // The rank rounded to 1e-9 first: 99.9 % of 1000 is rank 999, not the 1000 binary floating point makes of it.
  const rank = Math.ceil(Number(((p / 100) * sorted.length).toFixed(9)));
  return sorted[Math.min(sorted.length, Math.max(1, rank)) - 1];
}

export function summarize(samplesPs: readonly number[], secs: number): LatencySummary {
  const s = Float64Array.from(samplesPs).sort();
  const arr = Array.from(s);
  let sum = 0;
  for (const v of arr) sum += v;
  const us = (ps: number) => r3(ps / PS_PER_US);
  return {
    transactions: arr.length,
    tps: Math.round((10 * arr.length) / secs) / 10,
    meanUs: arr.length ? us(sum / arr.length) : 0,
    p50Us: us(percentile(arr, 50)),
    p99Us: us(percentile(arr, 99)),
    p999Us: us(percentile(arr, 99.9)),
  };
}

/**
 * The whole latency distribution of a window, exact (every sample is kept): the percentile ticks
 * HdrHistogram's outputPercentileDistribution prints, and a histogram in HdrHistogram's bucket layout.
 */
export interface LatencyDistribution {
  /**
   * Latency at percentiles 0, 10, ..., 50, 55, ..., 75, 77.5, ...: five ticks per halving of the
   * distance to 100, as far as the tail still holds a sample, then 100 (the largest sample).
   */
  percentiles: Array<{ percentile: number; us: number }>;
  /**
   * Counts in log-linear bins (ns): below 64 ns one bin per ns, then every power of two [2^e, 2^(e+1))
   * split into 64 equal bins, so a bin is at most 1/64 of its lower bound wide (HdrHistogram's layout
   * with six bits of sub-bucket, about 1.6% resolution). Non-empty bins only, lowest first; counts sum
   * to the transactions.
   */
  histogram: Array<{ loUs: number; hiUs: number; count: number }>;
}

/** Percentile ticks for n samples (HdrHistogram's, `ticksPerHalf` per halving of 100 - p). */
export function percentileTicks(n: number, ticksPerHalf = 5): number[] {
  const out: number[] = [];
  // A tick p is printed while the samples above it number at least one: (1 - p/100) n >= 1.
  for (let p = 0; n > 0 && ((100 - p) * n) / 100 >= 1; ) {
    out.push(p);
    const halvings = Math.floor(Math.log2(100 / (100 - p)));
    p = Number((p + 100 / (ticksPerHalf * 2 ** (halvings + 1))).toFixed(9));
  }
  if (n > 0) out.push(100);
  return out;
}

/** Bins per power of two in the latency histogram. */
export const SUB_BUCKETS = 64;

/** The log-linear bin [lo, hi) (ns) holding v ns (v >= 0). */
export function latencyBin(ns: number): [number, number] {
  const v = Math.max(0, Math.floor(ns));
  if (v < SUB_BUCKETS) return [v, v + 1];
  const e = Math.floor(Math.log2(v));
  const w = 2 ** e / SUB_BUCKETS;
  const lo = 2 ** e + Math.floor((v - 2 ** e) / w) * w;
  return [lo, lo + w];
}

export function distribution(samplesPs: readonly number[]): LatencyDistribution {
  const arr = Array.from(Float64Array.from(samplesPs).sort());
  const us = (ps: number) => r3(ps / PS_PER_US);
  const percentiles = percentileTicks(arr.length).map((p) => ({ percentile: p, us: us(percentile(arr, p)) }));
  const histogram: LatencyDistribution['histogram'] = [];
  for (const ps of arr) {
    const [lo, hi] = latencyBin(ps / 1000);
    const last = histogram.at(-1);
    // Sorted samples fill the bins in order: a sample opens a bin or joins the last one.
    if (last && last.loUs === lo / 1000) last.count++;
    else histogram.push({ loUs: lo / 1000, hiUs: hi / 1000, count: 1 });
  }
  return { percentiles, histogram };
}
