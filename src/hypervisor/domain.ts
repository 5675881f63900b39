/**
 * What Xen sees of a domain (struct domain with its one struct vcpu): the
 * vCPU the scheduler runs, its event-channel table in shared_info, its work
 * queues (emptied when the domain dies) and its physmap (frames it gives away
 * leave it). The guest kernel (src/domains/kernel.ts) is one.
 */
import type { Host, Task, Vcpu } from '../core/exec.js';
import type { PortTable } from './event-channel.js';

export interface XenDomain extends Vcpu {
  readonly evtchn: PortTable;
  /** Who runs this vCPU (Xen sets itself when it creates the domain). */
  host: Host;
  readonly irqQ: Task[];
  readonly procQ: Task[];
  post(task: Task, level?: 'irq' | 'proc'): void;
  /** Drop a frame from the kernel's pools (it was flipped away or handed back to Xen). */
  forget(mfn: number): void;
}
