/**
 * Ethernet cables. Everything with Ethernet ports (a NIC, a peer host's NIC,
 * a switch) names the far end of each of its ports as a PortRef and puts
 * frames on a cable with `putOnWire`; the far end gets one WIRE_RX message
 * naming its own port when the frame's last bit has arrived. The sender owns
 * the cable's timing (its line rate serializes, its latency is the cable's
 * propagation plus the far PHY), so a cable is symmetric only if both ends
 * are configured alike. `cable()` plugs two ports into each other, whatever
 * their kinds: NIC to client, NIC to NIC, either to a switch port.
 */
import type { ActorSystem, Msg } from '../actors/runtime.js';
import { PS_PER_US, type Ps } from '../actors/scheduler.js';
import { HDR_LEN, MIN_FRAME, WIRE_OVERHEAD, type Packet } from '../core/packet.js';

/** One end of a cable: an actor and one of its ports (a NIC or a client has one port, 0). */
export interface PortRef { readonly actor: string; readonly port: number }
/** A port with nothing plugged in. */
export const UNCABLED: PortRef = { actor: '', port: 0 };

/** The one message a cable delivers: `pkt` has arrived at the receiver's port `port`. */
export interface WireRx extends Msg { type: 'WIRE_RX'; pkt: Packet; port: number; detail: string }

/** Anything with ports a cable can plug into. */
export interface Cabled {
  readonly name: string;
  /** From now on, frames out of `port` go to `far`. */
  plug(port: number, far: PortRef): void;
}

/** Plug port `aPort` of `a` and port `bPort` of `b` into the two ends of one cable. */
export function cable(a: Cabled, aPort: number, b: Cabled, bPort: number): void {
  a.plug(aPort, { actor: b.name, port: bPort });
  b.plug(bPort, { actor: a.name, port: aPort });
}

/** Bytes of the Ethernet frame carrying `len` TCP payload bytes (headers, padded to the minimum frame). */
export function frameBytes(len: number): number { return Math.max(MIN_FRAME, len + HDR_LEN); }

/** Time a frame of `len` payload bytes holds a line of `mbps` (frame plus preamble, FCS and inter-frame gap). */
export function serializePs(len: number, mbps: number): Ps {
  return Math.round(((frameBytes(len) + WIRE_OVERHEAD) * 8 * PS_PER_US) / mbps);
}

/**
 * `from` puts `pkt` on the cable to `to`: its first bit goes out at `start` (what a capture sees) and
 * the far end receives it `delay` ps from now. `detail` names the frame in traces (and the trace hash).
 */
export function putOnWire(sys: ActorSystem, from: string, to: PortRef, pkt: Packet, detail: string, start: Ps, delay: Ps): void {
  // The two actors found once, for the tap and the message alike (what send() would look up).
  const dst = sys.entry(to.actor), src = sys.entry(from);
  sys.wireTap(start, src, dst, pkt);
  const msg: WireRx = { type: 'WIRE_RX', pkt, port: to.port, detail };
  sys.sendRef(src, dst, msg, delay);
}

/** A 48-bit Ethernet address, as a number (`macString` spells it). */
export type Mac = number;
export function macString(m: Mac): string {
  return Array.from({ length: 6 }, (_, i) => Math.floor(m / 2 ** (8 * (5 - i))) % 256)
    .map((b) => b.toString(16).padStart(2, '0')).join(':');
}

/**
 * The Ethernet addresses of frames. The model's packets carry a flow and which of its two ends
 * wrote the header (`reply`), not the addresses, so whoever builds the world says, per flow, the
 * MACs of its two ends; a frame's source is the end that sent it and its destination the other,
 * whatever it carries (a stream's data or ACKs, a request or a response). A frame of a flow nobody
 * registered has no known addresses.
 */
export class FlowMacs {
  private readonly ends = new Map<number, { from: Mac; to: Mac }>();
  /** Flow `flow` joins `from` (netperf's end) and `to` (netserver's end). */
  set(flow: number, from: Mac, to: Mac): this { this.ends.set(flow, { from, to }); return this; }
  src(p: Packet): Mac | undefined { const e = this.ends.get(p.flow); return e && (p.reply ? e.to : e.from); }
  dst(p: Packet): Mac | undefined { const e = this.ends.get(p.flow); return e && (p.reply ? e.from : e.to); }
}
