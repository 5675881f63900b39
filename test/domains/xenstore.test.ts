import { expect } from 'chai';
import { join } from 'node:path';
import { filter } from 'rxjs';
import { setup } from 'xstate';
import { ActorSystem } from '../../src/actors/runtime.js';
import { PS_PER_US } from '../../src/actors/scheduler.js';
import { XENSTORED, XenStore } from '../../src/domains/xenstored.js';
import { XenbusState } from '../../src/channels/netif.js';
import { loadScenario, type Scenario } from '../../src/scenario/schema.js';
import { build } from '../../src/scenario/build.js';
import type { DeliveredMessage, StateChange } from '../../src/actors/observe.js';
import type { CaseScenario } from '../../src/stress/case.js';
import { runWrapped } from '../support/wrapped-case.js';
import { stressCase } from '../support/stress-case.js';

/** An actor that only receives (a domain writing, a driver watching). */
const sink = setup({}).createMachine({ id: 'sink', initial: 'up', states: { up: {} } });

function store(): { sys: ActorSystem; xs: XenStore; events: DeliveredMessage[] } {
  const sys = new ActorSystem(1);
  for (const n of ['dom0', 'domU1', 'w1', 'w2']) sys.spawn(n, 'sink', sink, {});
  const xs = new XenStore(sys);
  xs.spawn();
  const events: DeliveredMessage[] = [];
  sys.messages$.pipe(filter((m) => m.type === 'XS_WATCH_EVENT')).subscribe((m) => events.push(m));
  return { sys, xs, events };
}

describe('xenstored', () => {
  it('fires one watch event per write per matching watch, none for paths outside, one at registration', () => {
    const { sys, xs, events } = store();
    const d0 = xs.domain('dom0'), g = xs.domain('domU1');
    d0.watch('/local/domain/1/device/vif/0/state', 'w1');
    d0.watch('/local/domain/1/device/vif/0', 'w2');
    sys.sched.run(0);
    // Registration fires each watch once, with the watched path.
    expect(events.map((e) => [e.to, e.detail])).to.deep.equal([
      ['w1', '/local/domain/1/device/vif/0/state'], ['w2', '/local/domain/1/device/vif/0'],
    ]);
    events.length = 0;
    g.write('/local/domain/1/device/vif/0/state', XenbusState.Connected);
    g.write('/local/domain/1/device/vif/0/state', XenbusState.Connected); // same value: still a write, still fires
    g.write('/local/domain/1/device/vif/0/tx-ring-ref', 520);
    g.write('/local/domain/1/device/vif/0/state-extra', 1);    // a sibling of `state`, not under it
    g.write('/local/domain/1/device/vif/00/state', 1);         // shares a string prefix, not a path prefix
    g.write('/local/domain/0/backend/vif/1/0/state', 2);
    sys.sched.run(0);
    expect(events.every((e) => e.from === XENSTORED && e.t === 0)).to.equal(true);
    expect(events.map((e) => [e.to, e.detail])).to.deep.equal([
      ['w1', '/local/domain/1/device/vif/0/state'], ['w2', '/local/domain/1/device/vif/0/state'],
      ['w1', '/local/domain/1/device/vif/0/state'], ['w2', '/local/domain/1/device/vif/0/state'],
      ['w2', '/local/domain/1/device/vif/0/tx-ring-ref'],
      ['w2', '/local/domain/1/device/vif/0/state-extra'],
    ]);
    expect(xs.read('/local/domain/1/device/vif/0/state')).to.equal('4');
    expect(xs.flag('/local/domain/1/device/vif/00/state')).to.equal(true);
  });

  it('a transaction holds its writes back until commit, then fires their watches in order; an abort leaves nothing', () => {
    const { sys, xs, events } = store();
    const d0 = xs.domain('dom0'), g = xs.domain('domU1');
    const vif = '/local/domain/1/device/vif/0';
    d0.watch(vif, 'w1');
    sys.sched.run(0);
    events.length = 0;
    const states: string[] = [];
    sys.states$.pipe(filter((c) => c.actor === XENSTORED)).subscribe((c) => states.push(c.value));
    g.transaction((t) => {
      t.write(`${vif}/tx-ring-ref`, 520);
      g.write(`${vif}/state`, XenbusState.Initialised); // a plain write in the middle is not part of it
      t.write(`${vif}/rx-ring-ref`, 521);
      expect(xs.read(`${vif}/tx-ring-ref`), 'not visible before commit').to.equal(undefined);
    });
    expect(xs.read(`${vif}/rx-ring-ref`)).to.equal('521');
    expect(() => g.transaction((t) => { t.write(`${vif}/mac`, 'x'); throw new Error('changed my mind'); })).to.throw('changed my mind');
    expect(xs.read(`${vif}/mac`), 'an aborted write').to.equal(undefined);
    sys.sched.run(0);
    expect(events.map((e) => e.detail)).to.deep.equal([`${vif}/state`, `${vif}/tx-ring-ref`, `${vif}/rx-ring-ref`]);
    expect(states).to.deep.equal(['"transaction"', '"idle"', '"transaction"', '"idle"']);
  });

  it('writes and watches are messages from the requesting domain; removal fires the watches at, under and above it; unwatch stops events', () => {
    const { sys, xs, events } = store();
    const requests: DeliveredMessage[] = [];
    sys.messages$.pipe(filter((m) => m.to === XENSTORED)).subscribe((m) => requests.push(m));
    const d0 = xs.domain('dom0');
    d0.watch('/vm/a/b', 'w1');
    d0.watch('/vm', 'w2');
    xs.domain('domU1').write('/vm/a/b/c', true);
    expect(requests.map((m) => [m.from, m.type, m.detail])).to.deep.equal([
      ['dom0', 'XS_WATCH', '/vm/a/b'], ['dom0', 'XS_WATCH', '/vm'], ['domU1', 'XS_WRITE', '/vm/a/b/c=1'],
    ]);
    sys.sched.run(0);
    events.length = 0;
    d0.rm('/vm/a');
    sys.sched.run(0);
    expect(events.map((e) => [e.to, e.detail])).to.deep.equal([['w1', '/vm/a'], ['w2', '/vm/a']]);
    expect(xs.read('/vm/a/b/c')).to.equal(undefined);
    events.length = 0;
    d0.unwatch('/vm', 'w2');
    d0.write('/vm/a/b', 'x');
    sys.sched.run(0);
    expect(events.map((e) => [e.to, e.detail])).to.deep.equal([['w1', '/vm/a/b']]);
    expect(xs.watchCount()).to.equal(1);
  });

  it('refuses requests before it runs', () => {
    const sys = new ActorSystem(1);
    sys.spawn('dom0', 'sink', sink, {});
    expect(() => new XenStore(sys).domain('dom0').write('/a', 1)).to.throw(/not running/);
  });
});

const guestTx = (guests: number): Scenario => {
  const sc = loadScenario(join('scenarios', 'guest-tx.yaml'));
  sc.guests = guests;
  sc.run = { warmupMs: 1, durationMs: 1 };
  return sc;
};

describe('XenBus handshake through xenstored', () => {
  it('runs as watch events at time 0, in Linux order, before any traffic; both machines follow it as it happens', () => {
    const b = build(guestTx(2));
    const seen: Array<{ t: number; from: string; to: string; type: string; detail?: string; value?: string }> = [];
    b.sys.messages$.subscribe((m) => seen.push({ t: m.t, from: m.from, to: m.to, type: m.type, detail: m.detail,
      // What the watcher will read when it handles the event.
      value: m.type === 'XS_WATCH_EVENT' ? b.xenstore.read(m.detail!) : undefined }));
    const states: StateChange[] = [];
    b.sys.states$.pipe(filter((s) => s.kind === 'netback' || s.kind === 'netfront')).subscribe((s) => states.push(s));
    const xsStates: string[] = [];
    b.sys.states$.pipe(filter((s) => s.kind === 'xenstore')).subscribe((s) => xsStates.push(s.value));
    b.start();
    b.sys.sched.run(2_000 * PS_PER_US);
    expect(b.goodputBytes()).to.be.greaterThan(0);
    // Each frontend's talk_to_netback is one transaction.
    expect(xsStates).to.deep.equal(b.vifs.flatMap(() => ['"transaction"', '"idle"']));
    const xsMsgs = seen.filter((m) => m.type.startsWith('XS_'));
    const firstOther = seen.findIndex((m) => !m.type.startsWith('XS_'));
    // Every XenStore message comes first, at time 0, before any other message.
    expect(xsMsgs.every((m) => m.t === 0)).to.equal(true);
    expect(firstOther).to.equal(xsMsgs.length);
    for (const v of b.vifs) {
      const front = `${v.front}/state`, back = `${v.back}/state`;
      const watch = seen.filter((m) => m.type === 'XS_WATCH_EVENT' && (m.detail === front || m.detail === back))
        .map((m) => `${m.to}: ${m.detail === front ? 'frontend' : 'backend'} ${m.value}`);
      const nb = `${v.nb.name}-back`, nf = v.nf.name;
      // Linux: the backend sees the frontend Initialising (its watch fires on registration), the
      // frontend sees InitWait and connects (netfront writes Connected, skipping Initialised), the
      // backend sees Connected and connects, the frontend sees the backend Connected.
      expect(watch).to.deep.equal([`${nb}: frontend 1`, `${nf}: backend 2`, `${nb}: frontend 4`, `${nf}: backend 4`]);
      // Who wrote the state nodes: the toolstack (dom0) created both, each driver moved its own.
      const writes = seen.filter((m) => m.type === 'XS_WRITE' && (m.detail!.startsWith(`${front}=`) || m.detail!.startsWith(`${back}=`)))
        .map((m) => `${m.from} ${m.detail!.slice(m.detail!.lastIndexOf('/') + 1)}`);
      expect(writes).to.deep.equal(['dom0 state=1', 'dom0 state=1', 'dom0 state=2', `${v.guest.name} state=4`, 'dom0 state=4']);
      // The machines' XenBus regions: the frontend's Initialised and Connected, then the backend's Connected.
      const last = new Map([[nb, 'InitWait'], [nf, 'Initialising']]);
      const changes: string[] = [];
      for (const s of states) {
        if (s.actor !== nb && s.actor !== nf) continue;
        const x = (JSON.parse(s.value) as Record<string, string>).xenbus;
        if (last.get(s.actor) !== x) { last.set(s.actor, x); changes.push(`${s.actor} ${x}`); }
      }
      expect(changes).to.deep.equal([`${nf} Initialised`, `${nf} Connected`, `${nb} Connected`]);
      expect(v.nb.connected).to.equal(true);
      expect(b.xenstore.read(`${v.front}/request-rx-copy`)).to.equal(v.nb.feat.rxCopy ? '1' : '0');
    }
    // Traffic (the first message that is not a XenStore one) starts once every vif is connected.
    expect(seen[firstOther].type).to.not.match(/^XS_/);
  });

  it('a hostile guest writing Closing, then Closed, makes netback close when the watch fires', () => {
    const sc: CaseScenario = stressCase({
      name: 'H21-1', run: { durationMs: 2, warmupMs: 1 }, machine: { vifRingSize: 64 }, guests: 2,
      hostile: [{ guest: 2, vif: 0, behaviour: 'H21', variant: 1, startUs: 300, periodUs: 200 }],
    });
    const log: string[] = [];
    const r = runWrapped(sc, (b) => {
      const v = b.vifs.find((x) => x.guest.domid === 2)!;
      const front = `${v.front}/state`, nb = `${v.nb.name}-back`;
      b.sys.messages$.pipe(filter((m) => m.t > 0 && (m.detail?.startsWith(front) ?? false)))
        .subscribe((m) => log.push(`${m.type} ${m.from}->${m.to} ${m.type === 'XS_WRITE' ? m.detail!.slice(front.length + 1) : b.xenstore.read(front)}`));
      let last = 'Connected';
      b.sys.states$.pipe(filter((s) => s.actor === nb && s.t > 0)).subscribe((s) => {
        const x = (JSON.parse(s.value) as Record<string, string>).xenbus;
        if (x !== last) { last = x; log.push(`netback ${x}`); }
      });
    });
    expect(r.failures).to.deep.equal([]);
    const nb = 'vif2.0-back';
    expect(log).to.deep.equal([
      'XS_WRITE domU2->xenstored 5', `XS_WATCH_EVENT xenstored->${nb} 5`, 'netback Closing',
      'XS_WRITE domU2->xenstored 6', `XS_WATCH_EVENT xenstored->${nb} 6`, 'netback Closed',
    ]);
  });
});
