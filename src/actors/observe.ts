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
