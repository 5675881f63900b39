import { expect } from 'chai';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

// The package imported by its own name, as a user's project would (package.json "exports"); the
// name is a variable so that tsc, which builds dist/ in the same pass, does not resolve it before it exists.
const pkg = 'xennet';
const load = () => import(pkg) as Promise<typeof import('../../src/index.js')>;
describe('library use: import from "xennet"', function () {
  this.timeout(120_000);

  it('has typed entry points', () => {
    expect(existsSync(fileURLToPath(new URL('../../src/index.d.ts', import.meta.url)))).to.equal(true);
  });

  it('loads and runs a scenario, and streams what it does', async () => {
    const x = await load();
    const sc = x.loadScenario(fileURLToPath(new URL('../../../scenarios/guest-tx.yaml', import.meta.url)), [
      { path: 'run.durationMs', value: 2, flag: 'test' }, { path: 'run.warmupMs', value: 1, flag: 'test' },
    ]);
    const r = x.runScenario(sc);
    expect(r.throughputMbps).to.be.greaterThan(0);
    // The observables: every message delivered, as it is delivered.
    const b = x.build(sc);
    const kinds = new Set<string>();
    const sub = b.sys.messages$.subscribe((m) => kinds.add(m.type));
    b.start();
    b.sys.sched.run(1 * x.PS_PER_MS);
    sub.unsubscribe();
    b.sys.stop();
    expect([...kinds]).to.include.members(['WIRE_RX', 'RUN']);
  });

  it('runs paper configurations', async () => {
    const x = await load();
    const p = await x.runPaper({ only: ['guest-tx', 'guest-tx-all'], workers: 1, overrides: [{ path: 'run.durationMs', value: 3, flag: 'test' }, { path: 'run.warmupMs', value: 1, flag: 'test' }] });
    expect(p.configurations.map((c) => c.id)).to.deep.equal(['guest-tx', 'guest-tx-all']);
    expect(p.configurations[1].throughputMbps).to.be.greaterThan(p.configurations[0].throughputMbps);
    expect(() => x.selectConfigs(['nope'])).to.throw(/unknown configuration nope/);
  });
});
