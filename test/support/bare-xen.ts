/**
 * A bare Xen host for unit tests of the hypervisor's mechanism: CPUs, Xen and a few domains built by
 * the toolstack's own createHost/createDomain, with no devices and no drivers. Domains get work as
 * plain tasks of a known number of cycles.
 */
import { PS_PER_US, type Ps } from '../../src/actors/scheduler.js';
import type { Kernel } from '../../src/domains/kernel.js';
import type { Exec } from '../../src/core/exec.js';
import { defaultCosts, FOOTPRINT } from '../../src/model/costs.js';
import { createDomain, createHost, spawnCpusAndXenstored } from '../../src/toolstack/host.js';
import type { XenConfig } from '../../src/hypervisor/schedule.js';
import { CpuExec } from '../../src/hardware/exec.js';

export const US = PS_PER_US;
export const GHZ = 2.4;
/** Cycles of `us` microseconds at the hosts' clock. */
export const cyclesOf = (us: number) => us * GHZ * 1000;

/** A host with one domain per entry of `placement` (its CPU), dom0 first; booted, guests left paused. */
export function host(placement: number[], xen: Partial<XenConfig> = {}, cpus = Math.max(...placement) + 1) {
  const h = createHost({
    seed: 1, interpreter: 'compiled', costs: defaultCosts(), footprint: FOOTPRINT,
    cpus, cpuGhz: GHZ, memoryMiB: 64, tlbEntries: 64, itlbEntries: 64, tlbReplacement: 'lru',
    xen: { ctxAllowUs: 50, sliceUs: 10_000, ...xen }, vm: { superpages: false, globalPages: false },
  });
  const ks = placement.map((c, i) => createDomain(h, i === 0 ? 'dom0' : `domU${i}`, i, c));
  spawnCpusAndXenstored(h);
  const xenH = h.xen!;
  xenH.boot();
  const sched = h.sys.sched;
  /** Who ran a task, and when its slice began. */
  const log: Array<[string, Ps]> = [];
  /** n tasks of `us` microseconds each for k, queued one after the other (each queues the next). */
  const work = (k: Kernel, n: number, us: number) => {
    const task = { name: 'work', run: (x: Exec) => { log.push([k.name, sched.now]); x.charge('copy', cyclesOf(us)); if (--n > 0) k.procQ.push(task); } };
    k.post(task, 'proc');
  };
  /** fn at virtual time t (a timer of the hypervisor's rank, as its own timers are). */
  const at = (t: Ps, fn: () => void) => { sched.at(t, h.sys.rankOf('xen'), fn); };
  const run = (t: Ps) => sched.run(t);
  const charged = (c: number, row: string) => h.cpus[c].ledger.get('xen')?.get(row) ?? 0;
  /** An Exec on k's CPU standing for k's vCPU in a hypercall (its deferred effects run by `effects`). */
  const exec = (k: Kernel) => new CpuExec(h.cpus[k.cpuIndex], k, h.costs, h.counters);
  const effects = (x: CpuExec) => { for (const e of x.effects.splice(0)) e(); sched.run(sched.now); };
  /** The domain actor's state (created, active, paused, dying, dead). */
  const lifecycle = (k: Kernel) => { const v = h.sys.entry(k.name).actor.getSnapshot().value; return typeof v === 'string' ? v : Object.keys(v as object)[0]; };
  return { h, xen: xenH, ks, sched, log, work, at, run, charged, exec, effects, lifecycle };
}

