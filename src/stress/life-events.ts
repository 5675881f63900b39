/**
 * Lifecycle events drawn into stress cases (`stress --lifecycle`, one host or a world): vif unplug and
 * plug again, destroy, crash, save and restore, and (in a world) live migration to another host. The
 * draws are turned into an `events:` list the scenario's validator (src/scenario/events.ts) accepts:
 * nothing names a guest after it is destroyed, crashed, saved or migrated away (a restore names its
 * save's target), a guest migrates to another Xen host its dom0 and its flows' other ends can reach.
 */
import fc from 'fast-check';
import type { ScenarioInput } from '../scenario/schema.js';

export type LifeKind = 'unplug' | 'replug' | 'destroy' | 'crash' | 'save' | 'migrate';

/** One drawn lifecycle event: when (a fraction of the traffic window), what, on which guest; `after` for a replug's or restore's delay; `to` picks a migration's destination. */
export interface LifeDraw { at: number; kind: LifeKind; guest: number; after: number; to: number }

/** A drawn event of one of `kinds` (repeat a kind to weigh it). */
export function lifeEventArb(kinds: readonly LifeKind[]): fc.Arbitrary<LifeDraw> {
  return fc.record({
    at: fc.double({ min: 0.05, max: 0.8, noNaN: true }),
    kind: fc.constantFrom(...kinds),
    guest: fc.nat(15),
    after: fc.double({ min: 0.02, max: 0.3, noNaN: true }),
    to: fc.nat(15),
  });
}

/** The guests a case's events may name, and where each may migrate. */
export interface LifeTargets {
  /** Every guest, as events name it (`guest2`, or `host1/guest2` in a world). */
  guests: readonly string[];
  /** The adversary's guest (its vif is not unplugged, saved or migrated), or null. */
  hostile: string | null;
  /** The hosts guest `g` may migrate to (none on one host). */
  destinations(g: string): readonly string[];
}

type Events = NonNullable<ScenarioInput['events']>;

/**
 * The drawn events as a valid `events:` list, in time order. An unplug detaches the guest's vif 0; a
 * replug detaches it and attaches it again `after` later (once per guest); a save suspends the guest
 * and a restore brings it back `after` later; destroy and crash end the guest, whether its vif is
 * plugged, unplugged or on its way out; a migration moves it to a drawn destination. Later events on
 * a guest that is gone are left out, as is anything before a pending plug or restore. The
 * adversary's guest is not unplugged, saved or migrated (its frontend decides its own XenBus moves,
 * and a resume is netfront's): it may be destroyed or crash. Save and migrate need the guest's vif
 * plugged (a guest resumes with the vifs it has).
 */
export function lifeEvents(draws: readonly LifeDraw[], trafficUs: number, t: LifeTargets): Events {
  const out: Events = [];
  // Per guest: gone (destroyed, crashed, saved or migrated), unplugged for good, or back at a later time.
  const gone = new Set<string>(), unplugged = new Set<string>(), back = new Map<string, number>();
  const ms = (f: number) => Math.round(f * trafficUs) / 1000;
  for (const d of [...draws].sort((a, b) => a.at - b.at)) {
    if (!t.guests.length) break;
    const g = t.guests[d.guest % t.guests.length];
    const at = ms(d.at);
    if (gone.has(g) || (back.get(g) ?? -1) >= at) continue; // (events come in time order: nothing before a pending plug)
    if (d.kind === 'destroy' || d.kind === 'crash') { out.push({ at, [d.kind]: g }); gone.add(g); continue; }
    if (g === t.hostile || unplugged.has(g)) continue;
    if (d.kind === 'migrate') {
      const to = t.destinations(g);
      if (!to.length) continue;
      out.push({ at, migrate: g, to: to[d.to % to.length] });
      gone.add(g);
      continue;
    }
    const later = ms(Math.min(0.95, d.at + d.after));
    if (d.kind === 'save') {
      out.push({ at, save: g }, { at: later, restore: g });
      gone.add(g);
      continue;
    }
    if (back.has(g)) continue; // one replug per guest
    out.push({ at, detach: g });
    if (d.kind === 'unplug') { unplugged.add(g); continue; }
    out.push({ at: later, attach: g, vif: 0 });
    back.set(g, later);
  }
  return out.sort((a, b) => Number(a.at) - Number(b.at)); // (every `at` drawn here is ms, a number)
}
