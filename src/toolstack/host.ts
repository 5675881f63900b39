/**
 * Building a physical host, as a machine's firmware and Xen's boot do before
 * any toolstack command: the actor system it lives in, its CPUs and memory,
 * and the hypervisor (Xen, or bare metal for native Linux) with its actor;
 * then domains (createDomain), NICs (attachNic), vifs (src/toolstack/vif.ts)
 * and peers on its links (src/toolstack/peer.ts). Actor creation order is
 * fixed by the order of these calls: it fixes ranks and therefore the
 * tie-break order of simultaneous events.
 */
import { ActorSystem, type Interpreter } from '../actors/runtime.js';
import { Cpu } from '../hardware/cpu.js';
import type { FrameOracle, TlbReplacement } from '../hardware/tlb.js';
import { MachineMemory } from '../hardware/memory.js';
import type { Dispatcher } from '../hardware/dispatch.js';
import { nicMachine, type NicModel } from '../hardware/nic.js';
import { PAGE_SIZE } from '../core/packet.js';
import type { Exec, VmConfig } from '../core/exec.js';
import { Xen, hypervisorMachine } from '../hypervisor/xen.js';
import type { XenConfig } from '../hypervisor/schedule.js';
import type { GrantOps } from '../hypervisor/grant-table.js';
import { pcpuMachine } from '../hypervisor/pcpu.js';
import { Kernel } from '../domains/kernel.js';
import { domainMachine } from '../domains/domain.js';
import { BareMetal, cpuMachine } from '../domains/native.js';
import { NicDriver } from '../domains/nic-driver.js';
import { XenStore } from '../domains/xenstored.js';
import type { SharedRing } from '../channels/ring.js';
import { newCounters, note, type Counters } from '../model/counters.js';
import type { CostTable, Footprint } from '../model/costs.js';

/** Frames each kernel takes for its packet-buffer pool when it is built. */
export const KERNEL_POOL_PAGES = 1024;

export interface HostConfig {
  seed: number;
  interpreter: Interpreter;
  costs: CostTable;
  footprint: Footprint;
  cpus: number; cpuGhz: number; memoryMiB: number;
  tlbEntries: number; itlbEntries: number; tlbReplacement: TlbReplacement;
  /** Xen's configuration, or null for native Linux on bare metal. */
  xen: XenConfig | null;
  /** How kernels map themselves (superpages, global pages); native Linux always uses both. */
  vm: VmConfig;
  /**
   * A host of a world of several: its name as the prefix of its actors (`host1/`), and the actor
   * system, counters and stale-translation list the world shares. Default: a machine of its own.
   */
  world?: { prefix: string; sys: ActorSystem; counters: Counters; staleTranslations: string[] };
}

export interface PhysicalHost {
  sys: ActorSystem;
  counters: Counters;
  costs: CostTable;
  footprint: Footprint;
  mem: MachineMemory;
  cpus: Cpu[];
  /** What runs on each CPU: Xen, or bare metal. */
  dispatcher: Dispatcher;
  xen: Xen | null;
  xenstore: XenStore;
  vm: VmConfig;
  kernels: Kernel[];
  /** What the names of this host's actors start with: '' for a machine of its own, `host1/` in a world of several. */
  prefix: string;
  /** Shared memory pages that hold rings, by machine frame. */
  ringPages: Map<number, SharedRing<unknown, unknown>>;
  /** The first stale translations the TLBs hit (counted as violations `stale-translation`), described. */
  staleTranslations: string[];
}

/** Power on: CPUs, memory and the hypervisor's actor (Xen's SYS_STATE_boot until boot() ends it). */
export function createHost(c: HostConfig): PhysicalHost {
  const sys = c.world?.sys ?? new ActorSystem(c.seed, c.interpreter);
  const counters = c.world?.counters ?? newCounters();
  const prefix = c.world?.prefix ?? '';
  const mem = new MachineMemory((c.memoryMiB * 1024 * 1024) / PAGE_SIZE);
  // A domain may reach a frame it owns or holds a live grant mapping of; a TLB hit through an entry
  // for any other frame is a stale translation (a flush missing after a flip or an unmap).
  const staleTranslations: string[] = c.world?.staleTranslations ?? [];
  let xenGrants: GrantOps | null = null;
  const frameOracle: FrameOracle = {
    reachable: (dom, mfn) => mem.ownerOf(mfn) === dom || (xenGrants !== null && xenGrants.mapsFrame(dom, mfn)),
    stale: (dom, frame, mfn, tag) => {
      note(counters, 'stale-translation');
      if (staleTranslations.length < 16) {
        const owner = mem.ownerOf(frame);
        staleTranslations.push(`${prefix}domain ${dom} hit TLB entry ${tag.toString(16)} for frame ${frame} (owner ${owner ?? 'none'}, not mapped by it)` +
          `${frame !== mfn ? ` wanting frame ${mfn}` : ''} at ${sys.sched.now} ps`);
      }
    },
  };
  const cpus = Array.from({ length: c.cpus }, (_, i) => new Cpu(i, c.cpuGhz * 1e9, c.tlbEntries, frameOracle, c.itlbEntries, c.tlbReplacement, c.footprint));
  const xenstore = prefix ? new XenStore(sys, `${prefix}xenstored`) : new XenStore(sys);
  const xen = c.xen ? new Xen(sys, cpus, c.costs, counters, mem, prefix ? { ...c.xen, name: `${prefix}xen` } : c.xen) : null;
  const dispatcher: Dispatcher = xen ?? new BareMetal(sys, cpus, c.costs, counters, `${prefix}baremetal`);
  sys.spawn(dispatcher.actorName, 'hypervisor', hypervisorMachine, { host: dispatcher });
  xenGrants = xen?.grants ?? null;
  return { sys, counters, costs: c.costs, footprint: c.footprint, mem, cpus, dispatcher, xen, xenstore, vm: c.vm, kernels: [], prefix, ringPages: new Map(), staleTranslations };
}

/** Build a domain (Xen's domain_create: paused until unpaused) or, on bare metal, the one kernel. */
export function createDomain(h: PhysicalHost, name: string, domid: number, cpu: number): Kernel {
  const k = new Kernel(name, domid, cpu, h.xen !== null, h.vm, h.mem, KERNEL_POOL_PAGES, h.footprint);
  h.sys.spawn(name, 'domain', domainMachine, { name });
  if (h.xen) h.xen.addDomain(k); else (h.dispatcher as BareMetal).attach(k);
  h.kernels.push(k);
  return k;
}

/** A physical NIC owned by `owner` (native Linux or the driver domain), with its driver and interrupt line. */
export function attachNic(h: PhysicalHost, owner: Kernel, nic: NicModel, ringBudget: number): NicDriver {
  const { sys, counters, xen } = h;
  sys.spawn(nic.name, 'nic', nicMachine, { model: nic, sys });
  const eoi = xen ? (x: Exec) => x.hypercall(() => {}) : null; // PHYSDEVOP_eoi re-enables the line
  const drv = new NicDriver(owner, nic, sys, counters, ringBudget, eoi);
  if (!xen) {
    nic.raiseIrq = () => {
      counters.interrupts++;
      owner.post({ name: `${nic.name}-irq`, run: (x) => { x.touch('irq'); x.cost('interruptEntry'); drv.interrupt(x); } }, 'irq');
    };
  } else {
    const port = owner.evtchn.alloc(`pirq-${nic.name}`, (x) => drv.interrupt(x));
    nic.raiseIrq = () => xen.physicalIrq(owner, port);
  }
  drv.init();
  return drv;
}

/** Each CPU's scheduling actor (pcpu under Xen, cpu on bare metal), then xenstored (dom0's, so only under Xen). */
export function spawnCpusAndXenstored(h: PhysicalHost): void {
  const { sys } = h;
  h.dispatcher.attachCpus(h.cpus.map((c) => h.xen
    ? sys.spawn(`${h.prefix}cpu${c.index}`, 'pcpu', pcpuMachine, { cpu: c.index })
    : sys.spawn(`${h.prefix}cpu${c.index}`, 'cpu', cpuMachine, { cpu: c.index })));
  if (h.xen) h.xenstore.spawn();
}

