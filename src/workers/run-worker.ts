/** Piscina worker: one scenario run per task. Runs share nothing, so results cannot depend on the worker count. */
import { parseScenario } from '../scenario/schema.js';
import { runScenario, type RunResult } from '../scenario/run.js';
import type { Interpreter } from '../actors/runtime.js';

export default function run(task: { scenario: unknown; where: string; interpreter?: Interpreter }): RunResult {
  return runScenario(parseScenario(task.scenario, task.where), { interpreter: task.interpreter });
}
