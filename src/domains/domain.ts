/**
 * The actor for a kernel instance (a Xen domain or bare-metal Linux).
 *
 * Lifecycle (xen/common/domain.c): a domain is built paused (`created`), the
 * toolstack unpauses it (`active`), a controller may pause it again (`paused`,
 * XEN_DOMCTL_pausedomain) and destroy it: `dying` while Xen relinquishes its
 * resources (domain_kill), `dead` once done. A domain that crashes (domain_crash) is `crashed`,
 * shut down but holding its resources, until the toolstack destroys it. Bare-metal Linux boots straight
 * into `active` and stays there.
 *
 * Inside `active` is the scheduler's view of the vCPU (Xen's runstates
 * RUNSTATE_blocked/runnable/running), driven by the domain scheduler through
 * traced WAKE/RUN/PREEMPT/BLOCK messages. A domain that is not active is
 * RUNSTATE_offline: it is never scheduled, and when unpaused its vCPU starts
 * again from blocked (Xen then wakes it if an event is pending).
 *
 * Lifecycle events come from the hypervisor's own bookkeeping (sent directly,
 * untraced); the runstate messages are as they always were.
 */
import { setup } from 'xstate';

export type DomainEvent =
  | { type: 'WAKE' } | { type: 'RUN' } | { type: 'PREEMPT' } | { type: 'BLOCK' }
  | { type: 'UNPAUSE' } | { type: 'PAUSE' } | { type: 'DESTROY' } | { type: 'RELINQUISHED' } | { type: 'CRASH' };

export const domainMachine = setup({
  types: {
    context: {} as { name: string; runs: number },
    input: {} as { name: string },
    events: {} as DomainEvent,
  },
}).createMachine({
  id: 'domain',
  context: ({ input }) => ({ name: input.name, runs: 0 }),
  initial: 'created',
  states: {
    created: { on: { UNPAUSE: 'active', DESTROY: 'dying' } },
    active: {
      initial: 'blocked',
      on: { PAUSE: 'paused', DESTROY: 'dying', CRASH: 'crashed' },
      states: {
        blocked: { on: { WAKE: 'runnable', RUN: 'running' } },
        runnable: { on: { RUN: 'running', BLOCK: 'blocked' } },
        running: { on: { PREEMPT: 'runnable', BLOCK: 'blocked', WAKE: {} } },
      },
    },
    paused: { on: { UNPAUSE: 'active', DESTROY: 'dying', CRASH: 'crashed' } },
    // domain_crash: shut down (SHUTDOWN_crash), holding everything until the toolstack destroys it.
    crashed: { on: { DESTROY: 'dying' } },
    // domain_relinquish_resources: event channels closed, own grant mappings dropped, memory freed.
    dying: { on: { RELINQUISHED: 'dead' } },
    dead: {},
  },
});

/**
 * What xentop would call a domain's state, from its actor's state value: the vCPU's runstate
 * while active ('running', 'runnable', 'blocked'), else the lifecycle state ('created', 'paused', ...).
 */
export function runstateOf(value: unknown): string {
  if (typeof value === 'string') return value;
  const active = (value as { active?: unknown } | null)?.active;
  return typeof active === 'string' ? active : '?';
}
