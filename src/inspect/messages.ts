/**
 * One list of everything that passed between actors in a recorded run:
 * delivered messages (with the sending time of frames on a wire), the
 * event-channel hop from a channel to the domain it wakes, and hypervisor
 * operations that are calls rather than messages (interrupts, grant
 * operations, page flips). Ordered by time of arrival, then recording order.
 */
import type { Ps } from '../actors/scheduler.js';
import type { Recorder } from './recorder.js';

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

export function interactions(rec: Recorder): Interaction[] {
  const out: Interaction[] = [];
  const nicNames = new Set(rec.b.nics.map((n) => n.name));
  const sentAt = new Map<string, Ps[]>();
  for (const f of rec.wire) {
    const key = `${f.from}|${f.to}|${f.kind}:${f.flow}:${f.kind === 'ack' && !nicNames.has(f.from) ? f.ack : f.seq}`;
    const q = sentAt.get(key);
    if (q) q.push(f.t); else sentAt.set(key, [f.t]);
  }
  // Event-channel ends, to follow a notification on to the domain it makes pending.
  const peerOf = new Map<string, Map<string, string>>();
  for (const a of rec.b.sys.actors.values()) {
    if (a.kind !== 'evtchn') continue;
    const ctx = (a.actor.getSnapshot() as { context?: { a?: { domain: string }; b?: { domain: string } | null } }).context;
    if (ctx?.a && ctx.b) peerOf.set(a.name, new Map([[ctx.a.domain, ctx.b.domain], [ctx.b.domain, ctx.a.domain]]));
  }
  for (const m of rec.trace) {
    const base = { from: m.from, name: m.type, ...(m.detail ? { detail: m.detail } : {}) };
    if (m.from === m.to) { out.push({ ...base, t0: m.t, t1: m.t, to: m.to, cat: 'self' }); continue; }
    let t0 = m.t;
    if (m.type === 'WIRE_RX') {
      const q = sentAt.get(`${m.from}|${m.to}|${m.detail ?? ''}`);
      if (q?.length) t0 = q.shift()!;
    }
    out.push({ ...base, t0, t1: m.t, to: m.to, cat: m.type === 'WIRE_RX' ? 'wire' : m.type === 'SEND' ? 'notify' : 'msg' });
    if (m.type === 'SEND') {
      const peer = peerOf.get(m.to)?.get(m.from);
      if (peer) out.push({ t0: m.t, t1: m.t, from: m.to, to: peer, name: 'EVENT', cat: 'notify', detail: `pending, from ${m.from}` });
    }
  }
  for (const o of rec.ops) {
    if (o.op === 'notify') continue; // the SEND message shows it
    const cat = o.op === 'irq' ? 'irq' : o.op === 'pageFlip' ? 'flip' : o.op === 'grantCopy' ? 'copy' : 'grant';
    out.push({ t0: o.t, t1: o.t, from: o.from, to: o.to, name: o.op, cat, n: o.n, ...(o.bytes !== undefined ? { bytes: o.bytes } : {}) });
  }
  return out.map((x, i) => ({ x, i })).sort((a, z) => a.x.t1 - z.x.t1 || a.i - z.i).map(({ x }) => x);
}
