/**
 * Where a packet's payload bytes are, and reading them (the content tags of src/model/integrity.ts).
 * A packet's `data` is one of:
 *   - undefined: in its own `frames`, right after the header (an skb its stack or NIC filled);
 *   - a Gather: a view of pages, as netback builds from a guest's slots ((offset, size) per slot,
 *     after an optional header copy) and skb_gso_segment cuts from a super-segment (a skip);
 *   - a Run: the bytes themselves (a frame on the wire).
 * Whoever reads the bytes (the NIC's DMA, a TCP receiver) reads them from memory when it does, so a
 * page rewritten after it was posted sends what it holds at that time.
 */
import { GARBLED, type Run } from '../model/integrity.js';
import type { MachineMemory } from './memory.js';
import { HDR_LEN, PAGE_SIZE, type Gather, type Packet, type PacketData } from '../core/packet.js';

const isGather = (d: PacketData): d is Gather => (d as Gather).pages !== undefined;

/** A stream run as the stack writes a segment into its skb pages: the header first, the payload after it. */
export function writePayload(mem: MachineMemory, frames: number[], flow: number, off: number, len: number): void {
  let done = 0;
  for (let i = 0; i < frames.length && done < len; i++) {
    const at = i === 0 ? HDR_LEN : 0;
    const n = Math.min(len - done, PAGE_SIZE - at);
    mem.write(frames[i], at, flow, off + done, n, 0);
    done += n;
  }
}

/** DMA of a wire frame into a receive buffer: its payload lands after the header. */
export function dmaToBuffer(mem: MachineMemory, frame: number, p: Packet): void {
  const d = p.data;
  if (d !== undefined && !isGather(d) && d.len > 0) mem.write(frame, HDR_LEN, d.flow, d.off, d.len, d.gen);
}

/** The view of a packet's payload from byte `from` on (a segment cut out of it). */
export function payloadFrom(p: Packet, from: number): PacketData {
  const d = p.data;
  if (d === undefined) return { pages: p.frames, offsets: null, sizes: null, head: null, skip: from };
  if (isGather(d)) return { pages: d.pages, offsets: d.offsets, sizes: d.sizes, head: d.head, skip: d.skip + from };
  return { flow: d.flow, off: d.off + from, len: Math.max(0, d.len - from), gen: d.gen };
}

/** Pieces read so far, joined: one run while they continue each other, GARBLED once they do not. */
interface Acc { flow: number; off: number; len: number; gen: number }
function add(acc: Acc, flow: number, off: number, n: number, gen: number): void {
  if (acc.len === 0) { acc.flow = flow; acc.off = off; acc.len = n; acc.gen = gen; return; }
  if (acc.gen === GARBLED || gen !== acc.gen || flow !== acc.flow || off !== acc.off + acc.len) acc.gen = GARBLED;
  acc.len += n;
}
/** Bytes [fo, fo + n) of one frame. */
function fromFrame(mem: MachineMemory, acc: Acc, frame: number, fo: number, n: number): void {
  const r = mem.payload.get(frame);
  if (r !== undefined && r.at <= fo && fo + n <= r.at + r.len) add(acc, r.flow, r.off + (fo - r.at), n, r.gen);
  else add(acc, r?.flow ?? -1, r?.off ?? -1, n, GARBLED);
}
/** Packet bytes [pb, pb + n) laid out over pages. */
function fromPages(mem: MachineMemory, acc: Acc, g: { pages: number[]; offsets: number[] | null; sizes: number[] | null }, pb: number, n: number): void {
  let base = 0;
  for (let k = 0; k < g.pages.length && n > 0; k++) {
    const size = g.sizes === null ? PAGE_SIZE : g.sizes[k];
    if (pb < base + size) {
      const m = Math.min(n, base + size - pb);
      fromFrame(mem, acc, g.pages[k], (g.offsets === null ? 0 : g.offsets[k]) + (pb - base), m);
      pb += m;
      n -= m;
    }
    base += size;
  }
  if (n > 0) add(acc, -1, -1, n, GARBLED); // past the last page: bytes nobody put there
}

/** What payload bytes [from, from + len) of a frame on the wire are (the frame carries them). */
export function wirePayload(p: Packet, from: number, len: number): Run {
  const d = p.data;
  if (d === undefined || isGather(d)) return { flow: -1, off: -1, len, gen: GARBLED };
  return { flow: d.flow, off: d.off + from, len, gen: from + len <= d.len ? d.gen : GARBLED };
}

/** What payload bytes [from, from + len) of a packet are, read now. */
export function readPayload(mem: MachineMemory, p: Packet, from: number, len: number): Run {
  const acc: Acc = { flow: -1, off: -1, len: 0, gen: GARBLED };
  if (len <= 0) return acc;
  const d = p.data;
  if (d === undefined) { fromPages(mem, acc, { pages: p.frames, offsets: null, sizes: null }, HDR_LEN + from, len); return acc; }
  if (!isGather(d)) return wirePayload(p, from, len);
  from += d.skip;
  const h = d.head;
  if (h !== null && from < h.len) {
    const n = Math.min(len, h.len - from);
    add(acc, h.flow, h.off + from, n, h.gen);
    from += n;
    len -= n;
  }
  if (len > 0) fromPages(mem, acc, d, HDR_LEN + from, len);
  return acc;
}
