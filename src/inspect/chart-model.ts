/**
 * A plain, serializable view of an xstate v5 machine, read from its state
 * node tree (machine.root): states, initial states, transitions with their
 * events, guards, actions and targets. Every exporter (Mermaid, SCXML, JSON,
 * SVG) works from this model, so they all show the same machine.
 */
import type { AnyStateMachine } from 'xstate';

export type StateType = 'atomic' | 'compound' | 'parallel' | 'final' | 'history';

export interface ChartTransition {
  /** Event type; '' for an eventless ("always") transition; for a delayed one, xstate's internal after-event. */
  event: string;
  /** Human label of the trigger: the event, `always`, or `after <delay>`. */
  trigger: string;
  kind: 'event' | 'always' | 'after';
  delay?: string;
  guard?: string;
  actions: string[];
  /** Target state ids; empty for a targetless (internal, actions-only) transition. */
  targets: string[];
  reenter: boolean;
}

export interface ChartState {
  /** Full xstate id, e.g. `nic.tx.idle`. */
  id: string;
  key: string;
  type: StateType;
  /** Id of the initial child (compound states). */
  initial?: string;
  entry: string[];
  exit: string[];
  transitions: ChartTransition[];
  children: ChartState[];
}

export interface Chart { kind: string; description: string; root: ChartState }

// Loose structural view of xstate's StateNode: only what is read here.
interface NodeLike {
  id: string;
  key: string;
  type: StateType;
  states: Record<string, NodeLike>;
  transitions: Map<string, TransitionLike[]>;
  always?: TransitionLike[];
  initial?: { target: NodeLike[] };
  entry: unknown[];
  exit: unknown[];
}
interface TransitionLike {
  eventType: string;
  target?: NodeLike[];
  guard?: unknown;
  actions: unknown[];
  reenter: boolean;
  delay?: unknown;
}

/** Short readable text of an inline function: the body of a one-line arrow function, else its name. */
function fnLabel(f: unknown, fallback: string): string {
  if (typeof f === 'string') return f;
  if (typeof f === 'function') {
    const typed = (f as { type?: unknown }).type;
    if (typeof typed === 'string' && typed.startsWith('xstate.')) return typed.slice('xstate.'.length);
    const src = Function.prototype.toString.call(f);
    const m = /=>\s*([^{][^\n]*)$/.exec(src);
    if (m && m[1].length <= 48) return m[1].trim();
    return f.name && f.name !== fallback ? f.name : fallback;
  }
  if (f && typeof f === 'object') {
    const t = (f as { type?: unknown }).type;
    if (typeof t === 'string') return t;
  }
  return fallback;
}

function transition(t: TransitionLike, always: boolean): ChartTransition {
  const delay = t.delay === undefined ? undefined : String(t.delay);
  const kind = always ? 'always' : delay !== undefined ? 'after' : 'event';
  const trigger = kind === 'always' ? 'always' : kind === 'after' ? `after ${delay}` : t.eventType;
  const out: ChartTransition = {
    event: always ? '' : t.eventType,
    trigger,
    kind,
    actions: t.actions.map((a) => fnLabel(a, 'action')),
    targets: (t.target ?? []).map((n) => n.id),
    reenter: t.reenter,
  };
  if (delay !== undefined) out.delay = delay;
  if (t.guard !== undefined) out.guard = fnLabel(t.guard, 'guard');
  return out;
}

function state(n: NodeLike): ChartState {
  const transitions: ChartTransition[] = [];
  for (const ts of n.transitions.values()) for (const t of ts) transitions.push(transition(t, false));
  for (const t of n.always ?? []) transitions.push(transition(t, true));
  // xstate implements `after` with a raise on entry and a cancel on exit: part of the transition, not user actions.
  const delayed = transitions.some((t) => t.kind === 'after');
  const builtin = (a: unknown, type: string) => delayed && typeof a === 'function' && (a as { type?: unknown }).type === type;
  const s: ChartState = {
    id: n.id,
    key: n.key,
    type: n.type,
    entry: n.entry.filter((a) => !builtin(a, 'xstate.raise')).map((a) => fnLabel(a, 'action')),
    exit: n.exit.filter((a) => !builtin(a, 'xstate.cancel')).map((a) => fnLabel(a, 'action')),
    transitions,
    children: Object.values(n.states).map(state),
  };
  const init = n.type === 'compound' ? n.initial?.target?.[0]?.id : undefined;
  if (init) s.initial = init;
  return s;
}

export function chartOf(kind: string, description: string, machine: AnyStateMachine): Chart {
  return { kind, description, root: state(machine.root as unknown as NodeLike) };
}

/** All states, depth first (root first). */
export function allStates(s: ChartState): ChartState[] {
  return [s, ...s.children.flatMap(allStates)];
}

/** `EVENT [guard] / a, b` */
export function transitionLabel(t: ChartTransition): string {
  let s = t.trigger;
  if (t.guard) s += ` [${t.guard}]`;
  if (t.actions.length) s += ` / ${t.actions.join(', ')}`;
  return s;
}

/**
 * The leaf state paths a snapshot value denotes, e.g. {tx:'idle',irq:'ready'}
 * -> ['tx.idle', 'irq.ready'] and 'running' -> ['running'] (relative to the root).
 */
export function leafPaths(value: unknown, prefix = ''): string[] {
  if (typeof value === 'string') return [prefix + value];
  if (value && typeof value === 'object') {
    const out: string[] = [];
    for (const [k, v] of Object.entries(value as Record<string, unknown>)) {
      const sub = leafPaths(v, `${prefix}${k}.`);
      out.push(...(sub.length ? sub : [prefix + k]));
    }
    return out;
  }
  return [];
}
