/** Plots of the paper reproduction: valid SVG, every component group in the legend, one panel per domain, paper vs xennet pairs. */
import { expect } from 'chai';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runPaper } from '../../src/paper/run.js';
import { writePlots } from '../../src/paper/plot.js';
import { GROUPS } from '../../src/paper/configs.js';
import type { PaperRow } from '../../src/paper/report.js';
import { xmlProblems } from '../support/xml.js';

const SHORT = [{ path: 'run.warmupMs', value: 2, flag: 'test' }, { path: 'run.durationMs', value: 2, flag: 'test' }];
/** Native, driver domain and guest configurations; some with a paper figure, some without. */
const ONLY = ['linux-tx', 'driver-tx', 'guest-tx', 'guest-tx-vnic', 'guest-rx-all'];

const between = (s: string, cls: string) => [...s.matchAll(new RegExp(`class="mark-text ${cls}"[^>]*>(?:<[^>]+>)*([^<]*)<`, 'g'))].map((m) => m[1]);

describe('paper plots', function () {
  this.timeout(120_000);
  const dir = mkdtempSync(join(tmpdir(), 'xennet-plots-'));
  after(() => rmSync(dir, { recursive: true, force: true }));
  let rows: PaperRow[];
  let files: string[];
  before(async () => {
    rows = (await runPaper({ only: ONLY, workers: 1, overrides: SHORT })).configurations;
    files = await writePlots(rows, dir);
  });

  it('writes well-formed SVG documents and their vega-lite specs', () => {
    expect(files).to.deep.equal([join(dir, 'throughput.svg'), join(dir, 'cycles-breakdown.svg')]);
    for (const f of files) {
      const svg = readFileSync(f, 'utf8');
      expect(svg.startsWith('<svg')).to.equal(true);
      expect(xmlProblems(svg), f).to.deep.equal([]);
      expect(JSON.parse(readFileSync(f.replace(/\.svg$/, '.vl.json'), 'utf8')).$schema).to.match(/vega-lite/);
    }
    // The checker has teeth.
    expect(xmlProblems('<svg><g></svg>')).to.not.deep.equal([]);
    expect(xmlProblems('<svg a="1" a="2"/>')).to.not.deep.equal([]);
    expect(xmlProblems('<svg>a & b</svg>')).to.not.deep.equal([]);
  });

  it('the breakdown: one panel per domain present, one legend entry per component group present, in one colour each', () => {
    const svg = readFileSync(join(dir, 'cycles-breakdown.svg'), 'utf8');
    const domains = [...new Set(rows.flatMap((r) => Object.keys(r.breakdown)))];
    expect(domains).to.include.members(['Linux', 'driver domain', 'Xen', 'guest']);
    const panels = svg.split('class="mark-rect role-mark child_marks"').length - 1;
    expect(panels).to.equal(domains.length);
    const headers = svg.slice(svg.indexOf('role-column-header'), svg.indexOf('role-column-footer'));
    for (const d of domains) expect(headers).to.include(`>${d}<`);
    const groups = new Set(rows.flatMap((r) => Object.values(r.breakdown).flatMap((g) => Object.keys(g))));
    const legend = between(svg, 'role-legend-label');
    expect(legend).to.deep.equal(GROUPS.filter((g) => groups.has(g)));
    expect(legend.length).to.be.greaterThan(4);
    const swatches = [...svg.matchAll(/class="mark-symbol role-legend-symbol"[^>]*>(?:<[^>]+>)*?<path[^>]*fill="([^"]+)"/g)].map((m) => m[1]);
    expect(swatches).to.have.length(legend.length);
    expect(new Set(swatches).size, 'distinct colours').to.equal(legend.length);
    // Every legend entry is inside the drawing: the document is tall enough for the legend.
    expect(Number(/<svg[^>]*height="(\d+)"/.exec(svg)![1])).to.be.greaterThan(Number(/<svg[^>]*width="(\d+)"/.exec(svg)![1]) / 8);
  });

  it('throughput: a paper and a xennet bar for every configuration with a paper figure, xennet alone for the others', () => {
    const svg = readFileSync(join(dir, 'throughput.svg'), 'utf8');
    const bars = [...svg.matchAll(/<path aria-label="Mb\/s: ([\d.]+); config: ([^;]+); source: (\w+)"/g)].map((m) => ({ mbps: Number(m[1]), config: m[2], source: m[3] }));
    expect(rows.some((r) => r.paperMbps === null) && rows.some((r) => r.paperMbps !== null)).to.equal(true);
    for (const r of rows) {
      const mine = bars.filter((b) => b.config === r.id);
      expect(mine.map((b) => b.source).sort(), r.id).to.deep.equal(r.paperMbps === null ? ['xennet'] : ['paper', 'xennet']);
      expect(mine.find((b) => b.source === 'xennet')!.mbps).to.be.closeTo(r.throughputMbps, 0.1);
      if (r.paperMbps !== null) expect(mine.find((b) => b.source === 'paper')!.mbps).to.equal(r.paperMbps);
    }
    expect(bars).to.have.length(rows.length + rows.filter((r) => r.paperMbps !== null).length);
  });
});
