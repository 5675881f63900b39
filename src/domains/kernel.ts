/**
 * A kernel instance (native Linux, or the Linux inside a Xen domain) as the
 * CPU sees it: two work queues (interrupt/softirq level first, then process
 * level), its address-space layout for the TLB model, and a frame pool.
 * Work is a Task; running it on an Exec charges cycles and defers effects
 * (messages to other actors) to the moment the work completes.
 */
import { componentTags } from '../hardware/cpu.js';
import type { MachineMemory } from '../hardware/memory.js';
import { FOOTPRINT, type Component, type Footprint } from '../model/costs.js';
import { PortTable } from '../hypervisor/event-channel.js';
import type { XenDomain } from '../hypervisor/domain.js';
import { TAG, tlbTag } from '../hardware/tlb.js';
import { accountId } from '../hardware/ledger.js';
import type { ComponentTags, Host, Task, VmConfig } from '../core/exec.js';

const SUPER_SHIFT = 10; // 4 MiB / 4 KiB

const poolCountsOf = new WeakMap<MachineMemory, Uint8Array>();
function poolCounts(mem: MachineMemory): Uint8Array {
  let a = poolCountsOf.get(mem);
  if (!a) { a = new Uint8Array(mem.frames); poolCountsOf.set(mem, a); }
  return a;
}

export class Kernel implements XenDomain {
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
  /** The frames the kernel holds in reserve for packet buffers (the stress checker's page census reads it). */
  pooledFrames(): readonly number[] { return this.pool; }
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
