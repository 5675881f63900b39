/** The report's lifecycle markers (src/inspect/lifecycle-marks.ts) from a run's migration accounts and events. */
import { expect } from 'chai';
import { lifecycleMarks } from '../../src/inspect/lifecycle-marks.js';
import type { MigrationResult } from '../../src/toolstack/migration.js';
import type { LifecycleEvent } from '../../src/toolstack/lifecycle.js';

describe('lifecycle markers of the other verbs', () => {
  const ev = (verb: LifecycleEvent['verb'], atMs: number, vif: number | null = null): LifecycleEvent => ({ index: 0, atMs, verb, host: null, guest: 1, vif, to: null });
  it('attach, detach, destroy and crash are instants at their times; a save is a span to its restore', () => {
    const save: MigrationResult = {
      guest: 'domU1', from: 'host', to: 'host', kind: 'save', startMs: 30, rounds: 1, pagesPerRound: [1026], roundsAtMs: [30], suspendedAtMs: 30, resumedAtMs: 150.5,
      stop: 'save', pagesSent: 1026, bytesSent: 0, downtimeMs: 120.5, totalMs: 120.5, flows: [], sourceLeft: [], netfrontReleased: { tx: 0, rx: 0 }, resumeLeft: [],
    };
    const marks = lifecycleMarks([save], [ev('attach', 5, 1), ev('detach', 12, 1), ev('save', 30), ev('restore', 120), ev('crash', 200), ev('destroy', 201)], 300);
    expect(marks.map((k) => [k.kind, k.fromMs, k.toMs])).to.deep.equal([
      ['attach', 5, undefined], ['detach', 12, undefined], ['saved', 30, 150.5], ['save', 30, undefined], ['restore', 120, undefined],
      ['resume', 150.5, undefined], ['crash', 200, undefined], ['destroy', 201, undefined],
    ]);
    expect(marks[0].label).to.equal('attach guest1 vif 1');
  });
  it('a migration still going at the end: its last round runs to the end of the run', () => {
    const m = { guest: 'g', to: 'host2', kind: 'migrate', startMs: 10, pagesPerRound: [5, 3], roundsAtMs: [10, 20], suspendedAtMs: null, resumedAtMs: null } as unknown as MigrationResult;
    expect(lifecycleMarks([m], [], 50).map((k) => [k.kind, k.fromMs, k.toMs])).to.deep.equal([['precopy', 10, 20], ['precopy', 20, 50]]);
  });
});
