/**
 * A flattened interpreter for the subset of xstate v5 machines that hot actors
 * use: a root with atomic child states, `on` transitions with guards and
 * actions (named, inline, or assign). The machine definition stays the one
 * source of truth: flatten() reads it once into per-state dispatch tables, and
 * FlatActor then handles an event with one table lookup instead of xstate's
 * general microstep algorithm. test/flat.test.ts checks, as a property over
 * random machines and event sequences, that it agrees with xstate's own
 * transition() (state value, context, and the custom actions it runs, in order).
 */
import type { AnyStateMachine, EventObject } from 'xstate';

type Args = { context: any; event: EventObject };
interface FlatTransition {
  target: string | null;
  assigns: boolean;
  guard: ((a: Args) => boolean) | null;
  actions: Array<{ kind: 'assign'; fn: (a: Args) => Record<string, unknown> } | { kind: 'call'; name: string; fn: (a: Args) => void }>;
}
export interface FlatMachine {
  id: string;
  initial: string;
  states: Map<string, Map<string, FlatTransition[]>>;
  context: (input: unknown) => any;
}

export class NotFlattenable extends Error {}

function resolveGuard(machine: AnyStateMachine, g: unknown): ((a: Args) => boolean) | null {
  if (!g) return null;
  const impl = (machine.implementations.guards ?? {}) as Record<string, (a: Args, p?: unknown) => boolean>;
  if (typeof g === 'function') return (a) => (g as (a: Args) => boolean)(a);
  const name = typeof g === 'string' ? g : (g as { type?: string }).type;
  const f = name ? impl[name] : undefined;
  if (!f) throw new NotFlattenable(`unsupported guard ${String(name)}`);
  return (a) => f(a);
}

function resolveActions(machine: AnyStateMachine, list: unknown[]): FlatTransition['actions'] {
  const impl = (machine.implementations.actions ?? {}) as Record<string, unknown>;
  return list.map((act) => {
    let a: any = act;
    let name = 'inline';
    if (typeof a === 'string' || (typeof a === 'object' && a && typeof a.type === 'string' && typeof a !== 'function')) {
      name = typeof a === 'string' ? a : a.type;
      a = impl[name];
      if (!a) throw new NotFlattenable(`unknown action ${name}`);
    }
    if (typeof a === 'function' && a.type === 'xstate.assign') {
      const asg = a.assignment;
      const fn = typeof asg === 'function'
        ? (x: Args) => asg(x)
        : (x: Args) => Object.fromEntries(Object.entries(asg).map(([k, v]) => [k, typeof v === 'function' ? (v as (x: Args) => unknown)(x) : v]));
      return { kind: 'assign' as const, fn };
    }
    if (typeof a === 'function' && typeof a.type === 'string' && a.type.startsWith('xstate.')) throw new NotFlattenable(`unsupported built-in action ${a.type}`);
    if (typeof a === 'function') return { kind: 'call' as const, name, fn: a as (x: Args) => void };
    throw new NotFlattenable(`unsupported action ${JSON.stringify(act)}`);
  });
}

export function flatten(machine: AnyStateMachine): FlatMachine {
  const root = machine.root as any;
  const cfg = machine.config as any;
  if (root.type !== 'compound') throw new NotFlattenable('root must have child states');
  if (Object.keys(root.on ?? {}).length || root.entry.length || root.exit.length) throw new NotFlattenable('root transitions/entry/exit not supported');
  const states = new Map<string, Map<string, FlatTransition[]>>();
  for (const [key, node] of Object.entries(root.states) as Array<[string, any]>) {
    if (node.type !== 'atomic' && node.type !== 'final') throw new NotFlattenable(`state ${key}: only atomic states`);
    if (node.entry.length || node.exit.length || node.invoke.length || node.after.length || node.always?.length) {
      throw new NotFlattenable(`state ${key}: entry/exit/invoke/after/always not supported`);
    }
    const table = new Map<string, FlatTransition[]>();
    for (const [ev, ts] of Object.entries(node.on) as Array<[string, any[]]>) {
      if (ev.includes('*')) throw new NotFlattenable('wildcard events not supported');
      table.set(ev, ts.map((t) => {
        const actions = resolveActions(machine, t.actions);
        return {
          target: t.target && t.target.length ? (t.target[0].key as string) : null,
          assigns: actions.some((a) => a.kind === 'assign'),
          guard: resolveGuard(machine, t.guard),
          actions,
        };
      }));
    }
    states.set(key, table);
  }
  const initial = root.initial?.target?.[0]?.key;
  if (!initial) throw new NotFlattenable('no initial state');
  const ctx = cfg.context;
  return {
    id: machine.id,
    initial,
    states,
    context: (input) => (typeof ctx === 'function' ? ctx({ input }) : structuredClone(ctx ?? {})),
  };
}

/** Snapshot shape compatible with the parts of xstate's we use: value and context. */
export class FlatActor {
  value: string;
  context: any;
  private stopped = false;
  private listeners: Array<(s: { value: string; context: any }) => void> = [];
  private table: Map<string, FlatTransition[]>;
  constructor(readonly machine: FlatMachine, input: unknown, readonly id: string) {
    this.value = machine.initial;
    this.table = machine.states.get(machine.initial)!;
    this.context = machine.context(input);
  }
  send(event: EventObject): void {
    if (this.stopped) return;
    const ts = this.table.get(event.type);
    if (!ts) return;
    for (const t of ts) {
      const args = { context: this.context, event };
      if (t.guard && !t.guard(args)) continue;
      for (const a of t.actions) {
        if (a.kind === 'assign') this.context = { ...this.context, ...a.fn({ context: this.context, event }) };
        else a.fn(t.assigns ? { context: this.context, event } : args);
      }
      const changed = t.target !== null && t.target !== this.value;
      if (changed) { this.value = t.target!; this.table = this.machine.states.get(t.target!)!; }
      if (this.listeners.length && (changed || t.assigns)) for (const l of this.listeners) l(this.getSnapshot());
      return;
    }
  }
  getSnapshot(): { value: string; context: any } { return { value: this.value, context: this.context }; }
  subscribe(l: (s: { value: string; context: any }) => void): void { this.listeners.push(l); }
  start(): void {}
  stop(): void { this.stopped = true; }
}
