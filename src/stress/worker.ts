/** Piscina worker: one stress case per task (see pool.ts). Cases share nothing, so results cannot depend on the worker count. */
import { runStressCase, type StressTask, type StressReport } from './pool.js';

export default function run(task: StressTask): StressReport {
  return runStressCase(task);
}
