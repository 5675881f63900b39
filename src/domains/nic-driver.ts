/**
 * The physical NIC driver (e1000-like, NAPI) in native Linux or the driver
 * domain. Where the NIC lacks an offload, the kernel's dev_queue_xmit does it
 * in software first (GSO segmentation, checksum): that is how the driver
 * domain serves a high-level virtual NIC on a NIC without TSO.
 */
import type { ActorSystem } from '../actors/runtime.js';
import type { Kernel } from './kernel.js';
import type { Exec, Task } from '../core/exec.js';
import type { NetDevice, NetFeatures } from './netdev.js';
import type { NicModel } from '../hardware/nic.js';
import type { Counters } from '../model/counters.js';
import { HDR_LEN, PAGE_SIZE, type Packet } from '../core/packet.js';
import { payloadFrom } from '../hardware/payload.js';

export class NicDriver implements NetDevice {
  rx: (x: Exec, p: Packet) => void = () => {};
  wake: (x: Exec) => void = () => {};
  private slotsInUse = 0;
  /** Packets handed over by xmit whose descriptors the CPU has not finished writing (the slice has not completed). */
  posting = 0;
  private pollQueued = false;
  constructor(
    readonly kernel: Kernel,
    readonly nic: NicModel,
    readonly sys: ActorSystem,
    readonly counters: Counters,
    readonly budget = 64,
    /** Xen: acknowledge the physical IRQ (PHYSDEVOP_eoi) after polling. */
    readonly eoi: ((x: Exec) => void) | null = null,
  ) {
    this.pollTask = { name: `${nic.name}-poll`, run: (px) => this.poll(px) };
  }
  /** The poll work item, made once (queued at most once at a time: pollQueued). */
  private readonly pollTask: Task;
  get name(): string { return this.nic.name; }
  features(): NetFeatures { return this.nic.cfg.features; }

  /** TX descriptors a packet takes: one per fragment with scatter/gather, one if linearized. */
  private slotsFor(p: Packet): number {
    return this.nic.cfg.features.sg && p.frames.length <= this.nic.cfg.ringSize ? Math.max(1, p.frames.length) : 1;
  }

  /** Post the initial receive buffers. */
  init(): void {
    for (let i = 0; i < this.nic.cfg.ringSize; i++) this.nic.rxBuffers.push(this.kernel.allocFrame());
  }

  xmit(x: Exec, p: Packet): boolean {
    const f = this.nic.cfg.features;
    // Segments of an earlier packet the ring had no room for go first (dev_requeue_skb keeps them).
    if (this.rest.length) { this.post(x, this.rest); if (this.rest.length) return false; }
    if (p.len > p.mss && !f.tso) {
      // Software GSO, once: what does not fit in the ring now waits in `rest`, the packet is taken.
      const segs = this.softwareGso(x, p);
      if (!f.csum && p.csum === 'partial') for (const s of segs) { x.checksum(s.len); s.csum = 'done'; }
      this.rest = segs;
      this.post(x, this.rest);
      return true;
    }
    if (!f.csum && p.csum === 'partial') { x.checksum(p.len); p.csum = 'done'; }
    if (this.slotsInUse + this.slotsFor(p) > this.nic.cfg.ringSize) return false;
    this.post(x, [p]);
    return true;
  }

  /** Post as many of `list` as the ring has descriptors for (removing them from the list). */
  private post(x: Exec, list: Packet[]): void {
    const ring = this.nic.cfg.ringSize;
    let n = 0, slots = 0;
    while (n < list.length && this.slotsInUse + slots + this.slotsFor(list[n]) <= ring) slots += this.slotsFor(list[n++]);
    if (n === 0) return;
    const segs = list.splice(0, n);
    // A packet with more fragments than the ring has descriptors could never go: it is linearized (skb_linearize).
    for (const s of segs) if (this.nic.cfg.features.sg && s.frames.length > ring) x.copy(s.len + HDR_LEN);
    this.slotsInUse += slots;
    x.touch('nicDriver');
    x.cost('nicDriverTxPerPacket', segs.length);
    this.posting += segs.length;
    x.later(() => {
      this.posting -= segs.length;
      for (const s of segs) this.nic.txRing.push(s);
      this.sys.send(this.kernel.name, this.nic.name, { type: 'TX_KICK' });
    });
  }
  /** Segments produced by software GSO and not yet posted. */
  private rest: Packet[] = [];
  /** Packets (segments) the driver holds: handed over but not yet on the NIC's ring. */
  unitsHeld(): number { return this.posting + this.rest.length; }

  /** skb_gso_segment: cut a super-segment into MSS packets; the original is released after the last. */
  private softwareGso(x: Exec, p: Packet): Packet[] {
    const n = Math.ceil(p.len / p.mss);
    this.counters.pkt.split += n - 1;
    let left = n;
    const out: Packet[] = [];
    for (let i = 0; i < n; i++) {
      x.cost('gsoPerSegment');
      this.counters.softwareGsoSegments++;
      const len = Math.min(p.mss, p.len - i * p.mss);
      out.push({
        id: p.id, flow: p.flow, reply: p.reply, kind: p.kind, seq: p.seq + i * p.mss, len, ack: p.ack, wnd: p.wnd, mss: p.mss, csum: p.csum,
        frames: [p.frames[Math.min(p.frames.length - 1, Math.floor((i * p.mss) / PAGE_SIZE))]], owner: p.owner, cold: p.cold,
        release: (rx) => { if (--left === 0) p.release?.(rx); },
        data: payloadFrom(p, i * p.mss), // its MSS of the super-segment's bytes, where they are
      });
    }
    return out;
  }

  /** The interrupt handler schedules the NAPI poll. */
  interrupt(x: Exec): void {
    if (!this.pollQueued) this.poll(x);
  }

  private poll(x: Exec): void {
    this.pollQueued = false;
    x.touch('nicDriver');
    const nic = this.nic;
    // Reclaim transmitted descriptors.
    const done = nic.txDone.splice(0);
    if (done.length) {
      for (const p of done) {
        this.slotsInUse -= this.slotsFor(p);
        x.cost('nicDriverTxCleanPerPacket');
        p.release?.(x);
      }
      if (this.rest.length) this.post(x, this.rest);
      this.wake(x);
    }
    // Receive up to the NAPI budget.
    const fresh: number[] = [];
    let n = 0;
    while (nic.rxDone.length && n < this.budget) {
      const p = nic.rxDone.shift()!;
      n++;
      x.cost('nicDriverRxPerPacket');
      x.cost('skbAllocFree');
      x.touch('skb');
      x.touchFrames(p.frames);
      fresh.push(this.kernel.allocFrame());
      p.owner = this.kernel.domid;
      this.kernel.mem.contents.set(p.frames[0], p);
      this.rx(x, p);
    }
    if (fresh.length) x.later(() => { for (const f of fresh) nic.rxBuffers.push(f); });
    if (nic.rxDone.length || nic.txDone.length) {
      this.pollQueued = true;
      this.kernel.post(this.pollTask, 'irq');
    } else {
      this.eoi?.(x);
      x.later(() => this.sys.send(this.kernel.name, nic.name, { type: 'IRQ_UNMASK' }));
    }
  }
}
