/** A network packet as the model sees it: TCP/IPv4 over Ethernet. */
export const ETH_HLEN = 14;
export const IP_TCP_HLEN = 52; // 20 IPv4 + 32 TCP with timestamps (Linux default)
export const HDR_LEN = ETH_HLEN + IP_TCP_HLEN;
export const WIRE_OVERHEAD = 24; // preamble 8 + FCS 4 + inter-frame gap 12
export const MIN_FRAME = 60;

export interface Packet {
  id: number;
  flow: number;          // connection index (one netperf stream per flow)
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
  release: ((x: import('./kernel.js').Exec) => void) | undefined;
  /** Where the payload bytes are (src/hardware/payload.ts): undefined = in `frames`, after the header. */
  data: import('../hardware/payload.js').PacketData | undefined;
}
// Every packet is written with all of its fields in the order above (copies field by field, no
// spreads): the per-packet paths then see one object shape.

export const frameBytes = (p: Packet) => Math.max(MIN_FRAME, p.len + HDR_LEN);
/** Wire frames a (super-)segment becomes, and their total bytes on the wire. */
export function wireSegments(p: Packet): number { return p.len <= p.mss ? 1 : Math.ceil(p.len / p.mss); }
export function pagesFor(len: number): number { return Math.max(1, Math.ceil((len + HDR_LEN) / 4096)); }

let nextId = 1;
export function resetPacketIds(): void { nextId = 1; }
export function newPacketId(): number { return nextId++; }
