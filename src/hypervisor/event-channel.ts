/**
 * Event channels (docs/protocol.md 4). Per-domain pending/mask bits live in
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
  /** EVTCHNSTAT_closed: the port was closed (its number is free again for a later alloc). */
  closed?: boolean;
  /** VIRQ bound to this port, if any. */
  virq?: number;
}

/** 2-level ABI for 64-bit guests: 64 x 64 ports, port 0 reserved (4.1, section 0). */
export const NR_EVTCHN_2L = 4096;

/** 2-level ABI as seen by one domain: pending + mask bits and the upcall flag. */
export class PortTable {
  readonly ports: Port[] = [];
  upcallPending = false;
  coalesced = 0;
  /**
   * Called before each write and between the two halves of each pending/mask handshake (set pending
   * then test mask; clear mask then test pending), where Xen on one CPU and the guest on another may
   * interleave. Null except in the interleaving mode (src/stress/interleave.ts).
   */
  onAccess: (() => void) | null = null;
  /** Called when an upcall must be injected (Xen marks the vCPU and kicks it), with the CPU the event came from if known. */
  constructor(private readonly kick: (from?: number) => void, readonly limit = NR_EVTCHN_2L) {}
  alloc(name: string, handler: (x: Exec) => void): Port {
    const p = this.tryAlloc(name, handler);
    if (!p) throw new Error(`event channel ports exhausted (${this.limit - 1})`);
    return p;
  }
  /** get_free_port: the lowest closed port number is reused; null when all ports are in use (-ENOSPC). */
  tryAlloc(name: string, handler: (x: Exec) => void): Port | null {
    const reuse = this.ports.find((q) => q.closed);
    if (reuse) {
      Object.assign(reuse, { pending: false, masked: false, handler, name, closed: false, virq: undefined });
      return reuse;
    }
    if (this.ports.length + 1 >= this.limit) return null;
    const p: Port = { port: this.ports.length + 1, pending: false, masked: false, handler, name }; // port 0 reserved
    this.ports.push(p);
    return p;
  }
  /** The open port with this number, or undefined (port 0, out of range, or closed: -EINVAL). */
  lookup(port: number): Port | undefined {
    if (!Number.isInteger(port) || port < 1 || port > this.ports.length) return undefined;
    const p = this.ports[port - 1];
    return p.closed ? undefined : p;
  }
  /** EVTCHNOP_close on our side: no more deliveries; the number can be reused. */
  close(p: Port): void {
    p.closed = true;
    p.pending = false;
    p.masked = false;
    p.virq = undefined;
    p.handler = () => {};
  }
  mask(p: Port): void { p.masked = true; }
  /** evtchn_set_pending (4.2): one bit per port, repeats coalesce, masked edges wait for unmask. `from`: the sender's CPU. */
  setPending(p: Port, from?: number): 'raised' | 'coalesced' | 'masked' {
    if (p.closed) return 'masked';
    if (p.pending) { this.coalesced++; return 'coalesced'; }
    if (this.onAccess !== null) this.onAccess();
    p.pending = true;
    if (this.onAccess !== null) this.onAccess();
    if (p.masked) return 'masked';
    if (!this.upcallPending) { this.upcallPending = true; this.kick(from); }
    return 'raised';
  }
  unmask(p: Port): void {
    if (this.onAccess !== null) this.onAccess();
    p.masked = false;
    if (this.onAccess !== null) this.onAccess();
    if (p.pending && !this.upcallPending) { this.upcallPending = true; this.kick(); }
  }
  /** Guest upcall loop: clear the upcall flag first, then handle pending & ~mask in port order. */
  dispatch(x: Exec): number {
    this.upcallPending = false;
    if (this.onAccess !== null) this.onAccess();
    let n = 0;
    for (const p of this.ports) {
      if (p.pending && !p.masked && !p.closed) { p.pending = false; n++; p.handler(x); }
    }
    return n;
  }
}

export interface ChannelEnd { table: PortTable; port: Port; domain: string }

export interface EventChannelInput { a: ChannelEnd; b: ChannelEnd | null }

/** One interdomain (or PIRQ) channel. SEND carries which end signalled. */
export const eventChannelMachine = setup({
  types: {
    context: {} as { a: ChannelEnd | null; b: ChannelEnd | null; sends: number; dropped: number },
    input: {} as EventChannelInput,
    events: {} as
      | { type: 'BIND'; end: ChannelEnd }
      | { type: 'SEND'; from: 'a' | 'b'; cpu?: number }
      | { type: 'CLOSE'; from?: 'a' | 'b' },
  },
  actions: {
    deliver: ({ context, event }) => {
      if (event.type !== 'SEND') return;
      const target = event.from === 'a' ? context.b : context.a;
      if (target) target.table.setPending(target.port, event.cpu);
    },
    detach: assign(({ context, event }) => {
      if (event.type !== 'CLOSE') return {};
      // EVTCHNOP_close of one end: the peer's port reverts to unbound (4.3); without `from` both go.
      return event.from === 'a' ? { a: null } : event.from === 'b' ? { b: null } : { a: null, b: null };
    }),
  },
}).createMachine({
  id: 'evtchn',
  context: ({ input }) => ({ a: input.a, b: input.b, sends: 0, dropped: 0 }),
  initial: 'unbound',
  states: {
    // alloc_unbound done by one side; sends to an unbound port are silently dropped (4.3).
    unbound: {
      always: { guard: ({ context }) => context.a !== null && context.b !== null, target: 'interdomain' },
      on: {
        BIND: { target: 'interdomain', actions: assign({ b: ({ event }) => event.end }) },
        SEND: { actions: assign({ dropped: ({ context }) => context.dropped + 1 }) },
        CLOSE: { actions: 'detach' },
      },
    },
    interdomain: {
      on: {
        SEND: { actions: ['deliver', assign({ sends: ({ context }) => context.sends + 1 })] },
        CLOSE: { target: 'unbound', actions: 'detach' },
      },
    },
  },
});
