/**
 * Event channels (xen-protocol.md 4). Per-domain pending/mask bits live in
 * the domain's shared_info (PortTable, plain shared memory both Xen and the
 * guest touch). Each interdomain channel is an xstate actor: it owns the
 * binding state and turns SEND on one end into "set pending" on the other.
 */
import { assign, setup } from 'xstate';
import type { Exec } from '../domains/kernel.js';

export interface Port {
  port: number;
  pending: boolean;
  masked: boolean;
  /** Work the kernel does when it finds this port pending in its upcall. */
  handler: (x: Exec) => void;
  name: string;
}

/** 2-level ABI as seen by one domain: pending + mask bits and the upcall flag. */
export class PortTable {
  readonly ports: Port[] = [];
  upcallPending = false;
  coalesced = 0;
  /** Called when an upcall must be injected (Xen marks the vCPU and kicks it). */
  constructor(private readonly kick: () => void) {}
  alloc(name: string, handler: (x: Exec) => void): Port {
    const p: Port = { port: this.ports.length + 1, pending: false, masked: false, handler, name }; // port 0 reserved
    this.ports.push(p);
    return p;
  }
  /** evtchn_set_pending (4.2): one bit per port, repeats coalesce, masked edges wait for unmask. */
  setPending(p: Port): 'raised' | 'coalesced' | 'masked' {
    if (p.pending) { this.coalesced++; return 'coalesced'; }
    p.pending = true;
    if (p.masked) return 'masked';
    if (!this.upcallPending) { this.upcallPending = true; this.kick(); }
    return 'raised';
  }
  unmask(p: Port): void {
    p.masked = false;
    if (p.pending && !this.upcallPending) { this.upcallPending = true; this.kick(); }
  }
  /** Guest upcall loop: clear the upcall flag first, then handle pending & ~mask in port order. */
  dispatch(x: Exec): number {
    this.upcallPending = false;
    let n = 0;
    for (const p of this.ports) {
      if (p.pending && !p.masked) { p.pending = false; n++; p.handler(x); }
    }
    return n;
  }
}

export interface ChannelEnd { table: PortTable; port: Port; domain: string }

export interface EventChannelInput { a: ChannelEnd; b: ChannelEnd | null }

/** One interdomain (or PIRQ) channel. SEND carries which end signalled. */
export const eventChannelMachine = setup({
  types: {
    context: {} as { a: ChannelEnd; b: ChannelEnd | null; sends: number },
    input: {} as EventChannelInput,
    events: {} as
      | { type: 'BIND'; end: ChannelEnd }
      | { type: 'SEND'; from: 'a' | 'b' }
      | { type: 'CLOSE' },
  },
  actions: {
    deliver: ({ context, event }) => {
      if (event.type !== 'SEND' || !context.b) return;
      const target = event.from === 'a' ? context.b : context.a;
      target.table.setPending(target.port);
    },
  },
}).createMachine({
  id: 'evtchn',
  context: ({ input }) => ({ a: input.a, b: input.b, sends: 0 }),
  initial: 'unbound',
  states: {
    // alloc_unbound done by one side; sends to an unbound port are silently dropped (4.3).
    unbound: {
      always: { guard: ({ context }) => context.b !== null, target: 'interdomain' },
      on: {
        BIND: { target: 'interdomain', actions: assign({ b: ({ event }) => event.end }) },
        SEND: {},
        CLOSE: 'closed',
      },
    },
    interdomain: {
      on: {
        SEND: { actions: ['deliver', assign({ sends: ({ context }) => context.sends + 1 })] },
        CLOSE: 'closed',
      },
    },
    closed: { type: 'final' },
  },
});
