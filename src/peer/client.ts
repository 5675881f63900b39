/**
 * An external client machine on the far end of one gigabit link, running the
 * other ends of the netperf TCP_STREAMs that cross that link. Its CPU is not the bottleneck in any of
 * the paper's experiments, so it costs no cycles; its own NIC still
 * serializes frames at line rate and it answers after a fixed turnaround.
 */
import { setup } from 'xstate';
import type { ActorSystem } from '../actors/runtime.js';
import type { Rng } from '../actors/rng.js';
import { PS_PER_US, type Ps } from '../actors/scheduler.js';
import { TcpReceiver, TcpSender } from '../domains/tcp.js';
import type { CongestionControl } from '../domains/tcp-cc.js';
import { HDR_LEN, WIRE_OVERHEAD, newPacketId, type Packet } from '../core/packet.js';
import { drop, type Counters } from '../model/counters.js';
import { wirePayload } from '../hardware/payload.js';
import { putOnWire, serializePs, UNCABLED, type Cabled, type PortRef, type WireRx } from '../hardware/link.js';
import type { StreamCheck } from '../model/integrity.js';
import type { RrConfig } from '../domains/netperf-rr.js';

export interface ClientConfig {
  mbps: number; latencyUs: number; turnaroundUs: number;
  mss: number; sndBuf: number; rcvBuf: number; rtoUs: number; delAckUs: number;
  /** Loss recovery of its TCP (tcp-cc.ts): NewReno with an out-of-order queue, or go-back-N. */
  congestionControl: CongestionControl;
}

/** One netperf connection's far end. */
interface Endpoint {
  flow: number;
  sender: TcpSender | null;
  receiver: TcpReceiver<Packet> | null;
  rtoTimer: { cancel(): void } | null;
  delAck: { cancel(): void } | null;
  received: number;     // payload bytes accepted in order (tx experiments' goodput)
  /** It is the flow's answering end (a stream's receiver, netserver): the `reply` of the frames it sends. */
  reply: boolean;
  aborted?: boolean;
  /** Data segments by sequence number, and when their latest copy starts on the wire. */
  queuedTill: Map<number, Ps>;
  /** netserver (TCP_RR / UDP_RR): request bytes toward the next whole request, and the next response datagram's stream offset. */
  rr?: { reqGot: number; txOff: number; cfg: RrConfig };
}

/** Linux's default txqueuelen: frames the client's qdisc holds before TCP is told to wait. */
export const TXQUEUELEN = 1000;

export class ClientModel implements Cabled {
  private readonly eps = new Map<number, Endpoint>();
  private linkFreeAt: Ps = 0;
  /** A TX_READY wake-up is scheduled (the queue was full when a sender still had segments). */
  private txWake = false;
  /** The far end of the cable on this machine's one NIC port (link.ts). */
  link: PortRef = UNCABLED;
  private readonly rng: Rng;
  /** netserver of netperf's TCP_RR / UDP_RR instead of a stream end (set before flows are added). */
  rr: RrConfig | null = null;
  constructor(
    readonly name: string, readonly role: 'sender' | 'receiver', readonly cfg: ClientConfig, readonly sys: ActorSystem, readonly counters: Counters,
    /** The end-to-end data check (this machine's memory is not modelled: a frame's payload is what came off the wire). */
    readonly streams: StreamCheck,
  ) {
    this.rng = sys.rng.for(name);
  }

  plug(_port: number, far: PortRef): void { this.link = far; }

  /** Add the far end of one flow (one netperf connection through this NIC), by default in this client's role and workload. */
  addFlow(flow: number, as: { role?: 'sender' | 'receiver'; rr?: RrConfig | null } = {}): void {
    const s = (as.role ?? this.role) === 'sender';
    const rr = as.rr !== undefined ? as.rr : this.rr;
    if (rr) {
      // netserver: a TCP connection both ways, or a datagram socket (no TCP state at all).
      const tcp = rr.kind === 'tcp_rr';
      this.eps.set(flow, {
        flow, rtoTimer: null, delAck: null, received: 0, reply: true, queuedTill: new Map(),
        sender: tcp ? new TcpSender(this.cfg.mss, this.cfg.sndBuf, this.cfg.rcvBuf) : null,
        receiver: tcp ? new TcpReceiver(this.cfg.mss, this.cfg.rcvBuf) : null,
        rr: { reqGot: 0, txOff: 0, cfg: rr },
      });
      return;
    }
    this.eps.set(flow, {
      flow, rtoTimer: null, delAck: null, received: 0, reply: !s, queuedTill: new Map(),
      sender: s ? new TcpSender(this.cfg.mss, this.cfg.sndBuf, this.cfg.rcvBuf, this.cfg.congestionControl) : null,
      receiver: s ? null : new TcpReceiver<Packet>(this.cfg.mss, this.cfg.rcvBuf, this.cfg.congestionControl === 'newreno'),
    });
  }
  flows(): number[] { return [...this.eps.keys()]; }
  /** Payload bytes received in order on one flow. */
  flowReceived(flow: number): number { return this.eps.get(flow)?.received ?? 0; }
  /** Payload bytes received in order, over all flows. */
  get received(): number { let n = 0; for (const e of this.eps.values()) n += e.received; return n; }
  endpoint(flow: number): { sender: TcpSender | null; receiver: TcpReceiver<Packet> | null } | undefined { return this.eps.get(flow); }

  /** Put a frame on our transmit link (queued behind earlier frames); returns when it starts on the wire. */
  private transmit(p: Packet): Ps {
    const now = this.sys.sched.now;
    // The client's turnaround varies a little (interrupt and scheduling jitter); drawn from its own stream.
    const jitter = this.rng.int(0, 1000) * (this.cfg.turnaroundUs * PS_PER_US / 1000);
    const start = Math.max(now + Math.round(jitter), this.linkFreeAt);
    this.linkFreeAt = start + serializePs(p.len, this.cfg.mbps);
    const arrive = this.linkFreeAt + this.cfg.latencyUs * PS_PER_US - now;
    this.counters.pkt.created++;
    this.counters.wire.sent++;
    putOnWire(this.sys, this.name, this.link, p, `${p.kind}:${p.flow}:${p.kind === 'ack' ? p.ack : p.seq}`, start, arrive);
    return start;
  }

  private packet(e: Endpoint, kind: 'data' | 'ack', seq: number, len: number, ack: number, wnd: number): Packet {
    const { flow, reply } = e;
    return { id: newPacketId(), flow, reply, kind, seq, len, ack, wnd, mss: this.cfg.mss, csum: 'done', frames: [], owner: -1, cold: undefined, release: undefined,
      data: kind === 'data' && len > 0 ? { flow, off: seq, len, gen: 0 } : undefined };
  }

  /** Senders keep their windows full (netperf always has data to send). */
  start(): void {
    for (const e of this.eps.values()) { e.sender?.connect(); e.receiver?.connect(); }
    for (const e of this.eps.values()) this.pump(e);
  }
  /**
   * netperf stops writing (used to let a run drain): what is already written still goes out and is
   * retransmitted until acknowledged, as a closing socket's data would be; ACKs still go out.
   */
  private stopped = false;
  stop(): void { this.stopped = true; }

  /** Give up a connection that cannot complete: no more segments or retransmissions on it. */
  abort(flow: number): void {
    const e = this.eps.get(flow);
    if (!e) return;
    e.rtoTimer?.cancel();
    e.rtoTimer = null;
    e.aborted = true;
  }

  private pump(e: Endpoint): void {
    const s = e.sender;
    if (!s || e.aborted) return;
    if (!this.stopped && !e.rr && s.sndBufSpace() > 0) s.write(s.sndBufSpace());
    // The qdisc pushes back (tcp_write_xmit stops on a full queue): go-back-N cannot pile up unbounded backlog.
    while (!this.queueFull()) {
      const seg = s.nextSegment(this.cfg.mss);
      if (!seg) break;
      // skb_still_in_host_queue: a retransmission of a segment whose previous copy has not left the
      // host yet is skipped (it is still going out); without it every go-back-N burst queued the whole
      // window again behind the last one, and an overloaded receiver never got the hole in time.
      if (seg.retransmit && (e.queuedTill.get(seg.seq) ?? -1) > this.sys.sched.now) continue;
      // A TCP_RR response carries the ACK of its request (and stops the delayed-ACK timer).
      const r = e.rr ? e.receiver : null;
      if (r) this.ackRides(e, r);
      e.queuedTill.set(seg.seq, this.transmit(this.packet(e, 'data', seg.seq, seg.len, r ? r.rcvNxt : 0, r ? r.window() : this.cfg.rcvBuf)));
    }
    // Forget copies that have left: all of them once the link is idle, else (rarely) those that started.
    const now = this.sys.sched.now;
    if (this.linkFreeAt <= now) e.queuedTill.clear();
    else if (e.queuedTill.size > 1024) for (const [q, t] of e.queuedTill) if (t <= now) e.queuedTill.delete(q);
    if (this.queueFull() && s.unsent() > 0) this.wakeWhenQueueDrains();
    this.armRto(e);
  }

  /** Wire time of TXQUEUELEN full frames: the backlog a full qdisc holds. */
  private queueLimit(): Ps {
    return TXQUEUELEN * Math.round(((this.cfg.mss + HDR_LEN + WIRE_OVERHEAD) * 8 * PS_PER_US) / this.cfg.mbps);
  }
  private queueFull(): boolean { return this.linkFreeAt - this.sys.sched.now >= this.queueLimit(); }
  /** netif_wake_queue: once the backlog falls below the limit, every sender gets to go on. */
  private wakeWhenQueueDrains(): void {
    if (this.txWake) return;
    this.txWake = true;
    const at = this.linkFreeAt - this.queueLimit() + 1;
    this.sys.sched.after(at - this.sys.sched.now, this.sys.rankOf(this.name), () => this.sys.deliverNow(this.name, this.name, TX_READY));
  }
  onTxReady(): void {
    this.txWake = false;
    for (const e of this.eps.values()) this.pump(e);
  }

  private armRto(e: Endpoint): void {
    const s = e.sender!;
    e.rtoTimer?.cancel();
    e.rtoTimer = null;
    if (s.inFlight() === 0) return;
    e.rtoTimer = this.sys.sched.after(s.rtoUs(this.cfg.rtoUs) * PS_PER_US, this.sys.rankOf(this.name), () => {
      e.rtoTimer = null;
      this.sys.deliverNow(this.name, this.name, { type: 'RTO', flow: e.flow });
    });
  }
  private sendAck(e: Endpoint): void {
    const r = e.receiver!;
    this.ackRides(e, r);
    this.transmit(this.packet(e, 'ack', 0, 0, r.rcvNxt, r.window()));
  }
  /** An ACK leaves (alone or with data): nothing pending, the delayed-ACK timer stops. */
  private ackRides(e: Endpoint, r: TcpReceiver<Packet>): void {
    if (e.delAck) { e.delAck.cancel(); e.delAck = null; r.clearDelAck(); }
    r.ackSent();
  }

  /** netserver: every whole request is answered at once with a response of responseBytes. */
  private answer(e: Endpoint, bytes: number): void {
    const rr = e.rr!, cfg = rr.cfg;
    rr.reqGot += bytes;
    let n = 0;
    while (rr.reqGot >= cfg.requestBytes) { rr.reqGot -= cfg.requestBytes; n++; }
    if (n === 0 || e.aborted) return;
    if (e.sender) { e.sender.write(n * cfg.responseBytes); this.pump(e); return; }
    for (let i = 0; i < n; i++) {
      this.transmit(this.packet(e, 'data', rr.txOff, cfg.responseBytes, 0, 0));
      rr.txOff += cfg.responseBytes;
    }
  }

  onRto(flow: number): void {
    const e = this.eps.get(flow);
    if (!e?.sender || e.aborted) return;
    e.sender.onRto();
    this.pump(e);
  }

  onFrame(p: Packet): void {
    this.counters.wire.arrived++;
    const e = this.eps.get(p.flow);
    if (!e) { drop(this.counters, 'client-no-flow'); return; } // not ours: a switch would not have forwarded it here
    this.counters.pkt.delivered++;
    if (e.rr && !e.receiver) {
      // UDP_RR request: its bytes are the flow's stream from the datagram's own offset.
      if (p.kind !== 'data') return;
      this.streams.deliver(this.name, e.flow, p.seq, p.len, wirePayload(p, 0, p.len));
      e.received += p.len;
      this.answer(e, p.len);
      return;
    }
    if (e.sender && p.kind === 'ack') {
      e.sender.onAck(p.ack, p.wnd);
      this.pump(e);
    } else if (e.receiver && p.kind === 'data') {
      // TCP_RR: the request carries the ACK of the last response (tcp_ack on a data segment: never a duplicate).
      if (e.sender && p.ack > e.sender.sndUna) e.sender.onAck(p.ack, p.wnd);
      const r = e.receiver;
      const { accepted, ackNow, ready } = r.onData(p.seq, p.len, p);
      for (const { item, off, at, len } of ready) {
        this.streams.deliver(this.name, e.flow, at, len, wirePayload(item, off, len));
        e.received += len; r.read(len); // the client application keeps up
        if (e.rr) this.answer(e, len);
      }
      if (ackNow || !accepted) this.sendAck(e);
      else if (!e.delAck && r.pendingAck()) {
        // Delayed ACK for a lone segment (Linux's minimum ATO).
        r.armDelAck();
        e.delAck = this.sys.sched.after(this.cfg.delAckUs * PS_PER_US, this.sys.rankOf(this.name), () => {
          e.delAck = null;
          r.clearDelAck();
          if (r.pendingAck()) this.sendAck(e);
        });
      }
    }
  }
}

const TX_READY = { type: 'TX_READY' } as const;

export const clientMachine = setup({
  types: {
    context: {} as { model: ClientModel },
    input: {} as { model: ClientModel },
    events: {} as { type: 'START' } | WireRx | { type: 'RTO'; flow: number } | { type: 'TX_READY' },
  },
  actions: {
    start: ({ context }) => context.model.start(),
    frame: ({ context, event }) => { if (event.type === 'WIRE_RX') context.model.onFrame(event.pkt); },
    rto: ({ context, event }) => { if (event.type === 'RTO') context.model.onRto(event.flow); },
    txReady: ({ context }) => context.model.onTxReady(),
  },
}).createMachine({
  id: 'client',
  context: ({ input }) => ({ model: input.model }),
  initial: 'idle',
  states: {
    idle: { on: { START: { target: 'streaming', actions: 'start' }, WIRE_RX: { actions: 'frame' } } },
    streaming: { on: { WIRE_RX: { actions: 'frame' }, RTO: { actions: 'rto' }, TX_READY: { actions: 'txReady' } } },
  },
});
