/**
 * One slice of CPU work on a physical CPU (the Exec of src/core/exec.ts).
 * Cycles are charged to an account (the running domain, or "xen" inside
 * hypercalls/interrupt routing) under a cost category; the running kernel's
 * address space decides what its TLB touches cost.
 */
import type { Cpu } from './cpu.js';
import type { PageSet } from './tlb.js';
import type { CostName, CostTable, Category, Component } from '../model/costs.js';
import type { Counters } from '../model/counters.js';
import { CATEGORY, XEN_ACCOUNT, accountId } from './ledger.js';
import type { AddressSpace, ComponentTags, Exec } from '../core/exec.js';

export class CpuExec implements Exec {
  cycles = 0;
  readonly effects: Array<() => void> = [];
  /** Ledger account the cycles go to (see accountId). */
  account: number;
  constructor(
    readonly cpu: Cpu,
    public kernel: AddressSpace | null,
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
  private touchLayout(tags: ComponentTags, c: Component, global: boolean): void {
    // Every layout is made by componentTags() (hardware/cpu.ts), whose page sets are PageSets.
    const t = tags as ComponentTags<PageSet>;
    const tlb = this.cpu.tlb;
    const misses = tlb.itlb.accessSet(t.code.get(c)!, global) + tlb.dtlb.accessSet(t.data.get(c)!, global);
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
