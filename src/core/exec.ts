/**
 * The execution vocabulary every layer shares: a Task is a piece of kernel
 * work, an Exec is the CPU slice it runs in (cycles charged to an account,
 * effects deferred to the slice's end), and a Vcpu is what a CPU and a
 * scheduler see of a kernel. The implementations live above: the slice in
 * src/hardware/exec.ts, the kernel in src/domains/kernel.ts.
 */
import type { Category, Component, CostName, CostTable } from '../model/costs.js';

export interface Task { name: string; run(x: Exec): void }

/** One slice of CPU work. Cycles go to an account (the running domain, or "xen" inside hypercalls and interrupt routing) under a cost category. */
export interface Exec {
  /** Cycles charged so far in this slice. */
  readonly cycles: number;
  /** Effects that happen when the slice completes (messages, device doorbells). */
  readonly effects: ReadonlyArray<() => void>;
  /** The CPU the slice runs on: its index, and its TLB for targeted invalidation. */
  readonly cpu: { readonly index: number; readonly tlb: { invalidate(tag: number): void } };
  readonly costs: CostTable;
  charge(category: Category, cycles: number): void;
  cost(name: CostName, times?: number): void;
  /** Run a kernel component: fetch its code through the ITLB and touch its data through the DTLB, charging the misses. */
  touch(c: Component): void;
  /** Touch packet data frames through the running kernel's direct map (stale translations are checked). */
  touchFrames(frames: readonly number[]): void;
  /** Touch frame mfn through a transient 4 KiB mapping (grant map slot `tag`): never superpage, never global. */
  touchTransient(tag: number, mfn: number): void;
  /** Copy bytes; each side that is not in the cache (DMA-written source, long-untouched destination) adds misses. */
  copy(bytes: number, srcCold?: boolean, dstCold?: boolean): void;
  checksum(bytes: number, cold?: boolean): void;
  /** Enter Xen for a hypercall: cycles inside are charged to the "xen" account. */
  hypercall<T>(fn: () => T): T;
  /** Charge to another account for a while (e.g. Xen routing a physical IRQ). */
  as<T>(account: string, fn: () => T): T;
  flushTlb(): void;
  /** Effect that happens when this work completes. */
  later(fn: () => void): void;
}

/** One component's pages in one address space as TLB tags (the TLB model keeps what it learnt walking them beside: hardware's PageSet). */
export interface PageTags { readonly tags: Float64Array }
/** Per component, the TLB tags of the code pages (through the ITLB) and of the data pages (through the DTLB) it touches per run. */
export interface ComponentTags<P extends PageTags = PageTags> { code: Map<Component, P>; data: Map<Component, P> }

export interface VmConfig {
  /** Kernel direct map and code in 4 MiB superpages (one TLB entry per 4 MiB). */
  superpages: boolean;
  /** Kernel mappings carry the global bit (survive CR3 reloads). */
  globalPages: boolean;
}

/** What the TLB model sees of a kernel: its address-space layout and its ledger account. */
export interface AddressSpace {
  readonly domid: number;
  /** Ledger account (the kernel's name, interned). */
  readonly account: number;
  readonly vm: VmConfig;
  /** TLB tags of each component's code and data pages. */
  readonly componentTags: ComponentTags;
  /** TLB tag of a frame seen through the kernel direct map. */
  frameTag(mfn: number): number;
}

/** A domain's one vCPU as a physical CPU's dispatcher and the schedulers see it. */
export interface Vcpu extends AddressSpace {
  readonly name: string;
  /** The physical CPU it is pinned to. */
  readonly cpuIndex: number;
  /** The scheduler's view of the vCPU (mirrored by its domain actor). */
  runState: 'blocked' | 'runnable' | 'running';
  /** Event-channel upcalls: a pending one runs before queued work. */
  readonly evtchn: { readonly upcallPending: boolean; dispatch(x: Exec): void };
  hasWork(): boolean;
  nextTask(): Task | undefined;
}

/** Something that decides when a kernel runs: bare metal, or Xen's domain scheduler. */
export interface Host {
  /** v has something to do; `from` names the CPU whose work caused it (an event sent from there), if known. */
  wake(v: Vcpu, from?: number): void;
}
