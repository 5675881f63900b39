/**
 * pcapng block encoding (draft-ietf-opsawg-pcapng): a Section Header Block,
 * one Interface Description Block per captured link, and Enhanced Packet
 * Blocks naming their interface. Little-endian, as written on x86.
 */

const SHB = 0x0a0d0d0a, IDB = 1, EPB = 6;
const OPT_COMMENT = 1, SHB_USERAPPL = 4, IF_NAME = 2, IF_DESCRIPTION = 3, IF_TSRESOL = 9;
export const LINKTYPE_ETHERNET = 1;

export interface Interface {
  name: string;
  description: string;
  snaplen: number;
  /** Timestamp unit: 10^-tsresolExp s (9: nanoseconds, 6: microseconds). */
  tsresolExp: number;
}
export interface PacketRecord {
  iface: number;
  /** Timestamp in the interface's units since 1970-01-01T00:00:00Z. */
  ts: bigint;
  /** Captured bytes (already cut at the snap length) and the frame's length on the wire. */
  data: Uint8Array;
  origLen: number;
}

const enc = new TextEncoder();
const pad4 = (n: number) => (n + 3) & ~3;

function option(code: number, value: Uint8Array): Uint8Array {
  const b = new Uint8Array(4 + pad4(value.length));
  const dv = new DataView(b.buffer);
  dv.setUint16(0, code, true); dv.setUint16(2, value.length, true);
  b.set(value, 4);
  return b;
}
const textOption = (code: number, s: string) => option(code, enc.encode(s));

/** A block: type, total length, body, options (ended by opt_endofopt), total length again. */
function block(type: number, body: Uint8Array, options: Uint8Array[]): Uint8Array {
  const opts = options.length ? [...options, new Uint8Array(4) /* opt_endofopt */] : [];
  const optLen = opts.reduce((n, o) => n + o.length, 0);
  const len = 12 + pad4(body.length) + optLen;
  const b = new Uint8Array(len);
  const dv = new DataView(b.buffer);
  dv.setUint32(0, type, true); dv.setUint32(4, len, true);
  b.set(body, 8);
  let o = 8 + pad4(body.length);
  for (const x of opts) { b.set(x, o); o += x.length; }
  dv.setUint32(len - 4, len, true);
  return b;
}

/** The section header and one interface description per link: what a capture starts with. */
export function pcapngHead(ifaces: readonly Interface[], comment?: string): Uint8Array {
  const chunks: Uint8Array[] = [];
  const shb = new Uint8Array(16);
  const s = new DataView(shb.buffer);
  s.setUint32(0, 0x1a2b3c4d, true); // byte-order magic
  s.setUint16(4, 1, true); s.setUint16(6, 0, true); // version 1.0
  s.setBigInt64(8, -1n, true); // section length not given
  chunks.push(block(SHB, shb, [textOption(SHB_USERAPPL, 'xennet'), ...(comment ? [textOption(OPT_COMMENT, comment)] : [])]));
  for (const i of ifaces) {
    const body = new Uint8Array(8);
    const d = new DataView(body.buffer);
    d.setUint16(0, LINKTYPE_ETHERNET, true);
    d.setUint32(4, i.snaplen, true);
    chunks.push(block(IDB, body, [textOption(IF_NAME, i.name), textOption(IF_DESCRIPTION, i.description), option(IF_TSRESOL, Uint8Array.of(i.tsresolExp))]));
  }
  return concat(chunks);
}

/** One packet's Enhanced Packet Block. */
export function packetBlock(p: PacketRecord): Uint8Array {
  const body = new Uint8Array(20 + p.data.length);
  const d = new DataView(body.buffer);
  d.setUint32(0, p.iface, true);
  d.setUint32(4, Number(p.ts >> 32n), true);
  d.setUint32(8, Number(p.ts & 0xffffffffn), true);
  d.setUint32(12, p.data.length, true);
  d.setUint32(16, p.origLen, true);
  body.set(p.data, 20);
  return block(EPB, body, []);
}

function concat(chunks: readonly Uint8Array[]): Uint8Array {
  const out = new Uint8Array(chunks.reduce((n, c) => n + c.length, 0));
  let o = 0;
  for (const c of chunks) { out.set(c, o); o += c.length; }
  return out;
}

/** A complete pcapng file of one section. */
export function toPcapng(ifaces: readonly Interface[], packets: Iterable<PacketRecord>, comment?: string): Uint8Array {
  const chunks: Uint8Array[] = [pcapngHead(ifaces, comment)];
  for (const p of packets) chunks.push(packetBlock(p));
  return concat(chunks);
}
