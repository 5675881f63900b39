import { expect } from 'chai';
import { join } from 'node:path';
import { filter, map } from 'rxjs';
import { loadScenario } from '../../src/scenario/schema.js';
import { build } from '../../src/scenario/build.js';
import { runBuilt, runScenario } from '../../src/scenario/run.js';
import type { Packet } from '../../src/core/packet.js';
import { PS_PER_MS } from '../../src/actors/scheduler.js';
import { Recorder } from '../../src/inspect/recorder.js';
import { StateValues, type InternSlot } from '../../src/actors/observe.js';

const scenario = () => {
  const sc = loadScenario(join('scenarios', 'guest-tx.yaml'));
  sc.run = { warmupMs: 4, durationMs: 3 };
  return sc;
};

describe('observing a run through rxjs', function () {
  this.timeout(60_000); // each test runs a scenario for a few ms of virtual time: seconds on a loaded machine
  it('messages$ sees every delivered message, in delivery order, and changes nothing', () => {
    const plain = runScenario(scenario());
    const b = build(scenario());
    const seen: Array<{ t: number; type: string }> = [];
    b.sys.messages$.subscribe((m) => seen.push({ t: m.t, type: m.type }));
    const r = runBuilt(b);
    b.sys.stop();
    expect(JSON.stringify(r)).to.equal(JSON.stringify(plain));
    expect(seen.length).to.equal(b.sys.messages);
    expect(seen.every((m, i) => i === 0 || m.t >= seen[i - 1].t), 'in time order').to.equal(true);
    expect(new Set(seen.map((m) => m.type))).to.include.members(['CPU_DONE', 'WIRE_RX', 'SEND']);
  });

  it('states$ reports real changes of every kind of actor; wire$ every frame; rxjs operators compose on them', () => {
    const b = build(scenario());
    const kinds = new Map([...b.sys.actors.values()].map((a) => [a.name, a.kind]));
    const changes: Array<{ actor: string; kind: string; value: string }> = [];
    b.sys.states$.subscribe((c) => changes.push(c));
    const nics = new Set(b.nics.map((n) => n.name));
    let acksFromNics = 0, acksFromClients = 0;
    b.sys.wire$.pipe(filter((w) => (w.frame as Packet).kind === 'ack'), map((w) => nics.has(w.from))).subscribe((fromNic) => { if (fromNic) acksFromNics++; else acksFromClients++; });
    let frames = 0;
    b.sys.wire$.subscribe(() => { frames++; });
    b.start();
    b.sys.sched.run(7 * PS_PER_MS); // whole run, counters never reset (runBuilt resets them after warm-up)
    b.sys.stop();
    expect(changes.every((c) => kinds.get(c.actor) === c.kind)).to.equal(true);
    // A change is a change: no actor reports the same value twice in a row.
    const last = new Map<string, string>();
    for (const c of changes) { expect(last.get(c.actor)).to.not.equal(c.value); last.set(c.actor, c.value); }
    expect(new Set(changes.map((c) => c.kind))).to.include.members(['domain', 'nic', 'client']);
    expect(frames).to.equal(b.counters.wire.sent);
    // Guest transmit: data leaves through the NICs, the clients answer with ACKs.
    expect(acksFromClients).to.be.greaterThan(10);
    expect(acksFromNics).to.equal(0);
  });

  it('pays nothing while nobody listens: a stream is observed only between subscribe and unsubscribe', () => {
    const b = build(scenario());
    const sys = b.sys as unknown as { delivered: { observed: boolean }; changes: { observed: boolean }; frames: { observed: boolean } };
    expect([sys.delivered.observed, sys.changes.observed, sys.frames.observed]).to.deep.equal([false, false, false]);
    const s1 = b.sys.messages$.subscribe(() => {});
    const s2 = b.sys.messages$.subscribe(() => {});
    s1.unsubscribe();
    expect(sys.delivered.observed).to.equal(true);
    s2.unsubscribe();
    expect(sys.delivered.observed).to.equal(false);
    b.sys.stop();
  });
  it('the recorder\'s tap keeps what the streams show: every message, state change and frame, built when read', function () {
    this.timeout(60_000); // two runs of a scenario on a loaded machine
    const b = build(scenario());
    const msgs: unknown[] = [], states: unknown[] = [], frames: unknown[] = [];
    b.sys.messages$.subscribe(({ t, from, to, type, detail }) => msgs.push({ t, from, to, type, detail }));
    b.sys.states$.subscribe(({ t, actor, value }) => states.push({ t, actor, value }));
    b.sys.wire$.subscribe(({ t, from, to, frame }) => {
      const p = frame as Packet;
      frames.push({ t, from, to, kind: p.kind, flow: p.flow, seq: p.seq, len: p.len, ack: p.ack, wnd: p.wnd });
    });
    const rec = new Recorder(b, { messages: true, wire: true });
    const r = rec.run();
    b.sys.stop();
    expect(JSON.stringify(r)).to.equal(JSON.stringify(runScenario(scenario())));
    expect(msgs.length).to.be.greaterThan(1000);
    expect(new Set(states.map((s) => (s as { actor: string }).actor)).size).to.be.greaterThan(5);
    expect(frames.length).to.be.greaterThan(100);
    expect(rec.trace).to.deep.equal(msgs);
    expect(rec.states).to.deep.equal(states);
    expect(rec.wire).to.deep.equal(frames);
    expect(rec.trace).to.equal(rec.trace); // built once, then the same array
  });
  it('a state value interned through its slot gets its table\'s id, also when two systems\' tables take turns', () => {
    const a = new StateValues(), b = new StateValues();
    a.idOf('running'); // the tables number the same value differently
    const v = { tx: 'idle', rx: {} }, slot: InternSlot = { table: null, id: -1 };
    expect(b.idOf(v), 'the two tables differ').to.not.equal(a.idOf(v));
    for (const t of [a, b, a, b]) expect(t.idIn(slot, v)).to.equal(t.idOf(v));
    expect(a.json[a.idIn(slot, v)]).to.equal('{"tx":"idle","rx":{}}');
  });
});
