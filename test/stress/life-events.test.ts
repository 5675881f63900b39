/** The lifecycle events stress cases draw (src/stress/life-events.ts) and where a world's guest may migrate (world-case.ts). */
import { expect } from 'chai';
import { lifeEvents, type LifeDraw } from '../../src/stress/life-events.js';
import { migrationDestinations } from '../../src/stress/world-case.js';

const d = (at: number, kind: LifeDraw['kind'], guest = 0, after = 0.1, to = 0): LifeDraw => ({ at, kind, guest, after, to });
const world = { guests: ['host1/guest1', 'host2/guest1'], hostile: null, destinations: (g: string) => (g.startsWith('host1') ? ['host2', 'host3'] : []) };

describe('stress: drawn lifecycle events', () => {
  it('turns draws into events in time order: a replug and a save each come back `after` later, a migration goes to a drawn destination', () => {
    expect(lifeEvents([d(0.5, 'save', 1), d(0.1, 'replug', 0, 0.2)], 2000, world)).to.deep.equal([
      { at: 0.2, detach: 'host1/guest1' }, { at: 0.6, attach: 'host1/guest1', vif: 0 }, { at: 1, save: 'host2/guest1' }, { at: 1.2, restore: 'host2/guest1' },
    ]);
    expect(lifeEvents([d(0.2, 'migrate', 0, 0.1, 3)], 1000, world)).to.deep.equal([{ at: 0.2, migrate: 'host1/guest1', to: 'host3' }]);
    // A restore or a plug is at most 95% into the window.
    expect(lifeEvents([d(0.8, 'save', 0, 0.3)], 1000, world).at(-1)).to.deep.equal({ at: 0.95, restore: 'host1/guest1' });
  });

  it('names no guest after it is gone, nor before its pending plug; a guest with nowhere to go does not migrate', () => {
    // Destroyed, then saved and migrated: only the destroy.
    expect(lifeEvents([d(0.1, 'destroy'), d(0.2, 'save'), d(0.3, 'migrate')], 1000, world)).to.deep.equal([{ at: 0.1, destroy: 'host1/guest1' }]);
    // Migrated away: a later crash of it is left out.
    expect(lifeEvents([d(0.1, 'migrate'), d(0.2, 'crash')], 1000, world)).to.deep.equal([{ at: 0.1, migrate: 'host1/guest1', to: 'host2' }]);
    // Saved: nothing before its restore, nor after it.
    expect(lifeEvents([d(0.1, 'save', 0, 0.3), d(0.2, 'unplug'), d(0.7, 'crash')], 1000, world)).to.deep.equal([{ at: 0.1, save: 'host1/guest1' }, { at: 0.4, restore: 'host1/guest1' }]);
    // Plugged again at 0.4: an event at 0.3 is left out, one at 0.5 stays; a second replug is not drawn.
    expect(lifeEvents([d(0.1, 'replug', 0, 0.3), d(0.3, 'crash'), d(0.5, 'replug'), d(0.6, 'save')], 1000, world)).to.deep.equal([
      { at: 0.1, detach: 'host1/guest1' }, { at: 0.4, attach: 'host1/guest1', vif: 0 }, { at: 0.6, save: 'host1/guest1' }, { at: 0.7, restore: 'host1/guest1' },
    ]);
    // Unplugged for good: no save or migration of a guest without its vif; a crash still.
    expect(lifeEvents([d(0.1, 'unplug'), d(0.2, 'save'), d(0.3, 'migrate'), d(0.4, 'crash')], 1000, world)).to.deep.equal([{ at: 0.1, detach: 'host1/guest1' }, { at: 0.4, crash: 'host1/guest1' }]);
    expect(lifeEvents([d(0.1, 'migrate', 1)], 1000, world)).to.deep.equal([]);
  });

  it("keeps the adversary's guest out of unplug, save and migration, but lets it be destroyed or crash", () => {
    const t = { ...world, hostile: 'host1/guest1' };
    expect(lifeEvents([d(0.1, 'unplug'), d(0.2, 'replug'), d(0.3, 'save'), d(0.4, 'migrate')], 1000, t)).to.deep.equal([]);
    expect(lifeEvents([d(0.1, 'crash')], 1000, t)).to.deep.equal([{ at: 0.1, crash: 'host1/guest1' }]);
  });

  it('migrates a guest to another host its dom0 reaches and from which its flows\' other ends are reachable, not through a static switch', () => {
    const line = [{ a: 'host1/eth0', b: 'host2/eth0' }, { a: 'host2/eth1', b: 'host3/eth0' }];
    const flow = (from: string, to: string) => ({ from, to, kind: 'stream' as const });
    expect(migrationDestinations('host2/guest1', 3, line, [])).to.deep.equal(['host1', 'host3']);
    // host1 reaches only host2; host3's guest talks to host1's dom0, which host2 reaches and host3 does not.
    expect(migrationDestinations('host1/guest1', 3, line, [])).to.deep.equal(['host2']);
    expect(migrationDestinations('host2/guest1', 3, line, [flow('host1/dom0', 'host2/guest1')])).to.deep.equal(['host1']);
    expect(migrationDestinations('host2/guest1', 3, line, [flow('host2/guest1', 'host3/peer2')])).to.deep.equal(['host3']);
    const sw = [0, 1, 2].map((i) => ({ a: `host${i + 1}/eth0`, b: `sw0/p${i}` }));
    expect(migrationDestinations('host1/guest1', 3, sw, [])).to.deep.equal(['host2', 'host3']);
    expect(migrationDestinations('host1/guest1', 3, sw, [], true)).to.deep.equal([]);
  });
});
