/**
 * The toolstack's lifecycle operations during a run (a scenario's `events:`, src/scenario/events.ts):
 * each host has a toolstack actor (kind `toolstack`, xl and libxl in dom0), and every event is a
 * message to it at its virtual time. The actor's action runs the verb's handler (TOOLSTACK_VERBS),
 * which drives the same toolstack calls as at boot (attachVif, connectVifs), the XenBus close of
 * a vif (unplug.ts) or the domain's destruction (Xen's domctls).
 *
 * Order: the dispatcher (scheduleEvents) schedules every event, sorted by time and then by its
 * place in the list, at its time on the toolstack actor's rank; events of one time therefore run in
 * list order, after whatever other actors of lower rank do at that instant. The toolstack actors are
 * spawned after every other actor (so nothing else's rank moves) and only when the scenario has events.
 */
import type { AdaptiveRate } from './rate-limit.js';
import { setup } from 'xstate';
import type { ActorLike, ActorSystem } from '../actors/runtime.js';
import { PS_PER_MS } from '../actors/scheduler.js';

/**
 * The verbs of a scenario's events, in the order a verb is looked for in an event. Adding one: here,
 * a key in the scenario's EventSchema and its checks (src/scenario/events.ts), and its handler in
 * TOOLSTACK_VERBS (xl.ts).
 */
export const EVENT_VERBS = ['attach', 'detach', 'destroy', 'crash', 'migrate', 'save', 'restore'] as const;
export type EventVerb = typeof EVENT_VERBS[number];

/** One event as the toolstack runs it: its time, verb, target guest and host, and vif. */
export interface LifecycleEvent {
  /** Index in the scenario's list (the tie-break of events at the same time). */
  index: number;
  atMs: number;
  verb: EventVerb;
  /** The host's name, or null for a scenario of one host. */
  host: string | null;
  /** The guest, 1-based. */
  guest: number;
  /** The vif (attach, detach); null for the domain's verbs. */
  vif: number | null;
  /** migrate: the destination host; null for the other verbs. */
  to: string | null;
  /** migrate: the stream's adaptive rate limit (Clark et al. 5.1), when the event asks for it. */
  rateLimit?: AdaptiveRate;
}

/** A command to the toolstack (from the scenario's events), or a XenStore watch it registered firing. */
export type ToolstackEvent =
  | { type: 'XL_COMMAND'; verb: EventVerb; index: number; detail: string }
  | { type: 'XS_WATCH_EVENT'; detail: string; token?: string };

interface ToolstackContext {
  command: (e: Extract<ToolstackEvent, { type: 'XL_COMMAND' }>) => void;
  watch: (path: string, token: string) => void;
}

/**
 * The toolstack's actor: it holds no state of its own worth charting beyond being there (what it did
 * shows in the netfront/netback XenBus regions and the domains' actors); its actions run the command
 * or the continuation a watch it registered stands for.
 */
export const toolstackMachine = setup({
  types: { context: {} as ToolstackContext, input: {} as ToolstackContext, events: {} as ToolstackEvent },
  actions: {
    xl: ({ context, event }) => context.command(event as Extract<ToolstackEvent, { type: 'XL_COMMAND' }>),
    xs_watch: ({ context, event }) => { const e = event as Extract<ToolstackEvent, { type: 'XS_WATCH_EVENT' }>; context.watch(e.detail, e.token ?? e.detail); },
  },
}).createMachine({
  id: 'toolstack',
  context: ({ input }) => input,
  initial: 'ready',
  states: { ready: { on: { XL_COMMAND: { actions: 'xl' }, XS_WATCH_EVENT: { actions: 'xs_watch' } } } },
});

/** What a verb's handler does with one event, on the toolstack of the event's host. */
export type VerbHandler<T> = (ts: T, e: LifecycleEvent) => void;

/** A host's toolstack: its actor's name, and what runs each verb and each watch continuation. */
export interface ToolstackActor {
  readonly name: string;
  run(e: LifecycleEvent): void;
  /** A watch this toolstack registered (token: what it waits for) fired on `path`. */
  watchFired(path: string, token: string): void;
}

/** Spawn a host's toolstack actor (after every other actor of the system). */
export function spawnToolstack(sys: ActorSystem, ts: ToolstackActor, events: () => readonly LifecycleEvent[]): ActorLike {
  return sys.spawn(ts.name, 'toolstack', toolstackMachine, {
    command: (m: Extract<ToolstackEvent, { type: 'XL_COMMAND' }>) => ts.run(events()[m.index]),
    watch: (path: string, token: string) => ts.watchFired(path, token),
  } satisfies ToolstackContext);
}

/** How an event reads in the trace: the xl command line (or what happened), e.g. `network-detach domU1 0`. */
export function commandLine(e: LifecycleEvent, domain: string): string {
  switch (e.verb) {
    case 'attach': return `network-attach ${domain} ${e.vif}`;
    case 'detach': return `network-detach ${domain} ${e.vif}`;
    case 'destroy': return `destroy ${domain}`;
    case 'crash': return `domain_crash ${domain}`;
    case 'migrate': return `migrate --live ${domain} ${e.to}`;
    case 'save': return `save ${domain}`;
    case 'restore': return `restore ${domain}`;
    default: return `${e.verb} ${domain}`;
  }
}

/**
 * The dispatcher: each event, in the toolstack's order (events.ts: by time, then as listed), is
 * delivered to its host's toolstack actor at its time. `toolstackOf` names a host's actor and
 * `domainOf` the guest's domain actor (for the trace's detail).
 */
export function scheduleEvents(sys: ActorSystem, events: readonly LifecycleEvent[], toolstackOf: (host: string | null) => string, domainOf: (e: LifecycleEvent) => string): void {
  events.forEach((e, i) => {
    const to = toolstackOf(e.host);
    sys.sched.at(Math.round(e.atMs * PS_PER_MS), sys.rankOf(to), () => sys.deliverNow(to, to, { type: 'XL_COMMAND', verb: e.verb, index: i, detail: commandLine(e, domainOf(e)) }));
  });
}
