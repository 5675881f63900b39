/**
 * Runs a compiled statechart (compile.ts) with xstate v5's semantics, step for
 * step: transition selection (xstate's transitionNode walk over the state
 * value, whose parallel regions follow entry order), exit/transition/entry
 * actions in xstate's order, `always` transitions selected in the order their
 * atomic states were entered, raised events, a mailbox for events sent while
 * a step runs, and timers (`after`, delayed raise) scheduled and cancelled
 * after the macrostep, as xstate defers them. Before start(), actions are
 * deferred to start() as xstate defers them.
 *
 * The active configuration is an interned Config; each Config caches, per
 * event type, the pruned selection tree, and per selected transition set the
 * flattened action list and the next Config. In steady state an event costs
 * a map lookup, the guards, and the actions.
 *
 * One deliberate difference: an exception from a guard or action propagates
 * to the caller (the simulation stops with it) instead of putting the actor
 * into xstate's error status and rethrowing it later from a host timer.
 *
 * test/actors/statechart.test.ts checks equivalence with xstate's own actor on random
 * machines and on the project's machines.
 */
import type { EventObject } from 'xstate';
import { stepShape, type Action, type ActionArgs, type CompiledMachine, type Node, type Transition } from './compile.js';
import type { InternSlot } from './observe.js';

export type StateValue = string | { [k: string]: StateValue };

export interface Clock {
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(h: unknown): void;
}

interface Sel {
  cands: Transition[] | null;
  kids: Sel[];
  /** The step this event always takes here when no guard can change the selection (no guards on the way); else null. */
  fixed: Step | null;
}
interface Step { actions: Action[]; next: Config | null }

/** An active configuration: xstate's ordered `_nodes`. */
class Config {
  readonly value: StateValue;
  /** The value's id in the table of the system that last asked (see StateValues.idIn). */
  readonly intern: InternSlot = { table: null, id: -1 };
  /** Per event type: the selection tree pruned to nodes that have candidates (null: the event is ignored). */
  readonly sel = new Map<string, Sel | null>();
  /** Per selected transition set (ids): the step. */
  readonly steps = new Map<number | string, Step>();
  /** For each atomic state in entry order, the `always` lists of it and its ancestors; null if none. */
  readonly always: Transition[][][] | null;
  private readonly kids = new Map<Node, Node[]>();
  constructor(readonly machine: CompiledMachine, readonly nodes: Node[]) {
    for (const s of nodes) {
      if (!this.kids.has(s)) this.kids.set(s, []);
      if (s.parent) {
        let k = this.kids.get(s.parent);
        if (!k) { k = []; this.kids.set(s.parent, k); }
        k.push(s);
      }
    }
    this.value = deepFreeze(this.valueOf(machine.root));
    const chains: Transition[][][] = [];
    for (const s of nodes) {
      if (s.type !== 'atomic') continue;
      const chain: Transition[][] = [];
      for (let m: Node | null = s; m; m = m.parent) if (m.always) chain.push(m.always);
      if (chain.length) chains.push(chain);
    }
    this.always = chains.length ? chains : null;
  }
  /** xstate's getValueFromAdj. */
  private valueOf(n: Node): StateValue {
    const kids = this.kids.get(n);
    if (!kids) return {};
    if (n.type === 'compound') {
      const k = kids[0];
      if (!k) return {};
      if (k.type === 'atomic') return k.key;
    }
    const v: { [k: string]: StateValue } = {};
    for (const k of kids) v[k.key] = this.valueOf(k);
    return v;
  }
  /** The last type selFor was asked about and its answer: a flat machine sees runs of one type. */
  private lastType: string | null = null;
  private lastSel: Sel | null = null;
  selFor(type: string): Sel | null {
    if (type === this.lastType) return this.lastSel;
    const s = this.selOf(type);
    this.lastType = type; this.lastSel = s;
    return s;
  }
  private selOf(type: string): Sel | null {
    let s = this.sel.get(type);
    if (s === undefined) {
      s = this.buildSel(this.machine.root, type);
      if (s) {
        const ts = guardFree(s);
        if (ts && ts.length) s.fixed = this.step(ts, keyOf(ts, ts.length));
      }
      this.sel.set(type, s);
    }
    return s;
  }
  private buildSel(n: Node, type: string): Sel | null {
    const kids: Sel[] = [];
    for (const k of this.kids.get(n) ?? []) { const s = this.buildSel(k, type); if (s) kids.push(s); }
    const cands = n.on.get(type) ?? null;
    return kids.length || cands ? { cands, kids, fixed: null } : null;
  }
  /** The step for the first n transitions of ts (selected in that order), whose key is `key`. */
  step(ts: Transition[], key: number | string, isInitial = false, n = ts.length): Step {
    let st = this.steps.get(key);
    if (st === undefined) {
      const shape = stepShape(ts.slice(0, n), this.nodes, isInitial);
      const actions: Action[] = [];
      for (const n of shape.exits) actions.push(...n.exit);
      for (const t of shape.transitions) actions.push(...t.actions);
      for (const e of shape.entries) { actions.push(...e.node.entry); if (e.initial) actions.push(...e.node.initialActions); }
      st = { actions, next: shape.next ? intern(this.machine, shape.next) : null };
      this.steps.set(key, st);
    }
    return st;
  }
}

function intern(m: CompiledMachine, nodes: Node[]): Config {
  const key = nodes.map((n) => n.order).join(',');
  let c = m.configs.get(key) as Config | undefined;
  if (!c) { c = new Config(m, nodes); m.configs.set(key, c); }
  return c;
}

function deepFreeze<T>(v: T): T {
  if (typeof v === 'object' && v !== null) { for (const x of Object.values(v)) deepFreeze(x); Object.freeze(v); }
  return v;
}

/**
 * xstate's transitionNode: regions in order; a node's own candidates only when no descendant chose
 * one. Writes the selection to out[n..] and returns the new count (out is a reused scratch array:
 * never truncated, which would free its storage).
 */
function walk(s: Sel, args: ActionArgs, out: Transition[], n: number): number {
  const start = n;
  const kids = s.kids;
  for (let i = 0; i < kids.length; i++) n = walk(kids[i], args, out, n);
  const cands = s.cands;
  if (n > start || cands === null) return n;
  for (let i = 0; i < cands.length; i++) {
    const t = cands[i];
    if (t.guard === null || t.guard(args)) { out[n] = t; return n + 1; }
  }
  return n;
}

/** What walk() selects whatever the guards say, or null when a guard is consulted on the way. */
function guardFree(s: Sel): Transition[] | null {
  const out: Transition[] = [];
  for (const k of s.kids) {
    const r = guardFree(k);
    if (r === null) return null;
    out.push(...r);
  }
  if (out.length || s.cands === null) return out;
  return s.cands[0].guard === null ? [s.cands[0]] : null;
}

function runAll(fns: Array<() => void>): void {
  for (let i = 0; i < fns.length; i++) fns[i]();
  fns.length = 0;
}

/** Key of the first n selected transitions. */
function keyOf(ts: Transition[], n: number): number | string {
  if (n === 1) return ts[0].id;
  let k = '';
  for (let i = 0; i < n; i++) k += (i ? ',' : '') + ts[i].id;
  return k;
}

const NOT_STARTED = 0, RUNNING = 1, STOPPED = 2;

export class CompiledActor {
  context: any;
  private config: Config;
  private status = NOT_STARTED;
  private busy = false;
  private mailbox: EventObject[] | null = null;
  /** Custom actions of the initial macrostep (run by start()), and timer operations (run after each macrostep). */
  private deferred: Array<() => void> | null = null;
  private timerOps: Array<() => void> | null = null;
  private timers: Map<string, unknown> | null = null;
  private listeners: Array<(s: { value: StateValue; context: unknown; status: string }) => void> | null = null;
  /** Told the state value where subscribers get a snapshot, without one (see watchValue). */
  private valueWatchers: Array<(v: StateValue, slot: InternSlot) => void> | null = null;
  private internal: EventObject[] | null = null;
  private timerIds = 0;
  /** Reused for every guard and action call (see ActionArgs), and the selected transitions of the current microstep. */
  private readonly args: ActionArgs = { context: undefined, event: { type: '' }, self: this };
  private readonly selected: Transition[] = [];

  constructor(readonly machine: CompiledMachine, input: unknown, readonly id: string, private readonly clock: Clock) {
    this.context = machine.context(input, this);
    const pre = intern(machine, [machine.root]);
    const init: EventObject = { type: 'xstate.init', input } as EventObject;
    this.config = pre;
    const t = machine.initialTransition;
    this.runStep(pre.step([t], t.id, true), init);
    this.settle(init);
  }

  get value(): StateValue { return this.config.value; }

  send(event: EventObject): void {
    if (this.status !== RUNNING || this.busy) {
      if (this.status !== STOPPED) (this.mailbox ??= []).push(event);
      return;
    }
    const sel = this.config.selFor(event.type);
    // An event no state here handles (or handles with a transition that has no target and no
    // actions), with no eventless transitions and nobody listening, is a macrostep that does
    // nothing: skip it (drivers report many events that a state already reflects).
    if (this.config.always === null && this.listeners === null &&
      (sel === null || (sel.fixed !== null && sel.fixed.next === null && sel.fixed.actions.length === 0))) return;
    this.process(event, sel);
    if (this.mailbox !== null) this.drain();
  }

  getSnapshot(): { value: StateValue; context: any; status: string } {
    return { value: this.config.value, context: this.context, status: this.status === STOPPED ? 'stopped' : 'active' };
  }

  subscribe(l: (s: { value: StateValue; context: unknown; status: string }) => void): { unsubscribe(): void } {
    (this.listeners ??= []).push(l);
    return {
      unsubscribe: () => {
        const rest = (this.listeners ?? []).filter((x) => x !== l);
        this.listeners = rest.length ? rest : null; // none left: empty macrosteps may be skipped again
      },
    };
  }

  /**
   * Call l with the state value after every macrostep, as subscribe() would with a snapshot, but with
   * no object per step; an empty macrostep (the value cannot change) may be skipped, as unsubscribed.
   */
  watchValue(l: (v: StateValue, slot: InternSlot) => void): void { (this.valueWatchers ??= []).push(l); }

  start(): this {
    if (this.status !== NOT_STARTED) return this;
    this.status = RUNNING;
    this.busy = true; // what the deferred actions send to us waits in the mailbox, as in xstate
    try { this.flushDeferred(); } finally { this.busy = false; }
    this.notify();
    this.drain();
    return this;
  }

  stop(): this {
    if (this.status === STOPPED) return this;
    this.status = STOPPED;
    this.mailbox = null;
    if (this.timers) { for (const h of this.timers.values()) this.clock.clearTimeout(h); this.timers.clear(); }
    return this;
  }

  private drain(): void {
    const q = this.mailbox;
    if (!q) return;
    while (q.length && this.status === RUNNING) { const e = q.shift()!; this.process(e, this.config.selFor(e.type)); }
  }

  /**
   * One macrostep (xstate's macrostep for an external event); sel is the current configuration's
   * selection for the event. The tests before settle, flushDeferred and notify skip calls that would
   * find nothing to do (a flat machine's step is then its actions and nothing else).
   */
  private process(event: EventObject, sel: Sel | null): void {
    this.busy = true;
    try {
      if (sel !== null) {
        if (sel.fixed !== null) this.runStep(sel.fixed, event);
        else {
          const out = this.selected;
          const n = walk(sel, this.bind(event), out, 0);
          if (n) this.runStep(this.config.step(out, keyOf(out, n), false, n), event);
        }
      }
      if (this.config.always !== null || this.internal !== null) this.settle(event);
      if (this.deferred !== null || this.timerOps !== null) this.flushDeferred();
    } finally {
      this.busy = false;
    }
    if (this.valueWatchers !== null || this.listeners !== null) this.notify();
  }

  /** Eventless transitions and raised events until the configuration is stable. */
  private settle(event: EventObject): void {
    let ev = event;
    let shouldSelectEventless = true;
    const out = this.selected;
    for (;;) {
      let n = 0;
      const alw = this.config.always;
      if (shouldSelectEventless && alw !== null) {
        const args = this.bind(ev);
        for (const chain of alw) {
          found: for (const list of chain) {
            for (const t of list) {
              if (t.guard === null || t.guard(args)) {
                let seen = false;
                for (let i = 0; i < n; i++) if (out[i] === t) seen = true;
                if (!seen) out[n++] = t;
                break found;
              }
            }
          }
        }
      }
      const eventless = n > 0;
      if (!eventless) {
        const q = this.internal;
        if (q === null || q.length === 0) return;
        ev = q.shift()!;
        const sel = this.config.selFor(ev.type);
        if (sel !== null) n = walk(sel, this.bind(ev), out, 0);
      }
      const c0 = this.config, x0 = this.context;
      if (n) this.runStep(this.config.step(out, keyOf(out, n), false, n), ev);
      shouldSelectEventless = eventless ? this.config !== c0 || this.context !== x0 : true;
    }
  }

  private runStep(st: Step, event: EventObject): void {
    const acts = st.actions;
    for (let i = 0; i < acts.length; i++) this.exec(acts[i], event);
    if (st.next) this.config = st.next;
  }

  private bind(event: EventObject): ActionArgs {
    const a = this.args;
    a.context = this.context;
    a.event = event;
    return a;
  }

  private exec(a: Action, event: EventObject): void {
    const args = this.bind(event);
    switch (a.kind) {
      case 'custom': {
        const p = a.paramsFn ? a.paramsFn(args) : a.params;
        if (this.status === RUNNING) a.fn(args, p);
        else { const own = { ...args }; (this.deferred ??= []).push(() => a.fn(own, p)); }
        return;
      }
      case 'assign':
        this.context = Object.assign({}, this.context, a.run(args));
        return;
      case 'raise': {
        const ev = a.event(args);
        const delay = a.delay ? a.delay(args) : undefined;
        if (typeof delay !== 'number') { (this.internal ??= []).push(ev); return; }
        const id = a.id ?? `raise.${this.timerIds++}`;
        (this.timerOps ??= []).push(() => this.schedule(ev, delay, id));
        return;
      }
      case 'cancel': {
        const id = a.id(args);
        (this.timerOps ??= []).push(() => this.cancel(id));
        return;
      }
    }
  }

  private schedule(ev: EventObject, ms: number, id: string): void {
    const h = this.clock.setTimeout(() => {
      this.timers!.delete(id);
      this.send(ev);
    }, ms);
    (this.timers ??= new Map()).set(id, h);
  }

  private cancel(id: string): void {
    const h = this.timers?.get(id);
    if (h === undefined) return;
    this.timers!.delete(id);
    this.clock.clearTimeout(h);
  }

  /** xstate runs deferred custom actions first; a timer operation deferred among them re-defers itself behind them. */
  private flushDeferred(): void {
    if (this.status !== RUNNING) return;
    if (this.deferred !== null && this.deferred.length) runAll(this.deferred);
    if (this.timerOps !== null && this.timerOps.length) runAll(this.timerOps);
  }

  private notify(): void {
    const w = this.valueWatchers;
    if (w !== null) for (let i = 0; i < w.length; i++) w[i](this.config.value, this.config.intern);
    if (!this.listeners) return;
    const s = this.getSnapshot();
    for (const l of this.listeners) l(s);
  }
}
