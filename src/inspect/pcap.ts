/**
 * The frames a run put on the wires, as a pcap file (nanosecond timestamps,
 * LINKTYPE_ETHERNET). The model's frames are TCP/IPv4 over Ethernet with the
 * timestamp option (66 header bytes, packet.ts), so real headers are
 * synthesized: per-flow MAC and IP addresses and ports, correct IPv4 and TCP
 * checksums, zero payload bytes. Captures are cut at the snap length; the
 * original length is kept, as tcpdump -s does.
 */
import type { Ps } from '../actors/scheduler.js';
import { ETH_HLEN, MIN_FRAME } from '../domains/packet.js';
import type { WireFrame } from './recorder.js';

export const PCAP_SNAPLEN = 128;
const IP_HLEN = 20;
const TCP_HLEN = 32;

export interface Endpoints {
  /** Is this actor the server side (our NIC) rather than an external client? */
  isServer(actor: string): boolean;
  /** NIC index a flow leaves through, and the server domain id owning it (for its MAC/IP). */
  nicOf(flow: number): number;
  domidOf(flow: number): number;
  /** Guest traffic leaves with the vif's Xen MAC (00:16:3e:...), native/driver with the NIC's own. */
  bridged: boolean;
}

function serverMac(e: Endpoints, flow: number): number[] {
  return e.bridged ? [0x00, 0x16, 0x3e, 0x00, e.domidOf(flow) & 0xff, flow & 0xff] : [0x02, 0x00, 0x00, 0x00, 0x00, e.nicOf(flow) + 1];
}
const clientMac = (e: Endpoints, flow: number) => [0x02, 0x00, 0x00, 0x00, 0x01, e.nicOf(flow) + 1];
const serverIp = (e: Endpoints, flow: number) => [10, 0, e.nicOf(flow), e.bridged ? 10 + e.domidOf(flow) : 1];
const clientIp = (e: Endpoints, flow: number) => [10, 0, e.nicOf(flow), 2];
const serverPort = (flow: number) => 40000 + flow;
const clientPort = (flow: number) => 12866 + flow; // netperf's data connection, one per stream

/** One's-complement sum of 16-bit words (network order). */
function sum16(buf: Uint8Array, start: number, end: number, acc = 0): number {
  for (let i = start; i + 1 < end; i += 2) acc += (buf[i] << 8) | buf[i + 1];
  if ((end - start) & 1) acc += buf[end - 1] << 8;
  return acc;
}
const fold = (acc: number) => { while (acc > 0xffff) acc = (acc & 0xffff) + (acc >>> 16); return acc; };

/** The full frame's header bytes (payload is zeros and not materialized). */
export function frameHeader(f: WireFrame, e: Endpoints, ipId: number): { header: Uint8Array; frameLen: number } {
  const fromServer = e.isServer(f.from);
  const tcpLen = TCP_HLEN + f.len;
  const ipLen = IP_HLEN + tcpLen;
  const frameLen = Math.max(MIN_FRAME, ETH_HLEN + ipLen);
  const h = new Uint8Array(ETH_HLEN + IP_HLEN + TCP_HLEN);
  const dv = new DataView(h.buffer);
  const [smac, dmac] = fromServer ? [serverMac(e, f.flow), clientMac(e, f.flow)] : [clientMac(e, f.flow), serverMac(e, f.flow)];
  const [sip, dip] = fromServer ? [serverIp(e, f.flow), clientIp(e, f.flow)] : [clientIp(e, f.flow), serverIp(e, f.flow)];
  const [sport, dport] = fromServer ? [serverPort(f.flow), clientPort(f.flow)] : [clientPort(f.flow), serverPort(f.flow)];
  h.set(dmac, 0); h.set(smac, 6); dv.setUint16(12, 0x0800);
  // IPv4
  const ip = ETH_HLEN;
  h[ip] = 0x45; h[ip + 1] = 0;
  dv.setUint16(ip + 2, ipLen);
  dv.setUint16(ip + 4, ipId & 0xffff);
  dv.setUint16(ip + 6, 0x4000); // DF
  h[ip + 8] = 64; h[ip + 9] = 6;
  h.set(sip, ip + 12); h.set(dip, ip + 16);
  dv.setUint16(ip + 10, ~fold(sum16(h, ip, ip + IP_HLEN)) & 0xffff);
  // TCP with NOP NOP TS options
  const tcp = ip + IP_HLEN;
  dv.setUint16(tcp, sport); dv.setUint16(tcp + 2, dport);
  const data = f.kind === 'data';
  dv.setUint32(tcp + 4, (data ? f.seq : 0) >>> 0);
  dv.setUint32(tcp + 8, (data ? 1 : f.ack) >>> 0);
  h[tcp + 12] = (TCP_HLEN / 4) << 4;
  h[tcp + 13] = data ? 0x18 : 0x10; // PSH|ACK : ACK
  dv.setUint16(tcp + 14, Math.min(0xffff, f.wnd >>> 7)); // window scale 7, as Linux negotiates for 128 KiB buffers
  h[tcp + 20] = 1; h[tcp + 21] = 1; h[tcp + 22] = 8; h[tcp + 23] = 10;
  const tsval = Math.floor(f.t / 1e9) >>> 0; // 1 ms TCP timestamp clock
  dv.setUint32(tcp + 24, tsval);
  dv.setUint32(tcp + 28, tsval > 0 ? tsval - 1 : 0);
  // TCP checksum over the pseudo-header, header and (zero) payload.
  let acc = sum16(h, ip + 12, ip + 20) + 6 + tcpLen;
  acc = sum16(h, tcp, tcp + TCP_HLEN, acc);
  dv.setUint16(tcp + 16, ~fold(acc) & 0xffff);
  return { header: h, frameLen };
}

/** Frames that started on a wire by `until`, in wire order (time, then the order they were put there). */
export function framesUntil(frames: readonly WireFrame[], until: Ps): WireFrame[] {
  return frames.map((f, i) => ({ f, i })).filter(({ f }) => f.t <= until)
    .sort((a, z) => a.f.t - z.f.t || a.i - z.i).map(({ f }) => f);
}

/** A complete pcap file. */
export function toPcap(frames: readonly WireFrame[], e: Endpoints, snaplen = PCAP_SNAPLEN): Uint8Array {
  const chunks: Uint8Array[] = [];
  const gh = new Uint8Array(24);
  const g = new DataView(gh.buffer);
  g.setUint32(0, 0xa1b23c4d, true); // nanosecond-resolution pcap
  g.setUint16(4, 2, true); g.setUint16(6, 4, true);
  g.setInt32(8, 0, true); g.setUint32(12, 0, true);
  g.setUint32(16, snaplen, true);
  g.setUint32(20, 1, true); // LINKTYPE_ETHERNET
  chunks.push(gh);
  const ipIds = new Map<string, number>();
  for (const f of frames) {
    const dir = `${f.from}>${f.to}`;
    const id = (ipIds.get(dir) ?? 0) + 1;
    ipIds.set(dir, id);
    const { header, frameLen } = frameHeader(f, e, id);
    const capLen = Math.min(snaplen, frameLen);
    const rec = new Uint8Array(16 + capLen);
    const r = new DataView(rec.buffer);
    const ns = Math.round(f.t / 1000);
    r.setUint32(0, Math.floor(ns / 1e9), true);
    r.setUint32(4, ns % 1e9, true);
    r.setUint32(8, capLen, true);
    r.setUint32(12, frameLen, true);
    rec.set(header.subarray(0, Math.min(header.length, capLen)), 16);
    chunks.push(rec);
  }
  const total = chunks.reduce((n, c) => n + c.length, 0);
  const out = new Uint8Array(total);
  let o = 0;
  for (const c of chunks) { out.set(c, o); o += c.length; }
  return out;
}
