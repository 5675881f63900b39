/**
 * A kernel instance (native Linux, or the Linux inside a Xen domain) as the
 * CPU sees it: two work queues (interrupt/softirq level first, then process
 * level), its address-space layout for the TLB model, and a frame pool.
 * Work is a Task; running it on an Exec charges cycles and defers effects
 * (messages to other actors) to the moment the work completes.
 */
import { componentTags, type ComponentTags, type Cpu } from '../hardware/cpu.js';
import type { MachineMemory } from '../hardware/memory.js';
import { FOOTPRINT, type Component, type CostName, type CostTable, type Footprint } from '../model/costs.js';
import type { Counters } from '../model/counters.js';
import { PortTable } from '../hypervisor/event-channel.js';
import { TAG, tlbTag } from '../hardware/tlb.js';
import { CATEGORY, XEN_ACCOUNT, accountId, type Category } from '../hardware/ledger.js';

export interface Task { name: string; run(x: Exec): void }

export interface VmConfig {
  /** Kernel direct map and code in 4 MiB superpages (one TLB entry per 4 MiB). */
  superpages: boolean;
  /** Kernel mappings carry the global bit (survive CR3 reloads). */
  globalPages: boolean;
}

/** Something that decides when a kernel runs: bare metal, or Xen's domain scheduler. */
export interface Host {
  /** k has something to do; `from` names the CPU whose work caused it (an event sent from there), if known. */
  wake(k: Kernel, from?: number): void;
}

const SUPER_SHIFT = 10; // 4 MiB / 4 KiB

const poolCountsOf = new WeakMap<MachineMemory, Uint8Array>();
function poolCounts(mem: MachineMemory): Uint8Array {
  let a = poolCountsOf.get(mem);
  if (!a) { a = new Uint8Array(mem.frames); poolCountsOf.set(mem, a); }
  return a;
}

export class Kernel {
  readonly irqQ: Task[] = [];
  readonly procQ: Task[] = [];
  host!: Host;
  /** The scheduler's view of this kernel's vCPU (mirrored by its domain actor). */
  runState: 'blocked' | 'runnable' | 'running' = 'blocked';
  /** shared_info event bits; a pending upcall is handled before queued work. */
  readonly evtchn = new PortTable((from) => this.host.wake(this, from));
  private pool: number[] = [];
  /**
   * Copies of each frame in the pools of all kernels on this machine (255: that many or more, count
   * unknown), so that forget() of a frame in no pool, the usual case, costs no scan. One array per
   * machine, not per kernel: a zero means "in no pool", which is all forget() needs to know.
   */
  private pooled: Uint8Array;
  /** This kernel's ledger account (its name, interned). */
  readonly account: number;
  /** TLB tags of each component's code and data pages, computed once (the layout never changes). */
  readonly componentTags: ComponentTags;
  constructor(
    readonly name: string,
    readonly domid: number,
    readonly cpuIndex: number,
    readonly paravirt: boolean,
    readonly vm: VmConfig,
    readonly mem: MachineMemory,
    poolPages: number,
    footprint: Footprint = FOOTPRINT,
  ) {
    this.account = accountId(name);
    this.pooled = poolCounts(mem);
    this.componentTags = componentTags(footprint, (c, vpn) => this.componentTag(c, vpn));
    for (let i = 0; i < poolPages; i++) this.freeFrame(mem.alloc(domid));
  }

  post(task: Task, level: 'irq' | 'proc' = 'irq'): void {
    (level === 'irq' ? this.irqQ : this.procQ).push(task);
    this.host.wake(this);
  }
  /**
   * Reserve `pages` pages of kernel virtual address space for grant mappings (Linux: alloc_vm_area,
   * or ballooned pages per netback queue), numbered from 0 per kernel: a mapping lives at its own
   * page, so two live mappings never share a TLB entry.
   */
  allocMapArea(pages: number): number { const base = this.mapPages; this.mapPages += pages; return base; }
  private mapPages = 0;
  /** The TLB tag of page `page` of this kernel's grant-mapping areas. */
  mapSlotTag(page: number): number { return tlbTag(this.domid, TAG.grantMap, page); }
  hasWork(): boolean { return this.evtchn.upcallPending || this.irqQ.length > 0 || this.procQ.length > 0; }
  nextTask(): Task | undefined { return this.irqQ.shift() ?? this.procQ.shift(); }

  /** A packet buffer frame (LIFO, like the slab allocator's hot list). */
  allocFrame(): number {
    const f = this.pool.pop();
    if (f === undefined) return this.mem.alloc(this.domid);
    const n = this.pooled[f];
    if (n < 255) this.pooled[f] = n - 1;
    return f;
  }
  freeFrame(mfn: number): void {
    this.pool.push(mfn);
    const n = this.pooled[mfn];
    if (n < 255) this.pooled[mfn] = n + 1;
  }
  /** Frames the kernel holds in reserve (for page-flip accounting tests). */
  poolSize(): number { return this.pool.length; }
  /** Give a frame away for good (page flip): drop it from our pool if it is there. */
  forget(mfn: number): void {
    const n = this.pooled[mfn];
    if (n === 0) return;
    const i = this.pool.lastIndexOf(mfn);
    if (i < 0) return;
    this.pool.splice(i, 1);
    if (n < 255) this.pooled[mfn] = n - 1;
  }

  /** TLB tag of virtual page vpn of the kernel image (or of user space, for the application). */
  private componentTag(c: Component, vpn: number): number {
    if (c === 'app') return tlbTag(this.domid, TAG.user, vpn); // user space: 4 KiB pages, never global
    return this.vm.superpages ? tlbTag(this.domid, TAG.kernel4M, vpn >> SUPER_SHIFT) : tlbTag(this.domid, TAG.kernel, vpn);
  }
  /** TLB tag of a frame seen through the kernel direct map (frames are contiguous in 4 MiB extents). */
  frameTag(mfn: number): number {
    return this.vm.superpages ? tlbTag(this.domid, TAG.direct4M, mfn >> SUPER_SHIFT) : tlbTag(this.domid, TAG.direct, mfn);
  }
}

/**
 * One slice of CPU work. Cycles are charged to an account (the running domain,
 * or "xen" inside hypercalls/interrupt routing) under a cost category.
 */
export class Exec {
  cycles = 0;
  readonly effects: Array<() => void> = [];
  /** Ledger account the cycles go to (see accountId). */
  account: number;
  constructor(
    readonly cpu: Cpu,
    public kernel: Kernel | null,
    readonly costs: CostTable,
    readonly counters: Counters,
  ) {
    this.account = kernel ? kernel.account : XEN_ACCOUNT;
  }

  charge(category: Category, cycles: number): void {
    if (cycles <= 0) return;
    this.cycles += cycles;
    this.cpu.charge(this.account, CATEGORY[category], cycles);
  }
  cost(name: CostName, times = 1): void { this.charge(name, this.costs[name] * times); }

  /** Run a kernel component: fetch its code through the ITLB and touch its data through the DTLB, charging the misses. */
  touch(c: Component): void {
    const k = this.kernel;
    if (this.account === XEN_ACCOUNT || !k) { this.touchXen(c); return; }
    this.touchLayout(k.componentTags, c, k.vm.globalPages && c !== 'app');
  }
  private touchXen(c: Component): void { this.touchLayout(this.cpu.xenTags, c, true); }
  /** Component c's code pages of address-space layout t through the ITLB, its data pages through the DTLB. */
  private touchLayout(t: ComponentTags, c: Component, global: boolean): void {
    const tlb = this.cpu.tlb;
    const misses = tlb.itlb.accessAll(t.code.get(c)!, global) + tlb.dtlb.accessAll(t.data.get(c)!, global);
    if (misses) this.charge('tlbMiss', misses * this.costs.tlbMiss);
  }
  /**
   * Touch packet data frames through this kernel's direct map. Unlike the footprint, these are frames
   * the domain may lose (flipped away, or foreign frames it maps by grant), so the TLB remembers each
   * entry's frame and checks it on a hit (stale translations).
   */
  touchFrames(frames: readonly number[]): void {
    const k = this.kernel;
    if (!k) return;
    const tlb = this.cpu.tlb.dtlb;
    const global = k.vm.globalPages, exact = !k.vm.superpages;
    let misses = 0;
    for (const f of frames) if (!tlb.accessFrame(k.frameTag(f), global, f, exact)) misses++;
    if (misses) this.charge('tlbMiss', misses * this.costs.tlbMiss);
  }
  /** Touch frame mfn through a transient 4 KiB mapping (grant map slot `tag`): never superpage, never global. */
  touchTransient(tag: number, mfn: number): void {
    if (!this.cpu.tlb.dtlb.accessFrame(tag, false, mfn, true)) this.charge('tlbMiss', this.costs.tlbMiss);
  }
  /** Copy bytes; each side that is not in the cache (DMA-written source, long-untouched destination) adds misses. */
  copy(bytes: number, srcCold = false, dstCold = false): void {
    this.counters.bytesCopied += bytes;
    const miss = (srcCold ? 1 : 0) + (dstCold ? 1 : 0);
    this.charge('copy', bytes * (this.costs.copyPerByte + miss * this.costs.cacheMissPerByte));
  }
  checksum(bytes: number, cold = false): void {
    this.counters.bytesChecksummed += bytes;
    this.charge('checksum', bytes * (this.costs.csumPerByte + (cold ? this.costs.cacheMissPerByte : 0)));
  }

  /** Enter Xen for a hypercall: cycles inside are charged to the "xen" account. */
  hypercall<T>(fn: () => T): T {
    this.counters.hypercalls++;
    const prev = this.account;
    this.account = XEN_ACCOUNT;
    this.cost('hypercall');
    this.touchXen('xen');
    try { return fn(); } finally { this.account = prev; }
  }
  /** Charge to another account for a while (e.g. Xen routing a physical IRQ). */
  as<T>(account: string, fn: () => T): T {
    const prev = this.account;
    this.account = accountId(account);
    try { return fn(); } finally { this.account = prev; }
  }
  flushTlb(): void {
    this.counters.tlbFlushes++;
    this.cost('tlbFlush');
    this.cpu.tlb.flushNonGlobal();
  }
  /** Effect that happens when this work completes (messages, device doorbells). */
  later(fn: () => void): void { this.effects.push(fn); }
}
