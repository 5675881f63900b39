/**
 * `xennet sensitivity`: how much each reported figure moves when one input of the model moves.
 * For every configuration, every cost row and every component's page footprint is set to (1 - d)
 * and (1 + d) times its value (d = 10% by default), one at a time, and the elasticity of each figure
 *
 *   e = (y(+) - y(-)) / y(0) / (x(+) - x(-)) * x(0)      (central difference, relative)
 *
 * is reported (a footprint's x is its page count after rounding, so e uses the change that really
 * happened). The uncertainty band of a figure propagates the inputs' uncertainties linearly:
 * independent rows contribute (e u)^2 each; the fitted parameters (src/model/calibration.ts)
 * contribute eᵀ C e with C their posterior covariance from the calibration (the footprints' code and
 * data scales through the inputs footprint.code and footprint.data, which scale every component's
 * code or data pages at once; per-component footprints are reported but carry no uncertainty of their own).
 */
import { COSTS, FOOTPRINT, scaleFootprint, type Component, type CostName, type Footprint } from '../model/costs.js';
import { CALIBRATION } from '../model/calibration.js';
import type { RunResult } from '../scenario/run.js';
import type { Scenario } from '../scenario/schema.js';
import { fittedParams, runChanges, type ModelChange } from './model.js';

export interface Input { name: string; kind: 'cost' | 'footprint'; base: number; minus: number; plus: number; change: [ModelChange, ModelChange] }

/** The inputs: every cost row, then every component's footprint (code and data scaled together). */
export function sensitivityInputs(step: number, only?: readonly string[]): Input[] {
  const out: Input[] = [];
  for (const name of Object.keys(COSTS) as CostName[]) {
    const base = COSTS[name].cycles, minus = base * (1 - step), plus = base * (1 + step);
    out.push({ name, kind: 'cost', base, minus, plus, change: [{ costs: { [name]: minus } }, { costs: { [name]: plus } }] });
  }
  for (const c of Object.keys(FOOTPRINT) as Component[]) {
    const f = FOOTPRINT[c], scaled = (k: number) => scaleFootprint(FOOTPRINT, k)[c];
    const lo = scaled(1 - step), hi = scaled(1 + step);
    const pages = (x: { code: number; data: number }) => x.code + x.data;
    out.push({
      name: `footprint.${c}`, kind: 'footprint', base: pages(f), minus: pages(lo), plus: pages(hi),
      change: [{ footprint: { [c]: lo } as Partial<Footprint> }, { footprint: { [c]: hi } as Partial<Footprint> }],
    });
  }
  // Every component's code pages, or data pages, at once: the directions the calibration's two scales move.
  for (const kind of ['code', 'data'] as const) {
    const at = (k: number) => scaleFootprint(FOOTPRINT, kind === 'code' ? k : 1, kind === 'data' ? k : 1);
    const pages = (fp: Footprint) => Object.values(fp).reduce((n, x) => n + x[kind], 0);
    const lo = at(1 - step), hi = at(1 + step);
    out.push({ name: `footprint.${kind}`, kind: 'footprint', base: pages(FOOTPRINT), minus: pages(lo), plus: pages(hi), change: [{ footprint: lo }, { footprint: hi }] });
  }
  if (!only) return out;
  const unknown = only.filter((n) => !out.some((i) => i.name === n));
  if (unknown.length) throw new RangeError(`unknown input(s) ${unknown.join(', ')}: cost rows of src/model/costs.ts or footprint.<component>`);
  return out.filter((i) => only.includes(i.name));
}

/** The figures of one run: throughput, CPU use, and cycles per packet of each account. */
export function figuresOf(r: RunResult): Record<string, number> {
  const out: Record<string, number> = { throughputMbps: r.throughputMbps, cpuPct: r.cpuUtilPct.total };
  for (const [a, v] of Object.entries(r.cyclesPerPacket.byAccount)) out[`cyclesPerPacket.${a}`] = v;
  return out;
}

export interface Elasticity { config: string; figure: string; input: string; base: number; minus: number; plus: number; elasticity: number }
export interface Band { config: string; figure: string; value: number; sd: number; sdPct: number; lo95: number; hi95: number; contributors: Array<{ input: string; sharePct: number }> }

export interface SensitivityResult { step: number; inputs: number; runs: number; elasticities: Elasticity[]; bands: Band[] }

export async function sensitivity(configs: Array<{ id: string; scenario: Scenario }>, o: { step: number; workers: number; only?: readonly string[]; onRun?: () => void }): Promise<SensitivityResult> {
  const inputs = sensitivityInputs(o.step, o.only);
  const changes: ModelChange[] = [{}, ...inputs.flatMap((i) => i.change)];
  const rs = await runChanges(configs.map((c) => c.scenario), changes, o.workers, o.onRun);
  const elasticities: Elasticity[] = [];
  const bands: Band[] = [];
  configs.forEach((cfg, s) => {
    const y0 = figuresOf(rs[0][s]);
    const perFigure = new Map<string, Map<string, number>>();
    inputs.forEach((inp, i) => {
      const lo = figuresOf(rs[1 + 2 * i][s]), hi = figuresOf(rs[2 + 2 * i][s]);
      const dx = (inp.plus - inp.minus) / inp.base;
      for (const [fig, v0] of Object.entries(y0)) {
        const e = v0 === 0 || dx === 0 ? 0 : ((hi[fig] ?? 0) - (lo[fig] ?? 0)) / v0 / dx;
        elasticities.push({ config: cfg.id, figure: fig, input: inp.name, base: v0, minus: lo[fig] ?? 0, plus: hi[fig] ?? 0, elasticity: e });
        let m = perFigure.get(fig);
        if (!m) perFigure.set(fig, (m = new Map()));
        m.set(inp.name, e);
      }
    });
    for (const [fig, es] of perFigure) bands.push(bandOf(cfg.id, fig, y0[fig], es));
  });
  return { step: o.step, inputs: inputs.length, runs: changes.length * configs.length, elasticities, bands };
}

/** Linear propagation of the inputs' uncertainties into one figure (see the module comment). */
export function bandOf(config: string, figure: string, value: number, es: Map<string, number>): Band {
  const fitted = fittedParams();
  const fittedNames = new Set(fitted.map((p) => p.name));
  const contrib = new Map<string, number>();
  for (const [name, e] of es) {
    if (name.startsWith('footprint.') || fittedNames.has(name)) continue;
    const row = COSTS[name as CostName];
    if (row) contrib.set(name, (e * row.uncertainty) ** 2);
  }
  // Fitted parameters: their elasticities (the footprint scales' are footprint.code and footprint.data) against the posterior covariance.
  const fittedInput = (name: string) => (name === 'footprintCodeScale' ? 'footprint.code' : name === 'footprintDataScale' ? 'footprint.data' : name);
  const ef = fitted.map((p) => es.get(fittedInput(p.name)) ?? 0);
  const C = CALIBRATION.covariance as readonly (readonly number[])[];
  let fittedVar = 0;
  for (let i = 0; i < ef.length; i++) for (let j = 0; j < ef.length; j++) fittedVar += ef[i] * (C[i]?.[j] ?? 0) * ef[j];
  // Attribute the fitted block's variance by each parameter's own diagonal term (shares may not add to 100% when they correlate).
  fitted.forEach((p, i) => contrib.set(p.name, ef[i] * ef[i] * (C[i]?.[i] ?? 0)));
  let rel2 = fittedVar;
  for (const [n, v] of contrib) if (!fittedNames.has(n)) rel2 += v;
  const sdRel = Math.sqrt(Math.max(rel2, 0));
  const total = [...contrib.values()].reduce((a, b) => a + b, 0) || 1;
  const contributors = [...contrib].filter(([, v]) => v > 0).sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0])).slice(0, 5)
    .map(([input, v]) => ({ input, sharePct: Math.round((1000 * v) / total) / 10 }));
  return { config, figure, value, sd: value * sdRel, sdPct: 100 * sdRel, lo95: value * (1 - 1.96 * sdRel), hi95: value * (1 + 1.96 * sdRel), contributors };
}
