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

export interface TraceRecord { t: Ps; from: string; to: string; type: string; detail?: string }
export type Msg = EventObject & { detail?: string; [k: string]: unknown };

export interface ActorEntry { name: string; kind: string; rank: number; actor: Actor<AnyStateMachine> }

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

  constructor(seed: number, record = false) {
    this.rng = new RngStreams(seed);
    if (record) this.trace = [];
  }

  spawn<M extends AnyStateMachine>(name: string, kind: string, machine: M, input: unknown): Actor<M> {
    if (this.actors.has(name)) throw new Error(`duplicate actor name ${name}`);
    const rank = this.actors.size;
    const sched = this.sched;
    const clock = {
      setTimeout: (fn: () => void, ms: number) => sched.after(Math.round(ms * PS_PER_MS), rank, fn),
      clearTimeout: (h: TimerHandle) => h?.cancel(),
    };
    const actor = createActor(machine, { input, clock, id: name } as never) as Actor<M>;
    this.actors.set(name, { name, kind, rank, actor: actor as unknown as Actor<AnyStateMachine> });
    if (this.stateListeners.length > 0 || this.trace) {
      let last = '';
      actor.subscribe((s) => {
        const v = JSON.stringify((s as { value?: unknown }).value);
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
    this.sched.after(delay, this.rankOf(from), () => this.deliver(from, target, msg));
  }

  /** Deliver now, in the current step (the caller's own causal order). */
  deliverNow(from: string, to: string, msg: Msg): void {
    const target = this.actors.get(to);
    if (!target) throw new Error(`message ${msg.type} to unknown actor ${to}`);
    this.deliver(from, target, msg);
  }

  private deliver(from: string, target: ActorEntry, msg: Msg): void {
    this.messages++;
    const t = this.sched.now;
    this.mix(`${t}|${from}|${target.name}|${msg.type}|${msg.detail ?? ''}`);
    if (this.trace) this.trace.push({ t, from, to: target.name, type: msg.type, detail: msg.detail });
    target.actor.send(msg);
  }

  /** FNV-1a over the message stream: equal hashes <=> (overwhelmingly likely) equal traces. */
  private mix(s: string): void {
    let h = this.hash;
    for (let i = 0; i < s.length; i++) {
      h ^= s.charCodeAt(i);
      h = Math.imul(h, 0x01000193);
    }
    this.hash = h >>> 0;
  }
  traceHash(): string { return this.hash.toString(16).padStart(8, '0'); }

  stop(): void { for (const a of this.actors.values()) a.actor.stop(); }
}
