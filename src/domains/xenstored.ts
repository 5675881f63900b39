/**
 * xenstored, the XenStore daemon in dom0 (xen/tools/xenstored; xen-protocol.md 2.8-2.9), as one actor
 * per host (kind `xenstore`). It holds the tree of keys and the watches: a driver registers a watch on
 * a path, and every later write or removal at or under that path sends the watcher an
 * XS_WATCH_EVENT message (detail = the path written), as xenstored's fire_watches does. Registering
 * a watch fires it once at once (xenstored does, and xenbus drivers rely on it to learn the peer's
 * current state).
 *
 * Requests that change the store (XS_WRITE, XS_RM, XS_WATCH, XS_UNWATCH) are messages from the
 * requesting domain's actor to this one, delivered in the caller's step: a XenStore request is
 * synchronous for the caller (it waits for the reply on the xenbus ring), so a read after a write
 * sees it. Reads change nothing and are not messages. Left out: transactions (the XenBus handshake
 * here is never concurrent with another writer of the same keys, so XS_TRANSACTION_END never returns
 * EAGAIN), permissions, quotas, and the watch token's routing inside the domain (the event goes
 * straight to the driver actor that registered the watch).
 */
import { setup } from 'xstate';
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
}

export type XsRequest =
  | { type: 'XS_WRITE'; path: string; value: string; detail: string }
  | { type: 'XS_RM'; path: string; detail: string }
  | { type: 'XS_WATCH'; path: string; watcher: string; token: string; detail: string }
  | { type: 'XS_UNWATCH'; path: string; watcher: string; token: string; detail: string };

/** What a watcher receives: the path that changed (and the token it registered with). */
export interface XsWatchEvent { type: 'XS_WATCH_EVENT'; detail: string; token: string }

interface Watch { path: string; watcher: string; token: string }

const under = (path: string, dir: string) => path === dir || path.startsWith(`${dir}/`);

/** The store and its watches; requests reach it through the `xenstore` actor (xenstoreMachine). */
export class XenStore {
  private kv = new Map<string, string>();
  private watches: Watch[] = [];
  private running = false;
  constructor(private readonly sys: ActorSystem) {}

  /** Start xenstored: spawn its actor (after every other actor, see build.ts). */
  spawn(): void {
    this.sys.spawn(XENSTORED, 'xenstore', xenstoreMachine, { store: this });
    this.running = true;
  }

  /** The connection of the domain whose actor is `dom` (its requests are messages from that actor). */
  domain(dom: string): Xs {
    const req = (m: XsRequest) => {
      if (!this.running) throw new Error(`xenstored is not running (${m.type} ${m.detail} from ${dom})`);
      this.sys.deliverNow(dom, XENSTORED, m);
    };
    return {
      read: (p) => this.read(p),
      flag: (p) => this.flag(p),
      write: (path, v) => { const value = String(typeof v === 'boolean' ? Number(v) : v); req({ type: 'XS_WRITE', path, value, detail: `${path}=${value}` }); },
      rm: (path) => req({ type: 'XS_RM', path, detail: path }),
      watch: (path, watcher, token = path) => req({ type: 'XS_WATCH', path, watcher, token, detail: path }),
      unwatch: (path, watcher, token = path) => req({ type: 'XS_UNWATCH', path, watcher, token, detail: path }),
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
  do_unwatch(path: string, watcher: string, token: string): void {
    this.watches = this.watches.filter((w) => !(w.path === path && w.watcher === watcher && w.token === token));
  }
  /** One event per matching watch, in registration order; a removal also fires the watches below it. */
  private fire_watches(path: string, recurse: boolean): void {
    for (const w of this.watches) if (under(path, w.path) || (recurse && under(w.path, path))) this.send(w, path);
  }
  private send(w: Watch, path: string): void {
    this.sys.send(XENSTORED, w.watcher, { type: 'XS_WATCH_EVENT', detail: path, token: w.token });
  }
}

export const xenstoreMachine = setup({
  types: {
    context: {} as { store: XenStore },
    input: {} as { store: XenStore },
    events: {} as XsRequest,
  },
  actions: {
    do_write: ({ context, event }) => { const e = event as Extract<XsRequest, { type: 'XS_WRITE' }>; context.store.do_write(e.path, e.value); },
    do_rm: ({ context, event }) => context.store.do_rm((event as Extract<XsRequest, { type: 'XS_RM' }>).path),
    do_watch: ({ context, event }) => { const e = event as Extract<XsRequest, { type: 'XS_WATCH' }>; context.store.do_watch(e.path, e.watcher, e.token); },
    do_unwatch: ({ context, event }) => { const e = event as Extract<XsRequest, { type: 'XS_UNWATCH' }>; context.store.do_unwatch(e.path, e.watcher, e.token); },
  },
}).createMachine({
  id: 'xenstore',
  context: ({ input }) => ({ store: input.store }),
  initial: 'running',
  states: {
    running: {
      on: {
        XS_WRITE: { actions: 'do_write' },
        XS_RM: { actions: 'do_rm' },
        XS_WATCH: { actions: 'do_watch' },
        XS_UNWATCH: { actions: 'do_unwatch' },
      },
    },
  },
});
