import { expect } from 'chai';
import { join } from 'node:path';
import { loadScenario, type Scenario } from '../../src/scenario/schema.js';
import { build, type Built } from '../../src/scenario/build.js';
import { PS_PER_MS } from '../../src/actors/scheduler.js';
import { createActor } from 'xstate';
import { domainMachine } from '../../src/domains/domain.js';
import { pcpuMachine } from '../../src/hypervisor/pcpu.js';
import { XenbusState } from '../../src/channels/netif.js';

const scenario = (name: string, patch: (sc: Scenario) => void = () => {}): Scenario => {
  const sc = loadScenario(join('scenarios', `${name}.yaml`));
  sc.run = { warmupMs: 2, durationMs: 8 };
  patch(sc);
  return sc;
};

/** Leaf state paths of a state value ('active.running', 'idle'). */
const leaves = (v: unknown, pre = ''): string[] => typeof v === 'string'
  ? [pre + v]
  : Object.entries(v as Record<string, unknown>).flatMap(([k, s]) => leaves(s, `${pre}${k}.`));

/** Build, record every state each actor enters (with its time), start. */
function observed(sc: Scenario): { b: Built; seen: Map<string, Array<{ t: number; state: string }>> } {
  const b = build(sc);
  const seen = new Map<string, Array<{ t: number; state: string }>>();
  for (const a of b.sys.actors.values()) {
    const l: Array<{ t: number; state: string }> = [];
    seen.set(a.name, l);
    let last = JSON.stringify(a.actor.getSnapshot().value);
    a.actor.subscribe((snap: { value: unknown }) => {
      const v = JSON.stringify(snap.value);
      if (v === last) return;
      last = v;
      for (const s of leaves(snap.value)) l.push({ t: b.sys.sched.now, state: s });
    });
  }
  b.start();
  return { b, seen };
}
const statesOf = (seen: Map<string, Array<{ state: string }>>, actor: string) => new Set((seen.get(actor) ?? []).map((e) => e.state));
const stateOf = (b: Built, actor: string) => leaves(b.sys.entry(actor).actor.getSnapshot().value).join(' ');
const cyclesOf = (b: Built, account: string) => b.cpus.reduce((n, c) => {
  let s = 0;
  for (const v of c.ledger.get(account)?.values() ?? []) s += v;
  return n + s;
}, 0);
const guestGoodput = (b: Built, guestIndex: number, guests: number) => {
  let n = 0;
  for (let f = guestIndex; f < b.clients.length || f < guests; f += guests) n += b.flowGoodput(f);
  return n;
};

describe('CPU scheduling and domain lifecycle machines', function () {
  this.timeout(120_000);

  it('bare metal: the CPU is idle, in interrupt context and in process context; Linux is created, then active', () => {
    const { b, seen } = observed(scenario('linux-tx'));
    b.sys.sched.run(5 * PS_PER_MS);
    expect(b.sys.actors.get('cpu0')!.kind).to.equal('cpu');
    expect([...statesOf(seen, 'cpu0')]).to.include.members(['interrupt', 'process', 'idle']);
    expect([...statesOf(seen, 'linux')]).to.include.members(['active.blocked', 'active.runnable', 'active.running']);
    expect([...statesOf(seen, 'baremetal')]).to.include('running');
  });

  it('driver domain: the pCPU routes physical interrupts in Xen, switches to dom0 and runs it', () => {
    const { b, seen } = observed(scenario('driver-rx'));
    b.sys.sched.run(5 * PS_PER_MS);
    expect(b.sys.actors.get('cpu0')!.kind).to.equal('pcpu');
    expect([...statesOf(seen, 'cpu0')]).to.include.members(['inXen', 'contextSwitch', 'running', 'idle']);
    expect([...statesOf(seen, 'dom0')]).to.include.members(['active.blocked', 'active.runnable', 'active.running']);
    expect([...statesOf(seen, 'xen')]).to.include('running');
    // One domain only: after the first switch to dom0, idling is lazy and dom0 just runs again.
    expect(b.counters.domainSwitches).to.equal(1);
    expect((b.sys.entry('cpu0').actor.getSnapshot().context as { loaded: string }).loaded).to.equal('dom0');
  });

  it('guest: each switch between dom0 and the guest is a context switch on the pCPU; domains are preempted', () => {
    const { b, seen } = observed(scenario('guest-tx'));
    b.sys.sched.run(5 * PS_PER_MS);
    const cpu = seen.get('cpu0')!;
    // CPU-bound (the paper's point): once started, the CPU never idles.
    expect(new Set(cpu.map((e) => e.state))).to.have.all.keys('inXen', 'contextSwitch', 'running');
    // Every context switch is followed, at the same instant, by the incoming domain running.
    cpu.forEach((e, i) => { if (e.state === 'contextSwitch') expect(cpu[i + 1]).to.deep.equal({ t: e.t, state: 'running' }); });
    expect(cpu.filter((e) => e.state === 'contextSwitch').length).to.equal(b.counters.domainSwitches);
    for (const d of ['dom0', 'domU1']) expect([...statesOf(seen, d)]).to.include.members(['active.blocked', 'active.runnable', 'active.running']);
  });

  it('several guests on two CPUs: every pCPU and domain state is entered; pause, unpause and destroy through the Xen API', () => {
    const { b, seen } = observed(scenario('guest-tx', (sc) => { sc.guests = 3; sc.machine.cpus = 2; }));
    const xen = b.xen!;
    b.sys.sched.run(4 * PS_PER_MS);
    xen.pauseDomain(2);
    b.sys.sched.run(6 * PS_PER_MS);
    xen.unpauseDomain(2);
    xen.destroyDomain(3);
    b.sys.sched.run(10 * PS_PER_MS);
    // dom0 and domU2 share cpu0 (physical interrupts are routed there); domU1 and domU3 share cpu1, which idles at times.
    expect([...statesOf(seen, 'cpu0')]).to.include.members(['inXen', 'contextSwitch', 'running']);
    expect([...statesOf(seen, 'cpu1')]).to.include.members(['contextSwitch', 'running', 'idle']);
    for (const d of ['domU1', 'domU2', 'domU3']) expect([...statesOf(seen, d)]).to.include.members(['active.blocked', 'active.runnable', 'active.running']);
    expect([...statesOf(seen, 'domU2')]).to.include('paused');
    expect([...statesOf(seen, 'domU3')]).to.include.members(['dying', 'dead']);
    expect(stateOf(b, 'domU2')).to.match(/^active\./);
    expect(stateOf(b, 'domU3')).to.equal('dead');
    // Every domain starts created (paused) and becomes active when the run starts.
    for (const d of ['dom0', 'domU1', 'domU2', 'domU3']) expect(seen.get(d)![0]).to.deep.equal({ t: 0, state: 'active.blocked' });
  });

  it('a paused domain is not scheduled; its events wait and it runs again when unpaused', () => {
    const { b, seen } = observed(scenario('guest-tx', (sc) => { sc.guests = 2; }));
    const xen = b.xen!;
    b.sys.sched.run(5 * PS_PER_MS);
    expect(xen.pauseDomain(0)).to.equal(-22); // dom0 cannot pause itself
    expect(xen.unpauseDomain(2)).to.equal(-22); // not paused
    expect(xen.pauseDomain(9)).to.equal(-3);
    expect(xen.pauseDomain(2)).to.equal(0);
    expect(xen.pauseDomain(2)).to.equal(0); // pauses nest
    b.sys.sched.run(5.2 * PS_PER_MS); // its last slice, if one was running, ends
    const c0 = cyclesOf(b, 'domU2');
    const g0 = guestGoodput(b, 1, 2);
    const t0 = b.sys.sched.now;
    b.sys.sched.run(8 * PS_PER_MS);
    expect(cyclesOf(b, 'domU2')).to.equal(c0); // not one cycle while paused
    expect(stateOf(b, 'domU2')).to.equal('paused');
    expect(b.kernels[2].hasWork(), 'events and work wait for it').to.equal(true);
    const rest = (seen.get('domU2') ?? []).filter((e) => e.t > t0);
    expect(rest).to.deep.equal([]); // no runstate change either
    expect(xen.unpauseDomain(2)).to.equal(0);
    expect(stateOf(b, 'domU2')).to.equal('paused'); // one pause left
    expect(cyclesOf(b, 'domU1')).to.be.greaterThan(0);
    const stalled = guestGoodput(b, 1, 2) - g0;
    expect(xen.unpauseDomain(2)).to.equal(0);
    expect(stateOf(b, 'domU2')).to.match(/^active\./);
    b.sys.sched.run(12 * PS_PER_MS);
    expect(cyclesOf(b, 'domU2')).to.be.greaterThan(c0);
    expect(guestGoodput(b, 1, 2) - g0).to.be.greaterThan(stalled + 100_000); // its streams move again
  });

  it('destroying a guest closes its event channels, releases its memory, and leaves the other guest running', () => {
    const { b, seen } = observed(scenario('guest-tx', (sc) => { sc.guests = 2; }));
    const xen = b.xen!;
    b.sys.sched.run(5 * PS_PER_MS);
    expect(xen.destroyDomain(0)).to.equal(-22);
    expect(xen.destroyDomain(2)).to.equal(0);
    expect(xen.destroyDomain(2)).to.equal(-3);
    expect(xen.pauseDomain(2)).to.equal(-3);
    expect(stateOf(b, 'domU2')).to.equal('dying');
    const g1 = guestGoodput(b, 0, 2);
    b.sys.sched.run(15 * PS_PER_MS);
    const [dying, dead] = ['dying', 'dead'].map((s) => seen.get('domU2')!.find((e) => e.state === s)!.t);
    expect(dead).to.be.greaterThan(dying); // dead once Xen's relinquish slice (a cost per page freed) completed
    expect(stateOf(b, 'domU2')).to.equal('dead');
    // Its vifs' event channels: the guest ends closed, netback's ends unbound.
    expect(stateOf(b, 'evtchn-vif2.0')).to.equal('unbound');
    expect(b.kernels[2].evtchn.ports.every((p) => p.closed)).to.equal(true);
    // Its memory is back with Xen as the driver domain drops its grant mappings; the ring pages stay
    // mapped by netback (a zombie domain) until the toolstack tears the vifs down in XenStore.
    b.stopSources();
    b.sys.sched.run(200 * PS_PER_MS);
    const mine = b.vifs.filter((v) => v.guest.domid === 2);
    expect(b.mem.pages(2)).to.equal(2 * mine.length);
    expect(xen.grantTables.has(2)).to.equal(true);
    // The toolstack marks the dead frontends Closed; netback's watch fires and it disconnects.
    const toolstack = b.xenstore.domain('dom0');
    for (const v of mine) toolstack.write(`${v.front}/state`, XenbusState.Closed);
    b.sys.sched.run(b.sys.sched.now);
    expect(b.mem.pages(2)).to.equal(0);
    expect(xen.grantTables.has(2)).to.equal(false);
    const owned = b.kernels.reduce((n, k) => n + b.mem.pages(k.domid), 0);
    expect(owned + b.mem.freeFrames()).to.equal(b.mem.frames);
    // The surviving guest's streams kept moving.
    expect(guestGoodput(b, 0, 2) - g1).to.be.greaterThan(1_000_000);
  });

  it('domain machine: runstate messages only count while active; unpausing restarts the vCPU at blocked', () => {
    const a = createActor(domainMachine, { input: { name: 'd' } }).start();
    a.send({ type: 'WAKE' });
    expect(a.getSnapshot().value).to.equal('created');
    a.send({ type: 'UNPAUSE' });
    a.send({ type: 'WAKE' });
    a.send({ type: 'RUN' });
    expect(a.getSnapshot().value).to.deep.equal({ active: 'running' });
    a.send({ type: 'PAUSE' });
    a.send({ type: 'RUN' });
    expect(a.getSnapshot().value).to.equal('paused');
    a.send({ type: 'UNPAUSE' });
    expect(a.getSnapshot().value).to.deep.equal({ active: 'blocked' });
    a.send({ type: 'DESTROY' });
    a.send({ type: 'UNPAUSE' });
    expect(a.getSnapshot().value).to.equal('dying');
    a.send({ type: 'RELINQUISHED' });
    expect(a.getSnapshot().value).to.equal('dead');
  });

  it('pcpu machine: a context switch records the incoming domain and is always followed by it running', () => {
    const a = createActor(pcpuMachine, { input: { cpu: 0 } }).start();
    a.send({ type: 'CONTEXT_SWITCH', to: 'dom0' });
    expect(a.getSnapshot().value).to.equal('contextSwitch');
    a.send({ type: 'IDLE' }); // not possible mid-switch
    expect(a.getSnapshot().value).to.equal('contextSwitch');
    a.send({ type: 'RUN' });
    a.send({ type: 'IDLE' });
    a.send({ type: 'RUN' }); // lazy: dom0 is still loaded
    expect(a.getSnapshot().value).to.equal('running');
    expect(a.getSnapshot().context).to.deep.include({ loaded: 'dom0', switches: 1 });
    a.send({ type: 'ENTER_XEN' });
    expect(a.getSnapshot().value).to.equal('inXen');
  });
});
