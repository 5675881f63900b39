/** SVG bar charts of the paper reproduction (vega-lite compiled to vega, rendered headless to SVG). */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type * as vl from 'vega-lite';
import type { PaperRow } from './report.js';

async function render(spec: vl.TopLevelSpec): Promise<string> {
  // Loaded here, not at start-up: only `paper --plot` needs them, and they take a while to load.
  const [vega, vl] = await Promise.all([import('vega'), import('vega-lite')]);
  const view = new vega.View(vega.parse(vl.compile(spec).spec), { renderer: 'none' });
  const svg = await view.toSVG();
  view.finalize();
  return svg;
}

export async function writePlots(rows: PaperRow[], dir: string): Promise<string[]> {
  mkdirSync(dir, { recursive: true });
  const thr = rows.flatMap((r) => [
    { config: r.id, source: 'xennet', mbps: r.throughputMbps },
    ...(r.paperMbps ? [{ config: r.id, source: 'paper', mbps: r.paperMbps }] : []),
  ]);
  const throughput: vl.TopLevelSpec = {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    title: 'Throughput per configuration (Mb/s)',
    data: { values: thr },
    mark: 'bar',
    encoding: {
      y: { field: 'config', type: 'nominal', sort: null, title: null, axis: { labelLimit: 400 } },
      yOffset: { field: 'source' },
      x: { field: 'mbps', type: 'quantitative', title: 'Mb/s' },
      color: { field: 'source', type: 'nominal' },
    },
    width: 500,
  };
  const brk = rows.flatMap((r) => Object.entries(r.breakdown).flatMap(([acct, groups]) =>
    Object.entries(groups).map(([group, cycles]) => ({ config: r.id, part: `${acct}: ${group}`, cycles }))));
  const breakdown: vl.TopLevelSpec = {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    title: 'CPU cycles per packet by domain and component',
    data: { values: brk },
    mark: 'bar',
    encoding: {
      y: { field: 'config', type: 'nominal', sort: null, title: null, axis: { labelLimit: 400 } },
      x: { field: 'cycles', type: 'quantitative', aggregate: 'sum', title: 'cycles per MSS segment' },
      color: { field: 'part', type: 'nominal', title: 'domain: component' },
    },
    width: 500,
  };
  const files = [['throughput.svg', throughput], ['cycles-breakdown.svg', breakdown]] as const;
  const out: string[] = [];
  for (const [name, spec] of files) {
    const path = join(dir, name);
    writeFileSync(path, await render(spec));
    writeFileSync(path.replace(/\.svg$/, '.vl.json'), JSON.stringify(spec, null, 2));
    out.push(path);
  }
  return out;
}
