/**
 * Statechart compiler: reads an xstate v5 machine once into integer-indexed
 * node and transition tables, so CompiledActor (compiled-actor.ts) can run it
 * without xstate's general interpreter.
 *
 * Supported: compound (nested) and parallel states, entry/exit actions,
 * initial actions, `on` transitions with guards (inline, named, with params,
 * and/or/not), `assign`, `raise` (immediate or delayed), `cancel`, targetless,
 * self and `reenter` transitions, `after` (xstate turns it into a delayed
 * raise on entry and a cancel on exit, which is what we read), and `always`.
 * Everything else (history, final states, invoke, spawn, sendTo, emit,
 * enqueueActions, wildcard events, stateIn, unknown named actions or guards)
 * is refused here, naming the machine and the feature, so nothing ever runs
 * with semantics that differ from xstate's.
 *
 * The structural parts of xstate's algorithm (transition domains, exit and
 * entry sets, conflict removal) are ported below from xstate 5.x (SCXML's
 * microstep procedure as xstate implements it). They depend only on the
 * active configuration and the selected transitions, so the actor computes
 * them once per (configuration, transitions) and caches the result: a step
 * in steady state is a table lookup plus the actions themselves.
 */
import type { AnyStateMachine, EventObject } from 'xstate';

export class UnsupportedMachine extends Error {
  constructor(machine: string, feature: string) {
    super(`machine '${machine}' uses ${feature}, which the compiled interpreter does not support`);
    this.name = 'UnsupportedMachine';
  }
}

/**
 * What guards and actions receive. The actor reuses one object per actor (no allocation per call):
 * guards and actions must read it, not keep it.
 */
export interface ActionArgs { context: any; event: EventObject; self?: unknown }
export type Guard = (a: ActionArgs) => boolean;

export type Action =
  | { kind: 'assign'; run: (a: ActionArgs) => Record<string, unknown> }
  | { kind: 'custom'; name: string; fn: (a: ActionArgs, params: unknown) => void; params: unknown; paramsFn: ((a: ActionArgs) => unknown) | null }
  | { kind: 'raise'; event: (a: ActionArgs) => EventObject; delay: ((a: ActionArgs) => unknown) | null; id: string | undefined }
  | { kind: 'cancel'; id: (a: ActionArgs) => string };

export interface Transition {
  /** Dense id, unique within the machine: the key of cached steps. */
  id: number;
  source: Node;
  /** null: targetless. */
  target: Node[] | null;
  reenter: boolean;
  guard: Guard | null;
  actions: Action[];
}

export interface Node {
  /** xstate's document order (StateNode.order). */
  order: number;
  id: string;
  key: string;
  type: 'atomic' | 'compound' | 'parallel';
  parent: Node | null;
  children: Node[];
  initial: Node | null;
  initialActions: Action[];
  entry: Action[];
  exit: Action[];
  on: Map<string, Transition[]>;
  always: Transition[] | null;
}

export interface CompiledMachine {
  id: string;
  root: Node;
  /** Nodes by order. */
  nodes: Node[];
  /** Initial context from input (xstate: the context function's result copied by a pre-initial assign). */
  context: (input: unknown, self: unknown) => any;
  /** The transition xstate's initialMicrostep takes: the root and its initial descendants, reentered. */
  initialTransition: Transition;
  /** Interned configurations by key; see compiled-actor.ts. */
  configs: Map<string, unknown>;
}

const BUILTIN = /^xstate\./;

function fail(m: AnyStateMachine, feature: string): never { throw new UnsupportedMachine(m.id, feature); }

/** xstate's evaluateGuard, resolved once. */
function compileGuard(m: AnyStateMachine, g: unknown, where: string): Guard {
  const impl = (m.implementations.guards ?? {}) as Record<string, unknown>;
  if (typeof g === 'function' && !('check' in g)) return g as Guard;
  let name: string | undefined;
  let params: unknown;
  let resolved: unknown = g;
  if (typeof g === 'string' || (typeof g === 'object' && g !== null && !('check' in g))) {
    name = typeof g === 'string' ? g : (g as { type: string }).type;
    params = typeof g === 'object' ? (g as { params?: unknown }).params : undefined;
    resolved = impl[name];
    if (resolved === undefined) fail(m, `unknown guard '${name}' (${where})`);
    if (typeof resolved !== 'function') return compileGuard(m, resolved, where);
  }
  const r = resolved as ((a: unknown, p?: unknown) => boolean) & { check?: unknown; guards?: unknown[] };
  if (r.check !== undefined) {
    // Built-in higher-order guards (and/or/not), known by their checker. stateIn reads the configuration: not supported.
    const kind = (r.check as { name?: string }).name;
    const inner = (r.guards ?? []).map((x) => compileGuard(m, x, where));
    if (kind === 'checkAnd') return (a) => inner.every((f) => f(a));
    if (kind === 'checkOr') return (a) => inner.some((f) => f(a));
    if (kind === 'checkNot') return (a) => !inner[0](a);
    fail(m, `built-in guard ${r.name || kind || '?'} (${where})`);
  }
  const p = params;
  if (typeof p === 'function') return (a) => r(a, (p as (a: unknown) => unknown)(a));
  return p === undefined ? r : (a) => r(a, p);
}

function compileActions(m: AnyStateMachine, list: readonly unknown[], where: string): Action[] {
  const impl = (m.implementations.actions ?? {}) as Record<string, unknown>;
  const delays = (m.implementations.delays ?? {}) as Record<string, unknown>;
  const out: Action[] = [];
  for (const act of list) {
    let a: any = act;
    let name = typeof act === 'function' ? ((act as { name?: string }).name || '(anonymous)') : '';
    let params: unknown;
    if (typeof act === 'string' || (typeof act === 'object' && act !== null)) {
      name = typeof act === 'string' ? act : (act as { type: string }).type;
      params = typeof act === 'object' ? (act as { params?: unknown }).params : undefined;
      a = impl[name];
      if (a === undefined) fail(m, `unknown action '${name}' (${where})`);
    }
    if (typeof a !== 'function') fail(m, `an action that is not a function (${where})`);
    const withParams = <T>(f: (x: ActionArgs, p: unknown) => T): ((x: ActionArgs) => T) => {
      if (typeof params === 'function') return (x) => f(x, (params as (x: ActionArgs) => unknown)({ context: x.context, event: x.event }));
      const p = params;
      return (x) => f(x, p);
    };
    const type: string | undefined = typeof a.type === 'string' ? a.type : undefined;
    if (type === 'xstate.assign') {
      const asg = a.assignment;
      out.push({
        kind: 'assign',
        run: typeof asg === 'function'
          ? withParams((x, p) => asg(x, p))
          : withParams((x, p) => {
            const part: Record<string, unknown> = {};
            for (const k of Object.keys(asg)) part[k] = typeof asg[k] === 'function' ? asg[k](x, p) : asg[k];
            return part;
          }),
      });
    } else if (type === 'xstate.raise') {
      const ev = a.event;
      if (typeof ev === 'string') fail(m, `raise with a string event (${where})`);
      const d = a.delay;
      let delay: ((x: ActionArgs) => unknown) | null = null;
      if (typeof d === 'string') {
        const cd = delays[d];
        if (cd === undefined) fail(m, `unknown delay '${d}' (${where})`);
        delay = typeof cd === 'function' ? withParams((x, p) => (cd as (x: ActionArgs, p: unknown) => unknown)(x, p)) : () => cd;
      } else if (typeof d === 'function') delay = withParams((x, p) => d(x, p));
      else if (d !== undefined) delay = () => d;
      out.push({ kind: 'raise', event: typeof ev === 'function' ? withParams((x, p) => ev(x, p)) : () => ev, delay, id: a.id });
    } else if (type === 'xstate.cancel') {
      const id = a.sendId;
      out.push({ kind: 'cancel', id: typeof id === 'function' ? withParams((x, p) => id(x, p)) : () => id });
    } else if (type !== undefined && BUILTIN.test(type)) {
      fail(m, `built-in action ${type} (${where})`);
    } else {
      out.push({ kind: 'custom', name, fn: a, params: typeof params === 'function' ? undefined : params, paramsFn: typeof params === 'function' ? params as (x: ActionArgs) => unknown : null });
    }
  }
  return out;
}

export function compileMachine(m: AnyStateMachine): CompiledMachine {
  const nodes: Node[] = [];
  const xnodes: any[] = [];
  let nextTransition = 0;
  // First pass: nodes (the transitions' targets need every node to exist).
  const visit = (x: any, parent: Node | null): Node => {
    if (x.type === 'history') fail(m, `history state ${x.id}`);
    if (x.type === 'final') fail(m, `final state ${x.id}`);
    if (x.invoke?.length) fail(m, `invoke in ${x.id}`);
    if (x.config.onDone) fail(m, `onDone in ${x.id}`);
    const n: Node = {
      order: x.order, id: x.id, key: x.key, type: x.type, parent, children: [], initial: null,
      initialActions: [], entry: [], exit: [], on: new Map(), always: null,
    };
    nodes[x.order] = n;
    xnodes[x.order] = x;
    for (const c of Object.values(x.states) as any[]) n.children.push(visit(c, n));
    return n;
  };
  const xroot = m.root as any;
  const root = visit(xroot, null);
  if (nodes.some((n) => n === undefined)) fail(m, 'state nodes with unexpected document order');
  const byX = (x: any): Node => nodes[x.order];
  const transition = (t: any, source: Node, eventType: string): Transition => {
    const where = `${source.id} on ${eventType || 'always'}`;
    return {
      id: nextTransition++,
      source,
      target: t.target && t.target.length ? (t.target as any[]).map(byX) : null,
      reenter: !!t.reenter,
      guard: t.guard === undefined ? null : compileGuard(m, t.guard, where),
      actions: compileActions(m, t.actions ?? [], where),
    };
  };
  // Second pass, in document order: actions and transitions. Reading `after` first makes xstate add its
  // delayed raise/cancel to entry/exit, as it does when it formats the node's transitions.
  for (const n of nodes) {
    const x = xnodes[n.order];
    void x.after;
    for (const [ev, ts] of x.transitions as Map<string, any[]>) {
      if (ev.includes('*')) fail(m, `wildcard event '${ev}' in ${n.id}`);
      n.on.set(ev, ts.map((t) => transition(t, n, ev)));
    }
    if (x.always?.length) n.always = (x.always as any[]).map((t) => transition(t, n, ''));
    n.entry = compileActions(m, x.entry, `entry of ${n.id}`);
    n.exit = compileActions(m, x.exit, `exit of ${n.id}`);
    if (n.type === 'compound') {
      n.initial = byX(x.initial.target[0]);
      n.initialActions = compileActions(m, x.initial.actions ?? [], `initial of ${n.id}`);
    }
  }
  if (root.type === 'atomic') fail(m, 'a root without child states');
  const cfg = (m as any).config;
  const ctx = cfg.context;
  // xstate: a context function's result goes through a pre-initial assign (a shallow copy); a context
  // object is used as it is.
  const context = typeof ctx === 'function'
    ? (input: unknown, self: unknown) => Object.assign({}, {}, ctx({ input, self, spawn: () => fail(m, 'spawn in context') }))
    : () => ctx ?? {};
  const initialTargets = initialStateNodes(root);
  const initialTransition: Transition = {
    id: nextTransition++, source: root, target: initialTargets, reenter: true, guard: null, actions: [],
  };
  return { id: m.id, root, nodes, context, initialTransition, configs: new Map() };
}

// ---- xstate's structural algorithm (history and final states excluded at compile time) ----

/** As xstate's: every node, the root included, descends from an undefined domain (a reentered root). */
function isDescendant(child: Node, parent: Node | undefined): boolean {
  if (parent === undefined) return true;
  let m = child;
  while (m.parent && m.parent !== parent) m = m.parent;
  return m.parent === parent;
}

function properAncestors(s: Node, to: Node | null | undefined): Node[] {
  const out: Node[] = [];
  if (to === s) return out;
  let m = s.parent;
  while (m && m !== to) { out.push(m); m = m.parent; }
  return out;
}

function initialStateNodes(n: Node): Node[] {
  const set = new Set<Node>();
  const iter = (d: Node): void => {
    if (set.has(d)) return;
    set.add(d);
    if (d.type === 'compound') iter(d.initial!);
    else if (d.type === 'parallel') for (const c of d.children) iter(c);
  };
  iter(n);
  return [...set];
}

function leastCommonAncestor(ns: Node[]): Node | undefined {
  const [head, ...tail] = ns;
  for (const anc of properAncestors(head, undefined)) if (tail.every((s) => isDescendant(s, anc))) return anc;
  return undefined;
}

function transitionDomain(t: Transition): Node | undefined {
  const targets = t.target ?? [];
  if (!t.reenter && targets.every((x) => x === t.source || isDescendant(x, t.source))) return t.source;
  const lca = leastCommonAncestor(targets.concat(t.source));
  if (lca) return lca;
  if (t.reenter) return undefined;
  let root = t.source;
  while (root.parent) root = root.parent;
  return root;
}

function exitSet(ts: Transition[], active: Set<Node>): Node[] {
  const out = new Set<Node>();
  for (const t of ts) {
    if (!t.target?.length) continue;
    const domain = transitionDomain(t);
    if (t.reenter && t.source === domain) out.add(domain);
    for (const s of active) if (isDescendant(s, domain)) out.add(s);
  }
  return [...out];
}

function removeConflicting(ts: Transition[], active: Set<Node>): Transition[] {
  if (ts.length < 2) return ts;
  const filtered = new Set<Transition>();
  for (const t1 of ts) {
    let preempted = false;
    const remove = new Set<Transition>();
    for (const t2 of filtered) {
      const a = exitSet([t1], active), b = new Set(exitSet([t2], active));
      if (a.some((s) => b.has(s))) {
        if (isDescendant(t1.source, t2.source)) remove.add(t2);
        else { preempted = true; break; }
      }
    }
    if (!preempted) {
      for (const t3 of remove) filtered.delete(t3);
      filtered.add(t1);
    }
  }
  return [...filtered];
}

function addDescendantStatesToEnter(n: Node, defaultEntry: Set<Node>, toEnter: Set<Node>): void {
  if (n.type === 'compound') {
    const init = n.initial!;
    toEnter.add(init);
    defaultEntry.add(init);
    addDescendantStatesToEnter(init, defaultEntry, toEnter);
    addAncestorStatesToEnter(toEnter, defaultEntry, properAncestors(init, n), undefined);
  } else if (n.type === 'parallel') {
    for (const c of n.children) {
      if (![...toEnter].some((s) => isDescendant(s, c))) {
        toEnter.add(c);
        defaultEntry.add(c);
        addDescendantStatesToEnter(c, defaultEntry, toEnter);
      }
    }
  }
}

function addAncestorStatesToEnter(toEnter: Set<Node>, defaultEntry: Set<Node>, ancestors: Node[], reentrancyDomain: Node | undefined): void {
  for (const anc of ancestors) {
    if (!reentrancyDomain || isDescendant(anc, reentrancyDomain)) toEnter.add(anc);
    if (anc.type === 'parallel') {
      for (const c of anc.children) {
        if (![...toEnter].some((s) => isDescendant(s, c))) {
          toEnter.add(c);
          addDescendantStatesToEnter(c, defaultEntry, toEnter);
        }
      }
    }
  }
}

function entrySet(ts: Transition[], defaultEntry: Set<Node>, toEnter: Set<Node>): void {
  for (const t of ts) {
    const domain = transitionDomain(t);
    for (const s of t.target ?? []) {
      if (t.source !== s || t.source !== domain || t.reenter) { toEnter.add(s); defaultEntry.add(s); }
      addDescendantStatesToEnter(s, defaultEntry, toEnter);
    }
    for (const s of t.target ?? []) {
      const ancestors = properAncestors(s, domain);
      if (domain?.type === 'parallel') ancestors.push(domain);
      addAncestorStatesToEnter(toEnter, defaultEntry, ancestors, !t.source.parent && t.reenter ? undefined : domain);
    }
  }
}

/** One microstep's structure: what to run, in xstate's order, and the configuration it leads to. */
export interface StepShape {
  exits: Node[];
  transitions: Transition[];
  /** Entered nodes in entry order, each with whether its initial actions run (default entry). */
  entries: Array<{ node: Node; initial: boolean }>;
  /** The new ordered configuration, or null when the set of active nodes is unchanged (xstate keeps the old order then). */
  next: Node[] | null;
}

/** xstate's microstep() minus the actions: exit set, conflict-free transitions, entry set, new node order. */
export function stepShape(selected: Transition[], config: Node[], isInitial: boolean): StepShape {
  const active = new Set(config);
  const transitions = removeConflicting(selected, active);
  const exits = isInitial ? [] : exitSet(transitions, active).sort((a, b) => b.order - a.order);
  for (const s of exits) active.delete(s);
  const defaultEntry = new Set<Node>();
  const toEnter = new Set<Node>();
  entrySet(transitions, defaultEntry, toEnter);
  if (isInitial) defaultEntry.add(config[0]);
  const entries = [...toEnter].sort((a, b) => a.order - b.order).map((node) => ({ node, initial: defaultEntry.has(node) }));
  for (const e of entries) active.add(e.node);
  const same = active.size === config.length && config.every((s) => active.has(s));
  return { exits, transitions, entries, next: same ? null : [...active] };
}
