/**
 * One list of everything that passed between actors in a recorded run:
 * delivered messages (with the sending time of frames on a wire), the
 * event-channel hop from a channel to the domain it wakes, and hypervisor
 * operations that are calls rather than messages (interrupts, grant
 * operations, page flips). Ordered by time of arrival, then recording order.
 */
import type { Ps } from '../actors/scheduler.js';
import type { OpRecord, Recorder, WireFrame } from './recorder.js';

export interface Interaction {
  /** Sent (t0) and received (t1); equal except for frames on a wire. */
  t0: Ps;
  t1: Ps;
  from: string;
  /** null: an operation with no other party (e.g. a grant unmap). */
  to: string | null;
  name: string;
  cat: 'msg' | 'self' | 'wire' | 'notify' | 'irq' | 'grant' | 'copy' | 'flip';
  detail?: string;
  n?: number;
  bytes?: number;
}

/**
 * Interactions as a run's log is read back (in recording order), handed to `out` in order of arrival
 * (then recording order): a message goes out when read; an operation waits until the time moves on,
 * since messages of the same instant come first. Memory: frames on a wire not yet received, and the
 * operations of one instant.
 */
export class InteractionStream {
  private readonly nicNames: Set<string>;
  private readonly sentAt = new Map<string, Ps[]>();
  /** Event-channel ends, to follow a notification on to the domain it makes pending. */
  private readonly peerOf = new Map<string, Map<string, string>>();
  private pending: Interaction[] = [];

  constructor(rec: Recorder, private readonly out: (m: Interaction) => void) {
    this.nicNames = new Set(rec.b.nics.map((n) => n.name));
    for (const a of rec.b.sys.actors.values()) {
      if (a.kind !== 'evtchn') continue;
      const ctx = (a.actor.getSnapshot() as { context?: { a?: { domain: string }; b?: { domain: string } | null } }).context;
      if (ctx?.a && ctx.b) this.peerOf.set(a.name, new Map([[ctx.a.domain, ctx.b.domain], [ctx.b.domain, ctx.a.domain]]));
    }
  }

  private release(t: Ps): void {
    if (!this.pending.length || this.pending[0].t1 >= t) return;
    for (const m of this.pending) this.out(m);
    this.pending = [];
  }

  wire(f: WireFrame): void {
    const key = `${f.from}|${f.to}|${f.kind}:${f.flow}:${f.kind === 'ack' && !this.nicNames.has(f.from) ? f.ack : f.seq}`;
    const q = this.sentAt.get(key);
    if (q) q.push(f.t); else this.sentAt.set(key, [f.t]);
  }

  message(t: Ps, from: string, to: string, type: string, detail: string | undefined): void {
    this.release(t);
    const base = { from, name: type, ...(detail ? { detail } : {}) };
    if (from === to) { this.out({ ...base, t0: t, t1: t, to, cat: 'self' }); return; }
    let t0 = t;
    if (type === 'WIRE_RX') {
      const key = `${from}|${to}|${detail ?? ''}`;
      const q = this.sentAt.get(key);
      if (q?.length) { t0 = q.shift()!; if (!q.length) this.sentAt.delete(key); }
    }
    this.out({ ...base, t0, t1: t, to, cat: type === 'WIRE_RX' ? 'wire' : type === 'SEND' ? 'notify' : 'msg' });
    if (type === 'SEND') {
      const peer = this.peerOf.get(to)?.get(from);
      if (peer) this.out({ t0: t, t1: t, from: to, to: peer, name: 'EVENT', cat: 'notify', detail: `pending, from ${from}` });
    }
  }

  op(o: OpRecord): void {
    this.release(o.t);
    if (o.op === 'notify') return; // the SEND message shows it
    const cat = o.op === 'irq' ? 'irq' : o.op === 'pageFlip' ? 'flip' : o.op === 'grantCopy' ? 'copy' : 'grant';
    this.pending.push({ t0: o.t, t1: o.t, from: o.from, to: o.to, name: o.op, cat, n: o.n, ...(o.bytes !== undefined ? { bytes: o.bytes } : {}) });
  }

  /** The run is over: the last instant's operations go out. */
  end(): void { this.release(Infinity); }
}
