/**
 * The transmit gain taken apart per optimization: Xen 2.0 -> +one -> +another -> all three, in every
 * order (a waterfall per order), and each optimization's share of the gain averaged over the orders
 * (its Shapley value, on ln throughput so that the three shares of a product of ratios add up).
 * Needs the guest configurations with every subset of the three optimizations (scenarios/paper).
 */
import type * as vl from 'vega-lite';
import type { PaperRow } from './report.js';
import type { RepStats } from './run.js';
import { VL_SCHEMA } from '../plot/vega.js';

export const OPTIMIZATIONS = [
  { key: 'vnic', label: '+virtual NIC' },
  { key: 'io', label: '+I/O channel' },
  { key: 'mem', label: '+superpages/global' },
] as const;
type Key = typeof OPTIMIZATIONS[number]['key'];

/** The configuration with exactly these optimizations: guest-tx, guest-tx-vnic, guest-tx-vnic-io, ..., guest-tx-all. */
export function subsetId(dir: 'tx' | 'rx', keys: readonly Key[]): string {
  if (keys.length === 0) return `guest-${dir}`;
  if (keys.length === OPTIMIZATIONS.length) return `guest-${dir}-all`;
  return `guest-${dir}-${OPTIMIZATIONS.filter((o) => keys.includes(o.key)).map((o) => o.key).join('-')}`;
}

export interface WaterfallStep { add: Key; label: string; fromMbps: number; toMbps: number; gainPct: number }
export interface Waterfall {
  direction: 'tx' | 'rx';
  /** Mean over the repetitions when the rows have them, else the one run. */
  statistic: 'mean' | 'run';
  baseMbps: number;
  allMbps: number;
  orders: Array<{ order: Key[]; steps: WaterfallStep[] }>;
  /** Each optimization's share of ln(all / base), averaged over the six orders (sums to 1). */
  shares: Array<{ add: Key; label: string; share: number }>;
}

const permutations = <T>(xs: readonly T[]): T[][] => xs.length <= 1 ? [[...xs]] : xs.flatMap((x, i) => permutations([...xs.slice(0, i), ...xs.slice(i + 1)]).map((p) => [x, ...p]));
const round1 = (v: number) => Math.round(10 * v) / 10;

/** The decomposition, or null when a subset's configuration is missing from the rows. */
export function waterfall(rows: Array<PaperRow & { reps?: RepStats }>, dir: 'tx' | 'rx' = 'tx'): Waterfall | null {
  const by = new Map(rows.map((r) => [r.id, r]));
  const withReps = rows.every((r) => r.reps);
  const mbps = (keys: readonly Key[]): number | undefined => {
    const r = by.get(subsetId(dir, keys));
    return r === undefined ? undefined : withReps ? r.reps!.stats.throughputMbps.mean : r.throughputMbps;
  };
  const keys = OPTIMIZATIONS.map((o) => o.key);
  const base = mbps([]), all = mbps(keys);
  if (base === undefined || all === undefined) return null;
  const orders: Waterfall['orders'] = [];
  for (const order of permutations(keys)) {
    const steps: WaterfallStep[] = [];
    for (let i = 0; i < order.length; i++) {
      const from = mbps(order.slice(0, i)), to = mbps(order.slice(0, i + 1));
      if (from === undefined || to === undefined) return null;
      steps.push({ add: order[i], label: OPTIMIZATIONS.find((o) => o.key === order[i])!.label, fromMbps: round1(from), toMbps: round1(to), gainPct: round1((100 * (to - from)) / from) });
    }
    orders.push({ order, steps });
  }
  const total = Math.log(all / base);
  const shares = OPTIMIZATIONS.map((o) => ({
    add: o.key, label: o.label,
    share: Number((orders.reduce((s, { steps }) => { const st = steps.find((x) => x.add === o.key)!; return s + Math.log(st.toMbps / st.fromMbps); }, 0) / orders.length / total).toFixed(3)),
  }));
  return { direction: dir, statistic: withReps ? 'mean' : 'run', baseMbps: round1(base), allMbps: round1(all), orders, shares };
}

/**
 * One waterfall panel per order: a bar per step from the throughput before it to the throughput after
 * it, coloured by the optimization added, the step's gain written above it. `stamp` (date and commit)
 * goes into the subtitle: a figure in docs/ says when and on what it was measured.
 */
export function waterfallSpec(w: Waterfall, stamp?: string): vl.TopLevelSpec {
  const panelOf = (order: Key[]) => ['Xen 2.0', ...order.map((k) => OPTIMIZATIONS.find((o) => o.key === k)!.label)].join(' ');
  const values = w.orders.flatMap(({ order, steps }) => {
    const panel = panelOf(order);
    return [
      { panel, step: 0, name: 'Xen 2.0', opt: 'Xen 2.0', from: 0, to: w.baseMbps, text: `${Math.round(w.baseMbps)}` },
      ...steps.map((s, i) => ({ panel, step: i + 1, name: `${i + 1}. ${s.label}`, opt: s.label, from: s.fromMbps, to: s.toMbps, text: `${s.gainPct >= 0 ? '+' : ''}${s.gainPct.toFixed(0)}%` })),
    ];
  });
  const domain = ['Xen 2.0', ...OPTIMIZATIONS.map((o) => o.label)];
  const shares = w.shares.map((s) => `${s.label.slice(1)} ${(100 * s.share).toFixed(0)}%`).join(', ');
  return {
    $schema: VL_SCHEMA,
    title: {
      text: `Guest ${w.direction === 'tx' ? 'transmit' : 'receive'}: the gain of the optimizations, step by step in each order (Mb/s)`,
      subtitle: [`${Math.round(w.baseMbps)} -> ${Math.round(w.allMbps)} Mb/s (x${(w.allMbps / w.baseMbps).toFixed(2)}); share of ln gain averaged over the orders: ${shares}`,
        ...(w.statistic === 'mean' ? ['means over the seeds run'] : []), ...(stamp ? [stamp] : [])],
    },
    data: { values },
    facet: { field: 'panel', type: 'nominal', title: null, sort: w.orders.map(({ order }) => panelOf(order)), header: { labelFontSize: 11 } },
    columns: 2,
    spec: {
      width: 260,
      height: 160,
      layer: [
        {
          mark: { type: 'bar', tooltip: true },
          encoding: {
            x: { field: 'step', type: 'ordinal', title: null, axis: { labelExpr: "datum.value == 0 ? 'Xen 2.0' : 'step ' + datum.value" } },
            y: { field: 'from', type: 'quantitative', title: 'Mb/s' },
            y2: { field: 'to' },
            color: { field: 'opt', type: 'nominal', title: null, scale: { domain, range: ['#9c9c9c', '#4e79a7', '#f28e2b', '#59a14f'] }, legend: { orient: 'top' } },
          },
        },
        {
          mark: { type: 'text', dy: -6, fontSize: 10 },
          encoding: { x: { field: 'step', type: 'ordinal' }, y: { field: 'to', type: 'quantitative' }, text: { field: 'text' } },
        },
      ],
    },
    resolve: { scale: { x: 'independent' } },
  };
}
