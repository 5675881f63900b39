/**
 * Flow lists (scenarios/worlds/): traffic between any two endpoints of a host. Two guests of one
 * host talk through dom0's bridge, vif to vif: the frames never reach a NIC, and both guests'
 * netfront work and both vifs' netback work in dom0 are spent on them.
 */
import { expect } from 'chai';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadScenario, ScenarioError, type Scenario } from '../../src/scenario/schema.js';
import { build } from '../../src/scenario/build.js';
import { runBuilt } from '../../src/scenario/run.js';
import { PS_PER_MS, PS_PER_US } from '../../src/actors/scheduler.js';
import { serializePs } from '../../src/hardware/link.js';

/** The bundled files: Xen 2.0 (`vm-to-vm-*.yaml`) and all optimizations (`*-all.yaml`), and the latter with Xen copying for receive. */
const CONFIGS: Array<[string, string, Partial<Scenario['optimizations']>]> = [
  ['Xen 2.0', '', {}],
  ['all optimizations', '-all', {}],
  ['all optimizations, receive copy by Xen', '-all', { rxCopyVia: 'gnttab' }],
];

const world = (file: string, opt: Partial<Scenario['optimizations']>): Scenario => {
  const sc = loadScenario(join('scenarios', 'worlds', file));
  Object.assign(sc.optimizations, opt);
  sc.run = { warmupMs: 5, durationMs: 20 };
  return sc;
};

/** Run from time 0 (every counter and stat from the start) for `ms` of virtual time. */
function runFor(sc: Scenario, ms: number) {
  const b = build(sc);
  b.start();
  b.sys.sched.run(ms * PS_PER_MS);
  b.sys.stop();
  return b;
}

describe('worlds: flows between two guests of one host', function () {
  this.timeout(120_000);

  for (const [label, all, opt] of CONFIGS) {
    it(`${label}: a guest-to-guest stream crosses the bridge vif to vif, never a NIC, and both ends' split-driver work is spent`, () => {
      const sc = world(`vm-to-vm-stream${all}.yaml`, opt);
      const b = runFor(sc, 25);
      const [v1, v2] = b.vifs;
      // The trigger: guest 2's TCP got the stream, intact.
      expect(b.flowGoodput(0), 'goodput at guest 2').to.be.greaterThan(1_000_000);
      expect(b.streams.mismatches).to.deep.equal([]);
      // Never a NIC: nothing on any wire, no NIC interrupt, every NIC ring idle.
      expect(b.counters.wireFrames).to.equal(0);
      expect(b.counters.wire).to.deep.equal({ sent: 0, arrived: 0 });
      expect(b.counters.interrupts).to.equal(0);
      for (const nic of b.nics) expect(nic.txRing.length + nic.txDone.length + nic.rxDone.length, nic.name).to.equal(0);
      // Guest 1's vif took the data off its TX ring, guest 2's vif put it into guest 2's buffers (and the ACKs the other way).
      expect(v1.nb.txUnits).to.be.greaterThan(0);
      expect(v2.nb.rxUnitsOk, 'every data segment guest 2 took came through its vif').to.be.at.least(b.counters.packetsRx);
      expect(v2.nb.txUnits, 'ACKs from guest 2').to.be.greaterThan(0);
      expect(v1.nb.rxUnitsOk, 'ACKs to guest 1').to.be.greaterThan(0);
      expect(b.counters.drops).to.deep.equal({});
      // Each configuration's own mechanism on the way: Xen 2.0 maps guest 1's pages and flips pages into guest 2; the optimized path does neither.
      if (all) {
        expect(b.counters.txDataMaps).to.equal(0);
        expect(b.counters.grantDeviceMaps).to.be.greaterThan(0);
        expect(b.counters.pageFlips).to.equal(0);
      } else {
        expect(b.counters.txDataMaps).to.be.greaterThan(0);
        expect(b.counters.pageFlips).to.be.at.least(v2.nb.rxUnitsOk);
      }
    });
  }

  for (const [label, all, opt] of CONFIGS) {
    it(`${label}: the measured window charges both guests' netfront, both vifs' netback and the bridge in dom0`, () => {
      const r = runBuilt(build(world(`vm-to-vm-stream${all}.yaml`, opt)));
      const c = r.cyclesPerPacket.byAccountCategory;
      expect(r.throughputMbps).to.be.greaterThan(0);
      expect(r.perFlow?.flows.f0).to.include({ from: 'guest1', to: 'guest2', kind: 'stream' });
      expect(r.perFlow!.flows.f0.mbps).to.equal(r.throughputMbps);
      for (const row of ['netbackTxPerPacket', 'netbackRxPerPacket', 'netbackTxDonePerPacket', 'bridgePerPacket'] as const) expect(c.dom0[row] ?? 0, `dom0 ${row}`).to.be.greaterThan(0);
      // Data out of guest 1 and ACKs into it; data into guest 2 and ACKs out of it.
      for (const g of ['domU1', 'domU2']) for (const row of ['netfrontTxPerPacket', 'netfrontRxPerPacket']) expect(c[g]?.[row] ?? 0, `${g} ${row}`).to.be.greaterThan(0);
      expect(c.dom0.nicDriverTxPerPacket ?? 0).to.equal(0);
      expect(c.dom0.nicDriverRxPerPacket ?? 0).to.equal(0);
      expect(r.dataIntegrity).to.equal(undefined);
    });
  }

  it('a super-segment of a guest with TSO is cut in dom0 (the vif takes one page per packet) and still arrives intact', () => {
    const b = runFor(world('vm-to-vm-stream-all.yaml', {}), 25);
    expect(b.counters.softwareGsoSegments, 'the trigger: guest 1 sent TSO super-segments').to.be.greaterThan(0);
    // More packets reach guest 2 than left guest 1: each super-segment became several.
    expect(b.vifs[1].nb.rxUnitsOk).to.be.greaterThan(b.vifs[0].nb.txUnits);
    expect(b.streams.mismatches).to.deep.equal([]);
    expect(b.flowGoodput(0)).to.be.greaterThan(1_000_000);
  });

  for (const [label, all, opt] of CONFIGS) {
    it(`${label}: TCP_RR and UDP_RR between two guests complete transactions with netserver in guest 2, no NIC involved`, () => {
      for (const kind of ['tcp_rr', 'udp_rr'] as const) {
        const sc = world(`vm-to-vm-rr${all}.yaml`, opt);
        sc.flows![0].kind = kind;
        const r = runBuilt(build(sc));
        const f = r.perFlow!.flows.f0;
        expect(f.latency!.transactions, kind).to.be.greaterThan(100);
        expect(r.latency!.transactions, kind).to.equal(f.latency!.transactions);
        expect(r.counters.wireFrames, kind).to.equal(0);
        // One transaction in flight: each takes its round-trip, so rate x latency is about one.
        expect(f.latency!.tps * f.latency!.meanUs / 1e6, kind).to.be.within(0.9, 1.1);
        expect(r.dataIntegrity, kind).to.equal(undefined);
      }
    });
  }
});

describe('worlds: dom0 as an endpoint (its stack on the bridge\'s own interface)', function () {
  this.timeout(120_000);
  const dir = mkdtempSync(join(tmpdir(), 'xennet-dom0-'));
  const flows = (list: string) => {
    const f = join(dir, 'd.yaml');
    writeFileSync(f, `name: d\ntopology: guest\nguests: 1\nmachine: { nics: 1 }\nflows:\n${list}`);
    return loadScenario(f);
  };

  it('dom0 and a guest stream to each other and run TCP_RR through the bridge, no NIC; the guest\'s pages never enter dom0\'s stack', () => {
    const b = runFor(flows('  - { from: dom0, to: guest1 }\n  - { from: guest1, to: dom0 }\n  - { from: guest1, to: dom0, kind: tcp_rr }\n'), 25);
    // The trigger: the guest's frames went up dom0's stack, and dom0's frames into the guest (Xen 2.0: by page flipping).
    expect(b.flowGoodput(1), 'guest1 -> dom0').to.be.greaterThan(500_000);
    expect(b.flowGoodput(0), 'dom0 -> guest1').to.be.greaterThan(500_000);
    expect(b.rr!.byFlow.get(2)?.length ?? 0, 'transactions').to.be.greaterThan(10);
    expect(b.counters.pageFlips).to.be.greaterThan(0);
    // The outcome: dom0 only ever flipped pages of its own (a guest's page freed into dom0's pool would be flipped later and fail).
    expect(b.counters.drops).to.deep.equal({});
    expect(b.counters.wire).to.deep.equal({ sent: 0, arrived: 0 });
    expect(b.streams.mismatches).to.deep.equal([]);
  });

  it('dom0 and an external peer: through the bridge and the NIC, both ways', () => {
    const b = runFor(flows('  - { from: dom0, to: peer1 }\n  - { from: peer1, to: dom0 }\n'), 25);
    expect(b.flowGoodput(0)).to.be.greaterThan(500_000);
    expect(b.flowGoodput(1)).to.be.greaterThan(500_000);
    expect(b.counters.wireFrames).to.be.greaterThan(100);
    expect(b.streams.mismatches).to.deep.equal([]);
  });
});

describe('worlds: a noisy neighbour on the same host', function () {
  this.timeout(120_000);

  it('two guests streaming to each other lower a co-located guest\'s throughput, and a credit weight restores its share', () => {
    const load = () => loadScenario(join('scenarios', 'worlds', 'noisy-neighbour.yaml'));
    const alone = load();
    alone.flows = alone.flows!.slice(0, 1);
    const weighted = load();
    weighted.xen.credit.guests = [{ weight: 1024, cap: 0 }, { weight: 256, cap: 0 }, { weight: 256, cap: 0 }];
    const [a, n, w] = [alone, load(), weighted].map((sc) => runBuilt(build(sc)));
    const victim = (r: typeof a) => r.perFlow!.flows.f0.mbps;
    const cpu = (r: typeof a) => r.cpuUtilPct.byAccount.domU1;
    // The trigger: the neighbours took CPU time on guest 1's CPU.
    expect(n.cpuUtilPct.byAccount.domU2 + n.cpuUtilPct.byAccount.domU3).to.be.greaterThan(10);
    expect(cpu(n)).to.be.lessThan(cpu(a));
    expect(victim(n), 'with the neighbours').to.be.lessThan(0.8 * victim(a));
    // Weight 1024 against 256 each: guest 1 gets back most of its CPU, and its throughput with it, at the neighbours' cost.
    expect(cpu(w)).to.be.greaterThan(cpu(n) * 1.3);
    expect(victim(w), 'weighted').to.be.greaterThan(0.85 * victim(a));
    expect(w.perFlow!.flows.f1.mbps).to.be.lessThan(n.perFlow!.flows.f1.mbps);
    for (const r of [a, n, w]) expect(r.dataIntegrity).to.equal(undefined);
  });
});

describe('worlds: several hosts', function () {
  this.timeout(120_000);
  const eastWest = (keep: number[]): Scenario => {
    const sc = loadScenario(join('scenarios', 'worlds', 'east-west.yaml'));
    sc.flows = keep.map((i) => sc.flows![i]);
    return sc;
  };

  it('builds every host alike, its actors named after it, and the single host keeps its plain names', () => {
    const b = build(eastWest([0, 1, 2, 3]));
    const names = [...b.sys.actors.keys()];
    for (const h of ['host1', 'host2']) {
      for (const a of ['xen', 'dom0', 'domU1', 'domU2', 'eth0', 'vif1.0-back', 'vif2.0-front', 'evtchn-vif1.0', 'cpu0', 'xenstored']) expect(names, `${h}/${a}`).to.include(`${h}/${a}`);
    }
    // Both NICs are cabled to each other: no external peer anywhere.
    expect(b.clients).to.deep.equal([]);
    expect(names.filter((n) => !n.startsWith('host1/') && !n.startsWith('host2/'))).to.deep.equal([]);
    b.sys.stop();
    const one = build(loadScenario(join('scenarios', 'worlds', 'vm-to-vm-stream.yaml')));
    expect([...one.sys.actors.keys()]).to.include.members(['xen', 'dom0', 'domU1', 'eth0', 'vif1.0-back', 'client0', 'xenstored']);
    one.sys.stop();
  });

  it('east-west: a guest-to-guest flow between two hosts crosses both bridges and the cable, intact, both ways', () => {
    const b = runFor(eastWest([0, 1]), 25);
    expect(b.flowGoodput(0)).to.be.greaterThan(500_000);
    expect(b.flowGoodput(1)).to.be.greaterThan(500_000);
    expect(b.streams.mismatches).to.deep.equal([]);
    const [n1, n2] = b.nics;
    // Every frame one NIC put on the cable reached the other (nothing else is on it).
    expect(n1.framesTx).to.be.greaterThan(1000);
    expect(n2.framesTx).to.be.greaterThan(1000);
    expect(b.counters.wire.arrived).to.be.at.most(b.counters.wire.sent);
    expect(b.counters.wire.sent - b.counters.wire.arrived, 'frames still on the cable').to.be.below(20);
    // Each host's dom0 drove its NIC and both its vifs' netbacks.
    for (const v of b.vifs.filter((x) => x.guest.name.endsWith('domU1'))) {
      expect(v.nb.txUnits, v.nb.name).to.be.greaterThan(0);
      expect(v.nb.rxUnitsOk, v.nb.name).to.be.greaterThan(0);
    }
  });

  it('a flow between two guests of one host of a world stays on that host: no frame on the cable', () => {
    const b = runFor(eastWest([2]), 25);
    expect(b.flowGoodput(0)).to.be.greaterThan(500_000);
    expect(b.counters.wire).to.deep.equal({ sent: 0, arrived: 0 });
    expect(b.streams.mismatches).to.deep.equal([]);
  });

  it('reports each host\'s CPU by domain, and each flow', () => {
    const sc = eastWest([0, 1, 2, 3]);
    sc.run = { warmupMs: 5, durationMs: 20 };
    const r = runBuilt(build(sc));
    expect(Object.keys(r.perHost!)).to.deep.equal(['host1', 'host2']);
    for (const h of ['host1', 'host2']) {
      const acc = r.perHost![h].cpuUtilPct.byAccount;
      expect(Object.keys(acc).sort()).to.deep.equal([`${h}/dom0`, `${h}/domU1`, `${h}/domU2`, 'xen']);
      // A host's own accounts add up to its total.
      expect(Object.values(acc).reduce((a, v) => a + v, 0)).to.be.closeTo(r.perHost![h].cpuUtilPct.total, 0.3);
    }
    expect(Object.keys(r.perFlow!.flows)).to.deep.equal(['f0', 'f1', 'f2', 'f3']);
    expect(r.dataIntegrity).to.equal(undefined);
  });
});

describe('worlds: a switch', function () {
  this.timeout(300_000);

  it('8-to-1 incast: the port toward the receiver overflows (drop-tail) and TCP recovers every flow, nothing corrupted', () => {
    const sc = loadScenario(join('scenarios', 'worlds', 'incast.yaml'));
    const b = build(sc);
    b.start();
    b.sys.sched.run(200 * PS_PER_MS);
    const sw = b.switches![0];
    const at200 = Array.from({ length: b.flows }, (_, f) => b.flowGoodput(f));
    const drops200 = sw.portStats(b.sys.sched.now).map((p) => p.drops);
    b.sys.sched.run(400 * PS_PER_MS);
    b.sys.stop();
    const ports = sw.portStats(b.sys.sched.now);
    // The trigger: the one port toward host 1 overflowed, and only it.
    expect(drops200[0], 'drops at sw0/p0 by 200 ms').to.be.greaterThan(0);
    expect(ports[0].drops).to.equal(b.counters.drops['switch-queue-full']);
    expect(ports[0].highWaterBytes).to.be.above(sc.switches.sw0.queueKiB * 1024 - 1600);
    expect(ports[0].highWaterBytes).to.be.at.most(sc.switches.sw0.queueKiB * 1024);
    for (const p of ports.slice(1)) expect(p.drops).to.equal(0);
    // The outcome: every flow moved on after the losses, and every byte handed to the receiver was its stream's.
    for (let f = 0; f < b.flows; f++) expect(b.flowGoodput(f) - at200[f], `flow ${f} after 200 ms`).to.be.greaterThan(100_000);
    expect(b.streams.mismatches).to.deep.equal([]);
  });

  it('a rack: eight hosts of four guests, all to all through one switch; every host sends and receives on its port, intact', () => {
    const sc = loadScenario(join('scenarios', 'worlds', 'rack.yaml'));
    const b = runFor(sc, 15);
    const hosts = Object.keys(sc.hosts!);
    const into = hosts.map((h) => sc.flows!.reduce((n, fl, f) => n + (fl.to.startsWith(`${h}/`) ? b.flowGoodput(f) : 0), 0));
    for (const [i, h] of hosts.entries()) expect(into[i], `into ${h}`).to.be.greaterThan(100_000);
    const ports = b.switches![0].portStats(b.sys.sched.now);
    expect(ports).to.have.length(hosts.length);
    for (const [k, p] of ports.entries()) {
      expect(p.framesIn, `sw0/p${k} in`).to.be.greaterThan(100);
      expect(p.framesOut, `sw0/p${k} out`).to.be.greaterThan(100);
    }
    expect(b.streams.mismatches).to.deep.equal([]);
  });

  it('a learning switch floods a frame to an unknown address (other hosts\' bridges drop it); a static table never does', () => {
    for (const fdb of ['learning', 'static'] as const) {
      const sc = loadScenario(join('scenarios', 'worlds', 'incast.yaml'));
      sc.switches.sw0.fdb = fdb;
      const b = runFor(sc, 10);
      const sw = b.switches![0];
      if (fdb === 'learning') {
        expect(sw.floodCopies).to.be.greaterThan(0);
        expect(b.counters.drops['bridge-no-port'] ?? 0).to.be.greaterThan(0);
      } else {
        expect(sw.floodCopies).to.equal(0);
        expect(b.counters.drops['bridge-no-port'] ?? 0).to.equal(0);
      }
      expect(b.streams.mismatches).to.deep.equal([]);
      expect(b.flowGoodput(0)).to.be.greaterThan(0);
    }
  });
});

describe('worlds: request/response through a switch', function () {
  this.timeout(300_000);
  /** rr-switch.yaml with this flow kind and forwarding latency, or with the two NICs cabled to each other instead. */
  const rrWorld = (kind: 'tcp_rr' | 'udp_rr', via: { forwardUs: number } | 'cable'): Scenario => {
    const sc = loadScenario(join('scenarios', 'worlds', 'rr-switch.yaml'));
    sc.flows![0].kind = kind;
    sc.run = { warmupMs: 5, durationMs: 30 };
    if (via === 'cable') { sc.switches = {}; sc.links = [{ a: 'host1/eth0', b: 'host2/eth0' }]; } else sc.switches.sw0.forwardUs = via.forwardUs;
    return sc;
  };
  const macNumber = (m: string) => parseInt(m.replace(/:/g, ''), 16);

  for (const kind of ['tcp_rr', 'udp_rr'] as const) {
    it(`${kind}: requests and responses are each addressed by the guest that sent them; the switch learns both guests on their own ports and forwards every frame`, () => {
      const b = build(rrWorld(kind, { forwardUs: 2 }));
      const r = runBuilt(b);
      const sw = b.switches![0], [p0, p1] = [r.perSwitch!.sw0.p0, r.perSwitch!.sw0.p1];
      // The trigger: data went both ways through the switch (requests out of p1 toward host2, responses out of p0 toward host1).
      expect(p1.framesOut, 'toward host2').to.be.greaterThan(100);
      expect(p0.framesOut, 'toward host1').to.be.greaterThan(100);
      // Each guest's MAC was learnt on its own host's port: a response addressed as a request would have moved host1's guest to port 1.
      const [g1, g2] = b.vifs.map((v) => macNumber(v.mac));
      expect([sw.fdb.get(g1), sw.fdb.get(g2)]).to.deep.equal([0, 1]);
      expect(sw.floodCopies, 'only before the first frame of each end was learnt').to.be.at.most(2);
      expect(b.counters.drops).to.deep.equal({});
      const f = r.perFlow!.flows.f0.latency!;
      expect(f.transactions).to.be.greaterThan(100);
      expect(f.tps * f.meanUs / 1e6, 'one transaction in flight').to.be.within(0.95, 1.05);
      expect(r.dataIntegrity).to.equal(undefined);
    });
  }

  it('a transaction through the switch takes what a direct cable takes plus the switch twice: its forwarding latency, the frame\'s time on its port and the port\'s cable', () => {
    const mean = (sc: Scenario) => runBuilt(build(sc)).perFlow!.flows.f0.latency!.meanUs;
    const cable = mean(rrWorld('tcp_rr', 'cable'));
    const [f2, f12] = [2, 12].map((forwardUs) => mean(rrWorld('tcp_rr', { forwardUs })));
    // Store and forward, each way: the frame is taken in whole, waits forwardUs, is sent again at the port's rate over its cable.
    const sw = loadScenario(join('scenarios', 'worlds', 'rr-switch.yaml')).switches.sw0;
    const frameUs = (bytes: number) => serializePs(bytes, sw.mbps) / PS_PER_US;
    const perTransaction = (forwardUs: number) => 2 * (forwardUs + sw.latencyUs) + frameUs(1) + frameUs(1); // one-byte request and response
    expect(f2 - cable, 'switch at 2 us vs a cable').to.be.closeTo(perTransaction(2), 0.5);
    expect(f12 - f2, '10 us more forwarding latency').to.be.closeTo(2 * 10, 0.5);
  });
});

describe('worlds: a guest that is both client and server', function () {
  this.timeout(300_000);

  it('one guest runs netperf and netserver of two TCP_RR flows, sends one stream and receives another, all over its one vif, and every flow moves', () => {
    const sc = loadScenario(join('scenarios', 'worlds', 'client-and-server.yaml'));
    const b = runFor(sc, 25);
    const g = b.vifs[0];
    expect(g.guest.name).to.equal('host1/domU1');
    // The trigger: its one stack holds each role, and its one vif carries every flow it ends.
    const socks = b.stacks.get(g.guest)!.socks;
    expect([0, 1, 2, 3].map((f) => socks.get(f)?.rr ? (socks.get(f)!.rr!.server ? 'netserver' : 'netperf') : socks.get(f)?.sender ? 'sender' : 'receiver'))
      .to.deep.equal(['netperf', 'netserver', 'receiver', 'sender']);
    expect(g.flows).to.deep.equal([0, 1, 2, 3]);
    // The outcome: both request/response flows complete transactions, both streams deliver, intact.
    for (const f of [0, 1]) expect(b.rr!.byFlow.get(f)?.length ?? 0, `flow ${f} transactions`).to.be.greaterThan(10);
    for (const f of [2, 3]) expect(b.flowGoodput(f), `flow ${f}`).to.be.greaterThan(200_000);
    expect(b.counters.drops).to.deep.equal({});
    expect(b.streams.mismatches).to.deep.equal([]);
  });
});

describe('worlds: several vifs per guest', function () {
  this.timeout(300_000);

  it('each flow crosses the vif its endpoint names: its own netfront, rings, netback and bridge port', () => {
    const sc = loadScenario(join('scenarios', 'worlds', 'two-vifs.yaml'));
    const b = runFor(sc, 25);
    const by = new Map(b.vifs.map((v) => [v.nb.name, v]));
    expect([...by.keys()]).to.deep.equal(['vif1.0', 'vif1.1', 'vif2.0', 'vif2.1']);
    expect(new Set(b.vifs.map((v) => v.mac)).size, 'a MAC each').to.equal(4);
    expect(b.vifs.map((v) => v.flows)).to.deep.equal([[0], [1], [0], []]);
    // The trigger: both flows delivered.
    expect(b.flowGoodput(0), 'guest1.0 -> guest2').to.be.greaterThan(500_000);
    expect(b.flowGoodput(1), 'guest1.1 -> peer1').to.be.greaterThan(500_000);
    // The outcome: guest 1's two vifs each took their own flow's data, guest 2's vif 0 got the local flow, its vif 1 nothing.
    // (TSO super-segments: a few dozen transmit requests carry megabytes)
    expect(by.get('vif1.0')!.nb.txUnits).to.be.greaterThan(10);
    expect(by.get('vif1.1')!.nb.txUnits).to.be.greaterThan(10);
    expect(by.get('vif2.0')!.nb.rxUnitsOk).to.be.greaterThan(100);
    expect([by.get('vif2.1')!.nb.txUnits, by.get('vif2.1')!.nb.rxUnitsOk]).to.deep.equal([0, 0]);
    // vif1.1's flow went out of the NIC.
    expect(b.nics[0].framesTx).to.be.greaterThan(100);
    expect(b.counters.drops).to.deep.equal({});
    expect(b.streams.mismatches).to.deep.equal([]);
  });

  it('a guest\'s second vif in a world: host1/guest1.1 streams to host2 over the cable while guest1.0 talks to its neighbour', () => {
    const sc = loadScenario(join('scenarios', 'worlds', 'east-west.yaml'));
    sc.vifs = 2;
    sc.flows = [{ from: 'host1/guest1.1', to: 'host2/guest1', kind: 'stream' }, { from: 'host1/guest2', to: 'host1/guest1.0', kind: 'stream' }];
    const b = runFor(sc, 25);
    const by = new Map(b.vifs.map((v) => [v.nb.name, v]));
    expect(b.flowGoodput(0)).to.be.greaterThan(500_000);
    expect(b.flowGoodput(1)).to.be.greaterThan(500_000);
    expect(by.get('host1/vif1.1')!.nb.txUnits, 'the cable flow left by vif1.1').to.be.greaterThan(100);
    expect(by.get('host1/vif1.0')!.nb.rxUnitsOk, 'the local flow arrived by vif1.0').to.be.greaterThan(100);
    expect(by.get('host1/vif1.0')!.flows).to.deep.equal([1]);
    expect(b.streams.mismatches).to.deep.equal([]);
  });
});

describe('worlds: native Linux hosts', function () {
  this.timeout(300_000);
  const nativePeer = (): Scenario => { const sc = loadScenario(join('scenarios', 'worlds', 'native-peer.yaml')); sc.run = { warmupMs: 5, durationMs: 20 }; return sc; };

  it('a native host is one Linux kernel on bare metal: no Xen, no dom0, no xenstored; its NIC and CPU carry its name', () => {
    const b = build(nativePeer());
    const names = [...b.sys.actors.keys()];
    expect(names.filter((n) => n.startsWith('c1/')).sort()).to.deep.equal(['c1/baremetal', 'c1/cpu0', 'c1/eth0', 'c1/linux', 'c1/linux-tcp0', 'c1/linux-tcp1']);
    expect(names).to.include.members(['host1/xen', 'host1/dom0', 'host1/xenstored']);
    b.sys.stop();
  });

  it('a guest streams to Linux on the native host and Linux streams to another guest, through the switch; the native host\'s own CPU does its stack\'s work', () => {
    for (const via of ['switch', 'cable'] as const) {
      const sc = nativePeer();
      if (via === 'cable') { sc.switches = {}; sc.links = [{ a: 'host1/eth0', b: 'c1/eth0' }]; }
      const b = build(sc);
      const r = runBuilt(b);
      // The trigger: both flows delivered, each through the native host's NIC.
      expect(r.perFlow!.flows.f0.mbps, `${via}: guest1 -> c1/linux`).to.be.greaterThan(50);
      expect(r.perFlow!.flows.f1.mbps, `${via}: c1/linux -> guest2`).to.be.greaterThan(50);
      const c1nic = b.nics.find((n) => n.name === 'c1/eth0')!;
      expect(c1nic.framesTx, via).to.be.greaterThan(100);
      // The outcome: c1's CPU is its Linux's alone, spent on its TCP and NIC driver and nothing of Xen's split drivers.
      expect(Object.keys(r.perHost!.c1.cpuUtilPct.byAccount), via).to.deep.equal(['c1/linux']);
      expect(r.perHost!.c1.cpuUtilPct.total, via).to.be.greaterThan(0);
      const c = r.cyclesPerPacket.byAccountCategory['c1/linux'];
      for (const row of ['tcpRxPerSegment', 'tcpTxPerSegment', 'nicDriverRxPerPacket', 'nicDriverTxPerPacket']) expect(c[row] ?? 0, `${via}: c1/linux ${row}`).to.be.greaterThan(0);
      for (const row of ['netbackTxPerPacket', 'netfrontRxPerPacket', 'bridgePerPacket', 'domainSwitch', 'hypercall']) expect(c[row] ?? 0, `${via}: c1/linux ${row}`).to.equal(0);
      expect(r.perHost!.host1.cpuUtilPct.byAccount['host1/dom0'], via).to.be.greaterThan(0);
      expect(b.counters.drops, via).to.deep.equal({});
      expect(r.dataIntegrity, via).to.equal(undefined);
    }
  });

  it('a native host answers TCP_RR and UDP_RR from a guest, and a learning switch\'s flooded frames not for it are dropped by its stack', () => {
    const sc = nativePeer();
    sc.hosts!.host2 = {};
    sc.switches.sw0.ports = 3;
    sc.links.push({ a: 'host2/eth0', b: 'sw0/p2' });
    sc.flows = [
      { from: 'host1/guest1', to: 'c1/linux', kind: 'tcp_rr' },
      { from: 'host1/guest1', to: 'c1/linux', kind: 'udp_rr' },
      { from: 'host2/guest1', to: 'host1/guest2', kind: 'stream' },
    ];
    const b = runFor(sc, 25);
    for (const f of [0, 1]) expect(b.rr!.byFlow.get(f)?.length ?? 0, `flow ${f} transactions`).to.be.greaterThan(20);
    expect(b.flowGoodput(2)).to.be.greaterThan(500_000);
    // host2's first segments were flooded (host1's guest 2 only speaks once it has data to acknowledge): c1 got copies and dropped them.
    expect(b.switches![0].floodCopies).to.be.greaterThan(0);
    expect(b.counters.drops['stack-no-socket'] ?? 0).to.be.greaterThan(0);
    expect(b.streams.mismatches).to.deep.equal([]);
  });
});

describe('worlds: the flow list in the scenario file', () => {
  const dir = mkdtempSync(join(tmpdir(), 'xennet-worlds-'));
  const load = (text: string) => { const f = join(dir, 'w.yaml'); writeFileSync(f, text); return () => loadScenario(f); };
  const head = 'name: w\ntopology: guest\nguests: 2\nmachine: { nics: 1 }\nflows:\n';

  it('names the field and its line for an endpoint that does not exist or is malformed', () => {
    expect(load(`${head}  - { from: guest1, to: guest3 }\n`)).to.throw(ScenarioError, /w\.yaml:6:\d+: field flows\.0\.to: no guest 3 \(guests is 2\)/);
    expect(load(`${head}  - from: guest1\n    to: peer2\n`)).to.throw(ScenarioError, /:7:\d+: field flows\.0\.to: no peer 2/);
    expect(load(`${head}  - { from: guest1, to: vm2 }\n`)).to.throw(ScenarioError, /field flows\.0\.to: expected an endpoint: dom0, guestN/);
    expect(load(`${head}  - { from: guest2, to: guest2 }\n`)).to.throw(ScenarioError, /field flows\.0\.to: the same endpoint as from/);
    expect(load(`${head}  - { from: peer1, to: guest1, kind: tcp_rr }\n`)).to.throw(ScenarioError, /field flows\.0\.from: an external peer runs netserver only/);
    expect(load(`${head}  - { from: guest1, to: guest2, requestBytes: 4 }\n`)).to.throw(ScenarioError, /field flows\.0\.requestBytes: only for kind tcp_rr or udp_rr/);
    expect(load(`${head}  - { from: guest1, to: guest2 }\ndirection: tx\n`)).to.throw(ScenarioError, /field direction: not used with flows/);
  });

  it('checks a world: hosts named in endpoints and links, NICs that exist, a cable between the hosts of a flow', () => {
    const w = 'name: w\ntopology: guest\nguests: 1\nmachine: { nics: 2 }\nhosts: { host1: {}, host2: { guests: 2 } }\n';
    expect(load(`${w}flows:\n  - { from: guest1, to: host2/guest1 }\n`)).to.throw(ScenarioError, /field flows\.0\.from: name the host: host1\/guest1/);
    expect(load(`${w}flows:\n  - { from: host1/guest1, to: host3/guest1 }\n`)).to.throw(ScenarioError, /field flows\.0\.to: no host host3 \(hosts: host1, host2\)/);
    expect(load(`${w}flows:\n  - { from: host1/guest1, to: host2/guest1 }\n`)).to.throw(ScenarioError, /field flows\.0\.to: no link between host1 and host2/);
    expect(load(`${w}links: [{ a: host1/eth0, b: host2/eth2 }]\nflows:\n  - { from: host1/guest1, to: host2/guest3 }\n`)).to.throw(ScenarioError, /field links\.0\.b: no NIC eth2 on host2[\s\S]*field flows\.0\.to: no guest 3 of host2 \(guests is 2\)/);
    expect(load(`${w}links: [{ a: host1/eth0, b: host2/eth0 }]\nflows:\n  - { from: host1/guest1, to: host1/peer1 }\n`)).to.throw(ScenarioError, /field flows\.0\.to: no peer on host1\/eth0: it is cabled/);
    expect(load(`${w}links: [{ a: host1/eth0, b: host2/eth0 }]\n`)).to.throw(ScenarioError, /field flows: a world of hosts needs its flows listed/);
    expect(load(`${head}  - { from: guest1, to: guest2 }\nlinks: [{ a: host1/eth0, b: host2/eth0 }]\n`)).to.throw(ScenarioError, /field links: links join the hosts of a world/);
    expect(load(`${w}links: [{ a: host1/eth0, b: host2/eth0 }]\nflows:\n  - { from: host1/guest1, to: host2/peer2 }\n`)()).to.have.property('name', 'w');
    const sw = `${w}switches: { sw0: { ports: 2 } }\nlinks: [{ a: host1/eth0, b: sw0/p0 }, { a: host2/eth1, b: sw0/p1 }]\n`;
    expect(load(`${sw}flows:\n  - { from: host1/guest1, to: host2/guest1, kind: tcp_rr }\n`)()).to.have.property('name', 'w');
    expect(load(`${w}switches: { sw0: { ports: 2 } }\nlinks: [{ a: host1/eth0, b: sw0/p2 }]\nflows:\n  - { from: host1/guest1, to: host1/peer2 }\n`)).to.throw(ScenarioError, /field links\.0\.b: no port p2 on sw0 \(ports is 2/);
    expect(load(`${sw}flows:\n  - { from: host1/guest1, to: host2/guest1 }\n`)()).to.have.property('name', 'w');
  });

  it('checks native hosts: their endpoint is linux, they take no guests or Xen, and their peers talk to their own Linux only', () => {
    const w = 'name: w\ntopology: guest\nguests: 1\nmachine: { nics: 2 }\nhosts: { host1: {}, c1: { native: true } }\nlinks: [{ a: host1/eth0, b: c1/eth0 }]\n';
    expect(load(`${w}flows:\n  - { from: host1/guest1, to: c1/linux }\n  - { from: c1/linux, to: c1/peer2 }\n`)()).to.have.property('name', 'w');
    expect(load(`${w}flows:\n  - { from: host1/guest1, to: c1/guest1 }\n`)).to.throw(ScenarioError, /field flows\.0\.to: c1 is a native Linux host \(no Xen, no guests\): its endpoint is c1\/linux/);
    expect(load(`${w}flows:\n  - { from: c1/dom0, to: host1/guest1 }\n`)).to.throw(ScenarioError, /field flows\.0\.from: c1 is a native Linux host \(no Xen, no dom0\)/);
    expect(load(`${w}flows:\n  - { from: host1/linux, to: c1/linux }\n`)).to.throw(ScenarioError, /field flows\.0\.from: host1 is a Xen host: its own kernel is host1\/dom0/);
    expect(load(`${w}flows:\n  - { from: host1/guest1, to: c1/peer2 }\n`)).to.throw(ScenarioError, /field flows\.0\.to: c1 is a native host and forwards nothing: its peers talk to c1\/linux only/);
    expect(load(`${w.replace('c1: { native: true }', 'c1: { native: true, guests: 2 }')}flows:\n  - { from: host1/guest1, to: c1/linux }\n`)).to.throw(ScenarioError, /field hosts\.c1\.guests: not used by a native host/);
    expect(load(`${head}  - { from: guest1, to: linux }\n`)).to.throw(ScenarioError, /field flows\.0\.to: linux names a native host of a world/);
  });

  it('checks vifs: an endpoint\'s vif exists, vifs only with a flow list, no flow between two vifs of one guest', () => {
    const v = (text: string) => load(`${head.replace('guests: 2', 'guests: 2\nvifs: 2')}${text}`);
    expect(v(`  - { from: guest1.1, to: guest2.0 }\n`)()).to.have.property('vifs', 2);
    expect(v(`  - { from: guest1.2, to: guest2 }\n`)).to.throw(ScenarioError, /field flows\.0\.from: no vif 2 of guest 1 \(vifs is 2: guest1\.0\.\.guest1\.1\)/);
    expect(v(`  - { from: guest1, to: guest1.1 }\n`)).to.throw(ScenarioError, /field flows\.0\.to: guest 1 at both ends/);
    expect(load(`${head}  - { from: guest1.1, to: guest2 }\n`)).to.throw(ScenarioError, /field flows\.0\.from: no vif 1 of guest 1 \(vifs is 1/);
    expect(load('name: w\ntopology: guest\nguests: 2\nvifs: 2\ndirection: tx\n')).to.throw(ScenarioError, /field vifs: only with a flow list/);
    expect(load(`${head.replace('guests: 2', 'guests: 2\nvifs: 8')}  - { from: guest1, to: guest2 }\n`)).to.throw(ScenarioError, /field vifs: 8 vifs per guest: a guest's grant table holds at most 7/);
  });

  it('a flow list with peers: a guest streams to the external host on NIC 1 and another receives from it', () => {
    const sc = load(`${head}  - { from: guest1, to: peer1 }\n  - { from: peer1, to: guest2 }\nrun: { warmupMs: 5, durationMs: 20 }\n`)();
    const r = runBuilt(build(sc));
    expect(r.perFlow!.flows.f0.mbps).to.be.greaterThan(0);
    expect(r.perFlow!.flows.f1.mbps).to.be.greaterThan(0);
    expect(r.counters.wireFrames).to.be.greaterThan(0);
    expect(r.dataIntegrity).to.equal(undefined);
  });
});
