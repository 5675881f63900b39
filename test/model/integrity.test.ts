import { expect } from 'chai';
import { MachineMemory } from '../../src/hardware/memory.js';
import { payloadFrom, readPayload, writePayload } from '../../src/hardware/payload.js';
import { HDR_LEN, type Packet } from '../../src/core/packet.js';
import { GARBLED } from '../../src/model/integrity.js';
import { runCase } from '../../src/stress/run.js';
import { runWrapped } from '../support/wrapped-case.js';
import { build, type Built } from '../../src/scenario/build.js';
import { integrityFailures, runBuilt } from '../../src/scenario/run.js';
import { parseScenario } from '../../src/scenario/schema.js';
import { formatRun } from '../../src/results/format.js';
import { paperConfigs, scenarioFor } from '../../src/paper/configs.js';
import type { CaseScenario } from '../../src/stress/case.js';
import type { NicDriver } from '../../src/domains/nic-driver.js';
import { stressCase } from '../support/stress-case.js';

const pkt = (frames: number[], len: number, data: Packet['data'] = undefined): Packet => ({
  id: 1, flow: 7, reply: false, kind: 'data', seq: 0, len, ack: 0, wnd: 0, mss: 1448, csum: 'done', frames, owner: 1, cold: undefined, release: undefined, data,
});

describe('data integrity: content tags in memory', () => {
  it('a segment written into its skb pages reads back as its stream bytes, across pages and from any offset', () => {
    const mem = new MachineMemory(16);
    writePayload(mem, [3, 4, 5], 7, 1000, 9000);
    expect(readPayload(mem, pkt([3, 4, 5], 9000), 0, 9000)).to.deep.equal({ flow: 7, off: 1000, len: 9000, gen: 0 });
    expect(readPayload(mem, pkt([3, 4, 5], 9000), 4000, 1448)).to.deep.equal({ flow: 7, off: 5000, len: 1448, gen: 0 });
    // A page of the packet that holds something else garbles what is read across it.
    mem.write(4, 0, 7, 0, 4096, 0);
    expect(readPayload(mem, pkt([3, 4, 5], 9000), 0, 9000).gen).to.equal(GARBLED);
  });

  it('a copy moves the bytes of the range it copies, shifted; bytes it does not bring stay or go as memcpy would', () => {
    const mem = new MachineMemory(16);
    mem.write(1, HDR_LEN, 7, 500, 1448, 0);
    mem.copy(1, 0, 2, 0, HDR_LEN + 1448);
    expect(mem.payload.get(2)).to.deep.equal({ flow: 7, off: 500, len: 1448, gen: 0, at: HDR_LEN });
    mem.copy(1, 8, 3, 0, 1000); // from a wrong offset: the bytes land 8 too early, so the payload reads 8 bytes ahead
    expect(readPayload(mem, pkt([3], 900), 0, 900)).to.deep.equal({ flow: 7, off: 508, len: 900, gen: 0 });
    mem.write(4, HDR_LEN, 9, 0, 100, 0);
    mem.copy(5, 0, 4, 0, HDR_LEN); // header bytes only (no payload in the source): the payload after them stays
    expect(mem.payload.get(4)?.flow).to.equal(9);
    const f = mem.alloc(0);
    mem.write(f, 0, 9, 0, 10, 0);
    mem.release(f); // a freed frame holds nothing
    expect(mem.payload.has(f)).to.equal(false);
  });

  it('a gather view reads slots at their offsets and sizes, after a header copy, and a segment of it from its skip', () => {
    const mem = new MachineMemory(16);
    // A guest packet in two slots: the first's own 3000 bytes at offset 100, then 2000 at offset 0.
    mem.write(1, 100 + HDR_LEN, 7, 0, 3000 - HDR_LEN, 0);
    mem.write(2, 0, 7, 3000 - HDR_LEN, 2000, 0);
    const g = { pages: [1, 2], offsets: [100, 0], sizes: [3000, 2000], head: null, skip: 0 };
    const len = 5000 - HDR_LEN;
    expect(readPayload(mem, pkt([1, 2], len, g), 0, len)).to.deep.equal({ flow: 7, off: 0, len, gen: 0 });
    // The first bytes come from a header copy taken earlier: what it copied is what goes.
    expect(readPayload(mem, pkt([1, 2], len, { ...g, head: { flow: 7, off: 0, len: 62, gen: 0 } }), 0, len).gen).to.equal(0);
    expect(readPayload(mem, pkt([1, 2], len, { ...g, head: { flow: 7, off: 0, len: 62, gen: 5 } }), 0, len).gen).to.equal(GARBLED);
    // A segment cut out of it (GSO) reads its own MSS of the bytes.
    const whole = pkt([1, 2], len, { ...g, head: { flow: 7, off: 0, len: 62, gen: 0 } });
    expect(readPayload(mem, pkt([1], 1448, payloadFrom(whole, 2896)), 0, 1448)).to.deep.equal({ flow: 7, off: 2896, len: 1448, gen: 0 });
    // On the wire a frame carries its bytes.
    expect(readPayload(mem, pkt([], 100, { flow: 7, off: 10, len: 100, gen: 0 }), 50, 50)).to.deep.equal({ flow: 7, off: 60, len: 50, gen: 0 });
  });
});

/** A short case: one path through the machine, everything else quiet. */
const scenario = (o: { topology?: CaseScenario['topology']; direction: 'tx' | 'rx'; mss?: number; guests?: number; nic?: Partial<NonNullable<NonNullable<CaseScenario['machine']>['nic']>>; opt?: Partial<CaseScenario['optimizations']> }): CaseScenario => stressCase({
  name: 'integrity', topology: o.topology ?? 'guest', direction: o.direction, seed: 5, guests: o.guests ?? 1,
  machine: { nic: o.nic }, optimizations: o.opt, tcp: { mss: o.mss ?? 1448 },
});
/** Count the segments the stream check is handed (by wrapping its deliver), to show the check ran. */
function countChecked(b: Built): { segments: number } {
  const seen = { segments: 0 };
  const deliver = b.streams.deliver.bind(b.streams);
  b.streams.deliver = (...a) => { if (a[3] > 0) seen.segments++; deliver(...a); };
  return seen;
}
/** Run a case (optionally broken) and keep the built system for a look at its stream check. */
function run(sc: CaseScenario, wrap?: (b: Built) => void): { r: ReturnType<typeof runCase>; b: Built; checked: { segments: number } } {
  let b: Built | null = null;
  let checked = { segments: 0 };
  const r = runWrapped(sc, (x) => { b = x; checked = countChecked(x); wrap?.(x); });
  return { r, b: b!, checked };
}
const corrupted = (r: ReturnType<typeof runCase>) => {
  expect(r.ok).to.equal(false);
  expect(r.violations['data-integrity'] ?? 0).to.be.greaterThan(0);
  expect(r.failures.join(' ')).to.match(/data integrity: \d+ segments? delivered with the wrong bytes: .* delivered flow \d+ bytes/);
};

describe('data integrity: every path carries the streams', function () {
  this.timeout(120_000);
  const paths: Array<[string, CaseScenario, (b: Built) => void]> = [
    ['native tx, TSO on the NIC', scenario({ topology: 'native', direction: 'tx' }), (b) => expect(b.counters.pkt.split).to.be.greaterThan(0)],
    ['driver domain rx, small MSS', scenario({ topology: 'driver', direction: 'rx', mss: 536 }), () => {}],
    ['guest tx, Xen 2.0 (page maps, no offloads)', scenario({ direction: 'tx', opt: { vnicOffload: false } }), () => {}],
    ['guest tx, multi-slot TSO packets, header copy (no-remap), TSO on the NIC', scenario({ direction: 'tx', opt: { txNoRemap: true } }), (b) => expect(b.counters.txRingRequests).to.be.greaterThan(b.counters.packetsTx)],
    ['guest tx, multi-slot packets cut by software GSO (NIC without TSO), small MSS', scenario({ direction: 'tx', mss: 536, nic: { tso: false, csumOffload: false } }), (b) => expect(b.counters.softwareGsoSegments).to.be.greaterThan(0)],
    ['guest tx, software GSO after a header copy', scenario({ direction: 'tx', nic: { tso: false, sg: false }, opt: { txNoRemap: true } }), (b) => expect(b.counters.softwareGsoSegments).to.be.greaterThan(0)],
    ['guest rx, page flipping', scenario({ direction: 'rx', opt: { rxCopy: false } }), (b) => expect(b.counters.pageFlips).to.be.greaterThan(0)],
    ['guest rx, grant copy', scenario({ direction: 'rx', guests: 2 }), (b) => expect(b.counters.grantCopies).to.be.greaterThan(0)],
    ['guest rx, map and copy', scenario({ direction: 'rx', opt: { rxCopyVia: 'map' } }), () => {}],
    ['guest rx, jumbo MSS (capped to one receive buffer)', scenario({ direction: 'rx', mss: 8948 }), (b) => expect(b.mss).to.equal(4096 - HDR_LEN)],
  ];
  for (const [name, sc, more] of paths) {
    it(name, () => {
      const { r, b, checked } = run(sc);
      expect(r.failures, r.failures.join('\n')).to.deep.equal([]);
      expect(checked.segments).to.be.greaterThan(20);
      expect(b.streams.mismatches).to.deep.equal([]);
      more(b);
    });
  }

  it('every paper configuration (a short run): the receivers check their streams and find them whole', () => {
    for (const c of paperConfigs()) {
      const sc = scenarioFor(c);
      sc.run.warmupMs = 1;
      sc.run.durationMs = 3;
      const b = build(sc);
      try {
        const checked = countChecked(b);
        const res = runBuilt(b);
        expect(checked.segments, c.id).to.be.greaterThan(20);
        expect(res.dataIntegrity, c.id).to.equal(undefined);
      } finally { b.sys.stop(); }
    }
  });
});

describe('data integrity: a broken mechanism is caught (mutants injected through the built system)', function () {
  this.timeout(120_000);
  type CopyOp = Parameters<NonNullable<Built['xen']>['grantCopy']>[2][number];
  /** Replace Xen's GNTTABOP_copy with one that bends the batch first. */
  const copyWith = (bend: (ops: CopyOp[]) => CopyOp[]) => (b: Built) => {
    const xen = b.xen!;
    const real = xen.grantCopy.bind(xen);
    xen.grantCopy = (x, caller, ops) => real(x, caller, bend(ops));
  };
  const rxCase = scenario({ direction: 'rx' });

  it('a receive grant copy that copies from the wrong offset', () => {
    corrupted(run(rxCase, copyWith((ops) => ops.map((o) => (o.source.frame !== undefined && o.len > 8 ? { ...o, source: { ...o.source, offset: 8 }, len: o.len - 8 } : o)))).r);
  });

  it("a receive grant copy that takes each packet from the batch neighbour's frame", () => {
    corrupted(run(rxCase, copyWith((ops) => ops.map((o, i) => (ops.length > 1 && o.source.frame !== undefined ? { ...o, source: { ...o.source, frame: ops[(i + 1) % ops.length].source.frame } } : o)))).r);
  });

  it('a transmit header copy (no-remap) that copies from the wrong offset', () => {
    const sc = scenario({ direction: 'tx', opt: { txNoRemap: true } });
    expect(run(sc).r.ok).to.equal(true);
    corrupted(run(sc, copyWith((ops) => ops.map((o) => (o.source.ref !== undefined ? { ...o, source: { ...o.source, offset: o.source.offset + 1 } } : o)))).r);
  });

  it('a netback that maps the wrong slot\'s page (two pages of a packet swapped)', () => {
    const sc = scenario({ direction: 'tx' });
    corrupted(run(sc, (b) => {
      const xen = b.xen!;
      const real = xen.grantMap.bind(xen);
      xen.grantMap = (x, caller, ops) => {
        const res = real(x, caller, ops);
        if (ops.length > 1 && ops[0].readonly && res[0].frame !== undefined && res[1].frame !== undefined) [res[0].frame, res[1].frame] = [res[1].frame, res[0].frame];
        return res;
      };
    }).r);
  });

  it('software GSO that cuts each segment one MSS too far', () => {
    const sc = scenario({ direction: 'tx', nic: { tso: false } });
    corrupted(run(sc, (b) => {
      for (const d of b.drivers) {
        const drv = d as unknown as { softwareGso(x: unknown, p: Packet): Packet[] };
        const real = drv.softwareGso.bind(d);
        drv.softwareGso = (x, p) => real(x, p).map((s) => ({ ...s, data: payloadFrom(p, s.seq - p.seq + p.mss) }));
      }
    }).r);
  });

  it('run and paper report it loudly: the result names the mismatches and the CLI line says so', () => {
    const sc = parseScenario(structuredClone(rxCase), 'integrity');
    const b = build(sc);
    try {
      copyWith((ops) => ops.map((o) => (o.source.frame !== undefined && o.len > 8 ? { ...o, source: { ...o.source, offset: 8 }, len: o.len - 8 } : o)))(b);
      const res = runBuilt(b);
      expect(res.dataIntegrity?.length).to.be.greaterThan(0);
      expect(formatRun(res)).to.match(/DATA INTEGRITY VIOLATED: domU1 delivered flow 0 bytes/);
      expect(integrityFailures([res])[0]).to.match(/^integrity: data integrity violated: /);
    } finally { b.sys.stop(); }
  });

  it('a page flip after which the driver domain keeps DMAing into the flipped page (use after flip)', () => {
    const sc = scenario({ direction: 'rx', opt: { rxCopy: false } });
    const { r } = run(sc, (b) => {
      const xen = b.xen!;
      const real = xen.grantTransfer.bind(xen);
      xen.grantTransfer = (x, caller, ops) => {
        const res = real(x, caller, ops);
        ops.forEach((op, i) => { if (res[i].status === 0) b.nics[0].rxBuffers.unshift(op.mfn); });
        return res;
      };
    });
    corrupted(r);
  });
});

describe('data integrity: an adversary rewriting the pages it lent (H5 variants 2 and 3)', function () {
  this.timeout(120_000);
  const hostile = (direction: 'tx' | 'rx', variant: number): CaseScenario => ({
    ...scenario({ direction, guests: 2 }),
    run: { durationMs: 5, warmupMs: 2 }, machine: { ...scenario({ direction }).machine, cpus: 2 },
    hostile: [{ guest: 1, vif: 0, behaviour: 'H5', variant, startUs: 100, periodUs: 100 }],
  });

  it('transmit: its own stream reaches the client rewritten; the honest guest\'s stream arrives exactly', () => {
    for (const v of [2, 3]) {
      const { r, b, checked } = run(hostile('tx', v));
      expect(r.failures, r.failures.join('\n')).to.deep.equal([]);
      expect(b.streams.adversaryMismatches, `variant ${v}`).to.be.greaterThan(0);
      expect(b.streams.mismatches).to.deep.equal([]);
      expect(checked.segments).to.be.greaterThan(b.streams.adversaryMismatches);
    }
  });

  it('receive: rewriting a posted buffer before the backend fills it changes nothing; after, only its own stream', () => {
    const early = run(hostile('rx', 2));
    expect(early.r.failures).to.deep.equal([]);
    expect(early.b.streams.adversaryMismatches).to.equal(0);
    const late = run(hostile('rx', 3));
    expect(late.r.failures).to.deep.equal([]);
    expect(late.b.streams.adversaryMismatches).to.be.greaterThan(0);
    expect(late.b.streams.mismatches).to.deep.equal([]);
  });

  it('without the exemption for its own flows the same run fails: the check sees the rewrites', () => {
    const { r } = run(hostile('tx', 2), (b) => { b.streams.adversaryFlows.clear(); });
    corrupted(r);
  });
});
