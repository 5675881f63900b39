/**
 * Actor runtime: xstate v5 actors driven by the deterministic Scheduler.
 * - Every actor gets a rank (creation order) used for tie-breaking.
 * - xstate's clock is the scheduler, so `after` delays run in virtual time
 *   (xstate delays are milliseconds; we convert to picoseconds).
 * - Messages between actors are delivered through the scheduler and traced;
 *   the trace is always hashed (for replay checks) and optionally recorded.
 */
import { createActor, type AnyStateMachine, type Actor, type EventObject } from 'xstate';
import { Scheduler, PS_PER_MS, type Ps, type TimerHandle } from './scheduler.js';
import { RngStreams } from './rng.js';
import { compileMachine, type CompiledMachine } from './compile.js';
import { CompiledActor } from './compiled-actor.js';

/** 'compiled' (default): statecharts compiled once per machine (compile.ts), proven equal to xstate by
 * test/statechart.test.ts; 'xstate': xstate's own interpreter, for comparison. */
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

/** Compile once per machine definition; a machine outside the supported subset throws UnsupportedMachine. */
const compiledCache = new WeakMap<AnyStateMachine, CompiledMachine>();
export function compiledOf(m: AnyStateMachine): CompiledMachine {
  let c = compiledCache.get(m);
  if (!c) { c = compileMachine(m); compiledCache.set(m, c); }
  return c;
}

export class ActorSystem {
  readonly sched = new Scheduler();
  readonly actors = new Map<string, ActorEntry>();
  readonly rng: RngStreams;
  trace: TraceRecord[] | null = null;
  /** Observers of state changes: (time, actor, state value). Used by trace export. */
  stateListeners: Array<(t: Ps, actor: string, state: string) => void> = [];
  /** Observer of every frame put on a wire: (time it starts, sender actor, receiver actor, frame). For pcap export. */
  wireTap: ((t: Ps, from: string, to: string, frame: import('../domains/packet.js').Packet) => void) | null = null;
  private hash = 0x811c9dc5;
  messages = 0;

  constructor(seed: number, record = false, readonly interpreter: Interpreter = 'compiled') {
    this.rng = new RngStreams(seed);
    if (record) this.trace = [];
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
    this.actors.set(name, { name, kind, rank, actor, machine });
    if (this.stateListeners.length > 0 || this.trace) {
      let last = '';
      actor.subscribe((s: { value?: unknown }) => {
        const v = JSON.stringify(s.value);
        if (v === last) return;
        last = v;
        for (const l of this.stateListeners) l(sched.now, name, v);
      });
    }
    actor.start();
    return actor;
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
    let type = this.typeIds.get(msg.type);
    if (type === undefined) { type = this.typeIds.size; this.typeIds.set(msg.type, type); }
    let h = this.hash;
    h = Math.imul(h ^ (t % 0x1_0000_0000), 0x01000193);
    h = Math.imul(h ^ Math.floor(t / 0x1_0000_0000), 0x01000193);
    h = Math.imul(h ^ from.rank, 0x01000193);
    h = Math.imul(h ^ target.rank, 0x01000193);
    h = Math.imul(h ^ type, 0x01000193);
    this.hash = h >>> 0;
    if (msg.detail !== undefined) this.mixStr(msg.detail);
    if (this.trace) this.trace.push({ t, from: from.name, to: target.name, type: msg.type, detail: msg.detail });
    target.actor.send(msg);
  }

  /** FNV-1a (over 32-bit words) of the message stream: equal hashes <=> (overwhelmingly likely) equal traces. */
  private typeIds = new Map<string, number>();
  private mixStr(s: string): void {
    let h = this.hash;
    for (let i = 0; i < s.length; i++) { h ^= s.charCodeAt(i); h = Math.imul(h, 0x01000193); }
    this.hash = h >>> 0;
  }
  traceHash(): string { return this.hash.toString(16).padStart(8, '0'); }

  stop(): void { for (const a of this.actors.values()) a.actor.stop(); }
}
