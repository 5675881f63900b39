import { expect } from 'chai';
import { join } from 'node:path';
import { loadScenario, type Scenario } from '../../src/scenario/schema.js';
import { runScenario, type RunResult } from '../../src/scenario/run.js';
import { build } from '../../src/scenario/build.js';
import { PS_PER_MS } from '../../src/actors/scheduler.js';

const base = (name: string, opt: Partial<Scenario['optimizations']> = {}, nic: Partial<Scenario['machine']['nic']> = {}, phase: Phase = { seed: 1, durationMs: 25 }): Scenario => {
  const sc = loadScenario(join('scenarios', `${name}.yaml`));
  Object.assign(sc.optimizations, opt);
  Object.assign(sc.machine.nic, nic);
  sc.run = { warmupMs: 10, durationMs: phase.durationMs };
  sc.seed = phase.seed;
  return sc;
};
const perSeg = (r: RunResult, v: number) => v / r.counters.goodputSegments;
/** Where a window starts and ends relative to the bursts: a seed and a window length. */
interface Phase { seed: number; durationMs: number }
/** Seeds 1-8, the window 20, 25 or 30 ms in turn: claims about a mechanism must hold at any of them. */
const PHASES: Phase[] = [1, 2, 3, 4, 5, 6, 7, 8].map((seed) => ({ seed, durationMs: [20, 25, 30][(seed - 1) % 3] }));
const at = (p: Phase) => `seed ${p.seed}, ${p.durationMs} ms`;

describe('mechanisms behind the optimizations', function () {
  this.timeout(60_000);

  it('Xen 2.0 receive flips one page per data packet; copying receive flips none', () => {
    // Counted from time 0 (nothing in flight) until the traffic has drained: every link goes down at the
    // window's end, so no packet is between its flip and the guest's TCP when the counts are compared.
    for (const p of PHASES) {
      const sc = base('guest-rx', {}, {}, p);
      const end = sc.run.warmupMs + sc.run.durationMs;
      sc.faults = Array.from({ length: sc.machine.nics }, (_, nic) => ({ atUs: end * 1000, nic, kind: 'link-down' as const, count: 1 }));
      const b = build(sc);
      b.start();
      b.sys.sched.run((end + 3) * PS_PER_MS);
      const drained = { flips: b.counters.pageFlips, rx: b.counters.packetsRx };
      b.sys.sched.run((end + 4) * PS_PER_MS);
      b.sys.stop();
      expect({ flips: b.counters.pageFlips, rx: b.counters.packetsRx }, `${at(p)}: drained`).to.deep.equal(drained);
      expect(drained.rx, at(p)).to.be.greaterThan(1000);
      expect(drained.flips, at(p)).to.equal(drained.rx);
    }
    const copy = runScenario(base('guest-rx', { rxCopy: true }));
    expect(copy.counters.pageFlips).to.equal(0);
    expect(copy.counters.grantMaps).to.be.greaterThan(0); // the driver domain maps the guest's buffer to copy into it
  });

  it('transmit without remapping maps no guest data page into the driver domain, and spends less in Xen\'s grant operations per segment', () => {
    const grantCycles = (r: RunResult) => ['grantMapPerOp', 'grantUnmapPerOp', 'grantValidatePerOp', 'grantCopyPerOp', 'copy']
      .reduce((n, c) => n + (r.cyclesPerPacket.byAccountCategory.xen[c] ?? 0), 0);
    for (const p of PHASES) {
      const orig = runScenario(base('guest-tx', {}, {}, p));
      const noremap = runScenario(base('guest-tx', { txNoRemap: true }, {}, p));
      expect(perSeg(orig, orig.counters.txDataMaps), at(p)).to.be.at.least(1);
      expect(noremap.counters.txDataMaps, at(p)).to.equal(0);
      expect(noremap.counters.grantDeviceMaps, at(p)).to.be.greaterThan(0);
      // Pinning a page for the NIC and copying its header cost Xen less than mapping and unmapping it.
      // (Throughput is no test of this: Xen 2.0 guest transmit sits at one of two operating points a
      // seed picks, README "run-to-run variation", and this change alone moves it less than their gap.)
      expect(grantCycles(noremap), at(p)).to.be.lessThan(grantCycles(orig));
    }
  });

  it('TSO in the virtual NIC cuts the I/O-channel requests per byte', () => {
    const orig = runScenario(base('guest-tx'));
    const vnic = runScenario(base('guest-tx', { vnicOffload: true }));
    const reqPerByte = (r: RunResult) => r.counters.txRingRequests / (r.counters.goodputSegments * 1448);
    // One slot per 4 KiB page plus a GSO extra instead of one slot per 1448-byte segment...
    expect(reqPerByte(vnic)).to.be.lessThan(reqPerByte(orig) / 2);
    // ...and one packet (one netback pass, one bridge traversal) per up-to-64 KiB super-segment.
    const pktPerByte = (r: RunResult) => r.counters.packetsTx / (r.counters.goodputSegments * 1448);
    expect(pktPerByte(vnic)).to.be.lessThan(pktPerByte(orig) / 10);
  });

  it('superpages and global mappings cut TLB misses in the driver domain', () => {
    const orig = runScenario(base('driver-rx'));
    const mem = runScenario(base('driver-rx', { superpages: true, globalPages: true }));
    expect(perSeg(mem, mem.counters.tlbMisses)).to.be.lessThan(perSeg(orig, orig.counters.tlbMisses) / 5);
    expect(mem.throughputMbps).to.be.greaterThan(orig.throughputMbps);
  });

  it('a NIC without TSO makes the driver domain segment in software, and the virtual NIC still pays off', () => {
    const orig = runScenario(base('guest-tx', {}, { tso: false, csumOffload: false }));
    const vnic = runScenario(base('guest-tx', { vnicOffload: true }, { tso: false, csumOffload: false }));
    expect(orig.counters.softwareGsoSegments).to.equal(0);
    expect(vnic.counters.softwareGsoSegments).to.be.greaterThan(0);
    expect(vnic.counters.bytesChecksummed).to.be.greaterThan(0); // checksums done by the driver domain instead
    expect(vnic.throughputMbps).to.be.greaterThan(orig.throughputMbps * 1.3);
  });

  it('native transmit is link-bound; Xen 2.0 guest transmit is CPU-bound', () => {
    const linux = runScenario(base('linux-tx'));
    const guest = runScenario(base('guest-tx'));
    const lineRateGoodput = 4 * 1000 * 1448 / (1448 + 66 + 24);
    expect(linux.throughputMbps).to.be.closeTo(lineRateGoodput, lineRateGoodput * 0.02);
    expect(linux.cpuUtilPct.total).to.be.lessThan(80);
    expect(guest.cpuUtilPct.total).to.be.greaterThan(97);
    expect(guest.throughputMbps).to.be.lessThan(lineRateGoodput / 2);
  });

  it('page ownership is conserved across flips (every frame owned once, counts add up)', () => {
    const b = build(base('guest-rx'));
    b.start();
    b.sys.sched.run(20e9);
    const total = b.mem.frames;
    const owned = b.kernels.reduce((n, k) => n + b.mem.pages(k.domid), 0);
    expect(owned + b.mem.freeFrames()).to.equal(total);
    expect(b.counters.pageFlips).to.be.greaterThan(0);
    b.sys.stop();
  });

  it('different seeds perturb the run; the same seed reproduces it exactly', () => {
    const a = runScenario({ ...base('guest-rx'), seed: 1 });
    const b = runScenario({ ...base('guest-rx'), seed: 1 });
    const c = runScenario({ ...base('guest-rx'), seed: 2 });
    expect(JSON.stringify(a)).to.equal(JSON.stringify(b));
    expect(c.traceHash).to.not.equal(a.traceHash);
  });
});
