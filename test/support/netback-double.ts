import { MachineMemory } from '../../src/hardware/memory.js';
import { TAG, tlbTag } from '../../src/hardware/tlb.js';
/**
 * One netback vif over test doubles: the driver domain's kernel (a work queue, a frame allocator,
 * the memory model's page contents), Xen's grant, memory and event-channel hypercalls (recorded,
 * answering okay unless told otherwise), the CPU (Exec: costs are ignored) and a virtual clock.
 * The guest's side of the rings is driven through FrontRings, as a netfront would.
 */
import { createActor } from 'xstate';
import type { Kernel } from '../../src/domains/kernel.js';
import type { Exec, Task } from '../../src/core/exec.js';
import type { Packet } from '../../src/core/packet.js';
import type { Xen } from '../../src/hypervisor/xen.js';
import { GNTST } from '../../src/hypervisor/grant-table.js';
import { Netback, PendingPool } from '../../src/channels/netback.js';
import { netbackMachine } from '../../src/channels/netback-machine.js';
import { VifRings, type RxRequest, type RxResponse, type TxResponse, type TxSlot, type VifFeatures } from '../../src/channels/netif.js';
import { FrontRing } from '../../src/channels/ring.js';
import { newCounters } from '../../src/model/counters.js';
import { PortTable } from '../../src/hypervisor/event-channel.js';
import { COSTS, FOOTPRINT } from '../../src/model/costs.js';

/**
 * The CPU as a double: costs and footprint touches are recorded, and only rows of the real cost
 * table and real components are accepted (the real Exec would charge NaN cycles for anything else).
 */
export function execDouble() {
  const costs: Record<string, number> = {};
  const touches: string[] = [];
  const transient: Array<{ tag: number; frame: number }> = [];
  const copies: Array<{ bytes: number; srcCold: boolean | undefined; dstCold: boolean | undefined }> = [];
  const checksums: number[] = [];
  const x = {
    cost: (name: string, times = 1) => { if (!(name in COSTS)) throw new Error(`unknown cost row ${JSON.stringify(name)}`); costs[name] = (costs[name] ?? 0) + times; },
    touch: (c: string) => { if (!(c in FOOTPRINT)) throw new Error(`unknown component ${JSON.stringify(c)}`); touches.push(c); },
    touchTransient: (tag: number, frame: number) => { transient.push({ tag, frame }); },
    copy: (bytes: number, srcCold?: boolean, dstCold?: boolean) => { copies.push({ bytes, srcCold, dstCold }); },
    checksum: (bytes: number) => { checksums.push(bytes); },
    touchFrames: () => {},
    flushTlb() {},
  } as unknown as Exec;
  return { x, costs, touches, transient, copies, checksums };
}

export const GUEST = 3;
export const DOM0 = 0;

/** A page holding a packet (the bytes netback's memory model reads: flow, seq, mss...). */
export const bytes = (over: Partial<Packet> = {}): Packet => ({
  id: 1, flow: 7, reply: false, kind: 'data', seq: 1000, len: 1448, ack: 0, wnd: 65535, mss: 1448, csum: 'done', frames: [], owner: GUEST, cold: false, release: undefined, data: undefined, ...over,
});

export interface HarnessOptions {
  txMode?: 'map' | 'noremap';
  rxCopyVia?: 'map' | 'gnttab';
  feat?: Partial<VifFeatures>;
  budget?: number;
  size?: number;
  pool?: PendingPool;
  rxQueueLimit?: number;
  /** Grant refs whose map/copy/transfer fails (general_error), and those whose transfer says bad_page. */
  badRefs?: Set<number>;
  badPageRefs?: Set<number>;
}

/** A driver domain's grant-mapping address space, as Kernel numbers it (areas one after the other). */
export function addressSpace(domid = DOM0): Pick<Kernel, 'allocMapArea' | 'mapSlotTag'> {
  let next = 0;
  return {
    allocMapArea: (pages: number) => { const base = next; next += pages; return base; },
    mapSlotTag: (page: number) => tlbTag(domid, TAG.grantMap, page),
  };
}

export function harness(opts: HarnessOptions = {}) {
  const size = opts.size ?? 64;
  const rings = new VifRings(size);
  const counters = newCounters();
  const posted: string[] = [];
  const queue: Task[] = [];
  const contents = new Map<number, Packet>();
  const freed: number[] = [];
  const owner = new Map<number, number>();
  let nextFrame = 10_000;
  const kernel = {
    domid: DOM0,
    // Every netback work item runs as a bottom half (Linux: NAPI poll / tasklet / kthread woken from the IRQ).
    post: (t: Task, kind: string) => { if (kind !== 'irq') throw new Error(`${t.name} queued as ${kind}`); posted.push(t.name); queue.push(t); },
    allocFrame: () => { const f = nextFrame++; owner.set(f, DOM0); return f; },
    freeFrame: (f: number) => { freed.push(f); owner.delete(f); },
    // The payload side (data integrity) is MachineMemory's own: one run per frame, moved by write/copy.
    mem: { contents, payload: new Map(), write: MachineMemory.prototype.write, copy: MachineMemory.prototype.copy, ownerOf: (f: number) => owner.get(f) },
    ...addressSpace(),
  } as unknown as Kernel;
  /** Guest frame of gref r: 500 + r. Handles are numbered from 1. */
  const frameOf = (ref: number) => 500 + ref;
  let nextHandle = 1;
  const calls = {
    maps: [] as Array<{ ref: number; readonly: boolean; device: boolean }>,
    unmaps: [] as Array<{ handles: number[]; host: boolean }>,
    copies: [] as Array<{ source: { dom: number; ref?: number; frame?: number; offset: number }; dest: { dom: number; ref?: number; frame?: number; offset: number }; len: number; cold?: boolean; dstCold?: boolean }>,
    transfers: [] as Array<{ mfn: number; domid: number; ref: number }>,
    increase: [] as number[],
    mmu: [] as number[],
    sends: [] as Array<{ channel: string; end: string }>,
  };
  const bad = (ref: number) => opts.badRefs?.has(ref) ?? false;
  const mapOne = (device: boolean) => (op: { ref: number; readonly?: boolean }) => {
    calls.maps.push({ ref: op.ref, readonly: op.readonly ?? true, device });
    if (bad(op.ref)) return { status: GNTST.general_error };
    return { status: GNTST.okay, handle: nextHandle++, frame: frameOf(op.ref) };
  };
  const xen = {
    grantMap: (_x: Exec, _k: Kernel, ops: Array<{ ref: number; readonly: boolean }>) => ops.map(mapOne(false)),
    grantDeviceMap: (_x: Exec, _k: Kernel, ops: Array<{ ref: number }>) => ops.map(mapOne(true)),
    grantUnmap: (_x: Exec, _k: Kernel, handles: number[], host: boolean) => { calls.unmaps.push({ handles: [...handles], host }); return handles.map(() => ({ status: GNTST.okay })); },
    grantCopy: (_x: Exec, _k: Kernel, ops: typeof calls.copies) => ops.map((o) => {
      calls.copies.push({ source: { ...o.source }, dest: { ...o.dest }, len: o.len, ...(o.cold !== undefined ? { cold: o.cold } : {}), ...(o.dstCold !== undefined ? { dstCold: o.dstCold } : {}) });
      const ref = o.dest.ref ?? o.source.ref;
      if (ref !== undefined && bad(ref)) return { status: GNTST.general_error };
      return { status: GNTST.okay, srcFrame: o.source.frame ?? frameOf(o.source.ref!), destFrame: o.dest.frame ?? frameOf(o.dest.ref!) };
    }),
    grantTransfer: (_x: Exec, _k: Kernel, ops: Array<{ mfn: number; domid: number; ref: number }>) => ops.map((o) => {
      calls.transfers.push({ ...o });
      if (opts.badPageRefs?.has(o.ref)) return { status: GNTST.bad_page };
      if (bad(o.ref)) { owner.delete(o.mfn); return { status: GNTST.general_error }; }
      owner.set(o.mfn, GUEST);
      return { status: GNTST.okay };
    }),
    increaseReservation: (_x: Exec, _k: Kernel, n: number) => { calls.increase.push(n); return Array.from({ length: n }, () => kernel.allocFrame()); },
    mmuUpdate: (_x: Exec, n: number) => { calls.mmu.push(n); },
    evtchnSend: (_x: Exec, _k: Kernel, channel: string, end: string) => { calls.sends.push({ channel, end }); },
    grants: { unmap: (_c: number, h: number) => { calls.unmaps.push({ handles: [h], host: true }); return { status: GNTST.okay }; } },
  } as unknown as Xen;
  const cpu = execDouble();
  const x = cpu.x;
  // Virtual time in ps, with timers.
  let now = 0;
  const timers: Array<{ at: number; fn: () => void }> = [];
  const clock = { now: () => now, after: (d: number, fn: () => void) => { timers.push({ at: now + d, fn }); } };
  /** Advance virtual time to `t` ps, firing due timers in order. */
  const advance = (t: number) => {
    for (;;) {
      timers.sort((a, b) => a.at - b.at);
      const next = timers[0];
      if (!next || next.at > t) break;
      timers.shift();
      now = next.at;
      next.fn();
    }
    now = t;
  };
  const pool = opts.pool ?? new PendingPool(kernel);
  const feat: VifFeatures = { sg: true, csum: true, tso: true, rxCopy: true, ...opts.feat };
  const vif = new Netback('vif3.0', kernel, xen, GUEST, rings, feat, opts.txMode ?? 'map', opts.rxCopyVia ?? 'gnttab', 'evtchn-vif3.0', counters, pool, opts.budget ?? 64, opts.rxQueueLimit ?? 256);
  vif.actor = createActor(netbackMachine, { input: { name: 'vif3.0' } }).start();
  vif.connected = true;
  vif.clock = clock;
  const forwarded: Packet[] = [];
  vif.rx = (_x, p) => { forwarded.push(p); };
  const front = new FrontRing<TxSlot, TxResponse>(rings.tx);
  const rxFront = new FrontRing<RxRequest, RxResponse>(rings.rx);
  const take = <R>(f: FrontRing<unknown, R>): R[] => { const out: R[] = []; while (f.unconsumedResponses() > 0) out.push(f.takeResponse()); return out; };
  const responses = () => take(front);
  const rxResponses = () => take(rxFront);
  /** The driver domain's kernel runs the work items queued so far (and those they queue). */
  const drain = () => { for (let n = 0; queue.length && n < 1000; n++) queue.shift()!.run(x); };
  /** The guest writes TX slots, pushes them and sends an event; the driver domain does the work. */
  const send = (...slots: TxSlot[]) => { for (const s of slots) front.putRequest(s); front.pushRequests(); vif.onEvent(x); drain(); };
  /** The guest posts RX buffers (ids and grant refs), pushes them and sends an event. */
  const post = (...reqs: RxRequest[]) => { for (const r of reqs) rxFront.putRequest(r); rxFront.pushRequests(); vif.onEvent(x); drain(); };
  /** The NIC is done with every forwarded packet: release them and run the dealloc work. */
  const complete = () => { for (const p of forwarded.splice(0)) p.release?.(x); drain(); };
  /** A packet from the bridge for the guest, in a driver-domain frame holding `bytes`. */
  const incoming = (over: Partial<Packet> = {}): Packet => {
    const f = kernel.allocFrame();
    const p = bytes({ owner: DOM0, ...over, frames: [f] });
    contents.set(f, p);
    return p;
  };
  /** Give the vif an event-channel port (late EOI needs one). */
  const withPort = () => {
    const table = new PortTable(() => {});
    const port = table.alloc('vif3.0', () => {});
    vif.port = port;
    vif.portTable = table;
    return { table, port };
  };
  return {
    vif, x, front, rxFront, rings, counters, posted, queue, drain, contents, calls, forwarded, responses, rxResponses, send, post,
    complete, frameOf, pool, freed, owner, incoming, clock, advance, timers, withPort, now: () => now, cpu,
  };
}
export type Harness = ReturnType<typeof harness>;
