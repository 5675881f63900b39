/**
 * netperf TCP_RR / UDP_RR: request/response transactions over the modelled path, their rate and
 * round-trip latency, and the scenario checks of the workload field.
 */
import { expect } from 'chai';
import { parseScenario, ScenarioError, type Scenario } from '../../src/scenario/schema.js';
import { runScenario, type RunResult } from '../../src/scenario/run.js';
import { runMany } from '../../src/workers/pool.js';
import { runCase } from '../../src/stress/run.js';
import { percentile } from '../../src/domains/netperf-rr.js';
import { join } from 'node:path';
import { xennet } from '../support/cli.js';

type Kind = 'tcp_rr' | 'udp_rr';
const rr = (topology: Scenario['topology'], kind: Kind, extra: Record<string, unknown> = {}, itrUs = 0): Scenario => parseScenario({
  name: `${topology}-${kind}`, topology, workload: { kind }, seed: 1,
  run: { warmupMs: 2, durationMs: 8 }, machine: { nics: 1, nic: { itrUs } }, ...extra,
});
const lat = (r: RunResult) => {
  expect(r.latency, r.scenario).to.not.equal(undefined);
  return r.latency!;
};
const ALL = { vnicOffload: true, txNoRemap: true, rxCopy: true, superpages: true, globalPages: true };

describe('request/response latency (netperf TCP_RR, UDP_RR)', function () {
  this.timeout(60_000);

  for (const kind of ['tcp_rr', 'udp_rr'] as const) {
    it(`${kind}: a round trip takes longer from a guest than natively, and the optimizations shorten it`, () => {
      const native = lat(runScenario(rr('native', kind)));
      const guest = lat(runScenario(rr('guest', kind)));
      const opt = lat(runScenario(rr('guest', kind, { optimizations: ALL })));
      expect(native.transactions).to.be.greaterThan(100);
      expect(guest.p50Us).to.be.greaterThan(2 * native.p50Us);
      expect(guest.meanUs).to.be.greaterThan(opt.meanUs);
      expect(guest.tps).to.be.lessThan(native.tps);
      // Natively nothing crosses an I/O ring; in a guest every request and response does.
      expect(native.perTransaction.notificationsSent).to.equal(0);
      expect(guest.perTransaction.notificationsSent).to.be.greaterThan(0);
      expect(guest.perTransaction.byAccount).to.have.keys('dom0', 'domU1', 'xen');
    });
  }

  it('interrupt moderation raises latency: itrUs 0 < 125 < 500, and the round trip is at least the throttling interval', () => {
    const [l0, l125, l500] = [0, 125, 500].map((itr) => lat(runScenario(rr('native', 'tcp_rr', {}, itr))));
    expect(l0.meanUs).to.be.lessThan(l125.meanUs);
    expect(l125.meanUs).to.be.lessThan(l500.meanUs);
    expect(l125.p50Us).to.be.at.least(125);
    expect(l500.p50Us).to.be.at.least(500);
    expect(l0.perTransaction.interrupts).to.be.greaterThan(0);
  });

  it('tps x mean latency = transactions in flight per flow x flows (back-to-back transactions tile time)', () => {
    for (const [sc, inFlight] of [
      [rr('native', 'tcp_rr'), 1], [rr('guest', 'udp_rr'), 1],
      [rr('native', 'udp_rr', { machine: { nics: 2, nic: { itrUs: 0 } } }), 2],
      [rr('native', 'tcp_rr', { workload: { kind: 'tcp_rr', transactionsInFlight: 4 } }), 4],
    ] as const) {
      const l = lat(runScenario(sc));
      // One transaction at the window's edges is the only slack: a relative 2 %.
      expect(l.tps * l.meanUs / 1e6, sc.name).to.be.closeTo(inFlight, 0.02 * inFlight);
    }
  });

  it('percentiles are ordered and nearest-rank exact', () => {
    for (const kind of ['tcp_rr', 'udp_rr'] as const) {
      const l = lat(runScenario(rr('guest', kind, { variability: { irqJitterUs: 20 } })));
      expect(l.p50Us).to.be.at.most(l.p99Us);
      expect(l.p99Us).to.be.at.most(l.p999Us);
      expect(l.p50Us).to.be.greaterThan(0);
    }
    const xs = Array.from({ length: 1000 }, (_, i) => i + 1);
    expect([percentile(xs, 50), percentile(xs, 99), percentile(xs, 99.9), percentile(xs, 100)]).to.deep.equal([500, 990, 999, 1000]);
    expect(percentile([7], 99.9)).to.equal(7);
  });

  it('TCP_RR: the delayed ACK rides on the next request and response (no pure ACK is built)', () => {
    const l = lat(runScenario(rr('native', 'tcp_rr')));
    expect(l.perTransaction.byCategory.tcpAckTx ?? 0).to.equal(0);
    expect(l.perTransaction.byCategory.tcpTxPerSegment).to.be.greaterThan(0);
  });

  it('gives the same result on 1 and 2 workers', async () => {
    const scs = [rr('guest', 'tcp_rr'), rr('driver', 'udp_rr')];
    const one = await runMany(scs, 1);
    const two = await runMany(scs, 2);
    expect(JSON.stringify(two)).to.equal(JSON.stringify(one));
  });

  it('stream results carry no latency block', () => {
    const r = runScenario(parseScenario({ name: 's', topology: 'native', direction: 'tx', run: { warmupMs: 1, durationMs: 2 }, machine: { nics: 1 } }));
    expect(r).to.not.have.property('latency');
  });

  it('passes every stress check once drained (TCP_RR and UDP_RR through a guest)', () => {
    for (const kind of ['tcp_rr', 'udp_rr'] as const) {
      const r = runCase(rr('guest', kind, { run: { warmupMs: 1, durationMs: 3 } }));
      expect(r.failures, kind).to.deep.equal([]);
    }
  });

  it('UDP_RR: a lost datagram stalls the flow (no retransmission) and the loss is counted; TCP_RR waits for its timeout', () => {
    // The link goes down for 100 us near 2 ms of a 1 + 6 ms run. A request posted meanwhile waits in
    // the NIC's ring and goes out when the link is back (nothing lost); a frame that arrives from the
    // wire while it is down is lost. Which happens depends on the phase of the transaction, so try a
    // few starting times, 2 us apart over one transaction (~11 us).
    for (const kind of ['udp_rr', 'tcp_rr'] as const) {
      const clean = rr('native', kind, { run: { warmupMs: 1, durationMs: 6 } });
      const outage = (at: number): Scenario => ({ ...clean, faults: [{ atUs: at, nic: 0, kind: 'link-down' as const, count: 1 }, { atUs: at + 100, nic: 0, kind: 'link-up' as const, count: 1 }] });
      const base = lat(runScenario(clean)).transactions;
      const runs = [2000, 2002, 2004, 2006, 2008, 2010, 2012].map((at) => ({ at, r: runScenario(outage(at)) }));
      expect(runs.some(({ r }) => (r.counters.drops['link-down'] ?? 0) > 0), `${kind}: some outage catches a frame on the wire`).to.equal(true);
      for (const { at, r } of runs) {
        const n = lat(r).transactions;
        // A loss: only the first of the six measured milliseconds has transactions (UDP_RR never
        // recovers; TCP_RR waits for its 200 ms retransmission timeout). No loss: the flow lost ~9
        // transactions to the outage and went on.
        if ((r.counters.drops['link-down'] ?? 0) > 0) expect(n, `${kind}, outage at ${at} us`).to.be.greaterThan(0).and.lessThan(0.3 * base);
        else expect(n, `${kind}, outage at ${at} us`).to.be.greaterThan(0.9 * base);
      }
    }
  });

  it('`xennet run` prints the latency block, and one table row per scenario when given several', () => {
    const lib = (f: string) => join(process.cwd(), 'scenarios', 'latency', f);
    const cli = (...args: string[]) => xennet(args, { timeout: 30_000 });
    const one = cli('run', lib('linux-udp-rr.yaml'), '--duration', '2ms');
    expect(one.status).to.equal(0);
    expect(one.stdout).to.match(/latency {9}mean [\d.]+ us {3}p50 [\d.]+ {3}p99 [\d.]+ {3}p99\.9 [\d.]+ us/);
    expect(one.stdout).to.match(/cycles per transaction \(\d+ transactions\)/);
    const two = cli('run', lib('linux-tcp-rr.yaml'), lib('guest-tcp-rr.yaml'), '--duration', '2ms');
    expect(two.status).to.equal(0);
    const lines = two.stdout.trim().split('\n');
    expect(lines[0]).to.match(/^scenario +workload +Mb\/s +CPU % +tps +mean us +p50 us +p99 us +p99\.9 us +cycles\/txn$/);
    expect(lines.slice(2).map((l) => l.split(/\s+/)[0])).to.deep.equal(['linux-tcp-rr', 'guest-tcp-rr']);
    const bad = cli('run', lib('linux-tcp-rr.yaml'), lib('guest-tcp-rr.yaml'), '--trace', 'x.json');
    expect(bad.status).to.equal(2);
    expect(bad.stderr).to.equal('error: --trace takes one scenario (2 given)\n');
  });

  describe('scenario checks', () => {
    const bad = (obj: Record<string, unknown>, re: RegExp) =>
      expect(() => parseScenario({ name: 'x', topology: 'native', ...obj }, 'f.yaml')).to.throw(ScenarioError, re);
    it('direction belongs to streams: required there, refused for RR', () => {
      bad({}, /field direction: required for workload stream/);
      bad({ direction: 'tx', workload: { kind: 'tcp_rr' } }, /field direction: not used by workload tcp_rr/);
    });
    it('RR sizes only for RR workloads, within bounds; UDP datagrams fit one frame', () => {
      bad({ direction: 'tx', workload: { requestBytes: 10 } }, /field workload\.requestBytes: only for workload tcp_rr or udp_rr/);
      bad({ workload: { kind: 'udp_rr', responseBytes: 2000 } }, /field workload\.responseBytes: 2000 bytes do not fit one frame \(at most 1448/);
      bad({ workload: { kind: 'tcp_rr', transactionsInFlight: 0 } }, /field workload\.transactionsInFlight/);
      bad({ workload: { kind: 'tcp_rr', requestBytes: 1.5 } }, /field workload\.requestBytes/);
      bad({ workload: { kind: 'sctp_rr' } }, /field workload\.kind/);
      // A large TCP_RR response is fine: TCP segments it.
      expect(parseScenario({ name: 'x', topology: 'native', workload: { kind: 'tcp_rr', responseBytes: 8192 } }).workload.responseBytes).to.equal(8192);
    });
  });
});
