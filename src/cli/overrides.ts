/**
 * Command-line values for scenario fields (--seed, --duration): turned into
 * overrides applied to the raw scenario before validation, so they meet the
 * same schema, and the same one-line errors, as values in a file.
 */
import { flagTimeMs, loadScenario, TIME_FORMS, type Override, type Scenario } from '../scenario/schema.js';

/** Option parsers and help builders main.ts hands to each command's module. */
export interface Parsers {
  /** Parse an integer flag value of at least `min` (commander argParser). */
  intArg: (name: string, min: number) => (v: string) => number;
  timeHelp: typeof timeHelp;
}

/** Help text of a time flag: the accepted forms, and what a bare number means (its unit before units existed). */
export const timeHelp = (what: string, bare: 's' | 'ms') => `${what}: ${TIME_FORMS}, ... (a bare number is ${bare === 's' ? 'seconds' : 'ms'})`;

/** The measured window set by a --duration flag (its text; `bare`: the unit of a bare number). */
export function durationOverride(text: string, bare: 's' | 'ms'): Override {
  return { path: 'run.durationMs', value: flagTimeMs('--duration', text, bare), flag: `--duration ${text}` };
}

/** `duration` is the flag's text: its unit is read with the scenario schema's time parser. */
export interface CommonOpts { seed?: number; duration?: string }
/** The scenario fields set by --seed and --duration, validated with the file by the scenario schema. */
export function commonOverrides(o: CommonOpts): Override[] {
  const out: Override[] = [];
  if (o.seed !== undefined) out.push({ path: 'seed', value: o.seed, flag: `--seed ${o.seed}` });
  if (o.duration !== undefined) out.push(durationOverride(o.duration, 's'));
  return out;
}
export const loadWith = (file: string, o: CommonOpts): Scenario => loadScenario(file, commonOverrides(o));
