/**
 * Plots of `xennet run --plot` and `xennet sweep --plot` (vega-lite specs; the CLI renders them to
 * SVG): throughput per scenario, each figure's mean with its 95% confidence interval under --reps,
 * the latency distribution of request/response runs, and one line plot per varied field of a sweep.
 */
import type * as vl from 'vega-lite';
import type { RunResult } from '../scenario/run.js';
import { FIGURES, figuresFor, stat } from '../scenario/reps.js';
import { latencyHistogramSpec, latencyPercentileSpec, type LatencySeries } from './latency.js';
import { VL_SCHEMA } from './vega.js';
import { showValue } from '../sweep/sweep.js';

const FIGURE_TITLE: Record<string, string> = {
  throughputMbps: 'throughput (Mb/s)', cpuPct: 'CPU (%)', cyclesPerPacket: 'cycles per packet',
  tps: 'transactions/s', meanUs: 'mean latency (µs)', p99Us: 'p99 latency (µs)', cyclesPerTransaction: 'cycles per transaction',
};

/** Request/response runs' latency plots, one series per run (`label` names it). */
export function latencyPlots(rs: RunResult[], label: (r: RunResult) => string): Array<[string, vl.TopLevelSpec]> {
  const series: LatencySeries[] = rs.flatMap((r) => (r.latency ? [{ label: label(r), distribution: r.latency.distribution }] : []));
  return series.length ? [['latency-percentiles.svg', latencyPercentileSpec(series)], ['latency-histogram.svg', latencyHistogramSpec(series)]] : [];
}

/** Several scenarios, one run each: throughput per scenario. */
export function throughputSpec(rs: RunResult[]): vl.TopLevelSpec {
  return {
    $schema: VL_SCHEMA,
    title: 'Throughput per scenario (Mb/s)',
    width: 500,
    data: { values: rs.map((r, i) => ({ scenario: r.scenario, order: i, mbps: r.throughputMbps })) },
    mark: { type: 'bar', tooltip: true },
    encoding: {
      y: { field: 'scenario', type: 'nominal', title: null, sort: { field: 'order' }, axis: { labelLimit: 0 } },
      x: { field: 'mbps', type: 'quantitative', title: 'Mb/s' },
    },
  };
}

/**
 * One scenario under several seeds: per figure, every seed's value as a dot, the mean as a bar and its
 * 95% confidence interval (Student's t) as an error bar.
 */
export function repsSpec(rs: RunResult[]): vl.TopLevelSpec {
  const figures = figuresFor(rs), figs = Object.keys(figures);
  const values = figs.flatMap((f) => {
    const s = stat(rs.map(figures[f]));
    return [
      { figure: FIGURE_TITLE[f], kind: 'mean', v: s.mean, lo: s.ci95[0], hi: s.ci95[1] },
      ...rs.map((r) => ({ figure: FIGURE_TITLE[f], kind: 'seed', seed: r.seed, v: figures[f](r) })),
    ];
  });
  const seeds = rs.map((r) => r.seed);
  return {
    $schema: VL_SCHEMA,
    title: { text: `${rs[0]?.scenario ?? ''}: ${rs.length} seeds`, subtitle: `seeds ${seeds[0]}..${seeds.at(-1)}: bar = mean, error bar = 95% confidence interval, dots = the seeds` },
    data: { values },
    facet: { column: { field: 'figure', type: 'nominal', sort: figs.map((f) => FIGURE_TITLE[f]), title: null } },
    resolve: { scale: { y: 'independent' } },
    spec: {
      width: 120, height: 220,
      layer: [
        { transform: [{ filter: "datum.kind === 'mean'" }], mark: { type: 'bar', color: '#9ecae9', tooltip: true }, encoding: { y: { field: 'v', type: 'quantitative', title: null } } },
        { transform: [{ filter: "datum.kind === 'mean'" }], mark: { type: 'rule', color: '#222', strokeWidth: 1.5 }, encoding: { y: { field: 'lo', type: 'quantitative' }, y2: { field: 'hi' } } },
        { transform: [{ filter: "datum.kind === 'seed'" }], mark: { type: 'point', color: '#4e79a7', filled: true, size: 25, tooltip: true }, encoding: { y: { field: 'v', type: 'quantitative' } } },
      ],
    },
  };
}

/** A sweep point: its varied fields' values, and its runs (one, or one per seed under --reps). */
export interface SweepPoint { label: Record<string, unknown>; runs: RunResult[] }


/**
 * A sweep: per varied field, a line plot of throughput (request/response sweeps: mean latency) against
 * that field's values (in the sweep's order), one line per combination of the other fields; under
 * --reps the mean over the seeds with its 95% CI.
 */
export function sweepSpecs(fields: string[], points: SweepPoint[]): Array<[string, vl.TopLevelSpec]> {
  const reps = points.some((p) => p.runs.length > 1);
  // Request/response sweeps are about latency (their Mb/s is the request and response bytes), streams about throughput.
  const rr = points.every((p) => p.runs.every((r) => r.latency));
  const fig = rr ? { of: (r: RunResult) => r.latency!.meanUs, title: 'mean round-trip latency (µs)', name: 'Mean latency' } : { of: FIGURES.throughputMbps, title: 'Mb/s', name: 'Throughput' };
  return fields.map((field, fi) => {
    const order = [...new Set(points.map((p) => showValue(p.label[field])))];
    const numeric = points.every((p) => typeof p.label[field] === 'number');
    const others = fields.filter((f) => f !== field);
    const values = points.map((p) => {
      const s = stat(p.runs.map(fig.of));
      return {
        x: numeric ? p.label[field] : showValue(p.label[field]),
        line: others.length ? others.map((f) => `${f}=${showValue(p.label[f])}`).join(', ') : 'all',
        v: s.mean, lo: s.ci95[0], hi: s.ci95[1],
      };
    });
    const x = numeric ? { field: 'x', type: 'quantitative' as const, title: field, scale: { zero: false } } : { field: 'x', type: 'ordinal' as const, title: field, sort: order };
    const color = { field: 'line', type: 'nominal' as const, title: others.length ? others.join(', ') : null, legend: others.length ? { labelLimit: 0 } : null };
    const spec: vl.TopLevelSpec = {
      $schema: VL_SCHEMA,
      title: { text: `${fig.name} against ${field}`, subtitle: reps ? 'mean of the seeds, error bar: 95% confidence interval' : (others.length ? 'one line per combination of the other varied fields' : '') },
      width: 480, height: 260,
      data: { values },
      layer: [
        { mark: { type: 'line', point: true, tooltip: true }, encoding: { x, y: { field: 'v', type: 'quantitative', title: reps ? `${fig.title}, mean and 95% CI` : fig.title }, color } },
        ...(reps ? [{ mark: { type: 'rule' as const }, encoding: { x, y: { field: 'lo', type: 'quantitative' as const }, y2: { field: 'hi' }, color } }] : []),
      ],
    };
    // Numbered: two field paths could sanitize to the same name.
    return [`sweep-${fi + 1}-${field.replace(/[^A-Za-z0-9]+/g, '-').replace(/^-|-$/g, '')}.svg`, spec];
  });
}
