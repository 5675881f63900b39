/**
 * What calibration fits and what it fits to. The parameters are the cost rows with a `prior` in the
 * cost table (every row a baseline figure depends on) plus two scales of the TLB footprints (all code
 * pages, all data pages); the targets are the paper's baseline
 * figures only (native Linux, the driver domain and a guest under Xen 2.0), never an optimized
 * configuration, whose figures stay predictions.
 */
import { COSTS, FOOTPRINT_PRIOR, FOOTPRINT_UNCERTAINTY, scaleFootprint, type CostName, type CostTable, type Footprint } from '../model/costs.js';
import { CALIBRATION } from '../model/calibration.js';
import { paperConfigs, scenarioFor } from '../paper/configs.js';
import type { Override, Scenario } from '../scenario/schema.js';
import { runMany } from '../workers/pool.js';
import type { RunResult } from '../scenario/run.js';

export interface Param {
  name: string;
  /** The value the source alone gives (natural units: cycles, or the footprint scale). */
  prior: number;
  /** Relative standard deviation of the prior (the spread of ln value). */
  uncertainty: number;
  /** The committed (calibrated) value. */
  value: number;
}

/**
 * The fitted parameters, in a fixed order: the cost rows with a prior (table order), then the
 * footprints' code and data scales; with `only`, just those named (unknown names are refused).
 */
export function fittedParams(only?: readonly string[]): Param[] {
  const out: Param[] = [];
  for (const [name, row] of Object.entries(COSTS) as Array<[CostName, (typeof COSTS)[CostName]]>) {
    if ('prior' in row && row.prior !== undefined) out.push({ name, prior: row.prior, uncertainty: row.uncertainty, value: row.cycles });
  }
  out.push({ name: 'footprintCodeScale', prior: 1, uncertainty: FOOTPRINT_UNCERTAINTY, value: CALIBRATION.values.footprintCodeScale });
  out.push({ name: 'footprintDataScale', prior: 1, uncertainty: FOOTPRINT_UNCERTAINTY, value: CALIBRATION.values.footprintDataScale });
  if (!only) return out;
  const unknown = only.filter((n) => !out.some((p) => p.name === n));
  if (unknown.length) throw new RangeError(`not a fitted parameter: ${unknown.join(', ')} (fitted: the cost rows with a prior, footprintCodeScale, footprintDataScale)`);
  return out.filter((p) => only.includes(p.name));
}

/** The baseline figures: paper configurations without any of the paper's optimizations. */
export const BASELINE_IDS = ['linux-tx', 'linux-rx', 'driver-rx', 'guest-tx', 'guest-rx'] as const;
/** The optimized figures the paper's abstract gives (driver-domain receive +35%, guest transmit x4.4, guest receive +18%). */
export const OPTIMIZED_IDS = ['driver-rx-mem', 'guest-tx-all', 'guest-rx-all'] as const;
/** Which figures a fit is fitted to: the five baselines (the committed table), or those and the three optimized ones. */
export const TARGET_SETS = { baseline: BASELINE_IDS, all: [...BASELINE_IDS, ...OPTIMIZED_IDS] } as const;
export type TargetSet = keyof typeof TARGET_SETS;

/** Relative uncertainty (1 sigma) of each measured figure of the paper: netperf on a LAN testbed varies by a few percent between runs and the paper gives no error bars (docs/cost-model.md). */
export const FIGURE_UNCERTAINTY = 0.03;

export interface Target { id: string; mbps: number; scenario: Scenario }

export function baselineTargets(overrides: Override[] = [], set: TargetSet = 'baseline'): Target[] {
  const cfgs = paperConfigs();
  return TARGET_SETS[set].map((id) => {
    const c = cfgs.find((x) => x.id === id);
    if (!c || c.paperMbps === null) throw new Error(`paper configuration ${id} with a measured figure is missing from scenarios/paper`);
    return { id, mbps: c.paperMbps, scenario: scenarioFor(c, overrides) };
  });
}

/** A change to the model: cost rows and footprints replaced (everything else as the table has it). */
export interface ModelChange { costs?: Partial<CostTable>; footprint?: Partial<Footprint> }

/** The scenario with the change applied on top of its own overrides. */
export function withChange(sc: Scenario, ch: ModelChange): Scenario {
  return { ...sc, costs: { ...sc.costs, ...ch.costs }, footprint: { ...sc.footprint, ...ch.footprint } };
}

/** The model change that sets the fitted parameters to `values` (same order as fittedParams()). */
export function changeFor(params: Param[], values: number[]): ModelChange {
  const costs: Partial<CostTable> = {};
  // A scale that is not among the parameters stays at its committed value.
  let code: number = CALIBRATION.values.footprintCodeScale, data: number = CALIBRATION.values.footprintDataScale, scaled = false;
  params.forEach((p, i) => {
    if (p.name === 'footprintCodeScale') { code = values[i]; scaled = true; }
    else if (p.name === 'footprintDataScale') { data = values[i]; scaled = true; }
    else costs[p.name as CostName] = values[i];
  });
  return { costs, ...(scaled ? { footprint: scaleFootprint(FOOTPRINT_PRIOR, code, data) } : {}) };
}

/** Run every scenario under every change on workers; results[c][s] (input order, so worker-count independent). */
export async function runChanges(scenarios: Scenario[], changes: ModelChange[], workers: number, onDone?: () => void): Promise<RunResult[][]> {
  const all = changes.flatMap((ch) => scenarios.map((sc) => withChange(sc, ch)));
  const rs = await runMany(all, workers, onDone ? () => onDone() : undefined);
  return changes.map((_, c) => rs.slice(c * scenarios.length, (c + 1) * scenarios.length));
}
