/**
 * A network packet as the model sees it: TCP/IPv4 over Ethernet. Every layer
 * passes packets (NIC DMA, the hypervisor's grant copies, the stacks), so the
 * type lives at the bottom, with the page size and where a payload's bytes are.
 */
import type { Run } from '../model/integrity.js';
import type { Exec } from './exec.js';

/** Machine pages (frames) are 4 KiB: memory, grants, ring pages and receive buffers alike. */
export const PAGE_SIZE = 4096;
export const ETH_HLEN = 14;
export const IP_TCP_HLEN = 52; // 20 IPv4 + 32 TCP with timestamps (Linux default)
export const HDR_LEN = ETH_HLEN + IP_TCP_HLEN;
export const WIRE_OVERHEAD = 24; // preamble 8 + FCS 4 + inter-frame gap 12
export const MIN_FRAME = 60;

export interface Packet {
  id: number;
  flow: number;          // connection index (one netperf stream per flow)
  /**
   * With `flow`, the frame's Ethernet and IP header: which end of the flow wrote it. false: its
   * `from` end (netperf: a stream's sender, the end sending requests); true: its `to` end
   * (netserver: a stream's receiver, the end answering). Data and ACKs go both ways in TCP_RR.
   */
  reply: boolean;
  kind: 'data' | 'ack';
  seq: number;           // first payload byte (data) or unused (ack)
  len: number;           // TCP payload bytes (may exceed MSS for TSO/GSO super-segments)
  ack: number;           // cumulative ack carried
  wnd: number;           // advertised receive window
  mss: number;           // segment size to cut a super-segment into
  /** 'partial': checksum left for offload; 'done': computed; 'verified': receiver validated. */
  csum: 'partial' | 'done' | 'verified';
  /** machine frames holding the payload, and their owner domain (for grants / flips / TLB). */
  frames: number[];
  owner: number;
  /** Payload was written by DMA and no CPU has read it yet: the first pass over it misses the cache. */
  cold: boolean | undefined;
  /** Whoever lent the buffer gets it back here once the packet is done with (driver tx clean, stack consume). */
  release: ((x: Exec) => void) | undefined;
  /** Where the payload bytes are (src/hardware/payload.ts): undefined = in `frames`, after the header. */
  data: PacketData | undefined;
}
// Every packet is written with all of its fields in the order above (copies field by field, no
// spreads): the per-packet paths then see one object shape.
/** A view of pages holding a packet's bytes (src/hardware/payload.ts reads it). */
export interface Gather {
  /** The pages holding the packet's bytes from its first (header) byte, with the range [offsets[k], offsets[k] + sizes[k]) of each; null: whole pages. */
  pages: number[];
  offsets: number[] | null;
  sizes: number[] | null;
  /** The first payload bytes, copied out of the pages before (netback's header copy), or null. */
  head: Run | null;
  /** Payload bytes of the pages' packet that come before this packet's first (a segment of a super-segment). */
  skip: number;
}
export type PacketData = Run | Gather;

/** Pages an skb of `len` payload bytes (and its header) takes. */
export function pagesFor(len: number): number { return Math.max(1, Math.ceil((len + HDR_LEN) / PAGE_SIZE)); }

let nextId = 1;
export function resetPacketIds(): void { nextId = 1; }
export function newPacketId(): number { return nextId++; }
