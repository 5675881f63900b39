/**
 * A store-and-forward Ethernet switch: N ports, each cabled (link.ts) to a
 * NIC, a peer host or another switch. A frame is taken in whole at its
 * ingress port, spends the forwarding latency in the lookup pipeline (where
 * its source address is learnt), and is queued on its output port: the port
 * its destination was learnt on (or a static table names), or, for an
 * unknown destination, every other port (flooding; a static table drops it
 * instead). Each output port sends its queue in order at its line rate. Its
 * buffer holds a byte limit of frames, a frame occupying it from admission
 * until its last bit is out; a frame that does not fit is dropped (drop-tail).
 * No address ageing: runs are far shorter than Linux's 300 s.
 */
import { not, setup } from 'xstate';
import type { ActorSystem } from '../actors/runtime.js';
import { PS_PER_US, type Ps } from '../actors/scheduler.js';
import type { Packet } from '../core/packet.js';
import { drop, type Counters } from '../model/counters.js';
import { frameBytes, putOnWire, serializePs, UNCABLED, type Cabled, type Mac, type PortRef, type WireRx } from './link.js';

export interface SwitchPortConfig {
  mbps: number;
  /** Output buffer in frame bytes (Ethernet frame, headers included). */
  queueBytes: number;
  /** Propagation to the far end of this port's cable plus the far PHY, us. */
  latencyUs: number;
}

/** MAC learning (unknown destinations flooded), or a fixed address -> port table (unknown: dropped). */
export type ForwardingTable = { kind: 'learning' } | { kind: 'static'; table: ReadonlyMap<Mac, number> };

export interface SwitchConfig {
  ports: readonly SwitchPortConfig[];
  /** From a frame's last bit in to its admission to an output queue (lookup and learning), us. */
  forwardUs: number;
  fdb: ForwardingTable;
}

/** Where a frame comes from and goes to (link.ts FlowMacs: the model's frames carry a flow, not a header). */
export interface Addressing { src(p: Packet): Mac | undefined; dst(p: Packet): Mac | undefined }

/** One port's counters since the last reset (bytes are frame bytes). */
export interface PortStats {
  framesIn: number; bytesIn: number;
  framesOut: number; bytesOut: number;
  /** Frames the output buffer had no room for. */
  drops: number;
  /** Most bytes the output buffer held. */
  highWaterBytes: number;
  /** Time-weighted mean of the bytes the output buffer held. */
  meanQueueBytes: number;
}

/** One port: its cable and its output buffer (a FIFO, the frame being sent at its head). */
class Port {
  link: PortRef = UNCABLED;
  private readonly q: Array<Packet | undefined> = [];
  private head = 0;
  /** Frame bytes in the buffer, the frame being sent included. */
  bytes = 0;
  sending: Packet | null = null;
  framesIn = 0; bytesIn = 0; framesOut = 0; bytesOut = 0; drops = 0; highWater = 0;
  /** Integral of `bytes` over time since `since` (byte-ps), up to `changed`. */
  private area = 0;
  private changed: Ps = 0;
  private since: Ps = 0;
  constructor(readonly cfg: SwitchPortConfig) {}

  waiting(): number { return this.q.length - this.head; }
  private level(now: Ps, delta: number): void {
    this.area += this.bytes * (now - this.changed);
    this.changed = now;
    this.bytes += delta;
    if (this.bytes > this.highWater) this.highWater = this.bytes;
  }
  /** Drop-tail: queue `p` if its bytes fit under the limit. */
  admit(now: Ps, p: Packet): boolean {
    const b = frameBytes(p.len);
    if (this.bytes + b > this.cfg.queueBytes) { this.drops++; return false; }
    this.level(now, b);
    this.q.push(p);
    return true;
  }
  /** Take the next frame to send (it keeps its buffer bytes until `sent`). */
  take(): Packet {
    const p = this.q[this.head]!;
    this.q[this.head++] = undefined;
    if (this.head > 256 && this.head * 2 > this.q.length) { this.q.splice(0, this.head); this.head = 0; }
    this.sending = p;
    this.framesOut++;
    this.bytesOut += frameBytes(p.len);
    return p;
  }
  /** The frame being sent has left: its bytes are free. */
  sent(now: Ps): void {
    this.level(now, -frameBytes(this.sending!.len));
    this.sending = null;
  }
  stats(now: Ps): PortStats {
    const span = now - this.since;
    const area = this.area + this.bytes * (now - this.changed);
    return {
      framesIn: this.framesIn, bytesIn: this.bytesIn, framesOut: this.framesOut, bytesOut: this.bytesOut, drops: this.drops,
      highWaterBytes: this.highWater, meanQueueBytes: span > 0 ? area / span : this.bytes,
    };
  }
  reset(now: Ps): void {
    this.framesIn = this.bytesIn = this.framesOut = this.bytesOut = this.drops = 0;
    this.area = 0;
    this.since = this.changed = now;
    this.highWater = this.bytes;
  }
}

export class SwitchModel implements Cabled {
  readonly ports: Port[];
  /** Forwarding database: address -> port (learnt, or the static table). */
  readonly fdb: Map<Mac, number>;
  /** Frames in the forwarding pipeline (received, not yet queued or dropped). */
  pipeline = 0;
  /** Extra copies made by flooding (each flooded frame counts its copies beyond the first). */
  floodCopies = 0;
  /**
   * `counters`: the packet ledger and drop reasons of whoever owns the switch (wire.arrived on
   * ingress, wire.sent on egress, a flood's copies as split units, drops by reason).
   */
  constructor(readonly name: string, readonly cfg: SwitchConfig, readonly addressing: Addressing, readonly counters: Counters) {
    this.ports = cfg.ports.map((p) => new Port(p));
    this.fdb = new Map(cfg.fdb.kind === 'static' ? cfg.fdb.table : []);
  }

  plug(port: number, far: PortRef): void {
    if (!(port >= 0 && port < this.ports.length)) throw new Error(`switch ${this.name} has no port ${port}`);
    this.ports[port].link = far;
  }

  /** Packet-ledger units inside: in the pipeline or queued and not yet started on a wire. */
  unitsHeld(): number { return this.ports.reduce((n, p) => n + p.waiting(), this.pipeline); }
  /** Anything still inside, a frame being sent included. */
  holding(): boolean { return this.pipeline > 0 || this.ports.some((p) => p.sending !== null); }

  portStats(now: Ps): PortStats[] { return this.ports.map((p) => p.stats(now)); }
  /** Start counting again (e.g. at the end of a warm-up); the buffers' contents stay. */
  resetStats(now: Ps): void { for (const p of this.ports) p.reset(now); }
}

export interface SwitchInput { model: SwitchModel; sys: ActorSystem }

type SwitchEvent =
  | WireRx
  | { type: 'FORWARD'; pkt: Packet; port: number }
  | { type: 'PORT_TX_DONE'; port: number };

/** How a frame is named in traces (and the trace hash): an ACK by what it acknowledges. */
const frameDetail = (p: Packet) => `${p.kind}:${p.flow}:${p.kind === 'ack' ? p.ack : p.seq}`;

/** A frame's copy for one more output port (field by field: one object shape on every path). */
function copyOf(p: Packet): Packet {
  return {
    id: p.id, flow: p.flow, reply: p.reply, kind: p.kind, seq: p.seq, len: p.len, ack: p.ack, wnd: p.wnd, mss: p.mss,
    csum: p.csum, frames: [], owner: p.owner, cold: p.cold, release: undefined, data: p.data,
  };
}

/** Ingress: the whole frame is in; it enters the lookup pipeline. */
function ingress(ctx: SwitchInput, p: Packet, port: number): void {
  const m = ctx.model;
  const pt = m.ports[port];
  m.counters.wire.arrived++;
  pt.framesIn++;
  pt.bytesIn += frameBytes(p.len);
  m.pipeline++;
  if (m.cfg.forwardUs > 0) ctx.sys.send(m.name, m.name, { type: 'FORWARD', pkt: p, port, detail: frameDetail(p) }, m.cfg.forwardUs * PS_PER_US);
  else forward(ctx, p, port);
}

/** Lookup (learning the source's port first), then the frame is queued on its output port(s). */
function forward(ctx: SwitchInput, p: Packet, inPort: number): void {
  const m = ctx.model;
  m.pipeline--;
  const src = m.addressing.src(p), dst = m.addressing.dst(p);
  const learning = m.cfg.fdb.kind === 'learning';
  if (learning && src !== undefined) m.fdb.set(src, inPort);
  const out = dst === undefined ? undefined : m.fdb.get(dst);
  if (out !== undefined) {
    // The destination is behind the port it came in on: the frame is filtered, not sent back.
    if (out === inPort) drop(m.counters, 'switch-filtered');
    else if (m.ports[out].link === UNCABLED) drop(m.counters, 'switch-no-port');
    else enqueue(ctx, out, p);
    return;
  }
  if (!learning) { drop(m.counters, 'switch-no-entry'); return; }
  let copies = 0;
  for (let k = 0; k < m.ports.length; k++) {
    if (k === inPort || m.ports[k].link === UNCABLED) continue;
    if (copies > 0) { m.counters.pkt.split++; m.floodCopies++; }
    enqueue(ctx, k, copies === 0 ? p : copyOf(p));
    copies++;
  }
  if (copies === 0) drop(m.counters, 'switch-no-port');
}

function enqueue(ctx: SwitchInput, k: number, p: Packet): void {
  const port = ctx.model.ports[k];
  if (!port.admit(ctx.sys.sched.now, p)) { drop(ctx.model.counters, 'switch-queue-full'); return; }
  if (port.sending === null) transmit(ctx, k);
}

/** Put the head of port k's queue on its cable: the port is busy for the frame's serialization time. */
function transmit(ctx: SwitchInput, k: number): void {
  const m = ctx.model;
  const port = m.ports[k];
  const p = port.take();
  const t = serializePs(p.len, port.cfg.mbps);
  m.counters.wire.sent++;
  ctx.sys.send(m.name, m.name, { type: 'PORT_TX_DONE', port: k, detail: `port ${k}` }, t);
  putOnWire(ctx.sys, m.name, port.link, p, frameDetail(p), ctx.sys.sched.now, t + port.cfg.latencyUs * PS_PER_US);
}

export const switchMachine = setup({
  types: {
    context: {} as SwitchInput,
    input: {} as SwitchInput,
    events: {} as SwitchEvent,
  },
  guards: {
    isStatic: ({ context }) => context.model.cfg.fdb.kind === 'static',
    holding: ({ context }) => context.model.holding(),
  },
  actions: {
    ingress: ({ context, event }) => { if (event.type === 'WIRE_RX') ingress(context, event.pkt, event.port); },
    forward: ({ context, event }) => { if (event.type === 'FORWARD') forward(context, event.pkt, event.port); },
    txDone: ({ context, event }) => {
      if (event.type !== 'PORT_TX_DONE') return;
      const port = context.model.ports[event.port];
      port.sent(context.sys.sched.now);
      if (port.waiting() > 0) transmit(context, event.port);
    },
  },
}).createMachine({
  id: 'switch',
  context: ({ input }) => ({ ...input }),
  type: 'parallel',
  states: {
    // What the forwarding database is: fixed by the configuration.
    fdb: {
      initial: 'learning',
      states: {
        learning: { always: { guard: 'isStatic', target: 'static' } },
        static: {},
      },
    },
    // Whether any frame is inside (in the pipeline, queued or being sent).
    frames: {
      initial: 'idle',
      states: {
        idle: { on: { WIRE_RX: { target: 'busy', actions: 'ingress' } } },
        busy: {
          always: { guard: not('holding'), target: 'idle' },
          on: {
            WIRE_RX: { actions: 'ingress' },
            FORWARD: { actions: 'forward' },
            PORT_TX_DONE: { actions: 'txDone' },
          },
        },
      },
    },
  },
});
