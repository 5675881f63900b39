import { expect } from 'chai';
import fc from 'fast-check';
import { createActor, createMachine, sendTo, setup, type AnyStateMachine } from 'xstate';
import { compileMachine, UnsupportedMachine } from '../../src/actors/compile.js';
import { CompiledActor, type Clock } from '../../src/actors/compiled-actor.js';
import { Scheduler } from '../../src/actors/scheduler.js';
import { domainMachine } from '../../src/domains/domain.js';
import { clientMachine } from '../../src/peer/client.js';
import { tcpReceiverMachine, tcpSenderMachine } from '../../src/domains/tcp-machine.js';
import { nicMachine } from '../../src/hardware/nic.js';
import { eventChannelMachine } from '../../src/hypervisor/event-channel.js';
import { hypervisorMachine } from '../../src/hypervisor/xen.js';
import { pcpuMachine } from '../../src/hypervisor/pcpu.js';
import { cpuMachine } from '../../src/domains/native.js';
import { paperConfigs, scenarioFor } from '../../src/paper/configs.js';
import { runScenario } from '../../src/scenario/run.js';
import { EXTERNAL, machineOf, randomSpec, type NodeSpec } from '../support/random-machine.js';

/** A virtual clock on our scheduler that logs what the interpreter arms and cancels. */
function loggedClock(sched: Scheduler, log: string[]): Clock {
  let n = 0;
  return {
    setTimeout: (fn, ms) => {
      const id = n++;
      log.push(`@${sched.now} arm #${id} ${ms}ms`);
      const h = sched.after(ms * 1000, 0, fn);
      return { id, h };
    },
    clearTimeout: (x) => {
      const { id, h } = x as { id: number; h: { cancel(): void } };
      log.push(`@${sched.now} cancel #${id}`);
      h.cancel();
    },
  };
}

type Step = { send: string } | { wait: number };
const arbStep: fc.Arbitrary<Step> = fc.oneof(
  { weight: 3, arbitrary: fc.constantFrom(...EXTERNAL).map((send) => ({ send })) },
  { weight: 1, arbitrary: fc.integer({ min: 1, max: 6 }).map((wait) => ({ wait })) },
);

function depthOf(n: NodeSpec): number { return 1 + Math.max(0, ...n.children.map(depthOf)); }

/** Run one spec and step list on both interpreters, comparing after every step. */
function compare(seed: number, steps: Step[]): void {
  const logX: string[] = [], logC: string[] = [];
  const spec = randomSpec(seed);
  const mx = machineOf(spec, logX), mc = machineOf(spec, logC);
  const sx = new Scheduler(), sc = new Scheduler();
  const xs = createActor(mx, { clock: loggedClock(sx, logX) } as never);
  const cc = new CompiledActor(compileMachine(mc), undefined, 'c', loggedClock(sc, logC));
  xs.start();
  cc.start();
  const check = (where: string): void => {
    const a = xs.getSnapshot(), b = cc.getSnapshot();
    const ctx = `seed ${seed}, ${where}`;
    expect(JSON.stringify(b.value), `value, ${ctx}`).to.equal(JSON.stringify(a.value));
    expect(b.context, `context, ${ctx}`).to.deep.equal(a.context);
    expect(logC, `actions and timers, ${ctx}`).to.deep.equal(logX);
    expect(a.status, ctx).to.equal('active');
  };
  check('after start');
  steps.forEach((s, i) => {
    if ('send' in s) { xs.send({ type: s.send }); cc.send({ type: s.send }); }
    else { sx.run(sx.now + s.wait * 1000); sc.run(sc.now + s.wait * 1000); }
    check(`step ${i} ${JSON.stringify(s)}`);
  });
}

describe('compiled statecharts', () => {
  it('random machines of depth >= 3 are as deep as the property claims', () => {
    const depths = Array.from({ length: 200 }, (_, s) => depthOf(randomSpec(s)));
    expect(Math.min(...depths)).to.be.at.least(3);
    const kinds = new Set<string>();
    const walk = (n: NodeSpec): void => {
      kinds.add(n.type);
      if (n.always) kinds.add('always');
      if (n.after) kinds.add('after');
      n.children.forEach(walk);
    };
    for (let s = 0; s < 50; s++) walk(randomSpec(s));
    expect([...kinds].sort()).to.deep.equal(['after', 'always', 'atomic', 'compound', 'parallel']);
  });

  it('agree with xstate actors on random machines, events and timer firings: value, context, actions, timers (property)', function () {
    this.timeout(240_000);
    fc.assert(fc.property(fc.integer({ min: 0, max: 0x7fffffff }), fc.array(arbStep, { maxLength: 40 }), compare), { numRuns: Number(process.env.XENNET_PROPERTY_RUNS ?? 400) });
  });

  it('agree with xstate on the project\'s own machines, event by event', () => {
    // Machines whose actions need no model: the domain's scheduler view, and the event channel with stub ends.
    const seq = ['WAKE', 'UNPAUSE', 'WAKE', 'RUN', 'PREEMPT', 'RUN', 'BLOCK', 'WAKE', 'PAUSE', 'RUN', 'UNPAUSE', 'BLOCK', 'RUN', 'WAKE', 'PREEMPT', 'DESTROY', 'UNPAUSE', 'RELINQUISHED'];
    const sched = new Scheduler();
    const clock = loggedClock(sched, []);
    const a = createActor(domainMachine, { input: { name: 'd' } }).start();
    const b = new CompiledActor(compileMachine(domainMachine), { name: 'd' }, 'd', clock).start();
    for (const type of seq) {
      a.send({ type } as never);
      b.send({ type });
      expect(b.getSnapshot().value).to.deep.equal(a.getSnapshot().value);
    }
    // The per-CPU machines, with the events their dispatchers send.
    const pcpu = [{ type: 'RUN' }, { type: 'CONTEXT_SWITCH', to: 'dom0' }, { type: 'IDLE' }, { type: 'RUN' }, { type: 'ENTER_XEN' }, { type: 'IDLE' },
      { type: 'RUN' }, { type: 'CONTEXT_SWITCH', to: 'domU1' }, { type: 'RUN' }, { type: 'ENTER_XEN' }, { type: 'CONTEXT_SWITCH', to: 'dom0' }, { type: 'RUN' }];
    const cpu = ['TASK', 'IRQ', 'IDLE', 'IRQ', 'TASK', 'IDLE', 'TASK'].map((type) => ({ type }));
    for (const [m, evs] of [[pcpuMachine, pcpu], [cpuMachine, cpu]] as const) {
      const x = createActor(m as AnyStateMachine, { input: { cpu: 0 } }).start();
      const c = new CompiledActor(compileMachine(m as AnyStateMachine), { cpu: 0 }, 'c', clock).start();
      for (const e of evs) {
        x.send(e as never);
        c.send(e);
        expect(c.getSnapshot().value).to.deep.equal(x.getSnapshot().value);
        expect(c.getSnapshot().context).to.deep.equal(x.getSnapshot().context);
      }
    }
    const pending: string[] = [];
    const end = (name: string) => ({ table: { setPending: () => pending.push(name) } as never, port: {} as never, domain: name });
    const ex = createActor(eventChannelMachine, { input: { a: end('a'), b: null } }).start();
    const ec = new CompiledActor(compileMachine(eventChannelMachine), { a: end('a'), b: null }, 'e', clock).start();
    for (const e of [{ type: 'SEND', from: 'a' }, { type: 'BIND', end: end('b') }, { type: 'SEND', from: 'a' }, { type: 'SEND', from: 'b' }, { type: 'CLOSE', from: 'a' }, { type: 'SEND', from: 'b' }]) {
      ex.send(e as never);
      ec.send(e as never);
      expect(ec.getSnapshot().value).to.equal(ex.getSnapshot().value);
      const counts = (c: { sends: number; dropped: number }) => [c.sends, c.dropped];
      expect(counts(ec.getSnapshot().context)).to.deep.equal(counts(ex.getSnapshot().context));
    }
  });

  it('compile every machine the simulator runs', () => {
    for (const m of [nicMachine, eventChannelMachine, domainMachine, hypervisorMachine, clientMachine, tcpSenderMachine, tcpReceiverMachine, pcpuMachine, cpuMachine]) {
      expect(() => compileMachine(m as unknown as AnyStateMachine), m.id).to.not.throw();
    }
  });

  it('refuse, naming the machine and the feature, what they do not support', () => {
    const cases: Array<[AnyStateMachine, RegExp]> = [
      [createMachine({ id: 'hist', initial: 'a', states: { a: { initial: 'x', states: { x: {}, h: { type: 'history' } } } } }), /'hist'.*history state/],
      [createMachine({ id: 'fin', initial: 'a', states: { a: { on: { E: 'done' } }, done: { type: 'final' } } }), /'fin'.*final state/],
      [createMachine({ id: 'wild', initial: 'a', states: { a: { on: { '*': 'a' } } } }), /'wild'.*wildcard/],
      [createMachine({ id: 'unk', initial: 'a', states: { a: { on: { E: { actions: 'nope' } } } } }), /'unk'.*unknown action 'nope'/],
      [createMachine({ id: 'ug', initial: 'a', states: { a: { on: { E: { guard: 'nope', target: 'a' } } } } }), /'ug'.*unknown guard 'nope'/],
      [setup({}).createMachine({ id: 'snd', initial: 'a', states: { a: { on: { E: { actions: sendTo('x', { type: 'Y' }) } } } } }) as unknown as AnyStateMachine, /'snd'.*built-in action xstate.sendTo/],
      [createMachine({ id: 'inv', initial: 'a', states: { a: { invoke: { src: createMachine({}) } } } }) as unknown as AnyStateMachine, /'inv'.*invoke/],
    ];
    for (const [m, re] of cases) expect(() => compileMachine(m)).to.throw(UnsupportedMachine, re);
  });

  it('every paper configuration gives byte-identical results and trace hash on both interpreters', function () {
    this.timeout(300_000);
    for (const c of paperConfigs()) {
      const sc = scenarioFor(c);
      sc.run = { warmupMs: 6, durationMs: 4 };
      const a = JSON.stringify(runScenario(sc, { interpreter: 'compiled' }));
      const b = JSON.stringify(runScenario(sc, { interpreter: 'xstate' }));
      expect(a, c.id).to.equal(b);
    }
  });

  it('queue events sent from inside a step, as xstate\'s mailbox does', () => {
    const order: string[] = [];
    let self: { send(e: { type: string }): void } | null = null;
    const m = setup({
      actions: {
        first: () => { order.push('first:start'); self!.send({ type: 'SECOND' }); order.push('first:end'); },
        second: () => { order.push('second'); },
      },
    }).createMachine({ id: 'mb', initial: 'a', states: { a: { on: { FIRST: { actions: 'first' }, SECOND: { actions: 'second' } } } } });
    const run = (actor: { send(e: { type: string }): void }): string[] => { order.length = 0; self = actor; actor.send({ type: 'FIRST' }); return [...order]; };
    const x = run(createActor(m).start());
    const c = run(new CompiledActor(compileMachine(m as unknown as AnyStateMachine), undefined, 'mb', loggedClock(new Scheduler(), [])).start());
    expect(c).to.deep.equal(x).and.deep.equal(['first:start', 'first:end', 'second']);
  });
});
