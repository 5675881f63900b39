import { expect } from 'chai';
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { calibrate, DEFAULT_STEP, leaveOneOut, maxCalibrationRuns } from '../../src/calibrate/calibrate.js';
import { BASELINE_IDS, baselineTargets, changeFor, fittedParams, runChanges } from '../../src/calibrate/model.js';
import { CALIBRATION } from '../../src/model/calibration.js';
import { COSTS, FOOTPRINT, FOOTPRINT_PRIOR, scaleFootprint } from '../../src/model/costs.js';
import { build } from '../../src/scenario/build.js';
import { loadScenario } from '../../src/scenario/schema.js';
import { inverse, solve } from '../../src/calibrate/linalg.js';
import { xennet } from '../support/cli.js';

const short = [{ path: 'run.durationMs', value: 10, flag: 'test' }];

describe('calibration', function () {
  this.timeout(600_000);

  // The fit at the committed values, no iterations: shared by the optimality check and the snapshot.
  let atCommitted: ReturnType<typeof calibrate> | undefined;
  const committedFit = () => (atCommitted ??= calibrate({ workers: 2, maxIter: 0, tol: CALIBRATION.tol }));

  it(`the committed cost table is the optimum of the calibration objective: the Gauss-Newton step there moves no parameter by ${CALIBRATION.tol * 100}% or more, or no probe at +-${DEFAULT_STEP * 100}% lowers the objective`, async () => {
    const r = await committedFit();
    const worst = r.finalStep.reduce((m, v, i) => (Math.abs(v) > Math.abs(r.finalStep[m]) ? i : m), 0);
    expect(r.converged, `not the optimum: the step would move ${r.params[worst].name} by ${(100 * r.finalStep[worst]).toFixed(2)}%; run \`xennet calibrate\` to refit`).to.equal(true);
    if (r.criterion === 'step') for (const v of r.finalStep) expect(Math.abs(v)).to.be.lessThan(CALIBRATION.tol);
  });

  it('snapshot: the baseline figures the model gives at the committed values are the ones src/model/calibration.ts records', async () => {
    // Any change that moves a baseline run moves these. When this fails, run `xennet calibrate --check`
    // (is the table still the optimum?), then `xennet calibrate --write` to record the new fit, and rebuild.
    const r = await committedFit();
    const recorded = CALIBRATION.figures as Record<string, { model: number }>;
    for (const f of r.figures) expect(f.modelMbps, `${f.id}: the baseline run moved; run \`xennet calibrate --check\`, then \`xennet calibrate --write\``).to.equal(recorded[f.id].model);
  });

  it('a parameter that is not fitted stays at its committed value (a footprint scale too)', () => {
    const params = fittedParams().filter((p) => p.name === 'footprintCodeScale' || p.name === 'tlbMiss');
    const ch = changeFor(params, [150, 1.5]);
    expect(ch.costs).to.deep.equal({ tlbMiss: 150 });
    expect(ch.footprint).to.deep.equal(scaleFootprint(FOOTPRINT_PRIOR, 1.5, CALIBRATION.values.footprintDataScale));
    expect(() => fittedParams(['tlbMiss', 'ipiSend'])).to.throw(RangeError, /not a fitted parameter: ipiSend/);
    expect(fittedParams(['footprintCodeScale', 'tlbMiss']).map((p) => p.name)).to.deep.equal(['tlbMiss', 'footprintCodeScale']);
  });

  it('fits only the baseline figures; every fitted row has a calibrated value, and a built machine charges it', () => {
    expect([...BASELINE_IDS]).to.not.include.members(['guest-tx-all', 'guest-rx-all', 'driver-rx-mem']);
    const values = CALIBRATION.values as Record<string, number>;
    const machine = build(loadScenario(join('scenarios', 'guest-tx.yaml')));
    for (const p of fittedParams()) {
      expect(p.prior, p.name).to.be.greaterThan(0);
      expect(Object.hasOwn(values, p.name), `${p.name} has no calibrated value (it would run at its prior)`).to.equal(true);
      if (p.name.startsWith('footprint')) continue;
      expect(machine.costs[p.name as keyof typeof machine.costs], p.name).to.equal(values[p.name]);
    }
    expect(FOOTPRINT).to.deep.equal(scaleFootprint(FOOTPRINT_PRIOR, values.footprintCodeScale, values.footprintDataScale));
  });

  it('every cost row left unfitted is one no baseline figure depends on (so the fit cannot inform it)', async () => {
    // The fitted figures are throughputs at the scenarios' own window; a row they do not depend on
    // has a zero column in the Jacobian and would stay at its source anyway.
    const unfitted = (Object.keys(COSTS) as Array<keyof typeof COSTS>).filter((n) => !('prior' in COSTS[n]));
    expect(unfitted, 'some rows stay at their source').to.not.be.empty;
    const scenarios = baselineTargets().map((t) => t.scenario);
    const mbps = (rs: Array<{ throughputMbps: number }>) => rs.map((r) => r.throughputMbps);
    const rs = await runChanges(scenarios, [{}, ...unfitted.map((n) => ({ costs: { [n]: COSTS[n].cycles * 2 } }))], 2);
    unfitted.forEach((n, k) => expect(mbps(rs[1 + k]), `${n} doubled (${BASELINE_IDS.join(', ')})`).to.deep.equal(mbps(rs[0])));
    // ... while a fitted row with little weight does move one (the check can fail).
    const [moved] = await runChanges(scenarios, [{ costs: { evtchnSend: COSTS.evtchnSend.cycles * 2 } }], 2);
    expect(mbps(moved)).to.not.deep.equal(mbps(rs[0]));
  });

  it('leave-one-out refits without the figure: it is then not in the objective and is predicted', async () => {
    // A few parameters only (the rest held at the committed values): the mechanics are the same, and 35 would take minutes.
    const only = ['tlbMiss', 'cacheRefillPerSwitch', 'footprintDataScale'];
    const full = await calibrate({ workers: 2, maxIter: 0, overrides: short, only });
    expect(full.params.map((p) => p.name)).to.deep.equal(only);
    const [l] = await leaveOneOut(full, { workers: 2, maxIter: 0, overrides: short, only }, ['guest-rx']);
    expect(l.id).to.equal('guest-rx');
    expect(l.predictedMbps).to.be.greaterThan(0);
    // With no iterations the refit stays where it started: the prediction is the full fit's value.
    expect(l.predictedMbps).to.equal(full.figures.find((f) => f.id === 'guest-rx')!.modelMbps);
    const r = await calibrate({ workers: 2, maxIter: 0, overrides: short, exclude: ['guest-rx'], only });
    expect(r.figures.find((f) => f.id === 'guest-rx')!.used).to.equal(false);
    expect(r.objective).to.be.lessThan(full.objective + 1e-9);
  });

  it('a fit from a start away from the optimum lowers the objective, in no more runs than the bound the progress bar shows', async () => {
    const only = ['tlbMiss', 'cacheRefillPerSwitch', 'netfrontRxPerPacket'];
    const start = fittedParams().filter((p) => only.includes(p.name)).map((p) => p.value * (p.name === 'tlbMiss' ? 1.5 : 1));
    let n0 = 0, n1 = 0;
    const o0 = { maxIter: 0, overrides: short, start, only }, o1 = { maxIter: 1, overrides: short, start, meshes: [], only };
    const r0 = await calibrate({ workers: 2, ...o0, onRun: () => n0++ });
    const r1 = await calibrate({ workers: 2, ...o1, onRun: () => n1++ });
    expect(r1.objective).to.be.lessThan(r0.objective);
    // The progress bar's total bounds the runs: exact for a check (one linearisation of the five
    // baselines: the point and two probes per parameter), an upper bound for a fit that iterates.
    expect(n0).to.equal(maxCalibrationRuns(o0)).and.to.equal(5 * (1 + 2 * only.length));
    expect(n1).to.be.above(n0).and.at.most(maxCalibrationRuns(o1));
    expect(r1.iterations.some((it) => it.accepted)).to.equal(true);
  });

  it('the normal-equation solver inverts and solves small systems', () => {
    const A = [[4, 1, 0], [1, 3, 1], [0, 1, 2]];
    const x = solve(A, [1, 2, 3]);
    const back = A.map((row) => row.reduce((s, v, j) => s + v * x[j], 0));
    back.forEach((v, i) => expect(v).to.be.closeTo([1, 2, 3][i], 1e-12));
    const I = inverse(A).map((row, i) => A[i].map((_, j) => row.reduce((s, v, k) => s + v * A[k][j], 0)));
    I.forEach((row, i) => row.forEach((v, j) => expect(v).to.be.closeTo(i === j ? 1 : 0, 1e-12)));
    expect(() => solve([[1, 2], [2, 4]], [1, 1])).to.throw(RangeError, /singular/);
  });

  it('xennet calibrate --check writes the fit, the parameters and the residuals, and exits 0 at an optimum, 1 elsewhere', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'xennet-cal-'));
    const only = ['tlbMiss', 'cacheRefillPerSwitch'];
    const r = xennet(['calibrate', '--check', '--only', only.join(','), '--duration', '10ms', '--workers', '2', '--out', dir], { timeout: 300_000 });
    // The same check in process: whether these values are the optimum of the 10 ms windows' objective decides the status.
    const fit = await calibrate({ workers: 2, maxIter: 0, overrides: short, only });
    expect(r.status, r.stderr).to.equal(fit.converged ? 0 : 1);
    expect(JSON.parse(readFileSync(join(dir, 'calibration.json'), 'utf8')).objective).to.equal(fit.objective);
    expect(r.stdout).to.match(/baseline figures/).and.to.match(/fitted parameters/).and.to.match(/objective/);
    for (const f of ['calibration.json', 'fit.csv', 'params.csv', 'iterations.csv']) expect(existsSync(join(dir, f)), f).to.equal(true);
    expect(readFileSync(join(dir, 'fit.csv'), 'utf8').split('\n')[0]).to.equal('figure,paperMbps,modelMbps,errorPct,used');
    const bad = xennet(['calibrate', '--tol', '2'], { timeout: 30_000 });
    expect(bad.status).to.equal(2);
    expect(bad.stderr).to.match(/--tol 2/);
    const unknown = xennet(['calibrate', '--only', 'tlbMiss,ipiSend'], { timeout: 30_000 });
    expect(unknown.status).to.equal(2);
    expect(unknown.stderr).to.match(/--only tlbMiss,ipiSend: not a fitted parameter: ipiSend/);
    const partial = xennet(['calibrate', '--only', 'tlbMiss', '--write'], { timeout: 30_000 });
    expect(partial.status).to.equal(2);
    expect(partial.stderr).to.match(/--write with --only/);
  });
});
