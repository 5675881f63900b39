/**
 * One physical CPU as Xen's scheduler (xen/common/schedule.c) sees it. The
 * domain scheduler (Xen.fill) decides what each slice of CPU time is and
 * tells this actor at the slice's start, so the chart says who has the CPU:
 *
 * - idle: nothing runnable; the idle vCPU sits in idle_loop. Switching to idle
 *   is lazy: the last guest's page tables stay loaded (per-CPU curr_vcpu), so
 *   `loaded` keeps naming it.
 * - inXen: a slice of Xen's own work, charged to Xen (do_IRQ routing a
 *   physical interrupt to the driver domain's PIRQ port, a dying domain's
 *   resources being relinquished). Hypercalls made inside a domain's slice
 *   stay part of that domain's `running`.
 * - contextSwitch: context_switch(prev, next): a different domain's state is
 *   loaded (CR3 write, TLB flush; the domainSwitch cost row). The model
 *   charges it at the start of the incoming domain's first slice, so it takes
 *   no virtual time of its own: the state is entered and left at that instant.
 * - running: the domain in `loaded` runs its vCPU.
 *
 * Events are sent directly by the scheduler (untraced): they mirror decisions
 * already made, they are not messages between components.
 */
import { assign, setup } from 'xstate';

export type PcpuEvent =
  | { type: 'IDLE' }
  | { type: 'ENTER_XEN' }
  | { type: 'CONTEXT_SWITCH'; to: string }
  | { type: 'RUN' };

export const pcpuMachine = setup({
  types: {
    context: {} as { cpu: number; loaded: string | null; switches: number },
    input: {} as { cpu: number },
    events: {} as PcpuEvent,
  },
  actions: {
    context_switch: assign(({ context, event }) => event.type === 'CONTEXT_SWITCH'
      ? { loaded: event.to, switches: context.switches + 1 } : {}),
  },
}).createMachine({
  id: 'pcpu',
  context: ({ input }) => ({ cpu: input.cpu, loaded: null, switches: 0 }),
  initial: 'idle',
  states: {
    idle: {
      on: {
        ENTER_XEN: 'inXen',
        CONTEXT_SWITCH: { target: 'contextSwitch', actions: 'context_switch' },
        RUN: 'running', // lazy switch: the domain whose state is still loaded runs again
      },
    },
    inXen: {
      on: {
        ENTER_XEN: {},
        IDLE: 'idle',
        CONTEXT_SWITCH: { target: 'contextSwitch', actions: 'context_switch' },
        RUN: 'running',
      },
    },
    contextSwitch: { on: { RUN: 'running' } },
    running: {
      on: {
        RUN: {},
        ENTER_XEN: 'inXen',
        CONTEXT_SWITCH: { target: 'contextSwitch', actions: 'context_switch' },
        IDLE: 'idle',
      },
    },
  },
});
