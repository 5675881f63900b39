/**
 * Copying a packet into pages of one's own (Linux skb_copy, and skb_orphan_frags_rx for zero-copy
 * fragments that reach a local socket): a packet that still lives in another domain's pages, or
 * that its sender still owns, becomes a fresh skb of this kernel, its payload after the header as
 * a stack's own packet has it. The copy runs on this kernel's CPU.
 */
import type { Exec } from '../core/exec.js';
import { HDR_LEN, PAGE_SIZE, pagesFor, type Packet } from '../core/packet.js';
import { readPayload } from '../hardware/payload.js';
import type { Kernel } from './kernel.js';

/** Payload bytes [off, off + len) of `p` as a new packet in fresh pages of `k` (sequence from `p.seq + off`). */
export function skb_copy(x: Exec, k: Kernel, p: Packet, off: number, len: number, csum: Packet['csum'] = p.csum): Packet {
  const frames: number[] = [];
  for (let i = 0; i < pagesFor(len); i++) frames.push(k.allocFrame());
  x.cost('skbAllocFree');
  x.copy(len + HDR_LEN, p.cold === true);
  x.touchFrames(frames);
  let done = 0;
  for (let i = 0; i < frames.length && done < len; i++) {
    const at = i === 0 ? HDR_LEN : 0;
    const n = Math.min(len - done, PAGE_SIZE - at);
    const run = readPayload(k.mem, p, off + done, n);
    k.mem.write(frames[i], at, run.flow, run.off, run.len, run.gen);
    done += n;
  }
  const q: Packet = {
    id: p.id, flow: p.flow, reply: p.reply, kind: p.kind, seq: p.seq + off, len, ack: p.ack, wnd: p.wnd, mss: p.mss, csum,
    frames, owner: k.domid, cold: false, release: undefined, data: undefined,
  };
  k.mem.contents.set(frames[0], q);
  return q;
}
