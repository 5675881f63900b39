/**
 * Watch a built machine's grant unmaps and page flips and check that each leaves the caller's DTLB
 * with no translation of a frame the caller can no longer reach (the flush or INVLPG those hypercalls
 * owe). It does not know how any component computes its tags: it remembers, per DTLB, the frame each
 * tag was last touched for (Tlb.accessFrame), and after each call asks the DTLB (Tlb.has) whether a
 * tag of the caller's address space whose frame the call took away is still there.
 *
 * Only instance methods are wrapped (as the inspect recorder does); the run itself is unchanged.
 */
import type { Built } from '../../src/scenario/build.js';
import { tagSpace, type Tlb } from '../../src/hardware/tlb.js';
import type { XenDomain } from '../../src/hypervisor/domain.js';
import type { CpuExec } from '../../src/hardware/exec.js';
import type { Exec } from '../../src/core/exec.js';

export interface FlushWatch {
  /** Translations (tag, frame) present in the caller's DTLB when a call took their frame away (what the check examined), by hypercall. */
  lost: { grantUnmap: number; grantTransfer: number };
  /** Of those, the ones still present after the call returned: missing flushes, described. */
  leaks: string[];
  /** The calls watched, by hypercall. */
  calls: { grantUnmap: number; grantTransfer: number };
}

export function watchFlushes(b: Built): FlushWatch {
  const xen = b.xen;
  if (!xen) throw new Error('watchFlushes: a machine without Xen');
  const w: FlushWatch = { lost: { grantUnmap: 0, grantTransfer: 0 }, leaks: [], calls: { grantUnmap: 0, grantTransfer: 0 } };
  const touched = new Map<Tlb, Map<number, number>>();
  for (const cpu of b.cpus) {
    const dtlb = cpu.tlb.dtlb, seen = new Map<number, number>();
    touched.set(dtlb, seen);
    const accessFrame = dtlb.accessFrame.bind(dtlb);
    dtlb.accessFrame = (tag, global, mfn, exact) => { seen.set(tag, mfn); return accessFrame(tag, global, mfn, exact); };
  }
  const reachable = (dom: number, mfn: number) => b.mem.ownerOf(mfn) === dom || xen.grants.mapsFrame(dom, mfn);
  /** Run a hypercall wrapper and check the caller's DTLB afterwards. */
  const checked = <T>(name: keyof FlushWatch['calls'], x: Exec, caller: XenDomain, call: () => T): T => {
    w.calls[name]++;
    const dtlb = (x as CpuExec).cpu.tlb.dtlb, seen = touched.get(dtlb)!;
    // The caller's translations present now whose frame it can still reach: the call may take some away.
    const before: Array<[number, number]> = [];
    for (const [tag, mfn] of seen) {
      if (!dtlb.has(tag)) seen.delete(tag);
      else if (tagSpace(tag) === caller.domid && reachable(caller.domid, mfn)) before.push([tag, mfn]);
    }
    const r = call();
    for (const [tag, mfn] of before) {
      if (reachable(caller.domid, mfn)) continue;
      w.lost[name]++;
      if (dtlb.has(tag) && w.leaks.length < 16) w.leaks.push(`${name} by ${caller.name} at ${b.sys.sched.now} ps left tag ${tag.toString(16)} (frame ${mfn}) in CPU ${x.cpu.index}'s DTLB`);
    }
    return r;
  };
  const unmap = xen.grantUnmap.bind(xen);
  xen.grantUnmap = (x, caller, handles, hostMapped) => checked('grantUnmap', x, caller, () => unmap(x, caller, handles, hostMapped));
  const transfer = xen.grantTransfer.bind(xen);
  xen.grantTransfer = (x, caller, ops) => checked('grantTransfer', x, caller, () => transfer(x, caller, ops));
  return w;
}
