/** Bare metal: one Linux kernel owns the CPUs, no hypervisor in the way. */
import { setup } from 'xstate';
import type { ActorSystem } from '../actors/runtime.js';
import type { Cpu } from '../hardware/cpu.js';
import { Dispatcher } from '../hardware/dispatch.js';
import type { Kernel } from './kernel.js';
import type { Exec } from '../core/exec.js';
import type { CostTable } from '../model/costs.js';
import type { Counters } from '../model/counters.js';

const IRQ = { type: 'IRQ' } as const;
const TASK = { type: 'TASK' } as const;

export class BareMetal extends Dispatcher {
  kernel!: Kernel;
  /** `name`: its actor's (a native host of a world prefixes it with the host's name). */
  constructor(sys: ActorSystem, cpus: Cpu[], costs: CostTable, counters: Counters, name = 'baremetal') {
    super(sys, name, cpus, costs, counters);
  }
  attach(k: Kernel): void { this.kernel = k; k.host = this; }
  /** The kernel is up: it runs from here on (no pause or destroy without a hypervisor). */
  boot(): void {
    super.boot();
    this.tellDomain(this.kernel, { type: 'UNPAUSE' });
  }
  protected fill(c: number): Exec | null {
    const k = this.kernel;
    if (!k.hasWork()) { this.setRunState(k, 'blocked'); return null; }
    this.setRunState(k, 'running');
    // Interrupt-level work (hardirq handlers, softirqs, timers) runs before process context.
    this.tellCpu(c, k.irqQ.length > 0 ? IRQ : TASK);
    const x = this.newExec(c, k);
    this.runKernel(x, k);
    return x;
  }
}

/**
 * A bare-metal CPU as Linux sees it: idle (cpuidle), in interrupt context
 * (hardirq, softirq: the NIC interrupt, NAPI poll, timers, TCP receive), or in
 * process context (netperf and the socket calls it makes). Set at the start of
 * each slice by BareMetal.fill, directly (untraced).
 */
export const cpuMachine = setup({
  types: {
    context: {} as { cpu: number },
    input: {} as { cpu: number },
    events: {} as { type: 'IDLE' } | { type: 'IRQ' } | { type: 'TASK' },
  },
}).createMachine({
  id: 'cpu',
  context: ({ input }) => ({ cpu: input.cpu }),
  initial: 'idle',
  states: {
    idle: { on: { IRQ: 'interrupt', TASK: 'process' } },
    interrupt: { on: { IRQ: {}, TASK: 'process', IDLE: 'idle' } },
    process: { on: { TASK: {}, IRQ: 'interrupt', IDLE: 'idle' } },
  },
});
