/**
 * The toolstack's view of one save, restore or live migration (kind `migration`), as xl's
 * migrate / save / restore run it (libxl_domain_suspend -> xc_domain_save on the source,
 * xc_domain_restore on the destination):
 * - precopy: live rounds, each sending the pages the last one left dirty (the first sends every
 *   page), while the guest runs; ROUND ends one, the stop rule (precopy.ts) decides on another;
 * - stopAndCopy: the guest is suspended (paused) and the last dirty set goes;
 * - saved (save only, not live: its one round is the last): the image is on dom0's disk and the
 *   domain destroyed, until RESTORE builds it again from the image;
 * - resuming: the destination's domain is built from the pages, netfront reconnects (netfront_resume)
 *   and the guest is unpaused;
 * - releasing: the source destroys its copy of the guest (xl's migrate ends with it; after a
 *   restore there is nothing left to release);
 * - done.
 * The toolstack code (migration.ts) tells this actor of each step directly (untraced) and reads
 * nothing back from it: the chart is the record of where the migration is.
 */
import { setup } from 'xstate';

export type MigrationEvent =
  | { type: 'START' } | { type: 'ROUND' } | { type: 'LAST_ROUND' } | { type: 'COPIED' } | { type: 'SAVED' }
  | { type: 'RESTORE' } | { type: 'RESUMED' } | { type: 'RELEASED' };

/** One event object per type, made once. */
export const MIG = Object.fromEntries(
  ['START', 'ROUND', 'LAST_ROUND', 'COPIED', 'SAVED', 'RESTORE', 'RESUMED', 'RELEASED'].map((t) => [t, Object.freeze({ type: t })]),
) as { [K in MigrationEvent['type']]: Readonly<{ type: K }> };

export const migrationMachine = setup({
  types: {
    context: {} as { name: string; rounds: number },
    input: {} as { name: string },
    events: {} as MigrationEvent,
  },
}).createMachine({
  id: 'migration',
  context: ({ input }) => ({ name: input.name, rounds: 0 }),
  initial: 'idle',
  states: {
    idle: { on: { START: 'precopy' } },
    precopy: { on: { ROUND: 'precopy', LAST_ROUND: 'stopAndCopy' } },
    stopAndCopy: { on: { COPIED: 'resuming', SAVED: 'saved' } },
    saved: { on: { RESTORE: 'resuming' } },
    resuming: { on: { RESUMED: 'releasing' } },
    releasing: { on: { RELEASED: 'done' } },
    done: {},
  },
});
