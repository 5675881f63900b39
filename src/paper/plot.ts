/** SVG bar charts of the paper reproduction (vega-lite, rendered headless to SVG; the specs are written beside them). */
import type * as vl from 'vega-lite';
import type { PaperRow } from './report.js';
import type { RepStats } from './run.js';
import { GROUPS, GROUP_COLORS } from './configs.js';
import { VL_SCHEMA, writeSvgs } from '../plot/vega.js';
import { waterfall, waterfallSpec } from './waterfall.js';

/** The configurations' names in full on the y axis. */
const configAxis = { field: 'config', type: 'nominal', sort: null, title: null, axis: { labelLimit: 0 } } as const;

/**
 * Paper vs xennet, one pair of bars per configuration the paper gives a figure for, xennet
 * alone for the others. Under --reps xennet's bar is the mean over the seeds, with its 95%
 * confidence interval as an error bar (not the first seed's value).
 */
export function throughputSpec(rows: Array<PaperRow & { reps?: RepStats }>): vl.TopLevelSpec {
  const reps = rows.find((r) => r.reps)?.reps;
  const values = rows.flatMap((r) => {
    const st = r.reps?.stats.throughputMbps;
    return [
      ...(r.paperMbps !== null ? [{ config: r.id, source: 'paper', mbps: r.paperMbps }] : []),
      { config: r.id, source: 'xennet', mbps: st ? st.mean : r.throughputMbps, ...(st ? { lo: st.ci95[0], hi: st.ci95[1] } : {}) },
    ];
  });
  const yOffset = { field: 'source', sort: ['paper', 'xennet'] };
  return {
    $schema: VL_SCHEMA,
    title: {
      text: 'Throughput per configuration: paper vs xennet (Mb/s)',
      subtitle: reps ? `xennet: mean of ${reps.seeds.length} seeds (${reps.seeds[0]}..${reps.seeds.at(-1)}) with its 95% confidence interval; xennet alone where the paper gives no figure`
        : 'xennet alone where the paper gives no figure',
    },
    data: { values },
    layer: [
      {
        mark: { type: 'bar', tooltip: true },
        encoding: {
          y: configAxis, yOffset,
          x: { field: 'mbps', type: 'quantitative', title: reps ? 'Mb/s (xennet: mean, 95% CI)' : 'Mb/s' },
          color: { field: 'source', type: 'nominal', title: null, scale: { domain: ['paper', 'xennet'], range: ['#9c9c9c', '#4e79a7'] }, legend: { orient: 'top' } },
        },
      },
      ...(reps ? [{
        transform: [{ filter: 'isValid(datum.lo)' }],
        mark: { type: 'rule' as const, color: '#222', strokeWidth: 1.5 },
        encoding: { y: configAxis, yOffset, x: { field: 'lo', type: 'quantitative' as const }, x2: { field: 'hi' } },
      }] : []),
    ],
    width: 500,
  };
}

/**
 * Cycles per packet: one panel per domain (the accounts present), a stacked bar per configuration,
 * one colour per component group with every group in the legend.
 */
export function breakdownSpec(rows: PaperRow[]): vl.TopLevelSpec {
  const values = rows.flatMap((r) => Object.entries(r.breakdown).flatMap(([domain, groups]) =>
    Object.entries(groups).map(([group, cycles]) => ({ config: r.id, domain, group, order: GROUPS.indexOf(group as typeof GROUPS[number]), cycles }))));
  const present = GROUPS.filter((g) => values.some((v) => v.group === g));
  const domains = [...new Set(values.map((v) => v.domain))];
  return {
    $schema: VL_SCHEMA,
    title: { text: 'CPU cycles per packet by domain and component', subtitle: 'per MSS segment; one panel per domain' },
    data: { values },
    facet: { column: { field: 'domain', type: 'nominal', sort: domains, title: null, header: { labelFontSize: 13, labelFontWeight: 'bold' } } },
    spec: {
      mark: { type: 'bar', tooltip: true },
      encoding: {
        y: configAxis,
        x: { field: 'cycles', type: 'quantitative', aggregate: 'sum', title: 'cycles per packet' },
        color: {
          field: 'group', type: 'nominal', title: 'component',
          scale: { domain: present, range: present.map((g) => GROUP_COLORS[GROUPS.indexOf(g)]) },
          legend: { orient: 'bottom', direction: 'horizontal', columns: 4, labelLimit: 0, symbolLimit: 0 },
        },
        order: { field: 'order', type: 'quantitative' },
      },
      width: 200,
    },
  };
}

/** The plots, and the transmit waterfall when every subset of the optimizations was run; `stamp` (date, commit) goes into the waterfall's subtitle. */
export async function writePlots(rows: Array<PaperRow & { reps?: RepStats }>, dir: string, stamp?: string): Promise<string[]> {
  const w = waterfall(rows, 'tx');
  return writeSvgs(dir, [['throughput.svg', throughputSpec(rows)], ['cycles-breakdown.svg', breakdownSpec(rows)], ...(w ? [['tx-waterfall.svg', waterfallSpec(w, stamp)] as [string, vl.TopLevelSpec]] : [])]);
}
