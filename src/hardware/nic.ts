/**
 * A gigabit Ethernet NIC (e1000-like): a TX descriptor ring the driver fills
 * and the NIC drains onto the wire at line rate, an RX ring of driver-posted
 * buffers the NIC DMAs arriving frames into, and one interrupt line with
 * moderation (at most one interrupt per ITR interval) and NAPI-style masking
 * (the driver masks the line while it polls and unmasks when done).
 * Offloads: checksum, TSO (segmentation on the NIC), scatter/gather.
 */
import { setup } from 'xstate';
import type { ActorSystem } from '../actors/runtime.js';
import { PS_PER_US, type Ps } from '../actors/scheduler.js';
import { drop, type Counters } from '../model/counters.js';
import type { Packet } from '../core/packet.js';
import type { MachineMemory } from './memory.js';
import type { Rng } from '../actors/rng.js';
import { dmaToBuffer, readPayload } from './payload.js';
import { putOnWire, serializePs, UNCABLED, type Cabled, type PortRef, type WireRx } from './link.js';

export interface NicFeatures { csum: boolean; tso: boolean; sg: boolean }

export interface NicConfig {
  mbps: number;
  ringSize: number;
  itrUs: number;           // minimum interval between interrupts
  latencyUs: number;       // cable + far-end PHY latency
  features: NicFeatures;
  /** Run-to-run variation (scenario `variability`): interrupt latency jitter, us; frame arrival jitter, ns. */
  irqJitterUs: number;
  wireJitterNs: number;
}

/** Plain state of the device (registers + rings in host memory). */
export class NicModel implements Cabled {
  txRing: Packet[] = [];          // posted, not yet on the wire
  txDone: Packet[] = [];          // on the wire, descriptor written back, not yet cleaned
  rxBuffers: number[] = [];       // empty buffer frames posted by the driver
  rxDone: Packet[] = [];          // DMA'd, waiting for the driver
  txBusy = false;
  linkUp = true;
  irqMasked = false;              // NAPI: driver masks while polling
  causePending = false;
  /** Who handles our interrupt line (bare-metal kernel or Xen PIRQ routing). */
  raiseIrq: () => void = () => {};
  /** The far end of our one port's cable (link.ts). */
  link: PortRef = UNCABLED;
  dmaFaults = 0;                  // fault injection: next n DMAs fail
  framesTx = 0;
  bytesTx = 0;
  /** txRing[0] is being put on the wire; txFramesLeft of its (TSO) frames have not gone yet. */
  txSending = false;
  txFramesLeft = 0;
  /** Frames of txRing[0] still to start (the TX state machine's counter). */
  segsLeft = 0;
  /** When the last frame sent reaches the far end (jittered arrivals never overtake one another). */
  lastArrival: Ps = 0;
  /** `mem`: the host memory the NIC DMAs packet bytes from and into; `rng`: this device's random stream. */
  constructor(readonly name: string, readonly cfg: NicConfig, readonly counters: Counters, readonly mem: MachineMemory, readonly rng: Rng) {}

  plug(_port: number, far: PortRef): void { this.link = far; }

  /** The moderation interval plus this interrupt's delivery jitter, in ms (xstate delays are ms). */
  itrDelayMs(): number {
    const j = this.cfg.irqJitterUs;
    return (this.cfg.itrUs + (j > 0 ? this.rng.float() * j : 0)) / 1000;
  }
  /** Delay from now until a frame that finishes serialising after `serialize` ps arrives at the far end. */
  arrivalDelay(now: Ps, serialize: Ps): Ps {
    const j = this.cfg.wireJitterNs;
    let at = now + serialize + this.cfg.latencyUs * PS_PER_US + (j > 0 ? Math.round(this.rng.float() * j * 1000) : 0);
    if (at < this.lastArrival) at = this.lastArrival;
    this.lastArrival = at;
    return at - now;
  }

  /** Packet-ledger units inside the device: queued frames not yet on the wire, and received frames not yet taken by the driver. */
  unitsHeld(): number {
    return this.txRing.length - (this.txSending ? 1 : 0) + (this.txSending ? this.txFramesLeft : 0) + this.rxDone.length;
  }

  txSlotsUsed(): number { return this.txRing.reduce((n, p) => n + Math.max(1, p.frames.length), 0) + this.txDone.length; }
  /** Serialization time of one frame of `payload` TCP bytes. */
  wireTime(payload: number): Ps { return serializePs(payload, this.cfg.mbps); }
}

type NicEvent =
  | { type: 'TX_KICK' }
  | { type: 'TX_FRAME_DONE'; last: boolean }
  | WireRx
  | { type: 'IRQ_UNMASK' }
  | { type: 'LINK_DOWN' } | { type: 'LINK_UP' };

export interface NicInput { model: NicModel; sys: ActorSystem }

export const nicMachine = setup({
  types: {
    context: {} as NicInput,
    input: {} as NicInput,
    events: {} as NicEvent,
  },
  delays: {
    itr: ({ context }) => context.model.itrDelayMs(),
  },
  guards: {
    hasTx: ({ context }) => context.model.txRing.length > 0 && context.model.linkUp,
    causeReady: ({ context }) => context.model.causePending && !context.model.irqMasked,
  },
  actions: {
    startTx: ({ context }) => {
      const m = context.model;
      const p = m.txRing[0];
      // TSO: the NIC cuts a super-segment into MSS frames itself.
      const segs = p.len > p.mss ? Math.ceil(p.len / p.mss) : 1;
      m.counters.pkt.split += segs - 1;
      m.txSending = true;
      m.txFramesLeft = segs;
      sendFrame(context, p, 0, segs);
      m.segsLeft = segs;
    },
    nextFrame: ({ context }) => {
      const m = context.model;
      const p = m.txRing[0];
      const segs = p.len > p.mss ? Math.ceil(p.len / p.mss) : 1;
      sendFrame(context, p, segs - m.segsLeft + 1, segs);
      m.segsLeft--;
    },
    finishPacket: ({ context }) => {
      const m = context.model;
      const p = m.txRing.shift()!;
      m.txSending = false;
      m.txDone.push(p);
      m.causePending = true;
    },
    /** The link went down in the middle of a TSO burst: the frames not yet sent are lost, the packet completes with an error. */
    abortPacket: ({ context }) => {
      const m = context.model;
      if (m.txFramesLeft > 0) drop(m.counters, 'link-down', m.txFramesLeft);
      m.txFramesLeft = 0;
      m.txSending = false;
      m.txDone.push(m.txRing.shift()!);
      m.causePending = true;
    },
    rx: ({ context, event }) => {
      if (event.type !== 'WIRE_RX') return;
      const m = context.model;
      const p = event.pkt;
      m.counters.wire.arrived++;
      if (!m.linkUp) { drop(m.counters, 'link-down'); return; }
      const buf = m.rxBuffers.shift();
      if (buf === undefined) { drop(m.counters, 'nic-rx-overflow'); return; }
      if (m.dmaFaults > 0) { m.dmaFaults--; m.rxBuffers.push(buf); drop(m.counters, 'nic-dma-error'); return; }
      // DMA into the posted buffer; with checksum offload the NIC validates it.
      dmaToBuffer(m.mem, buf, p);
      m.rxDone.push({
        id: p.id, flow: p.flow, reply: p.reply, kind: p.kind, seq: p.seq, len: p.len, ack: p.ack, wnd: p.wnd, mss: p.mss,
        csum: m.cfg.features.csum ? 'verified' : 'done', frames: [buf], owner: -1, cold: true, release: p.release, data: undefined,
      });
      m.causePending = true;
    },
    raise: ({ context }) => {
      const m = context.model;
      m.causePending = false;
      m.irqMasked = true;
      m.raiseIrq();
    },
    unmask: ({ context }) => { context.model.irqMasked = false; },
    linkDown: ({ context }) => {
      const m = context.model;
      m.linkUp = false;
      // Frames queued for a dead link are completed with an error and reclaimed by the driver. The packet
      // being serialized stays at the head of the ring until its frame in progress completes (abortPacket):
      // moving it now would make that completion finish (and silently lose) the next packet instead.
      const keep = m.txSending ? 1 : 0;
      while (m.txRing.length > keep) { m.txDone.push(m.txRing.splice(keep, 1)[0]); drop(m.counters, 'link-down'); }
      m.causePending = true;
    },
    linkUp: ({ context }) => { context.model.linkUp = true; },
  },
}).createMachine({
  id: 'nic',
  context: ({ input }) => ({ ...input }),
  type: 'parallel',
  states: {
    tx: {
      initial: 'idle',
      states: {
        idle: {
          always: { guard: 'hasTx', target: 'sending', actions: 'startTx' },
          on: { TX_KICK: { guard: 'hasTx', target: 'sending', actions: 'startTx' } },
        },
        sending: {
          on: {
            TX_FRAME_DONE: [
              { guard: ({ context }) => context.model.segsLeft > 1 && !context.model.linkUp, target: 'idle', actions: 'abortPacket' },
              { guard: ({ context }) => context.model.segsLeft > 1, actions: 'nextFrame' },
              { target: 'idle', actions: 'finishPacket' },
            ],
          },
        },
      },
    },
    rx: { on: { WIRE_RX: { actions: 'rx' } } },
    irq: {
      initial: 'ready',
      states: {
        ready: {
          always: { guard: 'causeReady', target: 'throttled', actions: 'raise' },
          on: { IRQ_UNMASK: { actions: 'unmask', target: 'ready', reenter: true } },
        },
        // ITR: no new interrupt until the moderation interval has passed.
        throttled: {
          after: { itr: 'ready' },
          on: { IRQ_UNMASK: { actions: 'unmask' } },
        },
      },
    },
    link: {
      initial: 'up',
      states: {
        up: { on: { LINK_DOWN: { target: 'down', actions: 'linkDown' } } },
        down: { on: { LINK_UP: { target: 'up', actions: 'linkUp' } } },
      },
    },
  },
});

function sendFrame(ctx: NicInput, p: Packet, index: number, segs: number): void {
  const m = ctx.model;
  const payload = segs === 1 ? p.len : Math.min(p.mss, p.len - index * p.mss);
  const seq = p.seq + index * p.mss;
  const t = m.wireTime(payload);
  m.framesTx++;
  m.bytesTx += payload;
  m.counters.wireFrames++;
  m.counters.wire.sent++;
  m.txFramesLeft--;
  ctx.sys.send(m.name, m.name, { type: 'TX_FRAME_DONE', last: index === segs - 1 }, t);
  const frame: Packet = {
    id: p.id, flow: p.flow, reply: p.reply, kind: p.kind, seq, len: payload, ack: p.ack, wnd: p.wnd, mss: p.mss,
    csum: 'done', frames: [], owner: p.owner, cold: p.cold, release: undefined,
    // The DMA reads the payload out of the packet's pages as they are now (TSO: this frame's MSS of it).
    data: p.kind === 'data' && payload > 0 ? readPayload(m.mem, p, segs === 1 ? 0 : index * p.mss, payload) : undefined,
  };
  const now = ctx.sys.sched.now;
  putOnWire(ctx.sys, m.name, m.link, frame, `${frame.kind}:${frame.flow}:${seq}`, now, m.arrivalDelay(now, t));
}

