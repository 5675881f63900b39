/**
 * Plots and tables of a run's distribution and repetitions: latency.csv, `run --plot` (throughput,
 * means with their 95% CI under --reps, latency by percentile and its histogram), `sweep --plot`
 * (one plot per varied field), and the figures --reps summarises for request/response runs.
 */
import { expect } from 'chai';
import { mkdtempSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseScenario } from '../../src/scenario/schema.js';
import { runScenario, type RunResult } from '../../src/scenario/run.js';
import { figuresFor, FIGURES, RR_FIGURES, summarizeFigures } from '../../src/scenario/reps.js';
import { latencyPlots, repsSpec, sweepSpecs } from '../../src/plot/runs.js';
import { renderSvg } from '../../src/plot/vega.js';
import { xennet } from '../support/cli.js';
import { build } from '../../src/scenario/build.js';
import { Recorder } from '../../src/inspect/recorder.js';
import { reportPlots } from '../../src/inspect/report-plots.js';
import { PS_PER_MS } from '../../src/actors/scheduler.js';

const rr = (seed: number): RunResult => runScenario(parseScenario({
  name: 'guest-tcp-rr', topology: 'guest', workload: { kind: 'tcp_rr' }, seed, run: { warmupMs: 2, durationMs: 20 }, machine: { nics: 1 },
}));
const lib = (f: string) => join(process.cwd(), 'scenarios', f);

describe('run and sweep plots, latency.csv', function () {
  this.timeout(120_000);
  let a: RunResult, b: RunResult;
  before(() => { a = rr(1); b = rr(2); });

  it('a request/response run carries its whole latency distribution: counts sum to its transactions, ticks end at its largest sample', () => {
    const d = a.latency!.distribution;
    expect(a.latency!.transactions).to.be.above(100);
    expect(d.histogram.reduce((s, x) => s + x.count, 0)).to.equal(a.latency!.transactions);
    expect(d.percentiles[0].percentile).to.equal(0);
    expect(d.percentiles.at(-1)!.percentile).to.equal(100);
    const p50 = d.percentiles.find((p) => p.percentile === 50)!;
    expect(p50.us).to.equal(a.latency!.p50Us);
    // Every latency is at least the lowest bin's bound and below the highest bin's.
    expect(d.percentiles[0].us).to.be.at.least(d.histogram[0].loUs);
    expect(d.percentiles.at(-1)!.us).to.be.below(d.histogram.at(-1)!.hiUs);
  });

  it('--reps of request/response runs summarises rate, latency and cycles per transaction, not Mb/s and cycles per segment', () => {
    expect(figuresFor([a, b])).to.equal(RR_FIGURES);
    const s = summarizeFigures([a, b]);
    expect(Object.keys(s)).to.deep.equal(['tps', 'meanUs', 'p99Us', 'cpuPct', 'cyclesPerTransaction']);
    expect(s.meanUs.mean).to.be.closeTo((a.latency!.meanUs + b.latency!.meanUs) / 2, 1e-9);
    const stream = { ...a, latency: undefined };
    expect(figuresFor([stream, b])).to.equal(FIGURES);
  });

  it('the plots render: one percentile point per tick and one bar per bin, per run; the reps plot one panel per figure', async () => {
    const plots = latencyPlots([a, b], (r) => `seed ${r.seed}`);
    expect(plots.map((p) => p[0])).to.deep.equal(['latency-percentiles.svg', 'latency-histogram.svg']);
    const count = (svg: string, re: RegExp) => (svg.match(re) ?? []).length;
    const pct = await renderSvg(plots[0][1]);
    const ticks = a.latency!.distribution.percentiles.length + b.latency!.distribution.percentiles.length;
    expect(count(pct, /aria-roledescription="point"/g)).to.equal(ticks);
    const hist = await renderSvg(plots[1][1]);
    const bins = a.latency!.distribution.histogram.length + b.latency!.distribution.histogram.length;
    const rects = hist.slice(hist.indexOf('mark-rect role-mark')).split('</g>')[0];
    expect(count(rects, /<path/g)).to.equal(bins);
    const reps = await renderSvg(repsSpec([a, b]));
    for (const t of ['transactions/s', 'mean latency (µs)', 'p99 latency (µs)', 'CPU (%)', 'cycles per transaction']) expect(reps).to.include(t);
    expect(latencyPlots([{ ...a, latency: undefined }], (r) => r.scenario)).to.deep.equal([]);
  });

  it('the report of a request/response run opens its plots with the latency distribution; a stream run has none', async () => {
    const ids = async (sc: ReturnType<typeof parseScenario>) => {
      const bt = build(sc);
      const rec = new Recorder(bt, { samplePs: [PS_PER_MS] });
      let result;
      try { result = rec.run(); } finally { bt.sys.stop(); }
      return (await reportPlots(rec, result)).map((p) => p.id);
    };
    const base = { topology: 'guest', seed: 1, run: { warmupMs: 1, durationMs: 4 }, machine: { nics: 1 } } as const;
    expect((await ids(parseScenario({ ...base, name: 'rr', workload: { kind: 'udp_rr' } }))).slice(0, 3)).to.deep.equal(['plot-latency', 'plot-latency-hist', 'plot-tput']);
    expect(await ids(parseScenario({ ...base, name: 'stream', direction: 'tx' }))).to.not.include('plot-latency');
  });

  it('a sweep gets one plot per varied field, one line per combination of the others', () => {
    const pt = (topology: string, itr: number, r: RunResult) => ({ label: { topology, 'machine.nic.itrUs': itr }, runs: [r] });
    const specs = sweepSpecs(['topology', 'machine.nic.itrUs'], [pt('guest', 0, a), pt('guest', 125, b), pt('native', 0, a), pt('native', 125, b)]);
    expect(specs.map((s) => s[0])).to.deep.equal(['sweep-1-topology.svg', 'sweep-2-machine-nic-itrUs.svg']);
    const values = (specs[1][1] as { data: { values: Array<{ x: unknown; line: string; v: number }> } }).data.values;
    expect([...new Set(values.map((v) => v.line))]).to.deep.equal(['topology=guest', 'topology=native']);
    expect(values[0]).to.include({ x: 0, v: a.latency!.meanUs });
  });

  it('`run --out` writes latency.csv (percentile rows, then bin rows, NA where a column does not apply); `--plot` writes the SVGs', () => {
    const dir = mkdtempSync(join(tmpdir(), 'xennet-plot-'));
    const r = xennet(['run', lib('latency/guest-tcp-rr.yaml'), '--duration', '4ms', '--out', join(dir, 'out'), '--plot', join(dir, 'plots')], { timeout: 60_000 });
    expect(r.status, r.stderr).to.equal(0);
    const res = JSON.parse(readFileSync(join(dir, 'out', 'result.json'), 'utf8')).runs[0].result as RunResult;
    const rows = readFileSync(join(dir, 'out', 'latency.csv'), 'utf8').trim().split('\n');
    expect(rows[0]).to.equal('index,id,kind,percentile,latencyUs,binLoUs,binHiUs,count');
    const d = res.latency!.distribution;
    expect(rows.length - 1).to.equal(d.percentiles.length + d.histogram.length);
    expect(rows[1]).to.equal(`0,guest-tcp-rr,percentile,0,${d.percentiles[0].us},NA,NA,NA`);
    expect(rows.at(-1)).to.equal(`0,guest-tcp-rr,bin,NA,NA,${d.histogram.at(-1)!.loUs},${d.histogram.at(-1)!.hiUs},${d.histogram.at(-1)!.count}`);
    // runs.csv keeps the summary, not the distribution.
    expect(readFileSync(join(dir, 'out', 'runs.csv'), 'utf8')).to.not.include('distribution');
    expect(readdirSync(join(dir, 'plots')).sort()).to.deep.equal(['latency-histogram.svg', 'latency-histogram.vl.json', 'latency-percentiles.svg', 'latency-percentiles.vl.json', 'throughput.svg', 'throughput.vl.json']);
    const stream = xennet(['run', lib('linux-tx.yaml'), '--duration', '2ms', '--plot', join(dir, 'stream')], { timeout: 60_000 });
    expect(stream.status, stream.stderr).to.equal(0);
    expect(readdirSync(join(dir, 'stream')).sort()).to.deep.equal(['throughput.svg', 'throughput.vl.json']);
  });

  it('refuses --plot where it cannot plot honestly: with an inspection flag, on one shard of a sweep, into a file', () => {
    const dir = mkdtempSync(join(tmpdir(), 'xennet-plot-'));
    const t = xennet(['run', lib('linux-tx.yaml'), '--plot', join(dir, 'p'), '--trace', join(dir, 't.json')], { timeout: 30_000 });
    expect(t.status).to.equal(2);
    expect(t.stderr).to.equal('error: --plot cannot be combined with --trace (the report command plots one inspected run)\n');
    const s = xennet(['sweep', lib('sweeps/latency-itr.yaml'), '--plot', join(dir, 'p'), '--shard', '1/3', '--out', join(dir, 'o')], { timeout: 30_000 });
    expect(s.status).to.equal(2);
    expect(s.stderr.trim().split('\n').at(-1)).to.equal('error: --plot needs the whole sweep, not shard 1 of 3');
    writeFileSync(join(dir, 'file'), 'x');
    const f = xennet(['run', lib('linux-tx.yaml'), '--plot', join(dir, 'file')], { timeout: 30_000 });
    expect(f.status).to.equal(2);
    expect(f.stderr).to.match(/^error: .*file.*\n$/);
  });
});
