/**
 * xennet benchmarks. `npm run bench` prints one JSON object with every part;
 * `node --expose-gc dist/bench/bench.js <part>` runs one part:
 *  - phold: the peers' PHOLD model (bench/phold.ts) on each interpreter, warm JIT.
 *  - scenarios: the six base scenarios, simulated seconds per wall second, default interpreter
 *    vs xstate, paired on a warm JIT (bench/scenarios.ts).
 *  - memory: heap per idle domain actor, each interpreter.
 *  - guests: one run with 1000 guest domains: wall time and peak RSS.
 *  - paper: wall time of `node bin/xennet.js paper --json --workers 2` in a child process.
 *  - observe: scenario speed with nobody subscribed vs no-op subscribers on every stream.
 * `node dist/bench/bench.js previous <checkout>` compares scenario speed with another built
 * checkout (e.g. the previous main), paired in one process.
 * `node dist/bench/bench.js worlds-point rack|HOSTS GUESTS` runs one world point in this process.
 * `node dist/bench/bench.js phold-peer [interpreter] [queue]` prints one line in the peers' format
 * (`events=N events_per_s=N`), for bench/peers/compare.mjs.
 * A progress bar goes to stderr on a terminal. Absolute times on shared machines are noisy; compare ratios from one run.
 */
import { cpus } from 'node:os';
import { pholdPart, pholdPeerLine } from './phold.js';
import { scenariosPart } from './scenarios.js';
import { memoryPart } from './memory.js';
import { guestsPart } from './guests.js';
import { paperPart } from './paper.js';
import { observePart } from './observe.js';
import { previousPart } from './previous.js';
import { worldPointFromArgs, worldsPart } from './worlds.js';
import { DEFAULT_INTERPRETER, parseInterpreter } from './interpreters.js';
import { progressBar } from '../src/cli/progress.js';
import { DEFAULT_EVENT_QUEUE, EVENT_QUEUES, type EventQueueKind } from '../src/actors/scheduler.js';

const PARTS: Record<string, () => unknown> = {
  phold: pholdPart,
  scenarios: scenariosPart,
  memory: memoryPart,
  guests: guestsPart,
  paper: paperPart,
  observe: observePart,
  worlds: worldsPart,
};

const only = process.argv[2];
if (only === 'phold-peer') {
  let interpreter;
  try { interpreter = parseInterpreter(process.argv[3]); } catch (e) { console.error((e as Error).message); process.exit(2); }
  const queue = process.argv[4] ?? DEFAULT_EVENT_QUEUE;
  if (!(EVENT_QUEUES as readonly string[]).includes(queue)) { console.error(`unknown event queue ${queue} (known: ${EVENT_QUEUES.join(', ')})`); process.exit(2); }
  console.log(pholdPeerLine(interpreter, queue as EventQueueKind));
} else if (only === 'worlds-point') {
  try { console.log(JSON.stringify(worldPointFromArgs(process.argv.slice(3)))); } catch (e) { console.error((e as Error).message); process.exit(2); }
} else if (only === 'previous') {
  console.log(JSON.stringify(await previousPart(process.argv[3]), null, 2));
} else if (only !== undefined && !(only in PARTS)) {
  console.error(`unknown part ${only} (known: ${[...Object.keys(PARTS), 'phold-peer', 'previous', 'worlds-point'].join(', ')})`);
  process.exit(2);
} else {
  const out: Record<string, unknown> = { node: process.version, cpus: cpus().length, defaultInterpreter: DEFAULT_INTERPRETER, defaultEventQueue: DEFAULT_EVENT_QUEUE };
  const t0 = performance.now();
  const parts = Object.entries(PARTS).filter(([name]) => !only || only === name);
  const bar = progressBar('bench [{bar}] {value}/{total} parts, running {part}');
  bar?.start(parts.length, 0, { part: parts[0][0] });
  for (const [name, part] of parts) {
    bar?.update({ part: name });
    out[name] = part();
    bar?.increment(1);
  }
  bar?.stop();
  out.benchWallS = +((performance.now() - t0) / 1000).toFixed(1);
  console.log(JSON.stringify(out, null, 2));
}
