/**
 * Observing a run through rxjs: what the runtime delivers (messages), what
 * every actor's state becomes (state changes), and what goes on a wire
 * (frames). Traces, pcaps, xentop views and reports are subscribers
 * (src/inspect/recorder.ts); so can a library user be.
 *
 * Nothing is paid while nobody subscribes: each stream's Subject is created
 * on first use, the hot paths test one field (`observed`) before building an
 * event object, and actors get a state subscription only once someone
 * subscribes to states$. Subscribers see events synchronously, in the
 * simulation's own order, and must not change the system they watch.
 */
import { Observable, Subject } from 'rxjs';
import type { EventObject } from 'xstate';
import type { Ps } from './scheduler.js';

export interface DeliveredMessage {
  t: Ps;
  from: string;
  to: string;
  type: string;
  detail: string | undefined;
  /** The message itself (read it, do not keep or change it). */
  msg: EventObject;
}

export interface StateChange {
  t: Ps;
  actor: string;
  kind: string;
  /** The state value as JSON (e.g. `"running"` or `{"tx":"idle","rx":{}}`). */
  value: string;
}

export interface WireFrame<F = unknown> {
  /** When the frame starts on the wire. */
  t: Ps;
  from: string;
  to: string;
  frame: F;
}

/** A stream whose Subject exists only once somebody subscribes; `observed` is the hot paths' test. */
export class Stream<T> {
  private subject: Subject<T> | null = null;
  /** True while at least one subscriber listens. */
  observed = false;
  readonly $: Observable<T>;
  constructor(onFirstSubscriber: () => void = () => {}) {
    this.$ = new Observable<T>((sub) => {
      const s = (this.subject ??= new Subject<T>());
      const inner = s.subscribe(sub);
      if (!this.observed) { this.observed = true; onFirstSubscriber(); }
      return () => {
        inner.unsubscribe();
        this.observed = s.observed;
      };
    });
  }
  next(v: T): void { this.subject?.next(v); }
}

/**
 * A direct listener on the runtime, for a consumer that keeps everything (the recorder): called with
 * plain arguments, so watching a run allocates nothing per message, state change or frame; the
 * consumer builds records only when asked for them. One tap per system.
 */
export interface Tap {
  /** A message delivered at t between the actors of these ranks; `typeId` numbers its type (the system's messageType(id) names it). */
  message(t: Ps, from: number, to: number, type: string, detail: string | undefined, typeId: number): void;
  /** The actor of this rank changed state; the value is interned (StateValues). */
  state(t: Ps, actor: number, value: number): void;
  /** A frame starts on a wire between the actors of these ranks. */
  wire(t: Ps, from: number, to: number, frame: unknown): void;
}

/** Where the holder of one state value keeps its id (a compiled actor's configuration holds one). */
export interface InternSlot { table: unknown; id: number }

/**
 * State values as JSON, interned: an id per distinct value. A value object is serialised once (a
 * compiled actor keeps one value object per configuration); string values are looked up as they are.
 */
export class StateValues {
  private readonly byObject = new WeakMap<object, number>();
  private readonly byPrimitive = new Map<unknown, number>();
  private readonly byJson = new Map<string, number>();
  readonly json: string[] = [];
  idOf(v: unknown): number {
    if (typeof v === 'object' && v !== null) {
      let id = this.byObject.get(v);
      if (id === undefined) { id = this.intern(JSON.stringify(v)); this.byObject.set(v, id); }
      return id;
    }
    let id = this.byPrimitive.get(v);
    if (id === undefined) { id = this.intern(JSON.stringify(v)); this.byPrimitive.set(v, id); }
    return id;
  }
  /** idOf(v) for the value whose slot this is: read from the slot after the first time. */
  idIn(slot: InternSlot, v: unknown): number {
    if (slot.table === this) return slot.id;
    slot.id = this.idOf(v);
    slot.table = this;
    return slot.id;
  }
  private intern(s: string): number {
    let id = this.byJson.get(s);
    if (id === undefined) { id = this.json.length; this.json.push(s); this.byJson.set(s, id); }
    return id;
  }
}

/** A growable column of numbers (typed storage: appending allocates only when it doubles). */
export class NumberColumn {
  private data = new Float64Array(1024);
  length = 0;
  push(x: number): void {
    if (this.length === this.data.length) { const g = new Float64Array(this.length * 2); g.set(this.data); this.data = g; }
    this.data[this.length++] = x;
  }
  at(i: number): number { return this.data[i]; }
}
