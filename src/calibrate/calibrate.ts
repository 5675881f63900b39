/**
 * `xennet calibrate`: fit the fitted cost rows and the footprint scale to the baseline figures by
 * regularised least squares, in log space (every parameter is positive and its uncertainty relative):
 *
 *   minimise  sum_f ((y_f(p) - Y_f) / (s Y_f))^2  +  sum_i ((p_i - ln prior_i) / u_i)^2,   p = ln(values)
 *
 * where y_f is the model's throughput of baseline figure f, Y_f the paper's, s = FIGURE_UNCERTAINTY
 * and u_i the row's stated uncertainty. There are fewer figures than parameters; the second sum (the
 * priors) makes the problem well posed, so the fit moves each parameter only as far as the figures
 * demand relative to what its source allows. Optimiser: Levenberg-Marquardt with the Jacobian by
 * central differences (every simulation is deterministic, so the objective is a fixed function of p),
 * stopping when the Gauss-Newton step changes no parameter by more than `tol` (relative), or when
 * neither a damped step nor any of the difference probes (each parameter +-step) lowers the
 * objective (then it is a local optimum at that resolution; a probe that does lower it is taken as
 * a compass-search step).
 */
import { inverse, normalEquations, solve, type Matrix } from './linalg.js';
import { baselineTargets, changeFor, FIGURE_UNCERTAINTY, fittedParams, runChanges, type Param, type Target, type TargetSet } from './model.js';
import type { Override } from '../scenario/schema.js';

export interface CalibrateOptions {
  workers: number;
  /** Largest relative change of any parameter in the Gauss-Newton step at which the fit has converged. */
  tol?: number;
  maxIter?: number;
  /** Relative step of the central differences. */
  step?: number;
  /** Scenario overrides for every run (e.g. a shorter window: `calibrate --duration`). */
  overrides?: Override[];
  /** The figures fitted to: the five baselines (default, the committed table) or those and the three optimized ones of the abstract. */
  targets?: TargetSet;
  /** Leave these figures out of the objective (leave-one-out). */
  exclude?: string[];
  /** Fit only these parameters (names as in fittedParams()); the others stay at their committed values. */
  only?: string[];
  /** Start from these values instead of the committed ones. */
  start?: number[];
  /** Coarser differences to search with before `step` (default 0.2, 0.1). */
  meshes?: number[];
  /** Before the first step, try these footprint scales (code and data alike, others held) and start from the best. */
  scaleGrid?: number[];
  onRun?: () => void;
  onIteration?: (it: IterationLog) => void;
}

export interface IterationLog { iteration: number; objective: number; values: number[]; lambda: number; maxStep: number; accepted: boolean }

export interface FigureFit { id: string; paperMbps: number; modelMbps: number; errorPct: number; used: boolean }

export interface CalibrationResult {
  params: Array<{ name: string; prior: number; uncertainty: number; value: number; posteriorSd: number }>;
  figures: FigureFit[];
  objective: number;
  /** The Gauss-Newton step at the result, relative per parameter: converged when all are below tol. */
  finalStep: number[];
  converged: boolean;
  /** How convergence was shown: the Gauss-Newton step below tol, or no probe at +-step lowering the objective. */
  criterion: 'step' | 'mesh' | null;
  iterations: IterationLog[];
  /** Posterior covariance of ln(values) (inverse of JᵀJ at the result), for uncertainty bands. */
  covariance: Matrix;
}

export const DEFAULT_TOL = 0.01;
/**
 * A parameter's value from its log, to 12 significant digits: the values written to the cost table
 * are these, so reading them back (ln, then this) gives exactly the runs the fit saw.
 */
export const fromLog = (p: number): number => Number(Math.exp(p).toPrecision(12));
export const DEFAULT_STEP = 0.05;

interface Point { p: number[]; y: number[]; r: number[]; cost: number }

/** The difference steps a fit works through, coarse to fine: `step` alone when it may not iterate. */
function meshesOf(o: Omit<CalibrateOptions, 'workers'>): number[] {
  const h = o.step ?? DEFAULT_STEP;
  return (o.maxIter ?? 6) === 0 ? [h] : [...(o.meshes ?? [0.2, 0.1]).filter((m) => m > h), h];
}

const scaleParams = (params: ReturnType<typeof fittedParams>) => params.flatMap((q, i) => (q.name.startsWith('footprint') ? [i] : []));

/**
 * The most runs calibrate(o) can make (a fit that converges early makes fewer): the scale grid, then
 * at each mesh a linearisation (the point and 2 probes per parameter) and per iteration up to three
 * damped steps and a new linearisation; each evaluation runs every target scenario once.
 */
export function maxCalibrationRuns(o: Omit<CalibrateOptions, 'workers'>): number {
  const params = fittedParams(o.only), t = baselineTargets(o.overrides, o.targets).length;
  const scales = scaleParams(params).length;
  const grid = o.scaleGrid?.length && scales ? 1 + o.scaleGrid.length ** scales : 0;
  const lin = 1 + 2 * params.length;
  return t * (grid + meshesOf(o).length * (lin + (o.maxIter ?? 6) * (3 + lin)));
}

export async function calibrate(o: CalibrateOptions): Promise<CalibrationResult> {
  const tol = o.tol ?? DEFAULT_TOL, h = o.step ?? DEFAULT_STEP, maxIter = o.maxIter ?? 6;
  const params = fittedParams(o.only);
  const targets = baselineTargets(o.overrides, o.targets);
  const used = targets.map((t) => !(o.exclude ?? []).includes(t.id));
  const scenarios = targets.map((t) => t.scenario);
  const prior = params.map((q) => Math.log(q.prior));
  const evalAt = async (ps: number[][]): Promise<number[][]> => {
    const rs = await runChanges(scenarios, ps.map((p) => changeFor(params, p.map(fromLog))), o.workers, o.onRun);
    return rs.map((row) => row.map((r) => r.throughputMbps));
  };
  const residuals = (p: number[], y: number[]): number[] => [
    ...targets.flatMap((t, f) => (used[f] ? [(y[f] - t.mbps) / (FIGURE_UNCERTAINTY * t.mbps)] : [])),
    ...params.map((q, i) => (p[i] - prior[i]) / q.uncertainty),
  ];
  const point = (p: number[], y: number[]): Point => {
    const r = residuals(p, y);
    return { p, y, r, cost: r.reduce((s, v) => s + v * v, 0) };
  };
  /** The point, its Jacobian, and the 2 x params probe points (p +- h on each axis) it came from, in one batch. */
  const linearise = async (p: number[], h: number): Promise<{ pt: Point; J: Matrix; probes: Point[] }> => {
    const shifted = params.flatMap((_, i) => [-1, 1].map((sgn) => p.map((v, k) => (k === i ? v + sgn * h : v))));
    const ys = await evalAt([p, ...shifted]);
    const pt = point(p, ys[0]);
    const probes = shifted.map((q, k) => point(q, ys[1 + k]));
    const J: Matrix = pt.r.map(() => new Array<number>(params.length).fill(0));
    params.forEach((_, i) => {
      const lo = probes[2 * i].r, hi = probes[2 * i + 1].r;
      for (let k = 0; k < pt.r.length; k++) J[k][i] = (hi[k] - lo[k]) / (2 * h);
    });
    return { pt, J, probes };
  };
  const stepOf = (J: Matrix, r: number[], lambda: number): number[] => {
    const { JtJ, Jtr } = normalEquations(J, r);
    const A = JtJ.map((row, i) => row.map((v, j) => (i === j ? v * (1 + lambda) : v)));
    return solve(A, Jtr.map((v) => -v));
  };
  const maxAbs = (v: number[]) => v.reduce((m, x) => Math.max(m, Math.abs(x)), 0);

  let p = (o.start ?? params.map((q) => q.value)).map(Math.log);
  let lambda = 1e-2;
  const iterations: IterationLog[] = [];
  const log = (it: Omit<IterationLog, 'iteration'>): void => {
    const e = { iteration: iterations.length + 1, ...it };
    iterations.push(e);
    o.onIteration?.(e);
  };
  // The footprint scales act through a threshold (a path's pages fit the TLBs or they thrash), so a
  // local step cannot find a far better scale: try a grid first.
  // With two scales (code, data) the grid is their product.
  const scaleIdx = scaleParams(params);
  if (o.scaleGrid?.length && scaleIdx.length) {
    let combos: number[][] = [[]];
    for (let k = 0; k < scaleIdx.length; k++) combos = combos.flatMap((c) => o.scaleGrid!.map((g) => [...c, g]));
    const cands = [p, ...combos.map((c) => p.map((v, i) => (scaleIdx.includes(i) ? Math.log(c[scaleIdx.indexOf(i)]) : v)))];
    const ys = await evalAt(cands);
    const best = cands.map((c, k) => point(c, ys[k])).reduce((a, b) => (b.cost < a.cost ? b : a));
    p = best.p;
  }
  // Coarse to fine: compass/LM at differences of 20% and 10% first (the objective is rough: runs
  // change in steps where a packet changes pass), then at `step`, where convergence is judged.
  const meshes = meshesOf(o);
  let { pt, J, probes } = await linearise(p, meshes[0]);
  let gn = stepOf(J, pt.r, 0);
  // Converged when the Gauss-Newton step is below tol, or when no damped step and no probe at +-h
  // lowers the objective: a local optimum at the resolution of the differences.
  const meshOptimal = () => probes.every((q) => q.cost >= pt.cost);
  let criterion: 'step' | 'mesh' | null = null;
  for (let m = 0; m < meshes.length; m++) {
    const hm = meshes[m], last = m === meshes.length - 1;
    if (m > 0) { ({ pt, J, probes } = await linearise(p, hm)); gn = stepOf(J, pt.r, 0); }
    let done = maxAbs(gn) < tol || (maxIter === 0 && meshOptimal());
    for (let it = 1; it <= maxIter && !done; it++) {
      let moved = false;
      for (let tries = 0; tries < 3 && !moved; tries++) {
        const d = stepOf(J, pt.r, lambda);
        const cand = pt.p.map((v, i) => v + d[i]);
        const [y] = await evalAt([cand]);
        const c = point(cand, y);
        moved = c.cost < pt.cost;
        log({ objective: moved ? c.cost : pt.cost, values: cand.map(fromLog), lambda, maxStep: maxAbs(d), accepted: moved });
        if (moved) { p = cand; lambda = Math.max(lambda / 3, 1e-6); } else lambda *= 4;
      }
      if (!moved) {
        const best = probes.reduce((a, b) => (b.cost < a.cost ? b : a), pt);
        if (best === pt) break; // optimal at this mesh
        p = best.p; // a compass step: the best probe
        log({ objective: best.cost, values: p.map(fromLog), lambda, maxStep: hm, accepted: true });
      }
      ({ pt, J, probes } = await linearise(p, hm));
      gn = stepOf(J, pt.r, 0);
      done = maxAbs(gn) < tol;
    }
    if (last) criterion = maxAbs(gn) < tol ? 'step' : meshOptimal() ? 'mesh' : null;
  }
  const { JtJ } = normalEquations(J, pt.r);
  const covariance = inverse(JtJ);
  return {
    params: params.map((q, i) => ({ name: q.name, prior: q.prior, uncertainty: q.uncertainty, value: fromLog(pt.p[i]), posteriorSd: Math.sqrt(covariance[i][i]) })),
    figures: targets.map((t, f) => ({ id: t.id, paperMbps: t.mbps, modelMbps: pt.y[f], errorPct: (100 * (pt.y[f] - t.mbps)) / t.mbps, used: used[f] })),
    objective: pt.cost,
    finalStep: gn,
    converged: criterion !== null,
    criterion,
    iterations,
    covariance,
  };
}

export interface LeaveOneOut { id: string; paperMbps: number; predictedMbps: number; errorPct: number; fittedErrorPct: number; values: Record<string, number> }

/**
 * Refit without each baseline figure in turn (starting from the full fit) and predict the one left
 * out: how well the model predicts a figure it was not fitted to.
 */
export async function leaveOneOut(full: CalibrationResult, o: CalibrateOptions, ids: readonly string[] = full.figures.map((f) => f.id)): Promise<LeaveOneOut[]> {
  const out: LeaveOneOut[] = [];
  for (const id of ids) {
    const r = await calibrate({ ...o, exclude: [id], start: full.params.map((q) => q.value) });
    const f = r.figures.find((x) => x.id === id)!;
    out.push({
      id, paperMbps: f.paperMbps, predictedMbps: f.modelMbps, errorPct: f.errorPct,
      fittedErrorPct: full.figures.find((x) => x.id === id)!.errorPct,
      values: Object.fromEntries(r.params.map((q) => [q.name, q.value])),
    });
  }
  return out;
}

export type { Target, Param };
