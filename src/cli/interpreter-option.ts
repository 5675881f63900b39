/** `--interpreter`: which statechart interpreter runs the actors (results are identical; see docs/performance.md). */
import { Option } from 'commander';
import { INTERPRETERS } from '../actors/runtime.js';

export const interpreterOption = (): Option =>
  new Option('--interpreter <name>', 'statechart interpreter: compiled (default) or xstate (for comparison; same results, slower)').choices([...INTERPRETERS]);
