/**
 * xenstored, the XenStore daemon in dom0 (xen/tools/xenstored; docs/protocol.md 2.8-2.9), as one actor
 * per host (kind `xenstore`). It holds the tree of keys and the watches: a driver registers a watch on
 * a path, and every later write or removal at or under that path sends the watcher an
 * XS_WATCH_EVENT message (detail = the path written), as xenstored's fire_watches does. Registering
 * a watch fires it once at once (xenstored does, and xenbus drivers rely on it to learn the peer's
 * current state).
 *
 * Requests that change the store (XS_WRITE, XS_RM, XS_WATCH, XS_UNWATCH) are messages from the
 * requesting domain's actor to this one, delivered in the caller's step: a XenStore request is
 * synchronous for the caller (it waits for the reply on the xenbus ring), so a read after a write
 * sees it. Reads change nothing and are not messages.
 *
 * Transactions (XS_TRANSACTION_START/END, as netfront's talk_to_netback uses them): writes made in a
 * transaction are held back and applied together at commit, when their watches fire; an abort drops
 * them. One transaction is open at a time: requests are synchronous here, so no other writer can
 * interleave with one and XS_TRANSACTION_END never has to answer EAGAIN.
 *
 * Left out: concurrent transactions and EAGAIN, permissions, quotas, and the watch token's routing
 * inside the domain (the event goes straight to the driver actor that registered the watch).
 */
import { assign, setup } from 'xstate';
import type { ActorSystem } from '../actors/runtime.js';

export const XENSTORED = 'xenstored';
export type XsValue = string | number | boolean;

/** One domain's connection to xenstored (what a kernel's xenbus driver can do). */
export interface Xs {
  read(path: string): string | undefined;
  /** A boolean feature key: present and '1'. */
  flag(path: string): boolean;
  write(path: string, v: XsValue): void;
  rm(path: string): void;
  /** Watch path (and everything under it) on behalf of the actor `watcher`. */
  watch(path: string, watcher: string, token?: string): void;
  unwatch(path: string, watcher: string, token?: string): void;
  /** xenbus_transaction_start ... xenbus_transaction_end: the writes `body` makes become visible (and fire their watches) together. */
  transaction(body: (t: XsWriter) => void): void;
}
/** What a transaction body can do. */
export interface XsWriter { write(path: string, v: XsValue): void }

export type XsRequest =
  | { type: 'XS_WRITE'; path: string; value: string; tx: number; detail: string }
  | { type: 'XS_TRANSACTION_START'; tx: number; detail: string }
  | { type: 'XS_TRANSACTION_END'; tx: number; commit: boolean; detail: string }
  | { type: 'XS_RM'; path: string; detail: string }
  | { type: 'XS_WATCH'; path: string; watcher: string; token: string; detail: string }
  | { type: 'XS_UNWATCH'; path: string; watcher: string; token: string; detail: string };

interface Watch { path: string; watcher: string; token: string }

const under = (path: string, dir: string) => path === dir || path.startsWith(`${dir}/`);

/** The store and its watches; requests reach it through the `xenstore` actor (xenstoreMachine). */
export class XenStore {
  private kv = new Map<string, string>();
  private watches: Watch[] = [];
  private running = false;
  /** The open transaction's held-back writes, in order. */
  private pending: Array<[string, string]> = [];
  private nextTx = 1;
  /** `name`: its actor (`xenstored`; `host1/xenstored` in a world of several hosts). */
  constructor(private readonly sys: ActorSystem, readonly name = XENSTORED) {}

  /** Start xenstored: spawn its actor (after every other actor, see build.ts). */
  spawn(): void {
    this.sys.spawn(this.name, 'xenstore', xenstoreMachine, { store: this });
    this.running = true;
  }

  /** The connection of the domain whose actor is `dom` (its requests are messages from that actor). */
  domain(dom: string): Xs {
    const req = (m: XsRequest) => {
      if (!this.running) throw new Error(`xenstored is not running (${m.type} ${m.detail} from ${dom})`);
      this.sys.deliverNow(dom, this.name, m);
    };
    const write = (path: string, v: XsValue, tx: number) => {
      const value = String(typeof v === 'boolean' ? Number(v) : v);
      req({ type: 'XS_WRITE', path, value, tx, detail: `${path}=${value}` });
    };
    return {
      read: (p) => this.read(p),
      flag: (p) => this.flag(p),
      write: (path, v) => write(path, v, 0),
      rm: (path) => req({ type: 'XS_RM', path, detail: path }),
      watch: (path, watcher, token = path) => req({ type: 'XS_WATCH', path, watcher, token, detail: path }),
      unwatch: (path, watcher, token = path) => req({ type: 'XS_UNWATCH', path, watcher, token, detail: path }),
      transaction: (body) => {
        const tx = this.nextTx++;
        req({ type: 'XS_TRANSACTION_START', tx, detail: String(tx) });
        let commit = false;
        try { body({ write: (path, v) => write(path, v, tx) }); commit = true; } finally {
          req({ type: 'XS_TRANSACTION_END', tx, commit, detail: `${tx}:${commit ? 'commit' : 'abort'}` });
        }
      },
    };
  }

  read(path: string): string | undefined { return this.kv.get(path); }
  flag(path: string): boolean { return this.kv.get(path) === '1'; }
  entries(): Array<[string, string]> { return [...this.kv.entries()].sort(([a], [b]) => a.localeCompare(b)); }
  watchCount(): number { return this.watches.length; }

  // ---- xenstored's side (xenstored_core.c, xenstored_watch.c), run by the actor's actions ----
  do_write(path: string, value: string): void {
    this.kv.set(path, value);
    this.fire_watches(path, false);
  }
  /** A write inside the open transaction: held back until it commits. */
  transaction_write(path: string, value: string): void { this.pending.push([path, value]); }
  transaction_start(): void { this.pending = []; }
  /** Commit applies the held-back writes in order (each fires its watches); abort drops them. */
  transaction_end(commit: boolean): void {
    const writes = this.pending;
    this.pending = [];
    if (commit) for (const [path, value] of writes) this.do_write(path, value);
  }
  do_rm(path: string): void {
    for (const k of [...this.kv.keys()]) if (under(k, path)) this.kv.delete(k);
    this.fire_watches(path, true);
  }
  do_watch(path: string, watcher: string, token: string): void {
    if (this.watches.some((w) => w.path === path && w.watcher === watcher && w.token === token)) return; // EEXIST
    const w = { path, watcher, token };
    this.watches.push(w);
    this.send(w, path); // a new watch fires once at once
  }
  /** VIRQ_DOM_EXC (a domain shut down or died): xenstored fires the special watch @releaseDomain. */
  domain_exc(): void { if (this.running) this.fire_watches('@releaseDomain', false); }
  do_unwatch(path: string, watcher: string, token: string): void {
    this.watches = this.watches.filter((w) => !(w.path === path && w.watcher === watcher && w.token === token));
  }
  /** One event per matching watch, in registration order; a removal also fires the watches below it. */
  private fire_watches(path: string, recurse: boolean): void {
    for (const w of this.watches) if (under(path, w.path) || (recurse && under(w.path, path))) this.send(w, path);
  }
  private send(w: Watch, path: string): void {
    this.sys.send(this.name, w.watcher, { type: 'XS_WATCH_EVENT', detail: path, token: w.token });
  }
}

export const xenstoreMachine = setup({
  types: {
    context: {} as { store: XenStore; tx: number },
    input: {} as { store: XenStore },
    events: {} as XsRequest,
  },
  guards: {
    /** The write belongs to the open transaction (transaction id 0 is a plain write). */
    inTransaction: ({ context, event }) => (event as Extract<XsRequest, { type: 'XS_WRITE' }>).tx === context.tx,
    /** The END names the open transaction. */
    ownsTransaction: ({ context, event }) => (event as Extract<XsRequest, { type: 'XS_TRANSACTION_END' }>).tx === context.tx,
  },
  actions: {
    do_write: ({ context, event }) => { const e = event as Extract<XsRequest, { type: 'XS_WRITE' }>; context.store.do_write(e.path, e.value); },
    transaction_start: assign(({ context, event }) => { context.store.transaction_start(); return { tx: (event as Extract<XsRequest, { type: 'XS_TRANSACTION_START' }>).tx }; }),
    transaction_write: ({ context, event }) => { const e = event as Extract<XsRequest, { type: 'XS_WRITE' }>; context.store.transaction_write(e.path, e.value); },
    transaction_end: assign(({ context, event }) => { context.store.transaction_end((event as Extract<XsRequest, { type: 'XS_TRANSACTION_END' }>).commit); return { tx: 0 }; }),
    do_rm: ({ context, event }) => context.store.do_rm((event as Extract<XsRequest, { type: 'XS_RM' }>).path),
    do_watch: ({ context, event }) => { const e = event as Extract<XsRequest, { type: 'XS_WATCH' }>; context.store.do_watch(e.path, e.watcher, e.token); },
    do_unwatch: ({ context, event }) => { const e = event as Extract<XsRequest, { type: 'XS_UNWATCH' }>; context.store.do_unwatch(e.path, e.watcher, e.token); },
  },
}).createMachine({
  id: 'xenstore',
  context: ({ input }) => ({ store: input.store, tx: 0 }),
  initial: 'idle',
  // Requests outside a transaction are handled in either state; only the transaction's own writes wait.
  on: {
    XS_WRITE: { actions: 'do_write' },
    XS_RM: { actions: 'do_rm' },
    XS_WATCH: { actions: 'do_watch' },
    XS_UNWATCH: { actions: 'do_unwatch' },
  },
  states: {
    idle: { on: { XS_TRANSACTION_START: { target: 'transaction', actions: 'transaction_start' } } },
    transaction: {
      on: {
        XS_WRITE: { guard: 'inTransaction', actions: 'transaction_write' },
        XS_TRANSACTION_END: { guard: 'ownsTransaction', target: 'idle', actions: 'transaction_end' },
      },
    },
  },
});
