/**
 * The actor for a kernel instance (a Xen domain or bare-metal Linux). Its
 * states are the scheduler's view of the vCPU; the hypervisor (or the bare
 * metal host) drives the transitions, so the chart shows who runs when.
 */
import { setup } from 'xstate';

export const domainMachine = setup({
  types: {
    context: {} as { name: string; runs: number },
    input: {} as { name: string },
    events: {} as { type: 'WAKE' } | { type: 'RUN' } | { type: 'PREEMPT' } | { type: 'BLOCK' },
  },
}).createMachine({
  id: 'domain',
  context: ({ input }) => ({ name: input.name, runs: 0 }),
  initial: 'blocked',
  states: {
    blocked: { on: { WAKE: 'runnable', RUN: 'running' } },
    runnable: { on: { RUN: 'running', BLOCK: 'blocked' } },
    running: { on: { PREEMPT: 'runnable', BLOCK: 'blocked', WAKE: {} } },
  },
});
