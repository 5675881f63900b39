/**
 * The report's lifecycle markers (src/inspect/lifecycle-marks.ts). The report of
 * scenarios/worlds/migrate.yaml (cut short once the migration is over) marks the pre-copy rounds,
 * stop-and-copy and the resume at the times its own result.json gives (the other verbs:
 * lifecycle-marks.test.ts).
 */
import { expect } from 'chai';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadScenario } from '../../src/scenario/schema.js';
import { writeReport } from '../../src/inspect/report.js';
import type { LifecycleMark } from '../../src/inspect/lifecycle-marks.js';
import type { MigrationResult } from '../../src/toolstack/migration.js';

describe('the report marks a migration on its timeline (scenarios/worlds/migrate.yaml)', function () {
  this.timeout(600_000); // one traced world run on a loaded 2-core machine
  let marks: LifecycleMark[];
  let m: MigrationResult;
  let plots: Record<string, unknown>;
  before(async () => {
    const sc = loadScenario('scenarios/worlds/migrate.yaml');
    const out = join(mkdtempSync(join(tmpdir(), 'xennet-marks-')), 'report');
    await writeReport({ ...sc, run: { ...sc.run, durationMs: 200 } }, out);
    const result = JSON.parse(readFileSync(join(out, 'result.json'), 'utf8')) as { runs: Array<{ result: { migration: MigrationResult[] } }> };
    m = result.runs[0].result.migration[0];
    const html = readFileSync(join(out, 'index.html'), 'utf8');
    const open = '<script type="application/json" id="data">';
    const data = JSON.parse(html.slice(html.indexOf(open) + open.length, html.indexOf('</script>', html.indexOf(open)))) as { lifecycle: LifecycleMark[]; plots: Record<string, unknown> };
    marks = data.lifecycle;
    plots = data.plots;
  });

  it('the migration finished inside the report (the trigger): rounds, a suspension and a resume', () => {
    expect(m.rounds).to.be.at.least(2);
    expect(m.suspendedAtMs).to.be.a('number');
    expect(m.resumedAtMs).to.be.a('number');
  });

  it("one span per live round, from its start to the next round's, then stop-and-copy over the downtime, then the resume", () => {
    const pre = marks.filter((k) => k.kind === 'precopy');
    expect(pre.map((k) => [k.fromMs, k.toMs])).to.deep.equal(m.roundsAtMs.slice(0, -1).map((t, i) => [t, m.roundsAtMs[i + 1]]));
    expect(pre.at(-1)!.toMs, 'pre-copy ends at the suspension').to.equal(m.suspendedAtMs);
    const stop = marks.filter((k) => k.kind === 'stop-and-copy');
    expect(stop.map((k) => [k.fromMs, k.toMs])).to.deep.equal([[m.suspendedAtMs, m.resumedAtMs]]);
    expect(stop[0].toMs! - stop[0].fromMs).to.be.closeTo(m.downtimeMs!, 1e-9);
    expect(marks.filter((k) => k.kind === 'resume').map((k) => k.fromMs)).to.deep.equal([m.resumedAtMs]);
    expect(marks[0].fromMs, 'the first round starts at the command').to.equal(m.startMs);
  });

  it('draws them on the time plots (each label in the goodput and CPU plots)', () => {
    for (const id of ['plot-tput', 'plot-cpu']) {
      const spec = JSON.stringify(plots[id]);
      for (const k of marks) expect(spec, `${id}: ${k.label}`).to.include(JSON.stringify(k.label));
    }
  });
});
