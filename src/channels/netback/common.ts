/**
 * Types and helpers every part of netback shares (Linux: common.h): transmit and receive modes,
 * the in-flight TX packet, timers and timeouts, and reading guest-written slots at their C widths.
 */
import type { Packet } from '../../core/packet.js';
import { isExtra, type CtrlRequest, type RxRequest, type TxExtra, type TxRequest, type TxSlot } from '../netif.js';

export type TxMode = 'map' | 'noremap';
/** How a copying receiver is served: the driver domain maps the guest's buffer and copies (ATC 2006), or Xen copies (GNTTABOP_copy, Xen >= 3.0.4). */
export type RxCopyVia = 'map' | 'gnttab';

export interface PendingTx {
  /** Data slots consumed (the first, then the following ones): each gets exactly one response. */
  slots: TxRequest[];
  /** Extra-info slots after the first: each gets a NETIF_RSP_NULL response. */
  extras: number;
  /** Slots whose pages are mapped: the first and every non-empty following one (XSA-448: no zero-size frags). */
  map: TxRequest[];
  /** Index in `slots` of each entry of `map`. */
  mapSlot: number[];
  /** Bytes of the packet held by the first slot (its size minus the following slots'). */
  own: number;
  gso: TxExtra | null;
  handles: number[];
  /** Pending-ring index of each of `slots` (its mapping's address: PendingPool.vaddr). */
  pending: number[];
}

export const COPY_LEN = 128; // XEN_NETBACK_TX_COPY_LEN

/** Reading a slot as the C structs do: every field at its width (a tx request is u32 gref, u16 offset/flags/id/size). */
export function asRequest(s: TxSlot): TxRequest {
  if (isExtra(s)) {
    // An extra-info slot where a request was expected: the same 12 bytes read as netif_tx_request.
    return { gref: ((s.type & 0xff) | ((s.flags & 0xff) << 8) | ((s.gsoSize & 0xffff) << 16)) >>> 0, offset: s.gsoType & 0xff, flags: 0, id: 0, size: 0 };
  }
  return { gref: s.gref >>> 0, offset: s.offset & 0xffff, flags: s.flags & 0xffff, id: s.id & 0xffff, size: s.size & 0xffff };
}
export function asExtra(s: TxSlot): TxExtra {
  if (!isExtra(s)) {
    // A request slot where an extra was expected: netif_extra_info {u8 type, u8 flags, u16 gso.size, u8 gso.type...}.
    const g = s.gref >>> 0;
    return { extra: true, type: g & 0xff, flags: (g >>> 8) & 0xff, gsoSize: (g >>> 16) & 0xffff, gsoType: s.offset & 0xff };
  }
  return { extra: true, type: s.type & 0xff, flags: s.flags & 0xff, gsoSize: s.gsoSize & 0xffff, gsoType: s.gsoType & 0xff, addr: s.addr, hashType: s.hashType };
}
// What a slot the guest never wrote reads as. Every reader masks a field to its C width (x & 0xff,
// x >>> 0), which reads a missing field as 0 too: a blank without fields is an equivalent mutant.
// Stryker disable next-line ObjectLiteral: equivalent (masked reads, see above)
export const ZERO_TX: () => TxSlot = () => ({ gref: 0, offset: 0, flags: 0, id: 0, size: 0 });
// Stryker disable next-line ObjectLiteral: equivalent (masked reads, see above)
export const ZERO_RX: () => RxRequest = () => ({ id: 0, gref: 0 });
// Stryker disable next-line ObjectLiteral,ArrayDeclaration: equivalent (masked reads; a missing data word reads as 0)
export const ZERO_CTRL: () => CtrlRequest = () => ({ id: 0, type: 0, data: [0, 0, 0] });
export const MAC_RE = /^[0-9a-f]{2}(:[0-9a-f]{2}){5}$/i;

/** What the bytes of a packet are (the rest of a Packet is the driver domain's own bookkeeping, never written to a guest: I10). */
export function packetBytes(p: Packet): Packet {
  return { id: p.id, flow: p.flow, reply: p.reply, kind: p.kind, seq: p.seq, len: p.len, ack: p.ack, wnd: p.wnd, mss: p.mss, csum: p.csum, frames: [], owner: -1, cold: undefined, release: undefined, data: undefined };
}

/** Timers of the driver domain (virtual time in ps). */
export interface NetbackClock { now(): number; after(delayPs: number, fn: () => void): void }
export interface NetbackOptions {
  /** Packets queued for the guest longer than this are dropped (Linux rx drain timeout, 10 s). */
  rxDrainUs: number;
  /** A queue that could not deliver for this long drops its carrier (Linux stall timeout, 60 s). */
  rxStallUs: number;
  /** Without feature-rx-notify the backend re-checks the RX ring this often while packets wait. */
  rxPollUs: number;
  /** Late-EOI delay unit for spurious events (a jiffy). */
  lateEoiTickUs: number;
  /** Which validations of 2.10 this backend performs (a backend without one models an unhardened netback). */
  validate: NetbackValidation;
}
/**
 * The TX validations of 2.10, each of which a backend may lack: `producer` (req_prod more than a ring
 * ahead; Linux netback has it since XSA-39, 2013), `slotLimits` (the 18/20 following-slot limits of
 * xenvif_count_requests, 2013), `pageBounds` (a slot crossing its page; fatal since XSA-39),
 * `extras` (extra-info types and GSO fields; fatal since XSA-39).
 */
export interface NetbackValidation { readonly producer: boolean; readonly slotLimits: boolean; readonly pageBounds: boolean; readonly extras: boolean }
export const NETBACK_DEFAULTS: NetbackOptions = {
  rxDrainUs: 10_000_000, rxStallUs: 60_000_000, rxPollUs: 30_000, lateEoiTickUs: 1_000,
  validate: { producer: true, slotLimits: true, pageBounds: true, extras: true },
};
