import { expect } from 'chai';
import fc from 'fast-check';
import { assign, createActor, initialTransition, setup, transition, type AnyStateMachine } from 'xstate';
import { FlatActor, flatten, NotFlattenable } from '../src/actors/flat.js';
import { domainMachine } from '../src/domains/domain.js';
import { clientMachine } from '../src/hardware/client.js';
import { nicMachine } from '../src/hardware/nic.js';
import { join } from 'node:path';
import { loadScenario } from '../src/scenario/schema.js';
import { runScenario } from '../src/scenario/run.js';

const EVENTS = ['E0', 'E1', 'E2'] as const;
const arbTransition = (n: number) => fc.record({
  target: fc.option(fc.nat(n - 1), { nil: undefined }),
  guard: fc.constantFrom(undefined, 'even', 'odd'),
  actions: fc.array(fc.constantFrom('inc', 'add2', 'log', 'mark'), { maxLength: 3 }),
});
const arbSpec = fc.integer({ min: 1, max: 4 }).chain((n) => fc.record({
  n: fc.constant(n),
  states: fc.array(fc.dictionary(fc.constantFrom(...EVENTS), fc.array(arbTransition(n), { minLength: 1, maxLength: 2 })), { minLength: n, maxLength: n }),
  events: fc.array(fc.constantFrom(...EVENTS), { maxLength: 30 }),
}));

function machineFrom(spec: { n: number; states: Array<Record<string, Array<{ target?: number; guard?: string; actions: string[] }>>> }, log: string[]): AnyStateMachine {
  return setup({
    types: { context: {} as { count: number; marks: number } },
    guards: { even: ({ context }) => context.count % 2 === 0, odd: ({ context }) => context.count % 2 === 1 },
    actions: {
      inc: assign({ count: ({ context }) => context.count + 1 }),
      add2: assign(({ context }) => ({ count: context.count + 2 })),
      log: ({ context }) => { log.push(`log:${context.count}`); },
      mark: ({ context }) => { log.push(`mark:${context.count}`); },
    },
  }).createMachine({
    id: 'rand',
    context: { count: 0, marks: 0 },
    initial: 's0',
    states: Object.fromEntries(spec.states.map((on, i) => [`s${i}`, {
      on: Object.fromEntries(Object.entries(on).map(([ev, ts]) => [ev, ts.map((t) => ({
        ...(t.target !== undefined ? { target: `s${t.target}` } : {}),
        ...(t.guard ? { guard: t.guard } : {}),
        actions: t.actions,
      }))])),
    }])),
  } as never) as unknown as AnyStateMachine;
}

describe('flattened interpreter', () => {
  it('agrees with xstate transition() on random machines and event sequences (property)', () => {
    fc.assert(fc.property(arbSpec, (spec) => {
      const flatLog: string[] = [];
      const xsLog: string[] = [];
      const m = machineFrom(spec, flatLog);
      const mx = machineFrom(spec, xsLog);
      const flat = new FlatActor(flatten(m), undefined, 'f');
      let [snap] = initialTransition(mx);
      for (const type of spec.events) {
        const [next, actions] = transition(mx, snap, { type });
        // Custom actions come back unexecuted: run them, in order, as an actor would.
        for (const a of actions) (a as { exec?: (args: unknown, params: unknown) => void }).exec?.((a as { info: unknown }).info, (a as { params: unknown }).params);
        snap = next;
        flat.send({ type });
        expect(flat.value).to.equal(snap.value);
        expect(flat.context).to.deep.equal(snap.context);
      }
      expect(flatLog).to.deep.equal(xsLog);
    }), { numRuns: 300 });
  });

  it('agrees with a running xstate actor for the project\'s own flat machines', () => {
    const fm = flatten(domainMachine);
    const flat = new FlatActor(fm, { name: 'd' }, 'd');
    const real = createActor(domainMachine, { input: { name: 'd' } }).start();
    fc.assert(fc.property(fc.array(fc.constantFrom('WAKE', 'RUN', 'PREEMPT', 'BLOCK'), { maxLength: 40 }), (evs) => {
      for (const type of evs) {
        flat.send({ type } as never);
        real.send({ type } as never);
        expect(flat.value).to.equal(real.getSnapshot().value);
      }
    }));
    expect(() => flatten(clientMachine)).to.not.throw();
  });

  it('a whole run gives the same results and trace on the flat interpreter and on xstate alone', function () {
    this.timeout(30_000);
    const sc = loadScenario(join('scenarios', 'guest-rx.yaml'));
    sc.run = { warmupMs: 5, durationMs: 10 };
    const a = runScenario(sc, { interpreter: 'flat' });
    const b = runScenario(sc, { interpreter: 'xstate' });
    expect(JSON.stringify(a)).to.equal(JSON.stringify(b));
  });

  it('refuses machines outside its subset instead of misinterpreting them', () => {
    expect(() => flatten(nicMachine)).to.throw(NotFlattenable); // parallel regions, always, after
  });
});
