/**
 * A scenario's `events:` list: guest lifecycle operations the toolstack performs at a virtual time
 * (xl network-attach / network-detach, xl destroy, a guest crash, xl migrate, save and restore), validated against the world they
 * act on. src/toolstack/lifecycle.ts dispatches them to each host's toolstack actor.
 *
 * Each event is `{ at, <verb>: <target>, ... }`: `at` in ms (a number) or a string with its unit
 * ("200ms", "1.5ms", "750us", "2s"); the target a guest (`guest1`, or `host1/guest1` in a world of
 * hosts). Events at the same time run in the order they are listed.
 */
import { z } from 'zod';
import { ENDPOINT_RE, TIME_FORMS, timeMs } from './schema-parts.js';
import { EVENT_VERBS, type LifecycleEvent } from '../toolstack/lifecycle.js';
import { CLARK_RATE } from '../toolstack/rate-limit.js';

export { EVENT_VERBS, type EventVerb, type LifecycleEvent } from '../toolstack/lifecycle.js';

/** A virtual time in ms: a number, or a string with its unit (a bare string number is ms). */
export const TimeSchema = z.union([z.number().nonnegative(), timeMs('ms').pipe(z.number().nonnegative())], { error: `expected a time: ms as a number, or with its unit (${TIME_FORMS})` });

const target = (what: string) => z.string().regex(ENDPOINT_RE, 'expected a guest: guestN, or hostname/guestN in a world of hosts').optional().describe(what);

export const EventSchema = z.strictObject({
  at: TimeSchema.describe('When, in virtual time from the start of the run (warm-up included): ms as a number, or a string with its unit (`200ms`, `750us`, `2s`). Inside the warm-up plus the measured window.'),
  attach: target('xl network-attach: plug a new vif into this guest (`guest1`, or `host1/guest1` in a world), through the XenBus handshake as at boot.'),
  detach: target('xl network-detach: unplug a vif of this guest; netback and netfront close (Closing, Closed) and the bridge port goes.'),
  destroy: target('xl destroy: close the guest\'s vifs, kill the domain and release everything it held (grants, event channels, memory, XenStore).'),
  crash: target('The guest crashes (Xen\'s domain_crash: it never runs again); the toolstack then destroys it as xl destroy does.'),
  migrate: target('xl migrate: live-migrate this guest (`host1/guest1`) to the host named in `to`: pre-copy rounds over a TCP stream between the two dom0s, stop-and-copy, resume on the destination (a new domain; netfront reconnects to a new netback; a gratuitous ARP), then the source releases it.'),
  to: z.string().regex(/^[a-z][a-z0-9-]*$/, 'expected a host name').optional().describe('migrate: the destination host (a world of hosts).'),
  rateLimit: z.strictObject({
    startMbps: z.number().positive().default(CLARK_RATE.startMbps).describe('The first round\'s limit, Mb/s. Default 100.'),
    maxMbps: z.number().positive().default(CLARK_RATE.maxMbps).describe('The most a round may use, and stop-and-copy\'s rate, Mb/s. Default 500.'),
    incrementMbps: z.number().nonnegative().default(CLARK_RATE.incrementMbps).describe('Added to the round\'s dirtying rate for the next round\'s limit, Mb/s. Default 50.'),
  }).optional().describe('migrate: pace the migration stream with Clark et al.\'s dynamic rate limit (NSDI 2005, 5.1): the first round at startMbps, each next at the guest\'s dirtying rate in the round before plus incrementMbps, pre-copy ending when that would exceed maxMbps, stop-and-copy at maxMbps. `{}` takes the paper\'s 100, 500 and 50. Default: no limit (the stream runs at what TCP gets, as xc_domain_save shipped).'),
  save: target('xl save: suspend this guest and write its pages to dom0\'s disk (70 MB/s); the domain is destroyed until a `restore` of the same target.'),
  restore: target('xl restore: build the saved guest again on its host from its image and resume it (netfront reconnects as after a migration).'),
  vif: z.number().int().nonnegative().optional().describe('attach / detach: which vif, 0-based. Default: attach takes the lowest number the guest has free, detach vif 0.'),
}).describe('One lifecycle event: `at` and exactly one verb with its target guest.');

export const EventsSchema = z.array(EventSchema).max(1024).default([])
  .describe('Guest lifecycle events the toolstack performs during the run (vif hot-plug and unplug, destroy, crash), in time order; events at the same time in list order. Default none.');

export type EventInput = z.input<typeof EventSchema>;
type EventEntry = z.infer<typeof EventSchema>;

/** What checkEvents needs to know of the scenario (kept structural: schema.ts imports this module). */
export interface EventWorld {
  topology: string;
  events: EventEntry[];
  run: { warmupMs: number; durationMs: number };
  hosts?: Record<string, unknown>;
  /** The guests of a host (null: the scenario's one host). */
  guestsOf(host: string | null): number;
  /** The vifs guest g (1-based) has at boot on a host. */
  bootVifs(host: string | null, guest: number): number;
  /** The most vifs a guest's grant table holds. */
  maxVifs: number;
}

/** Events in the order the toolstack runs them: by time, then as listed. */
export function eventOrder(events: readonly EventEntry[]): Array<{ e: EventEntry; index: number; atMs: number }> {
  return events.map((e, index) => ({ e, index, atMs: e.at })).sort((a, b) => a.atMs - b.atMs || a.index - b.index);
}

type Ctx = { addIssue(i: { code: 'custom'; path: PropertyKey[]; message: string }): void };

/**
 * Each event names one verb and a guest that exists (of a host that exists) at its time, inside the
 * run; attach a vif the guest does not have and its grant table holds, detach one it has; nothing
 * after a guest's destroy or crash. Replayed in the toolstack's order, so "has" means at that time.
 */
export function checkEvents(w: EventWorld, ctx: Ctx): void {
  if (!w.events.length) return;
  if (w.topology !== 'guest') { ctx.addIssue({ code: 'custom', path: ['events'], message: 'lifecycle events act on guests: they need topology guest' }); return; }
  resolveEvents(w, ctx);
}

/** The events of a validated scenario, in the toolstack's order, each resolved to its host, guest and vif. */
export function lifecycleEvents(w: EventWorld): LifecycleEvent[] {
  return resolveEvents(w, null);
}

/** Walk the events in the toolstack's order, tracking each guest's vifs; what does not fit is an issue (and left out). */
function resolveEvents(w: EventWorld, ctx: Ctx | null): LifecycleEvent[] {
  const issue = (path: PropertyKey[], message: string) => ctx?.addIssue({ code: 'custom', path, message });
  const end = w.run.warmupMs + w.run.durationMs;
  const vifs = new Map<string, Set<number>>();
  const gone = new Set<string>();
  const saved = new Set<string>();
  const out: LifecycleEvent[] = [];
  for (const { e, index: i, atMs } of eventOrder(w.events)) {
    const named = EVENT_VERBS.filter((v) => e[v] !== undefined);
    if (named.length !== 1) { issue(['events', i], named.length ? `one verb per event (found ${named.join(', ')})` : `no verb: give one of ${EVENT_VERBS.join(', ')}`); continue; }
    const verb = named[0];
    if (atMs >= end) issue(['events', i, 'at'], `${atMs} ms is after the run (warm-up ${w.run.warmupMs} + window ${w.run.durationMs} = ${end} ms)`);
    const t = e[verb]!;
    if (!ENDPOINT_RE.test(t)) continue; // the field's own check said so
    const slash = t.indexOf('/');
    const host = slash < 0 ? null : t.slice(0, slash);
    const name = t.slice(slash + 1);
    const at = ['events', i, verb];
    if (!/^guest\d+$/.test(name)) { issue(at, `${name} is not a guest: lifecycle events act on guestN`); continue; }
    if (w.hosts && host === null) { issue(at, `name the host: ${Object.keys(w.hosts)[0]}/${name} (a world of hosts)`); continue; }
    if (!w.hosts && host !== null) { issue(at, `no hosts listed: write ${name}, or list the hosts under hosts`); continue; }
    if (w.hosts && host !== null && !(host in w.hosts)) { issue(at, `no host ${host} (hosts: ${Object.keys(w.hosts).join(', ')})`); continue; }
    const guest = Number(name.slice(5));
    if (guest < 1 || guest > w.guestsOf(host)) { issue(at, w.guestsOf(host) === 0 ? `${host ?? 'the host'} has no guests (a native Linux host, or guests: 0)` : `no guest ${guest}${host ? ` of ${host}` : ''} (guests is ${w.guestsOf(host)})`); continue; }
    const key = `${host ?? ''}/${guest}`;
    if (verb === 'restore') {
      if (!saved.has(key)) { issue(at, `${t} was not saved before ${atMs} ms: restore needs a save of it first`); continue; }
      if (e.vif !== undefined || e.to !== undefined || e.rateLimit !== undefined) { issue(['events', i], 'restore takes only its target'); continue; }
      saved.delete(key);
      out.push({ index: i, atMs, verb, host, guest, vif: null, to: null });
      continue;
    }
    if (gone.has(key)) { issue(at, `${t} was destroyed, crashed, migrated away or saved before ${atMs} ms`); continue; }
    let has = vifs.get(key);
    if (!has) vifs.set(key, (has = new Set(Array.from({ length: w.bootVifs(host, guest) }, (_, v) => v))));
    let vif: number | null = null;
    if (verb === 'attach') {
      vif = e.vif ?? 0;
      if (e.vif === undefined) while (has.has(vif)) vif++;
      if (has.has(vif)) { issue(['events', i, 'vif'], `${t} already has vif ${vif} at ${atMs} ms`); continue; }
      if (vif >= w.maxVifs) { issue(['events', i, 'vif'], `vif ${vif}: a guest's grant table holds ${w.maxVifs} vifs at this vifRingSize (0..${w.maxVifs - 1})`); continue; }
      has.add(vif);
    } else if (verb === 'detach') {
      vif = e.vif ?? 0;
      if (!has.has(vif)) { issue(['events', i, 'vif'], `${t} has no vif ${vif} at ${atMs} ms (it has ${has.size ? [...has].sort((a, b) => a - b).join(', ') : 'none'})`); continue; }
      has.delete(vif);
    } else {
      if (e.vif !== undefined) { issue(['events', i, 'vif'], `only for attach and detach (${verb} acts on the whole domain)`); continue; }
      gone.add(key);
    }
    if (verb !== 'migrate' && e.to !== undefined) { issue(['events', i, 'to'], 'only for migrate (the destination host)'); continue; }
    if (verb !== 'migrate' && e.rateLimit !== undefined) { issue(['events', i, 'rateLimit'], 'only for migrate (the migration stream\'s limit)'); continue; }
    if (e.rateLimit && e.rateLimit.startMbps > e.rateLimit.maxMbps) { issue(['events', i, 'rateLimit', 'startMbps'], `${e.rateLimit.startMbps} Mb/s is above maxMbps (${e.rateLimit.maxMbps})`); continue; }
    if (verb === 'migrate') {
      if (!w.hosts || host === null) { issue(at, 'migrate needs a world of hosts (hosts:) and a destination host in `to`'); continue; }
      if (e.to === undefined) { issue(['events', i], `migrate ${t}: give the destination host in \`to\` (hosts: ${Object.keys(w.hosts).join(', ')})`); continue; }
      if (!(e.to in w.hosts)) { issue(['events', i, 'to'], `no host ${e.to} (hosts: ${Object.keys(w.hosts).join(', ')})`); continue; }
      if (e.to === host) { issue(['events', i, 'to'], `${t} is already on ${host}: migrate to another host`); continue; }
      if ((w.hosts[e.to] as { native?: boolean } | undefined)?.native) { issue(['events', i, 'to'], `${e.to} is a native Linux host: a guest migrates to a Xen host`); continue; }
    }
    if (verb === 'save') saved.add(key);
    out.push({ index: i, atMs, verb, host, guest, vif, to: verb === 'migrate' ? e.to! : null, ...(e.rateLimit ? { rateLimit: { ...e.rateLimit } } : {}) });
  }
  return out;
}
