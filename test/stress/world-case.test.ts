/** The world generator of `xennet stress --worlds` (src/stress/world-case.ts): cables, endpoints, flows, and what it draws. */
import { expect } from 'chai';
import fc from 'fast-check';
import { caseSeed } from '../../src/stress/case.js';
import { adversaryFlow, cableWorld, worldCaseArbAt, worldEndpoints, worldFlows } from '../../src/stress/world-case.js';
import { caseScenario } from '../../src/stress/run.js';

describe('stress --worlds: the world generator', function () {
  this.timeout(120_000);

  it('cables every host\'s eth0 to the switch, or NIC to NIC the drawn pairs that still have a NIC free', () => {
    expect(cableWorld([1], 'switch', [], 'sw0').links).to.deep.equal([]);
    const sw = cableWorld([1, 2, 1], 'switch', [], 'sw0');
    expect(sw.links).to.deep.equal([{ a: 'host1/eth0', b: 'sw0/p0' }, { a: 'host2/eth0', b: 'sw0/p1' }, { a: 'host3/eth0', b: 'sw0/p2' }]);
    expect([...sw.cabled]).to.deep.equal(['host1/eth0', 'host2/eth0', 'host3/eth0']);
    // Pairs in order (1,2) (1,3) (2,3): host1 has one NIC, so (1,3) finds none free; (2,3) takes host2's second and host3's first.
    const d = cableWorld([1, 2, 2], 'direct', [true, true, true], 'sw0');
    expect(d.links).to.deep.equal([{ a: 'host1/eth0', b: 'host2/eth0' }, { a: 'host2/eth1', b: 'host3/eth0' }]);
    expect(cableWorld([2, 2], 'direct', [false], 'sw0').links).to.deep.equal([]);
  });

  it('lists each host\'s dom0, its guests, and a peer on each NIC not cabled', () => {
    expect(worldEndpoints([2, 0], [2, 1], new Set(['host1/eth0', 'host2/eth0']))).to.deep.equal(['host1/dom0', 'host1/guest1', 'host1/guest2', 'host1/peer2', 'host2/dom0']);
  });

  it('keeps the flows the world can carry: a route, not two peers, netperf not on a peer, RR through a switch too, UDP in one frame', () => {
    const ends = ['host1/dom0', 'host1/guest1', 'host1/peer2', 'host2/dom0', 'host2/guest1', 'host3/dom0'];
    const direct = [{ a: 'host1/eth0', b: 'host2/eth0' }];
    const d = (from: number, to: number, kind: 'stream' | 'tcp_rr' | 'udp_rr' = 'stream') => ({ from, to, kind, req: 9000, resp: 100, burst: 2 });
    expect(worldFlows([d(1, 1), d(2, 2 + 6), d(1, 5), d(1, 4), d(2, 0, 'tcp_rr'), d(0, 1, 'udp_rr')], ends, direct, 1448)).to.deep.equal([
      { from: 'host1/guest1', to: 'host2/guest1', kind: 'stream' },
      { from: 'host1/dom0', to: 'host1/peer2', kind: 'tcp_rr', requestBytes: 9000, responseBytes: 100, transactionsInFlight: 2 },
      { from: 'host1/dom0', to: 'host1/guest1', kind: 'udp_rr', requestBytes: 1448, responseBytes: 100, transactionsInFlight: 2 },
    ]);
    const sw = [{ a: 'host1/eth0', b: 'sw0/p0' }, { a: 'host2/eth0', b: 'sw0/p1' }];
    expect(worldFlows([d(1, 4, 'tcp_rr')], ends, sw, 1448)).to.deep.equal([{ from: 'host1/guest1', to: 'host2/guest1', kind: 'tcp_rr', requestBytes: 9000, responseBytes: 100, transactionsInFlight: 2 }]);
    // Nothing fits: host 1's dom0 to its own peer, or else to the dom0 beyond its eth0.
    expect(worldFlows([d(0, 0)], ends, direct, 1448)).to.deep.equal([{ from: 'host1/dom0', to: 'host1/peer2', kind: 'stream' }]);
    expect(worldFlows([d(0, 0)], ['host1/dom0', 'host2/dom0'], direct, 1448)).to.deep.equal([{ from: 'host1/dom0', to: 'host2/dom0', kind: 'stream' }]);
  });

  it('gives the adversary\'s guest a stream of its own, to or from an endpoint it can reach', () => {
    const ends = ['host1/dom0', 'host1/guest1', 'host2/dom0', 'host3/dom0'];
    const direct = [{ a: 'host1/eth0', b: 'host2/eth0' }];
    expect(adversaryFlow('host1/guest1', { other: 1, sends: true }, ends, direct)).to.deep.equal({ from: 'host1/guest1', to: 'host2/dom0', kind: 'stream' });
    expect(adversaryFlow('host1/guest1', { other: 2, sends: false }, ends, direct)).to.deep.equal({ from: 'host1/dom0', to: 'host1/guest1', kind: 'stream' });
    for (let i = 0; i < 30; i++) {
      const c = fc.sample(worldCaseArbAt(i, true), { seed: caseSeed(4, i), numRuns: 1 })[0];
      const a = c.hostile![0], me = `${a.host}/guest${a.guest}`;
      expect([c.flows![0].from, c.flows![0].to], `case ${i}`).to.include(me);
      expect(() => caseScenario(c)).not.to.throw();
    }
  });

  it('draws valid worlds of 1-4 hosts: switches and cables, flows between hosts and VM to VM, RR, faults and rate limits naming their host', () => {
    const cases = Array.from({ length: 80 }, (_, i) => fc.sample(worldCaseArbAt(i, false), { seed: caseSeed(1, i), numRuns: 1 })[0]);
    for (const cs of cases) expect(() => caseScenario(cs), JSON.stringify(cs)).not.to.throw();
    const hosts = cases.map((c) => Object.keys(c.hosts!).length);
    expect(new Set(hosts), 'hosts per world').to.deep.equal(new Set([1, 2, 3, 4]));
    for (const c of cases) for (const h of Object.values(c.hosts!)) expect(h.guests).to.be.within(0, 3);
    const host = (e: string) => e.split('/')[0];
    const flows = cases.flatMap((c) => c.flows!);
    expect(cases.filter((c) => c.switches).length, 'worlds with a switch').to.be.greaterThan(5);
    expect(cases.filter((c) => !c.switches && c.links!.length > 0).length, 'worlds cabled NIC to NIC').to.be.greaterThan(5);
    expect(flows.filter((f) => host(f.from) !== host(f.to)).length, 'flows between hosts').to.be.greaterThan(20);
    expect(flows.filter((f) => host(f.from) === host(f.to) && /guest/.test(f.from) && /guest/.test(f.to)).length, 'VM to VM on one host').to.be.greaterThan(3);
    expect(flows.filter((f) => f.kind !== 'stream').length, 'RR flows').to.be.greaterThan(10);
    expect(cases.filter((c) => c.switches).flatMap((c) => c.flows!).filter((f) => host(f.from) !== host(f.to) && f.kind !== 'stream').length, 'RR flows through the switch').to.be.greaterThan(3);
    expect(cases.filter((c) => c.faults!.length).every((c) => c.faults!.every((f) => f.host! in c.hosts!))).to.equal(true);
    expect(cases.filter((c) => c.faults!.length).length, 'worlds with NIC faults').to.be.greaterThan(10);
    expect(cases.filter((c) => c.netback!.rateLimits!.length).length, 'worlds with a rate limit').to.be.greaterThan(3);
    const queues = new Set(cases.flatMap((c) => (c.switches ? [c.switches.sw0.queueKiB] : [])));
    expect(queues.size, 'switch buffer sizes').to.be.greaterThan(3);
  });

});
