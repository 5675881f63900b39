/** A stress case run with every check on a system a test watches or wraps first (a test double through its public interfaces). */
import type { Built } from '../../src/scenario/build.js';
import type { CaseScenario } from '../../src/stress/case.js';
import { buildCase, caseScenario, judgeCase, runBuilt, type CaseResult } from '../../src/stress/run.js';
import type { Scenario } from '../../src/scenario/schema.js';

/**
 * runCase's steps with `wrap` between building the system and running it: every run the case makes
 * with the adversary in it (the first, and the replay with `replay`) is wrapped; the control run of
 * a hostile case is not.
 */
export function runWrapped(cs: CaseScenario | Scenario, wrap: (b: Built) => void, opts: { replay?: boolean } = {}): CaseResult {
  const sc = caseScenario(cs);
  const once = () => { const b = buildCase(sc); wrap(b); return runBuilt(sc, b); };
  const first = once();
  return judgeCase(sc, first, { again: opts.replay ? once() : undefined });
}
