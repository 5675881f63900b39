/**
 * The Linux TCP/IP stack plus the netperf application of one kernel. Costs
 * depend on what the device below offers: without checksum offload the
 * checksum is folded into the user copy (sender) or computed on receipt;
 * with TSO one super-segment of up to 64 KiB pays the per-segment stack cost.
 */
import type { Kernel } from './kernel.js';
import type { Exec } from '../core/exec.js';
import type { NetDevice, Qdisc } from './netdev.js';
import { TcpReceiver, TcpSender } from './tcp.js';
import type { CongestionControl } from './tcp-cc.js';
import { HDR_LEN, newPacketId, pagesFor, type Packet } from '../core/packet.js';
import { drop, type Counters } from '../model/counters.js';
import type { MachineMemory } from '../hardware/memory.js';
import { readPayload, writePayload } from '../hardware/payload.js';
import type { StreamCheck } from '../model/integrity.js';
import { RrFlow, type RrConfig, type RrLog } from './netperf-rr.js';

export interface StackConfig {
  mss: number; sndBuf: number; rcvBuf: number; appChunk: number; delAckUs: number;
  /** Base retransmission timeout (Linux TCP_RTO_MIN, 200 ms on a LAN), doubled per expiry. */
  rtoUs: number;
  /** Loss recovery: NewReno with an out-of-order queue, or go-back-N (tcp-cc.ts). */
  congestionControl: CongestionControl;
}
/** A kernel timer that can be stopped before it fires (mod_timer / del_timer). */
export interface KernelTimer { cancel(): void }

interface Socket {
  flow: number;
  dev: NetDevice;
  q: Qdisc;
  sender?: TcpSender;
  /** Segments wait in its out-of-order queue with their packet and whether their data is still cold in the cache. */
  receiver?: TcpReceiver<RxSeg>;
  appQueued: boolean;
  rxFrames: number[];
  coldBytes: number;
  /** The retransmission timer, armed while data is in flight. */
  rto: KernelTimer | null;
  /** The connection was given up (no more segments). */
  aborted?: boolean;
  /** A sender with a metered application: bytes it has still to write (absent: netperf, writing for ever). */
  budget?: number;
  /** Told the bytes consumed so far each time the application reads (a receiver someone waits on). */
  onRead?: (delivered: number) => void;
  /** netperf TCP_RR / UDP_RR on this socket (it then has both a sender and a receiver, or neither for UDP). */
  rr?: RrFlow;
  /** The delayed-ACK timer of an RR socket, stopped when an ACK rides on a request (inet_csk_clear_xmit_timer). */
  delAck?: KernelTimer | null;
  /** The flow's answering end (a stream's receiver, netserver): the `reply` of the packets it sends. */
  reply: boolean;
}

const TSO_MAX = 65535 - HDR_LEN;
interface RxSeg { p: Packet; cold: boolean }

export class NetStack {
  readonly socks = new Map<number, Socket>();
  /** Request/response workload (netperf TCP_RR / UDP_RR): its parameters (the default of attach), the run's latency log and virtual time now (ps). */
  rr: { cfg: RrConfig | null; log: RrLog; now: () => number } | null = null;
  constructor(
    readonly kernel: Kernel,
    readonly mem: MachineMemory,
    readonly counters: Counters,
    readonly cfg: StackConfig,
    /** Kernel timer: run fn (as interrupt-level work) after delay us. */
    readonly timer: (delayUs: number, fn: (x: Exec) => void) => KernelTimer,
    /** The end-to-end data check every segment handed to the application passes through. */
    readonly streams: StreamCheck,
  ) {}

  /**
   * Open one flow's socket on `dev`: a stream's sender or receiver, netperf of TCP_RR / UDP_RR
   * (`rr`, requests out) or netserver (`rr-server`, responses back), with `rrCfg` (default: the stack's).
   */
  attach(flow: number, dev: NetDevice, q: Qdisc, role: 'sender' | 'receiver' | 'rr' | 'rr-server', rrCfg: RrConfig | null = this.rr?.cfg ?? null): void {
    const s: Socket = { flow, dev, q, appQueued: false, rxFrames: [], coldBytes: 0, rto: null, reply: role === 'receiver' || role === 'rr-server' };
    const cc = this.cfg.congestionControl;
    if (role === 'rr' || role === 'rr-server') {
      s.rr = new RrFlow(flow, rrCfg!, role === 'rr-server');
      s.delAck = null;
      // TCP_RR: one connection carries requests out and responses back; UDP_RR: a datagram socket.
      if (rrCfg!.kind === 'tcp_rr') {
        s.sender = new TcpSender(this.cfg.mss, this.cfg.sndBuf, this.cfg.rcvBuf, cc);
        s.receiver = new TcpReceiver<RxSeg>(this.cfg.mss, this.cfg.rcvBuf, cc === 'newreno');
      }
    } else if (role === 'sender') s.sender = new TcpSender(this.cfg.mss, this.cfg.sndBuf, this.cfg.rcvBuf, cc);
    else s.receiver = new TcpReceiver<RxSeg>(this.cfg.mss, this.cfg.rcvBuf, cc === 'newreno');
    this.socks.set(flow, s);
    dev.rx = (x, p) => this.receive(x, p);
  }

  /** The flow's route now goes out through another device (a vif plugged again): its socket sends and receives there. */
  rebind(flow: number, dev: NetDevice, q: Qdisc): void {
    const s = this.socks.get(flow);
    if (!s) return;
    s.dev = dev;
    s.q = q;
    dev.rx = (x, p) => this.receive(x, p);
  }

  /** netperf starts: senders begin writing. */
  start(): void {
    for (const s of this.socks.values()) { s.sender?.connect(); s.receiver?.connect(); }
    for (const s of this.socks.values()) if ((s.sender || s.rr) && !s.rr?.server) this.queueApp(s);
  }
  /** netperf stops writing (data already in the socket still goes out); used to let a run drain. */
  stopped = false;
  stop(): void { this.stopped = true; }

  /** tcp_done on a connection that cannot complete: no more sending or retransmitting on it. */
  abort(flow: number): void {
    const s = this.socks.get(flow);
    if (!s?.sender) return;
    s.rto?.cancel();
    s.rto = null;
    s.aborted = true;
  }

  /**
   * The flow's sender writes only what it is given (supply), not for ever: an application with a
   * stream of its own to send (the toolstack's migration stream).
   */
  meter(flow: number): void { const s = this.socks.get(flow); if (s?.sender) { s.budget = 0; s.sender.push = true; } }
  /** Give a metered sender `bytes` more to write. */
  supply(flow: number, bytes: number): void {
    const s = this.socks.get(flow);
    if (!s?.sender || s.budget === undefined) throw new Error(`${this.kernel.name}: flow ${flow} has no metered sender`);
    s.budget += bytes;
    this.queueApp(s);
  }
  /** Call `fn` with the bytes consumed so far each time the flow's application reads. */
  onRead(flow: number, fn: (delivered: number) => void): void { const s = this.socks.get(flow); if (s) s.onRead = fn; }

  /** The pages the flow's socket holds: data read in and not consumed yet, and out-of-order segments'. */
  heldPages(flow: number): number[] {
    const s = this.socks.get(flow);
    if (!s) return [];
    const out = [...s.rxFrames];
    s.receiver?.mapQueued((seg) => { out.push(...seg.p.frames); return seg; });
    return out;
  }

  /**
   * A guest's socket moves with it to another host (live migration): its TCP state is the guest's
   * memory and goes unchanged; the pages it holds (data read in but not consumed, segments in the
   * out-of-order queue) are the copies the migration made (`movePage` gives each page's new frame);
   * its timers are the old kernel's and are set again here; it sends and receives on `dev` now.
   * What was in flight below the socket (in the old device's queues) is lost with it: TCP resends.
   */
  adopt(from: NetStack, flow: number, dev: NetDevice, q: Qdisc, movePage: (frame: number) => number): void {
    const s = from.socks.get(flow);
    if (!s) return;
    from.socks.delete(flow);
    s.rto?.cancel();
    s.rto = null;
    if (s.delAck) { s.delAck.cancel(); s.delAck = null; }
    if (s.receiver?.delAckArmed) s.receiver.clearDelAck();
    s.rxFrames = s.rxFrames.map(movePage);
    s.receiver?.mapQueued((seg) => ({ ...seg, p: { ...seg.p, frames: seg.p.frames.map(movePage), release: undefined } }));
    s.dev = dev;
    s.q = q;
    s.appQueued = false;
    this.socks.set(flow, s);
    dev.rx = (x, p) => this.receive(x, p);
    if (s.sender && s.sender.inFlight() > 0) this.rearmRto(s);
    if (s.receiver?.pendingAck()) {
      s.receiver.armDelAck();
      const r = s.receiver;
      const t = this.timer(this.cfg.delAckUs, (tx) => { if (s.rr) s.delAck = null; r.clearDelAck(); if (r.pendingAck()) this.sendAck(tx, s); });
      if (s.rr) s.delAck = t;
    }
    if ((s.sender && !s.rr) || (s.rr && !s.rr.server) || (s.receiver && s.receiver.unread > 0)) this.queueApp(s);
  }

  /** This stack's application consumes the flow's data (its receiver, or netperf reading responses). */
  receives(flow: number): boolean { const s = this.socks.get(flow); return s !== undefined && (s.receiver !== undefined || s.rr !== undefined); }

  /** Bytes the receiving application has consumed on one flow. */
  flowDelivered(flow: number): number { const s = this.socks.get(flow); return s?.receiver?.delivered ?? s?.rr?.delivered ?? 0; }
  /** Bytes the receiving application has consumed (rx goodput). */
  delivered(): number { let n = 0; for (const s of this.socks.values()) n += s.receiver?.delivered ?? s.rr?.delivered ?? 0; return n; }

  private queueApp(s: Socket, wakeup = true): void {
    if (s.appQueued || s.budget === 0) return; // a metered writer with nothing to write sleeps
    s.appQueued = true;
    this.kernel.post({ name: s.rr ? 'netperf-rr' : s.sender ? 'netperf-send' : 'netperf-recv', run: (x) => {
      // A blocked netperf has to be woken and switched to; one that just ran keeps going.
      if (wakeup) { x.touch('sched'); x.cost('processWakeup'); }
      this.app(x, s);
    } }, 'proc');
  }

  private app(x: Exec, s: Socket): void {
    s.appQueued = false;
    x.touch('app'); x.touch('syscall'); x.touch('socket');
    x.cost('syscall');
    if (s.rr) this.rrApp(x, s, s.rr);
    else if (s.sender) {
      // Stopping the traffic stops netperf; a metered writer (xl migrate's stream) is the toolstack's and finishes its rounds.
      const n = this.stopped && s.budget === undefined ? 0 : Math.min(s.sender.sndBufSpace(), this.cfg.appChunk, s.budget ?? Infinity);
      if (n <= 0) return; // blocks until ACKs free socket buffer space
      if (s.budget !== undefined) s.budget -= n;
      s.sender.write(n);
      x.copy(n);
      if (!s.dev.features().csum) { // csum_and_copy_from_user
        this.counters.bytesChecksummed += n;
        x.charge('checksum', n * x.costs.csumCopyExtraPerByte);
      }
      this.output(x, s);
      if (s.sender.sndBufSpace() > 0) this.queueApp(s, false);
    } else if (s.receiver) {
      const { bytes, windowUpdate } = s.receiver.read(this.cfg.appChunk);
      this.copyOut(x, s, bytes, Math.ceil(bytes / this.cfg.mss));
      if (s.onRead) { const d = s.receiver.delivered, fn = s.onRead; x.later(() => fn(d)); }
      if (windowUpdate) this.sendAck(x, s);
      if (s.receiver.unread > 0) this.queueApp(s, false);
    }
  }

  /** recvmsg's copy to user space: it walks the frames that held the data; they go back to the slab after. */
  private copyOut(x: Exec, s: Socket, bytes: number, frameCount: number): void {
    const cold = Math.min(bytes, s.coldBytes);
    s.coldBytes -= cold;
    x.copy(cold, true);
    x.copy(bytes - cold);
    const nFrames = Math.min(s.rxFrames.length, frameCount);
    const frames = s.rxFrames.splice(0, nFrames);
    x.touchFrames(frames);
    for (const f of frames) this.kernel.freeFrame(f);
  }

  /**
   * netperf's RR loop: recv() what has come back; each whole response ends the oldest transaction;
   * then send() requests until `burst` are in flight. Times are taken when the slice ends.
   */
  private rrApp(x: Exec, s: Socket, rr: RrFlow): void {
    const cfg = rr.cfg;
    let bytes: number;
    if (s.receiver) {
      const rd = s.receiver.read(s.receiver.unread);
      bytes = rd.bytes;
      this.copyOut(x, s, bytes, s.rxFrames.length); // everything unread: every frame held
      if (rd.windowUpdate) this.sendAck(x, s);
    } else {
      bytes = rr.unread;
      rr.unread = 0;
      rr.delivered += bytes;
      this.copyOut(x, s, bytes, s.rxFrames.length);
    }
    rr.got += bytes;
    if (rr.server) { this.rrAnswer(x, s, rr); return; }
    let done = 0;
    while (rr.got >= cfg.responseBytes && rr.sentAt.length - done > 0) { rr.got -= cfg.responseBytes; done++; }
    let sends = 0;
    while (!this.stopped && !s.aborted && rr.sentAt.length - done + sends < cfg.burst) {
      x.cost('syscall');
      x.copy(cfg.requestBytes);
      if (s.sender) {
        s.sender.write(cfg.requestBytes);
        if (!s.dev.features().csum) { this.counters.bytesChecksummed += cfg.requestBytes; x.charge('checksum', cfg.requestBytes * x.costs.csumCopyExtraPerByte); }
        this.output(x, s);
      } else this.udpSend(x, s, rr);
      sends++;
    }
    if (done === 0 && sends === 0) return;
    const log = this.rr!;
    x.later(() => {
      const now = log.now();
      for (let i = 0; i < done; i++) log.log.record(now - rr.sentAt.shift()!, rr.flow);
      for (let i = 0; i < sends; i++) rr.sentAt.push(now);
    });
  }

  /** netserver: every whole request read is answered at once with a response of responseBytes. */
  private rrAnswer(x: Exec, s: Socket, rr: RrFlow): void {
    const cfg = rr.cfg;
    let n = 0;
    while (rr.got >= cfg.requestBytes) { rr.got -= cfg.requestBytes; n++; }
    if (n === 0 || s.aborted) return;
    x.cost('syscall', n);
    x.copy(n * cfg.responseBytes);
    if (s.sender) {
      s.sender.write(n * cfg.responseBytes);
      if (!s.dev.features().csum) { this.counters.bytesChecksummed += n * cfg.responseBytes; x.charge('checksum', n * cfg.responseBytes * x.costs.csumCopyExtraPerByte); }
      this.output(x, s);
    } else for (let i = 0; i < n; i++) this.udpSend(x, s, rr, cfg.responseBytes);
  }

  /** udp_sendmsg: one datagram per request (or response), straight to the device queue (no retransmission: a lost one stalls netperf). */
  private udpSend(x: Exec, s: Socket, rr: RrFlow, len = rr.cfg.requestBytes): void {
    const feat = s.dev.features();
    x.touch('udp'); x.touch('ip'); x.touch('skb');
    x.cost('udpTxPerDatagram');
    x.cost('skbAllocFree');
    if (!feat.csum) { this.counters.bytesChecksummed += len; x.charge('checksum', len * x.costs.csumCopyExtraPerByte); }
    const frames: number[] = [];
    for (let i = 0; i < pagesFor(len); i++) frames.push(this.kernel.allocFrame());
    x.touchFrames(frames);
    const p: Packet = {
      id: newPacketId(), flow: s.flow, reply: s.reply, kind: 'data', seq: rr.txOff, len, ack: 0, wnd: 0,
      mss: this.cfg.mss, csum: feat.csum ? 'partial' : 'done', frames, owner: this.kernel.domid, cold: undefined, release: undefined, data: undefined,
    };
    this.own(p);
    writePayload(this.mem, frames, s.flow, rr.txOff, len);
    rr.txOff += len;
    this.counters.packetsTx++;
    this.counters.pkt.created++;
    s.q.enqueue(x, p);
  }

  /** __udp4_lib_rcv -> sock_queue_rcv_skb: the datagram waits on the socket and netperf is woken. */
  private udpRcv(x: Exec, s: Socket, p: Packet, rr: RrFlow): void {
    x.touch('udp');
    x.cost('udpRxPerDatagram');
    let cold = p.cold === true;
    if (p.csum !== 'verified') { x.checksum(p.len + HDR_LEN, cold); cold = false; }
    // A datagram's bytes are its flow's stream from its own offset; an earlier lost one is a gap, not a mismatch.
    this.streams.deliver(this.kernel.name, s.flow, p.seq, p.len, readPayload(this.mem, p, 0, p.len));
    this.counters.packetsRx++;
    s.rxFrames.push(...p.frames);
    if (cold) s.coldBytes += p.len;
    rr.unread += p.len;
    this.queueApp(s);
  }

  /** tcp_write_xmit: segments as the window allows. */
  private output(x: Exec, s: Socket): void {
    const snd = s.sender!;
    const feat = s.dev.features();
    const maxLen = feat.tso && feat.sg ? TSO_MAX : this.cfg.mss;
    while (!s.q.full() && !s.aborted) {
      const seg = snd.nextSegment(maxLen);
      if (!seg) break;
      x.touch('tcp'); x.touch('ip'); x.touch('skb');
      x.cost('tcpTxPerSegment');
      x.cost('skbAllocFree');
      if (seg.retransmit && !feat.csum) x.checksum(seg.len);
      const frames: number[] = [];
      for (let i = 0; i < pagesFor(seg.len); i++) frames.push(this.kernel.allocFrame());
      x.touchFrames(frames);
      // An RR socket's segments carry its receiver's ACK and window (tcp_transmit_skb: tcp_event_ack_sent).
      const r = s.rr ? s.receiver : undefined;
      if (r) this.ackRides(s, r);
      const p: Packet = {
        id: newPacketId(), flow: s.flow, reply: s.reply, kind: 'data', seq: seg.seq, len: seg.len, ack: r ? r.rcvNxt : 0, wnd: r ? r.window() : this.cfg.rcvBuf,
        mss: this.cfg.mss, csum: feat.csum ? 'partial' : 'done', frames, owner: this.kernel.domid, cold: undefined, release: undefined, data: undefined,
      };
      this.own(p);
      writePayload(this.mem, frames, s.flow, seg.seq, seg.len); // tcp_sendmsg: the application's bytes into the skb
      this.counters.packetsTx++;
      this.counters.pkt.created++;
      s.q.enqueue(x, p);
    }
    // tcp_event_new_data_sent: the first segment in flight starts the timer.
    if (!s.rto && !s.aborted && snd.inFlight() > 0) this.rearmRto(s);
  }

  /** An ACK goes out with data: nothing is pending any more and the delayed-ACK timer stops. */
  private ackRides(s: Socket, r: TcpReceiver<RxSeg>): void {
    r.ackSent();
    if (s.delAck) { s.delAck.cancel(); s.delAck = null; r.clearDelAck(); }
  }

  /** inet_csk_reset_xmit_timer: restart the retransmission timer, or stop it when nothing is in flight. */
  private rearmRto(s: Socket): void {
    const snd = s.sender!;
    s.rto?.cancel();
    s.rto = null;
    if (snd.inFlight() === 0 || s.aborted) return;
    s.rto = this.timer(snd.rtoUs(this.cfg.rtoUs), (x) => {
      s.rto = null;
      // tcp_retransmit_timer: go back to snd_una, double the timeout, send again.
      snd.onRto();
      this.output(x, s);
      this.rearmRto(s);
    });
  }

  /** Packet buffers this kernel allocated come back to its slab when the device is done. */
  private own(p: Packet): void {
    for (const f of p.frames) this.mem.contents.set(f, p);
    p.release = () => { for (const f of p.frames) this.kernel.freeFrame(f); };
  }

  private sendAck(x: Exec, s: Socket): void {
    const r = s.receiver!;
    x.touch('tcp'); x.touch('ip'); x.touch('skb');
    x.cost('tcpAckTx');
    x.cost('skbAllocFree');
    r.ackSent();
    const p: Packet = {
      id: newPacketId(), flow: s.flow, reply: s.reply, kind: 'ack', seq: 0, len: 0, ack: r.rcvNxt, wnd: r.window(),
      mss: this.cfg.mss, csum: s.dev.features().csum ? 'partial' : 'done', frames: [this.kernel.allocFrame()], owner: this.kernel.domid,
      cold: undefined, release: undefined, data: undefined,
    };
    if (!s.dev.features().csum) x.checksum(HDR_LEN);
    this.own(p);
    this.counters.pkt.created++;
    s.q.enqueue(x, p);
  }

  private freePacket(x: Exec, p: Packet): void { if (p.release) p.release(x); else for (const f of p.frames) this.kernel.freeFrame(f); }

  /** netif_receive_skb -> ip_rcv -> tcp_v4_rcv. */
  receive(x: Exec, p: Packet): void {
    const s = this.socks.get(p.flow);
    const free = () => this.freePacket(x, p);
    if (!s) { drop(this.counters, 'stack-no-socket'); free(); return; }
    this.counters.pkt.delivered++;
    if (s.rr && !s.sender) { x.touch('ip'); this.udpRcv(x, s, p, s.rr); return; }
    x.touch('ip'); x.touch('tcp');
    if (p.kind === 'ack') {
      x.cost('tcpAckRx');
      free();
      if (!s.sender) return;
      const acked = s.sender.onAck(p.ack, p.wnd);
      // tcp_rearm_rto: new data acknowledged restarts the timer (or stops it once nothing is in flight).
      if (acked > 0) this.rearmRto(s);
      this.output(x, s);
      // sk_write_space wakes a writer waiting for buffer space; netperf RR waits in recv(), not send().
      if (s.sender.sndBufSpace() > 0 && !s.rr) this.queueApp(s);
      return;
    }
    if (!s.receiver) { free(); return; }
    x.cost('tcpRxPerSegment', Math.max(1, Math.ceil(p.len / this.cfg.mss)));
    // TCP_RR: a response carries the ACK of the request (tcp_ack on a data segment: never a duplicate).
    const acked = s.rr && s.sender && p.ack > s.sender.sndUna;
    if (acked) {
      x.cost('tcpAckRx');
      s.sender!.onAck(p.ack, p.wnd);
      this.rearmRto(s);
    }
    // Software checksum verification is the first pass over DMA'd data and pulls it into the cache.
    let cold = p.cold === true;
    if (p.csum !== 'verified') { x.checksum(p.len + HDR_LEN, cold); cold = false; }
    const r = s.receiver;
    const { ready, queued, dropped, ackNow } = r.onData(p.seq, p.len, { p, cold });
    for (const { item, off, at, len } of ready) {
      // These bytes go to the application in order: they must be the stream's, from where it stands.
      this.streams.deliver(this.kernel.name, s.flow, at, len, readPayload(this.mem, item.p, off, len));
      this.counters.packetsRx++;
      s.rxFrames.push(...item.p.frames);
      if (item.cold) s.coldBytes += len;
    }
    if (ready.length) this.queueApp(s);
    else if (!queued) free();
    for (const d of dropped) this.freePacket(x, d.p);
    // What the ACK lets out goes now, as for a pure ACK (tcp_rcv_established: tcp_data_queue, then
    // tcp_data_snd_check): a request netperf wrote while others were in flight, held back (TSO deferral, the window).
    if (acked && s.sender!.unsent() > 0) this.output(x, s);
    if (ackNow) this.sendAck(x, s);
    else if (r.pendingAck() && !r.delAckArmed) {
      r.armDelAck();
      const t = this.timer(this.cfg.delAckUs, (tx) => {
        if (s.rr) s.delAck = null;
        r.clearDelAck();
        if (r.pendingAck()) this.sendAck(tx, s);
      });
      if (s.rr) s.delAck = t;
    }
  }
}
