/**
 * Plots of request/response latency distributions (vega-lite): the percentile spectrum as
 * HdrHistogram draws it (percentile on a 1/(1-p) log axis, so the tail gets the room) and the
 * histogram of the log-linear bins. One line or bar series per run (a scenario, or a seed under --reps).
 */
import type * as vl from 'vega-lite';
import { SUB_BUCKETS, type LatencyDistribution } from '../domains/netperf-rr.js';
import { VL_SCHEMA } from './vega.js';

export interface LatencySeries { label: string; distribution: LatencyDistribution }

/** Tail axis labels: where 1/(1-p) lands for the usual percentiles. */
const TAIL_TICKS = [[1, '0%'], [2, '50%'], [10, '90%'], [100, '99%'], [1000, '99.9%'], [10000, '99.99%'], [100000, '99.999%']] as const;

export function latencyPercentileSpec(series: LatencySeries[]): vl.TopLevelSpec {
  // p = 100 has no place on a 1/(1-p) axis: the largest sample is drawn as a point one halving past the last tick.
  const values = series.flatMap((s) => {
    const ps = s.distribution.percentiles;
    const lastTail = ps.length > 1 ? 1 / (1 - ps[ps.length - 2].percentile / 100) : 1;
    return ps.map((p) => ({ run: s.label, percentile: p.percentile, us: p.us, tail: p.percentile < 100 ? 1 / (1 - p.percentile / 100) : 2 * lastTail }));
  });
  const maxTail = Math.max(1, ...values.map((v) => v.tail));
  const ticks = TAIL_TICKS.filter(([t]) => t <= maxTail);
  return {
    $schema: VL_SCHEMA,
    title: { text: 'Latency by percentile', subtitle: 'nearest-rank percentiles of every transaction in the measured window; the last point is the largest sample' },
    width: 560, height: 260,
    data: { values },
    mark: { type: 'line', point: true, interpolate: 'step-after', tooltip: true },
    encoding: {
      x: {
        field: 'tail', type: 'quantitative', title: 'percentile', scale: { type: 'log' },
        axis: { values: ticks.map(([t]) => t), labelExpr: `{${ticks.map(([t, l]) => `'${t}': '${l}'`).join(', ')}}[datum.value] || ''` },
      },
      y: { field: 'us', type: 'quantitative', title: 'round-trip latency (µs)', scale: { zero: false } },
      color: { field: 'run', type: 'nominal', title: null, sort: series.map((s) => s.label), legend: { labelLimit: 0 } },
    },
  };
}

export function latencyHistogramSpec(series: LatencySeries[]): vl.TopLevelSpec {
  const values = series.flatMap((s) => s.distribution.histogram.map((b) => ({ run: s.label, lo: b.loUs, hi: b.hiUs, count: b.count })));
  return {
    $schema: VL_SCHEMA,
    title: { text: 'Latency histogram', subtitle: `transactions per log-linear bin (each power of two split into ${SUB_BUCKETS} bins)` },
    width: 560, height: 220,
    data: { values },
    mark: { type: 'rect', opacity: series.length > 1 ? 0.55 : 0.9, tooltip: true },
    encoding: {
      x: { field: 'lo', type: 'quantitative', title: 'round-trip latency (µs)', scale: { zero: false } },
      x2: { field: 'hi' },
      y: { field: 'count', type: 'quantitative', title: 'transactions' },
      y2: { datum: 0 },
      color: { field: 'run', type: 'nominal', title: null, sort: series.map((s) => s.label), legend: { labelLimit: 0 } },
    },
  };
}
