/** Bare metal: one Linux kernel owns the CPUs, no hypervisor in the way. */
import type { ActorSystem } from '../actors/runtime.js';
import type { Cpu } from '../hardware/cpu.js';
import { Dispatcher } from '../hardware/dispatch.js';
import type { Exec, Kernel } from './kernel.js';
import type { CostTable } from '../model/costs.js';
import type { Counters } from '../model/counters.js';

export class BareMetal extends Dispatcher {
  kernel!: Kernel;
  constructor(sys: ActorSystem, cpus: Cpu[], costs: CostTable, counters: Counters) {
    super(sys, 'baremetal', cpus, costs, counters);
  }
  attach(k: Kernel): void { this.kernel = k; k.host = this; }
  protected fill(c: number): Exec | null {
    const k = this.kernel;
    if (!k.hasWork()) { this.setRunState(k, 'blocked'); return null; }
    this.setRunState(k, 'running');
    const x = this.newExec(c, k);
    this.runKernel(x, k);
    return x;
  }
}
