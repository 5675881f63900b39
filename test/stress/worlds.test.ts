/**
 * Stress over worlds (`xennet stress --worlds`, src/stress/world-case.ts): the generator draws
 * worlds of several hosts, every invariant is checked host by host, hostile guests, NIC faults and
 * rate limits name their host; and the mechanism bugs world cases found.
 */
import { expect } from 'chai';
import type { CaseScenario } from '../../src/stress/case.js';
import { runCase } from '../../src/stress/run.js';
import { runStress, summarize } from '../../src/stress/pool.js';
import { fileURLToPath } from 'node:url';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadScenario, parseScenario, ScenarioError, type ScenarioInput } from '../../src/scenario/schema.js';
import { build } from '../../src/scenario/build.js';
import { HDR_LEN, PAGE_SIZE } from '../../src/core/packet.js';
import { runWrapped } from '../support/wrapped-case.js';
import { xennet } from '../support/cli.js';

/** The stress campaign's short netback timers and small buffers, for a hand-written world. */
const STRESS = { netback: { rxDrainMs: 1, rxStallMs: 2, rxPollMs: 0.5 }, tcp: { mss: 1448, sndBufKiB: 64, rcvBufKiB: 64 } };
/** Two Xen hosts of two guests each, NIC to NIC, with the flows and extras given. */
const twoHosts = (more: Partial<CaseScenario>): CaseScenario => ({
  name: 'world', topology: 'guest', seed: 5, run: { durationMs: 4, warmupMs: 2 }, guests: 2,
  machine: { cpus: 1, nics: 2, vifRingSize: 256, memoryMiB: 512, nic: { ringSize: 256, csumOffload: true, tso: true, sg: true } },
  hosts: { host1: {}, host2: {} }, links: [{ a: 'host1/eth0', b: 'host2/eth0' }],
  ...STRESS, ...more,
});

describe('stress --worlds: the generator draws worlds', function () {
  this.timeout(300_000);

  it('a small campaign runs world cases (several hosts in some), every one passing its checks and its replay', async () => {
    const reps = await runStress({ seed: 1, runs: 5, hostile: false, worlds: true, replay: true, shrink: false, workers: 1 });
    for (const r of reps) expect(r.result.failures, `case ${r.index}`).to.deep.equal([]);
    expect(reps.filter((r) => Object.keys(r.scenario.hosts ?? {}).length >= 2).length, 'cases with several hosts').to.be.at.least(2);
    const s = summarize(reps, { runs: 5, hostile: false, seed: 1 });
    expect(s.worlds!.flows).to.equal(reps.reduce((n, r) => n + r.scenario.flows!.length, 0));
    expect(s.worlds!.betweenHosts).to.be.greaterThan(0);
  });

  it('the command line replays a world case by its index, and refuses --worlds where it means nothing', () => {
    const r = xennet(['stress', '--worlds', '--seed', '1', '--case', '3', '--no-replay-check']);
    expect(r.stderr).to.equal('');
    expect(r.status).to.equal(0);
    expect(r.stdout).to.match(/^case 3 \(case seed \d+\) ok; result hash [0-9a-f]{16}\n/);
    expect(r.stdout).to.match(/\nhosts:\n  host1:\n/);
    for (const [args, msg] of [
      [['--interleave'], 'error: --interleave cannot be combined with --worlds'],
      [['--replay', 'scenarios/worlds/east-west.yaml'], 'error: --worlds draws cases; --replay runs a scenario file (a world or not): give one of them'],
    ] as const) {
      const bad = xennet(['stress', '--worlds', ...args]);
      expect(bad.status).to.equal(2);
      expect(bad.stderr.trim()).to.equal(msg);
    }
  });

  it('a world campaign\'s result files merge from shards to the same summary, world counts included', () => {
    const dir = mkdtempSync(join(tmpdir(), 'xennet-worlds-merge-'));
    const args = ['stress', '--worlds', '--runs', '6', '--seed', '1', '--no-replay-check', '--workers', '1'];
    const whole = xennet([...args, '--out', join(dir, 'a')]);
    expect(whole.status, whole.stderr).to.equal(0);
    for (const i of [1, 2]) expect(xennet([...args, '--shard', `${i}/2`, '--out', join(dir, 's')]).status).to.equal(0);
    const m = xennet(['merge', join(dir, 's'), '--out', join(dir, 'm')]);
    expect(m.status, m.stderr).to.equal(0);
    const summary = (d: string) => JSON.parse(readFileSync(join(dir, d, 'result.json'), 'utf8')).summary;
    expect(summary('m')).to.deep.equal(summary('a'));
    expect(summary('a').worlds.flows).to.be.greaterThan(0);
  });

  it('a hostile world campaign puts the adversary on a guest of some host and names it', async () => {
    const reps = await runStress({ seed: 2, runs: 3, hostile: true, worlds: true, replay: false, shrink: false, workers: 1 });
    for (const r of reps) {
      const a = r.scenario.hostile![0];
      expect(a.host! in r.scenario.hosts!).to.equal(true);
      expect(a.guest).to.be.within(1, r.scenario.hosts![a.host!].guests!);
      expect(r.result.hostile).to.match(/^H\d+\/\d+$/);
    }
  });
});

describe('stress --worlds: a hostile guest in a world', function () {
  this.timeout(300_000);

  // host2's guest 1 lies about its ring producer (H1); guest 1 of host1 has the same domain id and is honest.
  const sc = twoHosts({
    flows: [
      { from: 'host1/guest1', to: 'host2/guest2' }, { from: 'host2/guest2', to: 'host1/guest2' },
      { from: 'host1/guest2', to: 'host1/guest1' }, { from: 'host2/guest1', to: 'host1/guest1' },
    ],
    hostile: [{ host: 'host2', guest: 1, vif: 0, behaviour: 'H1', variant: 0, startUs: 300, periodUs: 200 }],
  });

  it('the adversary\'s host disables its vif, and the honest guests of both hosts keep delivering', () => {
    const r = runCase(sc);
    // The trigger: host2's netback caught the offence and disabled the adversary's vif (and only it).
    expect(r.hostile).to.equal('H1/0');
    expect(r.disabled).to.deep.equal(['host2/vif1.0:impossible-number-of-requests']);
    expect(r.violations['vif-disabled:impossible-number-of-requests']).to.equal(1);
    // The outcome: every check holds on both hosts, and each honest guest (host1's domU1 too, same domain id) moved data.
    expect(r.failures).to.deep.equal([]);
    for (const g of ['host1/domU1', 'host1/domU2', 'host2/domU2']) {
      expect(r.goodput[g], g).to.be.greaterThan(20 * 1448);
      expect(r.honestShare[g], g).to.be.greaterThan(0.2);
    }
    expect(r.honestShare).not.to.have.property('host2/domU1');
  });

  it('the checks name the host: a page leaked on one host is reported as that host\'s', () => {
    // A test double: host1's dom0 loses one page (taken from its pool, held by nothing) after the run.
    const r = runWrapped(sc, (b) => {
      const stop = b.stopSources;
      b.stopSources = () => { stop(); b.hosts![0].kernels[0].allocFrame(); };
    });
    expect(r.failures.filter((f) => /page leak/.test(f))).to.deep.equal(['host1: page leak: host1/dom0 owns 1024 frames, 1023 of them held by anything']);
  });
});

describe('stress --worlds: I2 in a world counts the far end\'s domains', function () {
  this.timeout(300_000);

  it('a guest whose flow ends at the adversary\'s host\'s dom0 is judged against that dom0\'s guarantee too (seed 1 case 37, shrunk)', () => {
    // host1's guest 2 sends zero-length fragments (H8) under credit; host3's guest 1 streams to host1's dom0.
    const sc = loadScenario(fileURLToPath(new URL('../../../test/fixtures/stress/worlds-seed-1-case-37-shrunk.yaml', import.meta.url)), [], { allowIgnored: true });
    const r = runCase(sc);
    // The trigger: the far guest moved less than the unscaled 20% of its control goodput ...
    expect(r.hostile).to.equal('H8/0');
    expect(r.honestShare['host3/domU1']).to.be.below(0.2);
    // ... which host1's dom0, guaranteed a third of its CPU by credit and needing more, accounts for.
    expect(r.failures).to.deep.equal([]);
  });
});

describe('stress --worlds: the host of a hostile guest, a NIC fault or a rate limit', () => {
  const world: ScenarioInput = {
    name: 'w', topology: 'guest', guests: 1, machine: { nics: 2 }, hosts: { host1: {}, host2: { guests: 3 } },
    links: [{ a: 'host1/eth0', b: 'host2/eth0' }], flows: [{ from: 'host1/guest1', to: 'host2/guest3' }],
  };
  const one: ScenarioInput = { name: 'o', topology: 'guest', guests: 2, machine: { nics: 1 }, flows: [{ from: 'guest1', to: 'guest2' }] };
  const H = { behaviour: 'H1' };
  const parse = (sc: ScenarioInput) => () => parseScenario(sc, 'w');

  it('is required in a world, and must be one of its hosts, with the guest or NIC on that host', () => {
    expect(parse({ ...world, hostile: [{ guest: 1, ...H }] })).to.throw(ScenarioError, /field hostile\.0\.host: required in a world of hosts: name one of host1, host2/);
    expect(parse({ ...world, faults: [{ atUs: 5, nic: 0, kind: 'link-down' }] })).to.throw(ScenarioError, /field faults\.0\.host: required in a world/);
    expect(parse({ ...world, netback: { rateLimits: [{ guest: 1, mbps: 10 }] } })).to.throw(ScenarioError, /field netback\.rateLimits\.0\.host: required in a world/);
    expect(parse({ ...world, hostile: [{ host: 'host3', guest: 1, ...H }] })).to.throw(ScenarioError, /field hostile\.0\.host: no host host3 \(hosts: host1, host2\)/);
    expect(parse({ ...world, hostile: [{ host: 'host1', guest: 3, ...H }] })).to.throw(ScenarioError, /field hostile\.0\.guest: no guest 3 of host1 \(guests is 1\)/);
    expect(parse({ ...world, netback: { rateLimits: [{ host: 'host1', guest: 2, mbps: 10 }] } })).to.throw(ScenarioError, /field netback\.rateLimits\.0\.guest: no guest 2 of host1/);
    expect(parse({ ...world, faults: [{ host: 'host2', atUs: 5, nic: 2, kind: 'dma-error' }] })).to.throw(ScenarioError, /field faults\.0\.nic: no NIC 2 of host2 \(machine\.nics is 2\)/);
    expect(parse({ ...world, hostile: [{ host: 'host2', guest: 3, ...H }, { host: 'host2', guest: 3, ...H }] })).to.throw(ScenarioError, /field hostile\.1: guest 3 of host2 vif 0 listed twice/);
    const ok = parseScenario({
      ...world, hostile: [{ host: 'host2', guest: 3, ...H }, { host: 'host1', guest: 1, ...H }],
      faults: [{ host: 'host2', atUs: 5, nic: 1, kind: 'link-down' }], netback: { rateLimits: [{ host: 'host2', guest: 3, mbps: 10 }, { host: 'host1', guest: 1, mbps: 10 }] },
    }, 'w');
    expect(ok.hostile.map((h) => `${h.host}/${h.guest}`)).to.deep.equal(['host2/3', 'host1/1']);
  });

  it('is refused outside a world, where hostile guests now work with a flow list', () => {
    expect(parse({ ...one, hostile: [{ host: 'host1', guest: 1, ...H }] })).to.throw(ScenarioError, /field hostile\.0\.host: no hosts listed: remove host, or list the hosts under hosts/);
    expect(parse({ ...one, faults: [{ host: 'host1', atUs: 5, nic: 0, kind: 'link-down' }] })).to.throw(ScenarioError, /field faults\.0\.host: no hosts listed/);
    expect(parse({ ...one, netback: { rateLimits: [{ host: 'host1', guest: 1, mbps: 10 }] } })).to.throw(ScenarioError, /field netback\.rateLimits\.0\.host: no hosts listed/);
    expect(parse({ ...one, hostile: [{ guest: 2, ...H }] })().hostile).to.have.length(1);
  });

  it('each host\'s toolstack gets its own: the adversary, the fault and the rate limit land on the host named', () => {
    const sc = parseScenario({
      ...world, hostile: [{ host: 'host2', guest: 2, ...H }],
      faults: [{ host: 'host2', atUs: 100, nic: 1, kind: 'link-down' }], netback: { rateLimits: [{ host: 'host2', guest: 3, mbps: 10 }] },
    }, 'w');
    const b = build(sc);
    const vif = (name: string) => b.vifs.find((v) => v.nb.name === name)!;
    expect(b.vifs.filter((v) => v.hostile).map((v) => v.nb.name)).to.deep.equal(['host2/vif2.0']);
    expect(b.vifs.filter((v) => v.nb.credit).map((v) => v.nb.name)).to.deep.equal(['host2/vif3.0']);
    expect(vif('host1/vif1.0').nb.credit).to.equal(null);
    b.start();
    b.sys.sched.run(200 * 1e6);
    b.sys.stop();
    expect(b.nics.filter((n) => !n.linkUp).map((n) => n.name)).to.deep.equal(['host2/eth1']);
  });
});

describe('stress --worlds: regressions for mechanism bugs world cases found', function () {
  this.timeout(300_000);

  it('a host between two others frees the frames it forwards NIC to NIC (and those its bridge drops)', () => {
    // host2's peer on eth1 streams to host1's guest: host2's bridge forwards eth1 to eth0.
    const sc = twoHosts({ flows: [{ from: 'host2/peer2', to: 'host1/guest1' }] });
    const r = runWrapped(sc, (b) => {
      const stop = b.stopSources;
      // The trigger, counted when the sources stop: host2's NIC received and sent on frames of the flow.
      b.stopSources = () => {
        const [, , eth0, eth1] = b.nics; // host1/eth0, host1/eth1, host2/eth0, host2/eth1
        expect([eth0.name, eth1.name]).to.deep.equal(['host2/eth0', 'host2/eth1']);
        expect(eth0.framesTx, 'frames host2 forwarded out of eth0').to.be.greaterThan(50);
        stop();
      };
    });
    expect(r.goodput['host1/domU1']).to.be.greaterThan(0);
    expect(r.failures).to.deep.equal([]); // no page leak on host2
    // A learning switch floods the first frames to host3 too, whose bridge does not know the flow and drops them.
    const flood = runCase(twoHosts({
      hosts: { host1: {}, host2: {}, host3: {} }, switches: { sw0: { ports: 3, fdb: 'learning' } },
      links: [{ a: 'host1/eth0', b: 'sw0/p0' }, { a: 'host2/eth0', b: 'sw0/p1' }, { a: 'host3/eth0', b: 'sw0/p2' }],
      flows: [{ from: 'host1/guest1', to: 'host2/guest1' }],
    }));
    expect(flood.drops['bridge-no-port'], 'frames host3 dropped').to.be.greaterThan(0);
    expect(flood.failures).to.deep.equal([]); // no page leak on host3
  });

  it('TCP_RR with transactions in flight: a request held back goes out on the next response\'s ACK, so draining completes it', () => {
    const sc = { ...twoHosts({}), hosts: undefined, links: [], guests: 1, run: { durationMs: 3, warmupMs: 0 }, tcp: { ...STRESS.tcp, sndBufKiB: 128, rcvBufKiB: 128 },
      flows: [{ from: 'dom0', to: 'guest1', kind: 'tcp_rr' as const, requestBytes: 564, responseBytes: 1351, transactionsInFlight: 3 }] };
    let held = 0;
    const r = runWrapped(sc, (b) => {
      // The trigger: netperf's socket had a request written and not sent when a response's ACK arrived.
      const snd = b.stacks.get(b.kernels[0])!.socks.get(0)!.sender!;
      const onAck = snd.onAck.bind(snd);
      snd.onAck = (ack, wnd) => { const n = onAck(ack, wnd); if (snd.unsent() > 0) held++; return n; };
    });
    expect(held, 'ACKs that found a request held back').to.be.greaterThan(0);
    expect(r.failures).to.deep.equal([]);
  });

  it('a flow between two hosts fits its segments in the far NIC\'s one-page receive buffers, also when it ends at a peer', () => {
    // host2's dom0 to the peer on host1's eth1: host1's eth0 receives every segment.
    const sc = twoHosts({ tcp: { mss: 8948, sndBufKiB: 64, rcvBufKiB: 64 }, flows: [{ from: 'host2/dom0', to: 'host1/peer2' }] });
    let delivered = 0, received = 0;
    const r = runWrapped(sc, (b) => {
      expect(b.mss).to.equal(PAGE_SIZE - HDR_LEN);
      const stop = b.stopSources;
      b.stopSources = () => {
        // The trigger: host1 received the flow's segments on eth0 and sent them on out of eth1, to the peer.
        received = b.nics.find((n) => n.name === 'host1/eth1')!.framesTx;
        delivered = b.flowGoodput(0);
        stop();
      };
    });
    expect(received).to.be.greaterThan(50);
    expect(delivered).to.be.greaterThan(50 * 1448);
    expect(r.violations['data-integrity'] ?? 0).to.equal(0);
    expect(r.failures).to.deep.equal([]);
  });
});
