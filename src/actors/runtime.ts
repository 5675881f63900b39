/**
 * Actor runtime: xstate v5 actors driven by the deterministic Scheduler.
 * - Every actor gets a rank (creation order) used for tie-breaking.
 * - xstate's clock is the scheduler, so `after` delays run in virtual time
 *   (xstate delays are milliseconds; we convert to picoseconds).
 * - Messages between actors are delivered through the scheduler; the stream
 *   of deliveries is always hashed (for replay checks), and messages, state
 *   changes and wire frames can be observed through rxjs (observe.ts).
 */
import { createActor, type AnyStateMachine, type Actor, type EventObject } from 'xstate';
import { Scheduler, PS_PER_MS, type EventQueueKind, type Ps, type TimerHandle } from './scheduler.js';
import { RngStreams } from './rng.js';
import { compileMachine, type CompiledMachine } from './compile.js';
import { CompiledActor } from './compiled-actor.js';
import { StateValues, Stream, type DeliveredMessage, type InternSlot, type StateChange, type Tap, type WireFrame } from './observe.js';

/** 'compiled' (default): statecharts compiled once per machine (compile.ts), proven equal to xstate by
 * test/actors/statechart.test.ts; 'xstate': xstate's own interpreter, for comparison. */
export type Interpreter = 'compiled' | 'xstate';
export const INTERPRETERS: readonly Interpreter[] = ['compiled', 'xstate'];

export interface TraceRecord { t: Ps; from: string; to: string; type: string; detail?: string }
export type Msg = EventObject & { detail?: string; [k: string]: unknown };

/** What the runtime needs of an actor: xstate's Actor, or the equivalent CompiledActor. */
export interface ActorLike {
  send(e: EventObject): void;
  getSnapshot(): { value?: unknown; context?: unknown } & object;
  subscribe(l: (s: any) => void): unknown;
  start(): unknown;
  stop(): unknown;
}
export interface ActorEntry { name: string; kind: string; rank: number; actor: ActorLike; machine: AnyStateMachine }

/**
 * An actor's state value, read where a driver decides something: a compiled actor keeps its value
 * interned and xstate keeps its last snapshot, so neither allocates (getSnapshot() on a CompiledActor does).
 */
export function stateValue(a: ActorLike): unknown {
  return a instanceof CompiledActor ? a.value : a.getSnapshot().value;
}

/** Compile once per machine definition; a machine outside the supported subset throws UnsupportedMachine. */
const compiledCache = new WeakMap<AnyStateMachine, CompiledMachine>();
export function compiledOf(m: AnyStateMachine): CompiledMachine {
  let c = compiledCache.get(m);
  if (!c) { c = compileMachine(m); compiledCache.set(m, c); }
  return c;
}

export class ActorSystem {
  readonly sched: Scheduler;
  readonly actors = new Map<string, ActorEntry>();
  readonly rng: RngStreams;
  /** The trace hash as a signed 32-bit integer (a small integer for V8); traceHash() prints it unsigned. */
  private hash = 0x811c9dc5 | 0;
  messages = 0;
  private readonly delivered = new Stream<DeliveredMessage>();
  private readonly changes = new Stream<StateChange>(() => { for (const a of this.actors.values()) this.watch(a); });
  private readonly frames = new Stream<WireFrame>();
  /** Every message as it is delivered, in delivery order (see observe.ts). */
  readonly messages$ = this.delivered.$;
  /** Every change of an actor's state value, from the moment of subscription on. */
  readonly states$ = this.changes.$;
  /** Every frame put on a wire: when it starts, sender and receiver actors, the frame. */
  readonly wire$ = this.frames.$;
  /** The direct listener, if one is attached (tap()). */
  private tapper: Tap | null = null;
  /** State values seen by watched actors, interned (states$ and the tap report them by this table). */
  readonly stateValues = new StateValues();

  /** `queue` picks the scheduler's event queue (the default, or the heap it replaced). */
  constructor(seed: number, readonly interpreter: Interpreter = 'compiled', queue?: EventQueueKind) {
    this.sched = new Scheduler(queue);
    this.rng = new RngStreams(seed);
  }

  spawn<M extends AnyStateMachine>(name: string, kind: string, machine: M, input: unknown): ActorLike {
    if (this.actors.has(name)) throw new Error(`duplicate actor name ${name}`);
    const rank = this.actors.size;
    const sched = this.sched;
    const clock = {
      setTimeout: (fn: () => void, ms: number) => sched.after(Math.round(ms * PS_PER_MS), rank, fn),
      clearTimeout: (h: TimerHandle) => h?.cancel(),
    };
    const actor: ActorLike = this.interpreter === 'compiled'
      ? new CompiledActor(compiledOf(machine), input, name, clock)
      : (createActor(machine, { input, clock, id: name } as never) as Actor<M>);
    const e: ActorEntry = { name, kind, rank, actor, machine };
    this.actors.set(name, e);
    if (this.changes.observed || this.tapper !== null) this.watch(e);
    actor.start();
    return actor;
  }

  /** Report the actor's state changes on states$ (once somebody has subscribed). */
  private watched = new WeakSet<ActorEntry>();
  private watch(e: ActorEntry): void {
    if (this.watched.has(e)) return;
    this.watched.add(e);
    const values = this.stateValues;
    let lastValue = (e.actor.getSnapshot() as { value?: unknown }).value;
    let last = values.idOf(lastValue);
    const changed = (value: unknown, slot?: InternSlot) => {
      // Compiled actors keep one value object per configuration: the same object is the same state.
      if (value === lastValue) return;
      lastValue = value;
      const v = slot === undefined ? values.idOf(value) : values.idIn(slot, value);
      if (v === last) return;
      last = v;
      if (this.tapper !== null) this.tapper.state(this.sched.now, e.rank, v);
      if (this.changes.observed) this.changes.next({ t: this.sched.now, actor: e.name, kind: e.kind, value: values.json[v] });
    };
    // A compiled actor reports its value without a snapshot object per step.
    if (e.actor instanceof CompiledActor) e.actor.watchValue(changed);
    else e.actor.subscribe((s: { value?: unknown }) => changed(s.value));
  }

  /**
   * Attach a direct listener (see Tap): messages, state changes of every actor (from now on) and wire
   * frames, as plain arguments. Attach before the system starts to see everything.
   */
  tap(t: Tap): void {
    if (this.tapper !== null) throw new Error('a tap is already attached');
    this.tapper = t;
    for (const a of this.actors.values()) this.watch(a);
  }

  /** A frame starts on a wire between these actors (called as it is sent: see putOnWire). */
  wireTap(t: Ps, from: ActorEntry, to: ActorEntry, frame: unknown): void {
    if (this.tapper !== null) this.tapper.wire(t, from.rank, to.rank, frame);
    if (this.frames.observed) this.frames.next({ t, from: from.name, to: to.name, frame });
  }

  rankOf(name: string): number {
    const a = this.actors.get(name);
    if (!a) throw new Error(`unknown actor ${name}`);
    return a.rank;
  }

  /** Deliver msg from one actor to another after `delay` ps of virtual time. */
  send(from: string, to: string, msg: Msg, delay: Ps = 0): void {
    const target = this.actors.get(to);
    if (!target) throw new Error(`message ${msg.type} to unknown actor ${to}`);
    const src = this.actors.get(from);
    if (!src) throw new Error(`message ${msg.type} from unknown actor ${from}`);
    this.sendRef(src, target, msg, delay);
  }

  /** The actor entry for a name (hot paths keep it instead of looking names up per message). */
  entry(name: string): ActorEntry {
    const e = this.actors.get(name);
    if (!e) throw new Error(`unknown actor ${name}`);
    return e;
  }

  /** send() between already-resolved actors: no name lookups, no closure. */
  sendRef(src: ActorEntry, target: ActorEntry, msg: Msg, delay: Ps = 0): void {
    this.sched.call(this.sched.now + Math.max(0, Math.round(delay)), src.rank, this.deliverFn, src, target, msg);
  }
  private readonly deliverFn = (src: ActorEntry, target: ActorEntry, msg: Msg) => this.deliver(src, target, msg);

  /** Deliver now, in the current step (the caller's own causal order). */
  deliverNow(from: string, to: string, msg: Msg): void {
    const target = this.actors.get(to);
    const src = this.actors.get(from);
    if (!target || !src) throw new Error(`message ${msg.type} between unknown actors ${from} -> ${to}`);
    this.deliver(src, target, msg);
  }

  private deliver(from: ActorEntry, target: ActorEntry, msg: Msg): void {
    this.messages++;
    const t = this.sched.now;
    // Hash (time, sender, receiver, type, detail) without building strings on the hot path.
    const type = this.typeId(msg.type);
    // t's low and high 32-bit words; t - hi * 2^32 is t % 2^32 exactly (t is a non-negative
    // integer below 2^53) without a floating-point modulo.
    const hi = Math.floor(t / 0x1_0000_0000);
    let h = this.hash;
    h = Math.imul(h ^ (t - hi * 0x1_0000_0000), 0x01000193);
    h = Math.imul(h ^ hi, 0x01000193);
    h = Math.imul(h ^ from.rank, 0x01000193);
    h = Math.imul(h ^ target.rank, 0x01000193);
    h = Math.imul(h ^ type, 0x01000193);
    this.hash = h;
    if (msg.detail !== undefined) this.mixStr(msg.detail);
    if (this.tapper !== null) this.tapper.message(t, from.rank, target.rank, msg.type, msg.detail, type);
    if (this.delivered.observed) this.delivered.next({ t, from: from.name, to: target.name, type: msg.type, detail: msg.detail, msg });
    target.actor.send(msg);
  }

  /** FNV-1a (over 32-bit words) of the message stream: equal hashes <=> (overwhelmingly likely) equal traces. */
  private typeIds = new Map<string, number>();
  /** The last type looked up and its id: runs of one message type skip the map. */
  private lastType: string | null = null;
  private lastTypeId = -1;
  private typeId(name: string): number {
    if (name === this.lastType) return this.lastTypeId;
    let id = this.typeIds.get(name);
    if (id === undefined) { id = this.typeIds.size; this.typeIds.set(name, id); }
    this.lastType = name; this.lastTypeId = id;
    return id;
  }
  private typeNames: string[] = [];
  /** A message type by the number the tap was given for it. */
  messageType(id: number): string {
    if (this.typeNames.length !== this.typeIds.size) this.typeNames = [...this.typeIds.keys()];
    return this.typeNames[id];
  }
  private mixStr(s: string): void {
    let h = this.hash;
    for (let i = 0; i < s.length; i++) { h ^= s.charCodeAt(i); h = Math.imul(h, 0x01000193); }
    this.hash = h;
  }
  traceHash(): string { return (this.hash >>> 0).toString(16).padStart(8, '0'); }

  stop(): void { for (const a of this.actors.values()) a.actor.stop(); }
}
