/**
 * An external client machine on the far end of one gigabit link, running the
 * other end of a netperf TCP_STREAM. Its CPU is not the bottleneck in any of
 * the paper's experiments, so it costs no cycles; its own NIC still
 * serializes frames at line rate and it answers after a fixed turnaround.
 */
import { setup } from 'xstate';
import type { ActorSystem } from '../actors/runtime.js';
import type { Rng } from '../actors/rng.js';
import { PS_PER_US, type Ps } from '../actors/scheduler.js';
import { TcpReceiver, TcpSender } from '../domains/tcp.js';
import { HDR_LEN, MIN_FRAME, WIRE_OVERHEAD, newPacketId, type Packet } from '../domains/packet.js';

export interface ClientConfig {
  mbps: number; latencyUs: number; turnaroundUs: number;
  mss: number; sndBuf: number; rcvBuf: number; rtoUs: number; delAckUs: number;
}

export class ClientModel {
  sender: TcpSender | null = null;
  receiver: TcpReceiver | null = null;
  private linkFreeAt: Ps = 0;
  private rtoTimer: { cancel(): void } | null = null;
  peerNic = '';
  received = 0;
  private readonly rng: Rng;          // payload bytes accepted in order (tx experiments' goodput)
  constructor(readonly name: string, readonly flow: number, readonly role: 'sender' | 'receiver',
    readonly cfg: ClientConfig, readonly sys: ActorSystem) {
    this.rng = sys.rng.for(name);
    if (role === 'sender') this.sender = new TcpSender(cfg.mss, cfg.sndBuf, cfg.rcvBuf);
    else this.receiver = new TcpReceiver(cfg.mss, cfg.rcvBuf);
  }

  /** Put a frame on our transmit link (queued behind earlier frames). */
  private transmit(p: Packet): void {
    const now = this.sys.sched.now;
    // The client's turnaround varies a little (interrupt and scheduling jitter); drawn from its own stream.
    const jitter = this.rng.int(0, 1000) * (this.cfg.turnaroundUs * PS_PER_US / 1000);
    const start = Math.max(now + Math.round(jitter), this.linkFreeAt);
    const bytes = Math.max(MIN_FRAME, p.len + HDR_LEN) + WIRE_OVERHEAD;
    this.linkFreeAt = start + Math.round((bytes * 8 * PS_PER_US) / this.cfg.mbps);
    const arrive = this.linkFreeAt + this.cfg.latencyUs * PS_PER_US - now;
    this.sys.send(this.name, this.peerNic, { type: 'WIRE_RX', pkt: p, detail: `${p.kind}:${p.flow}:${p.kind === 'ack' ? p.ack : p.seq}` }, arrive);
  }

  private packet(kind: 'data' | 'ack', seq: number, len: number, ack: number, wnd: number): Packet {
    return { id: newPacketId(), flow: this.flow, kind, seq, len, ack, wnd, mss: this.cfg.mss, csum: 'done', frames: [], owner: -1 };
  }

  /** Sender: keep the window full (netperf always has data to send). */
  pump(): void {
    const s = this.sender;
    if (!s) return;
    if (s.sndBufSpace() > 0) s.write(s.sndBufSpace());
    for (let seg = s.nextSegment(this.cfg.mss); seg; seg = s.nextSegment(this.cfg.mss)) {
      this.transmit(this.packet('data', seg.seq, seg.len, 0, this.cfg.rcvBuf));
    }
    this.armRto();
  }

  private armRto(): void {
    const s = this.sender!;
    this.rtoTimer?.cancel();
    this.rtoTimer = null;
    if (s.inFlight() === 0) return;
    this.rtoTimer = this.sys.sched.after(this.cfg.rtoUs * PS_PER_US, this.sys.rankOf(this.name), () => {
      this.rtoTimer = null;
      this.sys.deliverNow(this.name, this.name, { type: 'RTO' });
    });
  }
  private delAck: { cancel(): void } | null = null;
  private sendAck(): void {
    const r = this.receiver!;
    this.delAck?.cancel();
    this.delAck = null;
    r.ackSent();
    this.transmit(this.packet('ack', 0, 0, r.rcvNxt, r.window()));
  }
  onRto(): void { this.sender?.goBack(); this.pump(); }

  onFrame(p: Packet): void {
    if (this.sender && p.kind === 'ack') {
      this.sender.onAck(p.ack, p.wnd);
      this.pump();
    } else if (this.receiver && p.kind === 'data') {
      const r = this.receiver;
      const { accepted, ackNow } = r.onData(p.seq, p.len);
      if (accepted) { this.received += p.len; r.read(p.len); } // the client application keeps up
      if (ackNow || !accepted) this.sendAck();
      else if (!this.delAck) {
        // Delayed ACK for a lone segment (Linux's minimum ATO).
        this.delAck = this.sys.sched.after(this.cfg.delAckUs * PS_PER_US, this.sys.rankOf(this.name), () => {
          this.delAck = null;
          if (this.receiver!.pendingAck()) this.sendAck();
        });
      }
    }
  }
}

export const clientMachine = setup({
  types: {
    context: {} as { model: ClientModel },
    input: {} as { model: ClientModel },
    events: {} as { type: 'START' } | { type: 'WIRE_RX'; pkt: Packet } | { type: 'RTO' },
  },
  actions: {
    start: ({ context }) => context.model.pump(),
    frame: ({ context, event }) => { if (event.type === 'WIRE_RX') context.model.onFrame(event.pkt); },
    rto: ({ context }) => context.model.onRto(),
  },
}).createMachine({
  id: 'client',
  context: ({ input }) => ({ model: input.model }),
  initial: 'idle',
  states: {
    idle: { on: { START: { target: 'streaming', actions: 'start' }, WIRE_RX: { actions: 'frame' } } },
    streaming: { on: { WIRE_RX: { actions: 'frame' }, RTO: { actions: 'rto' } } },
  },
});
