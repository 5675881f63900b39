/**
 * Random statecharts for the compiled-interpreter equivalence properties:
 * nested compound and parallel states (depth >= 3), entry/exit/initial
 * actions, guarded transitions to any state (targetless, self, reenter),
 * named guards with params and and/or/not, assign, raise (immediate and
 * delayed), cancel, `after` (numeric and named delays) and `always`.
 * Every eventless, raised-event or timer-event transition spends one unit of `fuel`
 * from the context, so each macrostep terminates on both interpreters.
 */
import { and, assign, cancel, not, or, raise, setup, type AnyStateMachine } from 'xstate';
import prand from 'pure-rand';

export type GuardSpec =
  | { k: 'mod'; m: number; r: number }
  | { k: 'inline'; lim: number }
  | { k: 'and' | 'or'; a: GuardSpec; b: GuardSpec }
  | { k: 'not'; a: GuardSpec };
export type ActSpec =
  | { k: 'log'; name: string }
  | { k: 'inc'; by: number }
  | { k: 'dbl' }
  | { k: 'raise' }
  | { k: 'raiseDelayed'; delay: number; id: string }
  | { k: 'cancel'; id: string };
export interface TransSpec { target?: string; reenter?: boolean; guard?: GuardSpec; actions: ActSpec[] }
export interface NodeSpec {
  key: string;
  type: 'atomic' | 'compound' | 'parallel';
  children: NodeSpec[];
  initial?: string;
  initialActions?: ActSpec[];
  entry: ActSpec[];
  exit: ActSpec[];
  on: Record<string, TransSpec[]>;
  always?: TransSpec[];
  after?: Record<string, TransSpec>;
}

/** Events the environment sends; R is raised internally, T by delayed raises. */
export const EXTERNAL = ['A', 'B', 'C', 'REFUEL'] as const;

class Gen {
  private rng: prand.RandomGenerator;
  constructor(seed: number) { this.rng = prand.xoroshiro128plus(seed); }
  int(lo: number, hi: number): number { return prand.unsafeUniformIntDistribution(lo, hi, this.rng); }
  chance(p: number): boolean { return this.int(0, 999) < p * 1000; }
  pick<T>(xs: readonly T[]): T { return xs[this.int(0, xs.length - 1)]; }
}

function guard(g: Gen, depth = 0): GuardSpec {
  const r = g.int(0, depth > 1 ? 1 : 4);
  if (r === 0) return { k: 'mod', m: g.int(2, 3), r: g.int(0, 1) };
  if (r === 1) return { k: 'inline', lim: g.int(0, 6) };
  if (r === 2) return { k: 'not', a: guard(g, depth + 1) };
  return { k: r === 3 ? 'and' : 'or', a: guard(g, depth + 1), b: guard(g, depth + 1) };
}

function actions(g: Gen, ids: string[], max = 3): ActSpec[] {
  const out: ActSpec[] = [];
  const n = g.int(0, max);
  for (let i = 0; i < n; i++) {
    const r = g.int(0, 9);
    if (r <= 3) out.push({ k: 'log', name: `a${g.int(0, 99)}` });
    else if (r <= 5) out.push({ k: 'inc', by: g.int(1, 3) });
    else if (r === 6) out.push({ k: 'dbl' });
    else if (r === 7) out.push({ k: 'raise' });
    else if (r === 8) out.push({ k: 'raiseDelayed', delay: g.int(1, 4), id: g.pick(ids) });
    else out.push({ k: 'cancel', id: g.pick(ids) });
  }
  return out;
}

/** A random machine spec of depth >= 3 (root, then at least two more levels on some path). */
export function randomSpec(seed: number): NodeSpec {
  const g = new Gen(seed);
  const ids = ['t0', 't1'];
  const paths: string[] = [];
  let count = 0;
  const node = (key: string, path: string, depth: number, forceDeep: boolean): NodeSpec => {
    count++;
    paths.push(path);
    const canNest = depth < 4 && count < 18;
    const nest = canNest && (forceDeep || g.chance(depth === 0 ? 1 : 0.45));
    const type: NodeSpec['type'] = !nest ? 'atomic' : g.chance(0.35) ? 'parallel' : 'compound';
    const n: NodeSpec = { key, type, children: [], entry: actions(g, ids, 2), exit: actions(g, ids, 2), on: {} };
    if (type !== 'atomic') {
      const k = g.int(type === 'parallel' ? 2 : 1, 3);
      const deep = forceDeep ? g.int(0, k - 1) : -1;
      for (let i = 0; i < k; i++) n.children.push(node(`${key}_${i}`, `${path}.${key}_${i}`, depth + 1, i === deep && depth < 2));
      if (type === 'compound') {
        n.initial = g.pick(n.children).key;
        if (g.chance(0.2)) n.initialActions = actions(g, ids, 2);
      }
    }
    return n;
  };
  const root = node('m', 'm', 0, true);
  root.key = 'm';
  // Transitions, once every path is known (targets may point anywhere).
  const all: NodeSpec[] = [];
  const collect = (n: NodeSpec): void => { all.push(n); n.children.forEach(collect); };
  collect(root);
  const trans = (fuelled: boolean): TransSpec => {
    const t: TransSpec = { actions: actions(g, ids) };
    if (g.chance(0.7)) t.target = `#${g.pick(paths)}`;
    if (t.target && g.chance(0.25)) t.reenter = true;
    if (g.chance(0.5) || fuelled) t.guard = guard(g);
    return t;
  };
  for (const n of all) {
    for (const ev of ['A', 'B', 'C', 'R', 'T']) {
      if (!g.chance(ev === 'R' || ev === 'T' ? 0.25 : 0.35)) continue;
      n.on[ev] = Array.from({ length: g.int(1, 2) }, () => trans(ev === 'R' || ev === 'T'));
    }
    if (g.chance(0.15)) n.always = Array.from({ length: g.int(1, 2) }, () => trans(true));
    if (g.chance(0.15)) {
      n.after = {};
      n.after[g.chance(0.5) ? String(g.int(1, 5)) : 'named'] = { ...trans(false), target: `#${g.pick(paths)}` };
    }
  }
  return root;
}

export interface Ctx { x: number; y: number; fuel: number }

/** Build the xstate machine for a spec; custom actions append to `log`. */
export function machineOf(spec: NodeSpec, log: string[]): AnyStateMachine {
  const g2 = (gs: GuardSpec): any => {
    switch (gs.k) {
      case 'mod': return { type: 'mod', params: { m: gs.m, r: gs.r } };
      case 'inline': return ({ context }: { context: Ctx }) => context.y > gs.lim;
      case 'not': return not(g2(gs.a));
      case 'and': return and([g2(gs.a), g2(gs.b)]);
      case 'or': return or([g2(gs.a), g2(gs.b)]);
    }
  };
  const a2 = (as: ActSpec): any => {
    switch (as.k) {
      case 'log': return { type: 'log', params: { name: as.name } };
      case 'inc': return assign({ x: ({ context }: { context: Ctx }) => context.x + as.by, y: ({ context }: { context: Ctx }) => (context.y + 1) % 8 });
      case 'dbl': return assign(({ context }: { context: Ctx }) => ({ x: (context.x * 2) % 17 }));
      case 'raise': return raise({ type: 'R' });
      case 'raiseDelayed': return raise({ type: 'T' }, { delay: as.delay, id: as.id });
      case 'cancel': return cancel(as.id);
    }
  };
  const fuel = (t: TransSpec): any => ({
    ...(t.target ? { target: t.target } : {}),
    ...(t.reenter ? { reenter: true } : {}),
    guard: t.guard ? and(['hasFuel', g2(t.guard)]) : 'hasFuel',
    actions: ['burn', ...t.actions.map(a2)],
  });
  const plain = (t: TransSpec): any => ({
    ...(t.target ? { target: t.target } : {}),
    ...(t.reenter ? { reenter: true } : {}),
    ...(t.guard ? { guard: g2(t.guard) } : {}),
    actions: t.actions.map(a2),
  });
  const cfg = (n: NodeSpec, isRoot: boolean): any => {
    const on: Record<string, unknown> = {};
    for (const [ev, ts] of Object.entries(n.on)) on[ev] = ts.map(ev === 'R' || ev === 'T' ? fuel : plain);
    if (isRoot) on.REFUEL = { actions: assign({ fuel: 6 }) };
    return {
      ...(n.type === 'parallel' ? { type: 'parallel' } : {}),
      ...(n.initial ? { initial: n.initialActions ? { target: n.initial, actions: n.initialActions.map(a2) } : n.initial } : {}),
      entry: n.entry.map(a2),
      exit: n.exit.map(a2),
      on,
      ...(n.always ? { always: n.always.map(fuel) } : {}),
      ...(n.after ? { after: Object.fromEntries(Object.entries(n.after).map(([d, t]) => [d, plain(t)])) } : {}),
      ...(n.children.length ? { states: Object.fromEntries(n.children.map((c) => [c.key, cfg(c, false)])) } : {}),
    };
  };
  return setup({
    types: { context: {} as Ctx },
    guards: {
      mod: ({ context }, p: { m: number; r: number }) => context.x % p.m === p.r,
      hasFuel: ({ context }) => context.fuel > 0,
    },
    actions: {
      log: ({ context, event }, p: { name: string }) => { log.push(`${p.name} ${event.type} ${JSON.stringify(context)}`); },
      burn: assign({ fuel: ({ context }) => context.fuel - 1 }),
    },
    delays: { named: ({ context }) => 1 + (context.x % 3) },
  }).createMachine({ id: 'm', context: { x: 1, y: 0, fuel: 6 }, ...cfg(spec, true) } as never) as unknown as AnyStateMachine;
}
