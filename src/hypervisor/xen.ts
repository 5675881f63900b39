/**
 * The Xen hypervisor as its guests see it: the hypercalls the network path
 * uses (grant table, mmu_update, memory reservation, event channel send) and
 * the rest of the guest-visible surface adversarial guests call. Each
 * hypercall charges its cost rows to the "xen" account on the calling CPU.
 * The mechanism underneath: scheduling and IPIs (schedule.ts), the domain
 * lifecycle (domctl.ts).
 */
import { setup } from 'xstate';
import type { Dispatcher } from '../hardware/dispatch.js';
import type { Exec } from '../core/exec.js';
import type { XenDomain } from './domain.js';
import { GNTMAP, GNTST, type GrantOps } from './grant-table.js';
import { XenDomctl } from './domctl.js';

export class Xen extends XenDomctl {
  // ---------------- hypercalls used by the split drivers ----------------

  /** GNTTABOP_map_grant_ref batch (host mapping: installs a PTE per page). */
  grantMap(x: Exec, caller: XenDomain, ops: Array<{ dom: number; ref: number; readonly: boolean }>) {
    return this.grantMapFlags(x, caller, ops.map((op) => ({ dom: op.dom, ref: op.ref, flags: GNTMAP.host_map | (op.readonly ? GNTMAP.readonly : 0) })));
  }
  /** GNTMAP_device_map only: pin for DMA, no CPU mapping, so no PTE and no TLB flush later. */
  grantDeviceMap(x: Exec, caller: XenDomain, ops: Array<{ dom: number; ref: number }>) {
    return x.hypercall(() => ops.map((op) => {
      this.counters.grantDeviceMaps++;
      x.cost('grantValidatePerOp');
      return this.grants.map(caller.domid, { dom: op.dom, ref: op.ref, flags: 1 | 4 });
    }));
  }
  /** GNTTABOP_unmap_grant_ref batch; a batch that removed host mappings ends with a TLB flush. */
  grantUnmap(x: Exec, caller: XenDomain, handles: number[], hostMapped: boolean) {
    const res = x.hypercall(() => handles.map((h) => {
      this.counters.grantUnmaps++;
      x.cost(hostMapped ? 'grantUnmapPerOp' : 'grantValidatePerOp');
      return this.grants.unmap(caller.domid, h);
    }));
    if (hostMapped && handles.length) x.flushTlb();
    return res;
  }
  /** GNTTABOP_copy batch: Xen copies the bytes, so the copy cycles are Xen's. */
  grantCopy(x: Exec, caller: XenDomain, ops: Array<Parameters<GrantOps['copy']>[1] & { cold?: boolean; dstCold?: boolean }>) {
    return x.hypercall(() => ops.map((op) => {
      this.counters.grantCopies++;
      x.cost('grantCopyPerOp');
      const r = this.grants.copy(caller.domid, op);
      if (r.status === GNTST.okay) {
        x.copy(op.len, op.cold, op.dstCold);
        if (r.srcFrame !== undefined && r.destFrame !== undefined) this.mem.copy(r.srcFrame, op.source.offset, r.destFrame, op.dest.offset, op.len);
      }
      return r;
    }));
  }
  /** GNTTABOP_transfer batch (page flip). The caller's TLB is flushed once the frames left its physmap. */
  grantTransfer(x: Exec, caller: XenDomain, ops: Array<{ mfn: number; domid: number; ref: number }>) {
    const res = x.hypercall(() => ops.map((op) => {
      this.counters.pageFlips++;
      x.cost('pageTransfer');
      const r = this.grants.transfer(caller.domid, op);
      if (r.status !== GNTST.bad_page) { caller.forget(op.mfn); x.cpu.tlb.invalidate(caller.frameTag(op.mfn)); }
      return r;
    }));
    if (ops.length) x.flushTlb();
    return res;
  }
  /** mmu_update / update_va_mapping batch of n PTEs. */
  mmuUpdate(x: Exec, n: number): void {
    if (n <= 0) return;
    x.hypercall(() => { this.counters.mmuUpdates += n; x.cost('mmuUpdatePerPte', n); });
  }
  /** XENMEM_decrease_reservation: hand frames back to Xen (the balloon side of page flipping). */
  decreaseReservation(x: Exec, k: XenDomain, frames: number[]): void {
    if (!frames.length) return;
    x.hypercall(() => {
      x.cost('reservationPerPage', frames.length);
      for (const f of frames) { k.forget(f); this.mem.release(f); x.cpu.tlb.invalidate(k.frameTag(f)); }
    });
  }
  /** XENMEM_increase_reservation: take fresh frames from Xen. */
  increaseReservation(x: Exec, k: XenDomain, n: number): number[] {
    if (n <= 0) return [];
    return x.hypercall(() => {
      x.cost('reservationPerPage', n);
      const out: number[] = [];
      for (let i = 0; i < n; i++) out.push(this.mem.alloc(k.domid));
      return out;
    });
  }
  /** EVTCHNOP_send: the set-pending happens when the slice completes (message to the channel actor). */
  evtchnSend(x: Exec, from: XenDomain, channel: string, end: 'a' | 'b'): void {
    this.counters.notificationsSent++;
    x.hypercall(() => x.cost('evtchnSend'));
    x.later(() => this.sys.send(from.name, channel, this.smp ? { type: 'SEND', from: end, cpu: x.cpu.index } : { type: 'SEND', from: end }));
  }

  // ------- the rest of the guest-visible hypercall surface (used by adversarial guests) -------
  // Every argument a guest passes is validated the way Xen does; errors are return codes, never throws.

  /** NR_VIRQS; VIRQs below it can be bound once per domain (4.4). */
  static readonly NR_VIRQS = 24;

  /** EVTCHNOP_send on a port number: interdomain -> peer pending; unbound -> dropped; closed, out of range, VIRQ/PIRQ -> -EINVAL. */
  evtchnSendPort(x: Exec, caller: XenDomain, port: number): number {
    return x.hypercall(() => {
      x.cost('evtchnSend');
      const p = caller.evtchn.lookup(port);
      if (!p || p.virq !== undefined) return -22;
      const b = this.bound.get(p);
      if (!b) return 0; // unbound: silently dropped
      this.counters.notificationsSent++;
      x.later(() => this.sys.send(caller.name, b.channel, this.smp ? { type: 'SEND', from: b.end, cpu: x.cpu.index } : { type: 'SEND', from: b.end }));
      return 0;
    });
  }
  /** EVTCHNOP_close: the peer end of an interdomain channel reverts to unbound. */
  evtchnClose(x: Exec, caller: XenDomain, port: number): number {
    return x.hypercall(() => {
      const p = caller.evtchn.lookup(port);
      if (!p) return -22;
      const b = this.closePort(caller, p);
      if (b) x.later(() => this.sys.send(caller.name, b.channel, { type: 'CLOSE', from: b.end }));
      return 0;
    });
  }
  /** EVTCHNOP_unmask: only the caller's own open ports. */
  evtchnUnmask(x: Exec, caller: XenDomain, port: number): number {
    return x.hypercall(() => {
      const p = caller.evtchn.lookup(port);
      if (!p) return -22;
      caller.evtchn.unmask(p);
      return 0;
    });
  }
  /** EVTCHNOP_alloc_unbound in the caller itself (unprivileged): -ENOSPC once every port is in use. */
  evtchnAllocUnbound(x: Exec, caller: XenDomain, remoteDom: number): number {
    return x.hypercall(() => {
      if (!this.grantTables.has(remoteDom)) return -3; // -ESRCH
      const p = caller.evtchn.tryAlloc(`unbound-${remoteDom}`, () => {});
      return p ? p.port : -28;
    });
  }
  /** EVTCHNOP_bind_virq: virq in range and not yet bound, else -EINVAL/-EEXIST; port exhaustion leaves nothing half-bound (XSA-496). */
  evtchnBindVirq(x: Exec, caller: XenDomain, virq: number): number {
    return x.hypercall(() => {
      if (!Number.isInteger(virq) || virq < 0 || virq >= Xen.NR_VIRQS) return -22;
      if (caller.evtchn.ports.some((q) => !q.closed && q.virq === virq)) return -17;
      const p = caller.evtchn.tryAlloc(`virq-${virq}`, () => {});
      if (!p) return -28;
      p.virq = virq;
      return p.port;
    });
  }
  /** EVTCHNOP_reset of the caller's own table: every port closed (interdomain peers revert to unbound). */
  evtchnReset(x: Exec, caller: XenDomain): number {
    for (const p of caller.evtchn.ports) if (!p.closed) this.evtchnClose(x, caller, p.port);
    return 0;
  }
  /** GNTTABOP_map_grant_ref with the guest's own flags (host and/or device map, readonly). */
  grantMapFlags(x: Exec, caller: XenDomain, ops: Array<{ dom: number; ref: number; flags: number }>) {
    return x.hypercall(() => ops.map((op) => {
      this.counters.grantMaps++;
      x.cost('grantMapPerOp');
      return this.grants.map(caller.domid, op);
    }));
  }
  /** GNTTABOP_set_version. */
  grantSetVersion(x: Exec, caller: XenDomain, version: number): number {
    return x.hypercall(() => this.grants.setVersion(caller.domid, version));
  }
  /** Ops per slice before a long grant batch is preempted and continued (hypercall_preempt_check). */
  static readonly GNTTAB_PREEMPT_OPS = 128;
  /**
   * GNTTABOP_copy with a batch of any length: Xen works through it in chunks and, when preempted,
   * creates a continuation, so the caller's vCPU re-enters later and other domains get the CPU in
   * between (XSA-318: every op's status is written; a continuation resumes, it never reports success
   * for work not done). `done` gets every status, in order.
   */
  grantCopyBatch(x: Exec, caller: XenDomain, ops: Array<Parameters<GrantOps['copy']>[1]>, done: (res: Array<{ status: number }>) => void, acc: Array<{ status: number }> = []): void {
    const chunk = ops.slice(0, Xen.GNTTAB_PREEMPT_OPS);
    for (const r of this.grantCopy(x, caller, chunk)) acc.push({ status: r.status });
    const rest = ops.slice(chunk.length);
    if (rest.length) caller.post({ name: 'gnttab-continuation', run: (cx) => this.grantCopyBatch(cx, caller, rest, done, acc) }, 'irq');
    else done(acc);
  }
}

/**
 * The hypervisor actor: it owns the CPUs' completion events and the IPIs between CPUs. `booting` while
 * the machine is put together (Xen's SYS_STATE_boot: domains are built, dom0
 * is constructed paused); `running` (SYS_STATE_active) from the end of boot,
 * when dom0 is unpaused and the CPUs start taking slices.
 */
export const hypervisorMachine = setup({
  types: {
    context: {} as { host: Dispatcher },
    input: {} as { host: Dispatcher },
    events: {} as { type: 'CPU_DONE'; cpu: number } | { type: 'IPI'; cpu: number } | { type: 'BOOTED' },
  },
  actions: {
    complete: ({ context, event }) => { if (event.type === 'CPU_DONE') context.host.complete(event.cpu); },
    ipi: ({ context, event }) => { if (event.type === 'IPI' && context.host instanceof Xen) context.host.ipiArrived(event.cpu); },
  },
}).createMachine({
  id: 'hypervisor',
  context: ({ input }) => ({ host: input.host }),
  initial: 'booting',
  states: {
    booting: { on: { BOOTED: 'running' } },
    running: { on: { CPU_DONE: { actions: 'complete' }, IPI: { actions: 'ipi' } } },
  },
});
