/**
 * The frames a run put on the wires, as a pcapng capture (pcapng.ts): one
 * interface per physical link (`nic0-wire`, ...; with switches, one per
 * switch port and per other cable, see capturedLinks), nanosecond timestamps
 * counted from CAPTURE_EPOCH_S plus virtual time.
 *
 * The model's frames are TCP/IPv4 over Ethernet with the timestamp option
 * (66 header bytes, packet.ts), so real headers are synthesized: per-flow MAC
 * and IP addresses and ports, correct IPv4 and TCP checksums, zero payload
 * bytes, cut at the snap length (the original length is kept, as tcpdump -s
 * does). The model's connections exist from time 0 without a handshake; a
 * capture shows one (SYN, SYN-ACK, ACK with MSS and window-scale options)
 * just before each flow's first frame, so Wireshark knows the scale and
 * computes real windows, and sequence numbers follow from it: the SYN uses
 * ISN, data byte n of the model's stream is ISN+1+n, and an ACK of the
 * model's byte count k acknowledges ISN+1+k, in both directions.
 */
import type { Ps } from '../actors/scheduler.js';
import { ETH_HLEN, MIN_FRAME } from '../core/packet.js';
import type { WireFrame } from './recorder.js';
import { packetBlock, pcapngHead, toPcapng, type Interface, type PacketRecord } from './pcapng.js';
import { ExternalSorter } from './external-sort.js';
import { ChunkWriter } from './files.js';
import type { PortRef } from '../hardware/link.js';

export const PCAP_SNAPLEN = 128;
/** Virtual time 0 in a capture: 2006-05-30T00:00:00Z, the first day of USENIX ATC 2006 (seconds since 1970). */
export const CAPTURE_EPOCH_S = 1_148_947_200;
/** The synthesized handshake's three frames are this far apart, the last this far before the flow's first frame. */
export const HANDSHAKE_GAP_PS = 1_000_000; // 1 µs
/** Window scale both sides announce (Linux's for 128 KiB and larger buffers). */
export const WSCALE = 7;
/** The timestamp option's clock: 1 ms ticks, starting here at virtual time 0 (never negative in the handshake). */
const TS_BASE = 1000;
const IP_HLEN = 20;
const TCP_HLEN = 32; // 20 + NOP NOP TS
const SYN_HLEN = 40; // 20 + MSS, NOP, WS, NOP NOP TS
const SYN = 0x02, PSH = 0x08, ACK = 0x10;

export interface Endpoints {
  /** Whether frames of this flow go in the capture (absent: all); a world's own flows are TCP the capture can describe, a migration's stream and gratuitous ARP are left out. */
  captured?(flow: number): boolean;
  /** Is this actor the server side (our NIC) rather than an external client? */
  isServer(actor: string): boolean;
  /** NIC index a flow leaves through, and the server domain id owning it (for its MAC/IP). */
  nicOf(flow: number): number;
  domidOf(flow: number): number;
  /** Guest traffic leaves with the vif's Xen MAC (00:16:3e:...), native/driver with the NIC's own. */
  bridged: boolean;
  /** The NIC actors, in order: one captured link each. */
  nics: readonly string[];
  /** The server's side sends the data (transmit scenarios), or the clients do (receive). */
  serverSends: boolean;
  /** TCP payload bytes per full segment (the timestamp option already taken off, as the model counts). */
  mss: number;
  /** The captured cables, when they are not one per NIC to its client (capturedLinks: switch ports, NIC to NIC). */
  links?: readonly CapturedLink[];
  /** Whether a frame comes from the server's end of its flow, when the actor that put it on this cable does not say (a switch). */
  fromServer?: (f: WireFrame) => boolean;
  /** Each end's own MAC and IPv4 address (a world: ends on several hosts), instead of the one host's scheme. */
  addresses?: (flow: number) => { server: EndAddress; client: EndAddress };
}

/** A flow end's Ethernet and IPv4 address, as bytes. */
export interface EndAddress { mac: readonly number[]; ip: readonly number[] }

/** One captured cable: its interface's name and description, and the actors at its two ends. */
export interface CapturedLink { name: string; description: string; ends: readonly [string, string] }

/** Something cabled by one port (a NIC, a client) or several (a switch: `ports[k].link`). */
export interface CableEnd { name: string; link?: PortRef; ports?: ReadonlyArray<{ link: PortRef }> }

/**
 * The cables between these devices, each once: one per cabled switch port (`sw0-p3`), and one per
 * other cable (`eth0-wire`, named after its first end listed).
 */
export function capturedLinks(devices: readonly CableEnd[]): CapturedLink[] {
  const out: CapturedLink[] = [];
  const seen = new Set<string>();
  const add = (name: string, description: string, a: string, b: string) => {
    const key = a < b ? `${a}|${b}` : `${b}|${a}`;
    if (seen.has(key)) return;
    seen.add(key);
    out.push({ name, description, ends: [a, b] });
  };
  const switches = devices.filter((d) => d.ports);
  for (const sw of switches) {
    sw.ports!.forEach((p, k) => { if (p.link.actor) add(`${sw.name}-p${k}`, `${sw.name} port ${k} <-> ${p.link.actor}`, sw.name, p.link.actor); });
  }
  for (const d of devices) if (d.link?.actor) add(`${d.name}-wire`, `${d.name} <-> ${d.link.actor}`, d.name, d.link.actor);
  return out;
}

/** The capture's interface a frame from `from` to `to` went over. */
const linkIndexes = new WeakMap<Endpoints, Map<string, number>>();
function linkOf(e: Endpoints, from: string, to: string, fromServer: boolean): number {
  if (!e.links) return e.nics.indexOf(fromServer ? from : to);
  let m = linkIndexes.get(e);
  if (!m) {
    m = new Map();
    for (const [i, l] of e.links.entries()) { m.set(`${l.ends[0]}|${l.ends[1]}`, i); m.set(`${l.ends[1]}|${l.ends[0]}`, i); }
    linkIndexes.set(e, m);
  }
  return m.get(`${from}|${to}`) ?? -1;
}

function serverMac(e: Endpoints, flow: number): number[] {
  return e.bridged ? [0x00, 0x16, 0x3e, 0x00, e.domidOf(flow) & 0xff, flow & 0xff] : [0x02, 0x00, 0x00, 0x00, 0x00, e.nicOf(flow) + 1];
}
const clientMac = (e: Endpoints, flow: number) => [0x02, 0x00, 0x00, 0x00, 0x01, e.nicOf(flow) + 1];
const serverIp = (e: Endpoints, flow: number) => [10, 0, e.nicOf(flow), e.bridged ? 10 + e.domidOf(flow) : 1];
const clientIp = (e: Endpoints, flow: number) => [10, 0, e.nicOf(flow), 2];
const serverPort = (flow: number) => 40000 + flow;
const clientPort = (flow: number) => 12866 + flow; // netperf's data connection, one per stream

/** Initial sequence numbers: fixed per flow and side, so captures are reproducible. */
export const isnOf = (flow: number, sender: boolean) => (Math.imul(flow + 1, 0x9e3779b1) ^ (sender ? 0x5eed0000 : 0x0ac00000)) >>> 0;

/** One TCP segment as it goes on the wire. */
export interface Segment {
  t: Ps;
  /** The link (NIC index, the capture's interface id) it went over. */
  link: number;
  flow: number;
  fromServer: boolean;
  flags: number;
  seq: number;
  ack: number;
  /** The window field (already scaled down, except in SYNs). */
  win: number;
  len: number;
  /** Set on SYN and SYN-ACK: announce MSS and window scale. */
  syn?: { mss: number; wscale: number };
  tsval: number;
  tsecr: number;
}

/** One's-complement sum of 16-bit words (network order). */
function sum16(buf: Uint8Array, start: number, end: number, acc = 0): number {
  for (let i = start; i + 1 < end; i += 2) acc += (buf[i] << 8) | buf[i + 1];
  if ((end - start) & 1) acc += buf[end - 1] << 8;
  return acc;
}
const fold = (acc: number) => { while (acc > 0xffff) acc = (acc & 0xffff) + (acc >>> 16); return acc; };

/** The full frame's header bytes (payload is zeros and not materialized). */
export function segmentHeader(s: Segment, e: Endpoints, ipId: number): { header: Uint8Array; frameLen: number } {
  const hlen = s.syn ? SYN_HLEN : TCP_HLEN;
  const tcpLen = hlen + s.len;
  const ipLen = IP_HLEN + tcpLen;
  const frameLen = Math.max(MIN_FRAME, ETH_HLEN + ipLen);
  const h = new Uint8Array(ETH_HLEN + IP_HLEN + hlen);
  const dv = new DataView(h.buffer);
  const f = s.flow;
  const a = e.addresses?.(f);
  const server = a ? a.server : { mac: serverMac(e, f), ip: serverIp(e, f) }, client = a ? a.client : { mac: clientMac(e, f), ip: clientIp(e, f) };
  const [src, dst] = s.fromServer ? [server, client] : [client, server];
  const [smac, dmac, sip, dip] = [src.mac, dst.mac, src.ip, dst.ip];
  const [sport, dport] = s.fromServer ? [serverPort(f), clientPort(f)] : [clientPort(f), serverPort(f)];
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
  // TCP
  const tcp = ip + IP_HLEN;
  dv.setUint16(tcp, sport); dv.setUint16(tcp + 2, dport);
  dv.setUint32(tcp + 4, s.seq >>> 0);
  dv.setUint32(tcp + 8, s.flags & ACK ? s.ack >>> 0 : 0);
  h[tcp + 12] = (hlen / 4) << 4;
  h[tcp + 13] = s.flags;
  dv.setUint16(tcp + 14, Math.min(0xffff, s.win));
  let o = tcp + 20;
  if (s.syn) {
    h[o] = 2; h[o + 1] = 4; dv.setUint16(o + 2, s.syn.mss); o += 4; // MSS
    h[o++] = 1; h[o] = 3; h[o + 1] = 3; h[o + 2] = s.syn.wscale; o += 3; // NOP, window scale
  }
  h[o] = 1; h[o + 1] = 1; h[o + 2] = 8; h[o + 3] = 10; // NOP NOP timestamps
  dv.setUint32(o + 4, s.tsval >>> 0);
  dv.setUint32(o + 8, s.tsecr >>> 0);
  // TCP checksum over the pseudo-header, header and (zero) payload.
  let acc = sum16(h, ip + 12, ip + 20) + 6 + tcpLen;
  acc = sum16(h, tcp, tcp + hlen, acc);
  dv.setUint16(tcp + 16, ~fold(acc) & 0xffff);
  return { header: h, frameLen };
}

const tsAt = (t: Ps) => TS_BASE + Math.floor(t / 1e9);

/** The model's frame as a segment of its connection (numbers offset by the handshake's ISNs). */
export function segmentOf(f: WireFrame, e: Endpoints): Segment {
  const fromServer = e.fromServer ? e.fromServer(f) : e.isServer(f.from);
  const isnS = isnOf(f.flow, true), isnR = isnOf(f.flow, false);
  const tsval = tsAt(f.t);
  const common = { t: f.t, link: linkOf(e, f.from, f.to, fromServer), flow: f.flow, fromServer, win: f.wnd >>> WSCALE, tsval, tsecr: tsval - 1 };
  return f.kind === 'data'
    ? { ...common, flags: PSH | ACK, seq: isnS + 1 + f.seq, ack: isnR + 1, len: f.len }
    : { ...common, flags: ACK, seq: isnR + 1, ack: isnS + 1 + f.ack, len: 0 };
}

/** SYN from the data sender (netperf connects, then streams), SYN-ACK, ACK on `link`, ending `HANDSHAKE_GAP_PS` before `t`. */
export function handshake(flow: number, link: number, t: Ps, e: Endpoints): Segment[] {
  const senderIsServer = e.serverSends;
  const isnS = isnOf(flow, true), isnR = isnOf(flow, false);
  const syn = { mss: e.mss + 12, wscale: WSCALE }; // the MSS option excludes the timestamp option's 12 bytes
  const at = (k: number) => t - (3 - k) * HANDSHAKE_GAP_PS;
  const ts = [tsAt(at(0)), tsAt(at(1)), tsAt(at(2))];
  return [
    { t: at(0), link, flow, fromServer: senderIsServer, flags: SYN, seq: isnS, ack: 0, win: 0xffff, len: 0, syn, tsval: ts[0], tsecr: 0 },
    { t: at(1), link, flow, fromServer: !senderIsServer, flags: SYN | ACK, seq: isnR, ack: isnS + 1, win: 0xffff, len: 0, syn, tsval: ts[1], tsecr: ts[0] },
    { t: at(2), link, flow, fromServer: senderIsServer, flags: ACK, seq: isnS + 1, ack: isnR + 1, win: 0xffff >>> WSCALE, len: 0, tsval: ts[2], tsecr: ts[1] },
  ];
}

/** Every segment of the capture, in time order: each flow's handshake on each link it crosses, then the frames (in wire order). */
export function captureSegments(frames: readonly WireFrame[], e: Endpoints): Segment[] {
  const out: Array<{ s: Segment; i: number }> = [];
  const seen = new Set<string>();
  for (const f of frames) {
    const seg = segmentOf(f, e);
    const key = `${f.flow}|${seg.link}`;
    if (!seen.has(key)) { seen.add(key); for (const s of handshake(f.flow, seg.link, f.t, e)) out.push({ s, i: out.length }); }
    out.push({ s: seg, i: out.length });
  }
  return out.sort((a, z) => a.s.t - z.s.t || a.i - z.i).map(({ s }) => s);
}

/** The captured links: one interface per NIC and its cable to the external client, or `e.links`. */
export function interfacesOf(e: Endpoints, snaplen = PCAP_SNAPLEN): Interface[] {
  if (e.links) return e.links.map((l) => ({ name: l.name, description: l.description, snaplen, tsresolExp: 9 }));
  return e.nics.map((nic, i) => ({ name: `nic${i}-wire`, description: `${nic} <-> client${i}: the physical link`, snaplen, tsresolExp: 9 }));
}

const CAPTURE_COMMENT = `xennet capture: virtual time 0 is ${new Date(CAPTURE_EPOCH_S * 1000).toISOString()}`;

/** Segments (in capture order) as packet records: the IP id counts per direction of a flow on each link (a forwarded frame keeps its id on the next link). */
function packetRecords(e: Endpoints, snaplen: number) {
  const ipIds = new Map<string, number>();
  const epoch = BigInt(CAPTURE_EPOCH_S) * 1_000_000_000n;
  return (s: Segment): PacketRecord => {
    const dir = `${s.link}|${s.flow}${s.fromServer ? '>' : '<'}`;
    const id = (ipIds.get(dir) ?? 0) + 1;
    ipIds.set(dir, id);
    const { header, frameLen } = segmentHeader(s, e, id);
    const data = new Uint8Array(Math.min(snaplen, frameLen));
    data.set(header.subarray(0, Math.min(header.length, data.length)));
    return { iface: s.link, ts: epoch + BigInt(Math.round(s.t / 1000)), data, origLen: frameLen };
  };
}

/** A complete pcapng file: one interface per link, a handshake per flow, every frame with its link's interface id. */
export function toPcapngCapture(frames: readonly WireFrame[], e: Endpoints, snaplen = PCAP_SNAPLEN): Uint8Array {
  const record = packetRecords(e, snaplen);
  return toPcapng(interfacesOf(e, snaplen), captureSegments(frames, e).map(record), CAPTURE_COMMENT);
}

/**
 * The same capture built as a run's log is read back, in bounded memory: the frames (up to
 * `until`) go through an external sort into wire order, then their segments (with the handshakes,
 * which precede a flow's first frame) through a second one into capture order, written as they come.
 */
export class PcapBuilder {
  private readonly frames: ExternalSorter;
  private n = 0;
  /** Frames in the capture. */
  count = 0;
  /** Sorted runs spilled to disk by both sorts (0: sorted in memory). */
  spilledRuns = 0;
  constructor(private readonly e: Endpoints, private readonly until: Ps, private readonly o: { tempPrefix: string; what: string; budgetBytes?: number }) {
    this.frames = new ExternalSorter({ ...o, tempPrefix: `${o.tempPrefix}.frames` });
  }
  frame(f: WireFrame): void {
    if (f.t > this.until || (this.e.captured && !this.e.captured(f.flow))) return;
    this.frames.add(f.t, this.n++, 0, JSON.stringify(f));
    this.count++;
  }
  write(file: string, snaplen = PCAP_SNAPLEN): void {
    const segs = new ExternalSorter({ ...this.o, tempPrefix: `${this.o.tempPrefix}.segments` });
    const w = new ChunkWriter(file);
    try {
      const seen = new Set<string>();
      let i = 0;
      this.frames.drain((item) => {
        const f = JSON.parse(item) as WireFrame;
        const seg = segmentOf(f, this.e);
        const key = `${f.flow}|${seg.link}`;
        if (!seen.has(key)) { seen.add(key); for (const s of handshake(f.flow, seg.link, f.t, this.e)) segs.add(s.t, i++, 0, JSON.stringify(s)); }
        segs.add(seg.t, i++, 0, JSON.stringify(seg));
      });
      const record = packetRecords(this.e, snaplen);
      w.write(pcapngHead(interfacesOf(this.e, snaplen), CAPTURE_COMMENT));
      this.spilledRuns = this.frames.spilled;
      segs.drain((item) => w.write(packetBlock(record(JSON.parse(item) as Segment))));
      this.spilledRuns += segs.spilled;
      w.close();
    } catch (e) { w.abort(); segs.dispose(); this.frames.dispose(); throw e; }
  }
  dispose(): void { this.frames.dispose(); }
}
