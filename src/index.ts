/**
 * xennet as a library: load or build a scenario, run it, run the paper's configurations, and watch
 * a run through its observables (`build(sc).sys.messages$`, `states$`, `wire$`: rxjs streams that
 * cost nothing until subscribed). The CLI (bin/xennet.js) is a client of the same functions.
 */
export { loadScenario, parseScenario, ScenarioSchema, type Scenario, type Override } from './scenario/schema.js';
export { runScenario, runBuilt, type RunResult } from './scenario/run.js';
export { build, type Built } from './scenario/build.js';
export { runPaper, selectConfigs, type PaperOptions, type PaperResult } from './paper/run.js';
export { paperConfigs, scenarioFor, type PaperConfig } from './paper/configs.js';
export type { PaperRow, Contribution } from './paper/report.js';
export type { DeliveredMessage, StateChange, WireFrame } from './actors/observe.js';
export { PS_PER_MS, PS_PER_US, PS_PER_S, type Ps } from './actors/scheduler.js';
export { COSTS, type CostName } from './model/costs.js';
