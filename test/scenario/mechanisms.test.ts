import { expect } from 'chai';
import { join } from 'node:path';
import { loadScenario, type Scenario } from '../../src/scenario/schema.js';
import { runScenario, type RunResult } from '../../src/scenario/run.js';
import { build } from '../../src/scenario/build.js';

const base = (name: string, opt: Partial<Scenario['optimizations']> = {}, nic: Partial<Scenario['machine']['nic']> = {}): Scenario => {
  const sc = loadScenario(join('scenarios', `${name}.yaml`));
  Object.assign(sc.optimizations, opt);
  Object.assign(sc.machine.nic, nic);
  sc.run = { warmupMs: 10, durationMs: 25 };
  return sc;
};
const perSeg = (r: RunResult, v: number) => v / r.counters.goodputSegments;

describe('mechanisms behind the optimizations', function () {
  this.timeout(60_000);

  it('Xen 2.0 receive flips pages; copying receive flips none', () => {
    const flip = runScenario(base('guest-rx'));
    const copy = runScenario(base('guest-rx', { rxCopy: true }));
    expect(flip.counters.pageFlips).to.equal(flip.counters.packetsRx); // one flip per data packet
    expect(copy.counters.pageFlips).to.equal(0);
    expect(copy.counters.grantMaps).to.be.greaterThan(0); // the driver domain maps the guest's buffer to copy into it
  });

  it('transmit without remapping maps no guest data page into the driver domain', () => {
    const orig = runScenario(base('guest-tx'));
    const noremap = runScenario(base('guest-tx', { txNoRemap: true }));
    expect(perSeg(orig, orig.counters.txDataMaps)).to.be.at.least(1);
    expect(noremap.counters.txDataMaps).to.equal(0);
    expect(noremap.counters.grantDeviceMaps).to.be.greaterThan(0);
    // Faster on average: Xen 2.0 guest transmit sits between two operating points a seed picks
    // (README, run-to-run variation), and the gain of this change alone is no larger than their gap.
    const mean = (opt: Partial<Scenario['optimizations']>) => [1, 2, 3, 4, 5].reduce((a, seed) => a + runScenario({ ...base('guest-tx', opt), seed }).throughputMbps, 0) / 5;
    expect(mean({ txNoRemap: true })).to.be.greaterThan(mean({}));
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
