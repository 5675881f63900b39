/** `paper --reps N --plot DIR`: xennet's bar is the mean over the seeds, with its 95% CI as an error bar. */
import { expect } from 'chai';
import { throughputSpec } from '../../src/paper/plot.js';
import { renderSvg } from '../../src/plot/vega.js';
import type { PaperRow } from '../../src/paper/report.js';
import type { RepStats } from '../../src/paper/run.js';

const stat = (mean: number, half: number) => ({ n: 3, mean, std: half, ci95: [mean - half, mean + half] as [number, number] });
const row = (id: string, first: number, mean: number, half: number) => ({
  id, throughputMbps: first, paperMbps: 750,
  reps: { seeds: [1, 2, 3], stats: { throughputMbps: stat(mean, half), cpuPct: stat(100, 0), cyclesPerPacket: stat(1000, 10) } } as RepStats,
}) as unknown as PaperRow & { reps: RepStats };

describe('paper plot under --reps', function () {
  this.timeout(60_000);

  it('plots the mean with its confidence interval, not the first seed', async () => {
    const spec = throughputSpec([row('guest-tx', 700, 760, 25), row('guest-rx', 800, 840, 40)]) as unknown as {
      data: { values: Array<{ config: string; source: string; mbps: number; lo?: number; hi?: number }> }; layer: Array<{ mark: { type: string } }>; title: { subtitle: string };
    };
    const x = spec.data.values.filter((v) => v.source === 'xennet');
    expect(x.map((v) => [v.config, v.mbps, v.lo, v.hi])).to.deep.equal([['guest-tx', 760, 735, 785], ['guest-rx', 840, 800, 880]]);
    expect(spec.layer.map((l) => l.mark.type)).to.deep.equal(['bar', 'rule']);
    expect(spec.title.subtitle).to.match(/mean of 3 seeds \(1\.\.3\) with its 95% confidence interval/);
    // The error bars are drawn: one rule per configuration in the SVG.
    const svg = await renderSvg(spec as never);
    expect(svg).to.match(/class="mark-rule role-mark layer_1_marks"/);
  });

  it('without --reps: the single run, no error bars', () => {
    const spec = throughputSpec([{ id: 'guest-tx', throughputMbps: 700, paperMbps: 750 } as unknown as PaperRow]) as unknown as { layer: unknown[]; data: { values: Array<{ source: string; mbps: number }> } };
    expect(spec.layer).to.have.length(1);
    expect(spec.data.values.find((v) => v.source === 'xennet')!.mbps).to.equal(700);
  });
});
