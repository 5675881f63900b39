/**
 * netback's start_xmit with a packet that is not the driver domain's to give (Xen 2.0's
 * netif_be_start_xmit / netbk_copy_skb): another guest's packet, or one dom0's own stack still owns
 * when the guest flips pages or when it is a TSO super-segment, is copied into fresh pages of dom0
 * first (after software GSO for a super-segment, skb_checksum_help when the vif takes no partial
 * checksums), and the original goes back to its owner at once. Over the netback doubles.
 */
import { expect } from 'chai';
import { HDR_LEN, PAGE_SIZE, type Packet } from '../../src/core/packet.js';
import type { Exec } from '../../src/core/exec.js';
import { netbk_copy_skb } from '../../src/channels/netback/interface.js';
import { DOM0, GUEST, harness } from '../support/netback-double.js';

const MSS = 1448;

/** A packet of `len` payload bytes in one frame of `owner`, with a release the test can count. */
function packet(h: ReturnType<typeof harness>, over: Partial<Packet>, released: Exec[]): Packet {
  const p: Packet = { ...h.incoming({ len: 200, seq: 5000, mss: MSS, ...over }), release: (x) => { released.push(x); } };
  return p;
}

describe('netback start_xmit: packets that are not the driver domain\'s to give are copied first', () => {
  it('another guest\'s packet: one copy into dom0\'s pages, the sender released at once, the copy queued for the guest', () => {
    const h = harness();
    const released: Exec[] = [];
    const p = packet(h, { owner: GUEST + 1 }, released);
    h.vif.xmit(h.x, p);
    expect(released).to.deep.equal([h.x]);
    expect(h.vif.rxQueue).to.have.length(1);
    const q = h.vif.rxQueue[0];
    expect(q).to.not.equal(p);
    expect([q.owner, q.len, q.seq, q.flow, q.release]).to.deep.equal([DOM0, 200, 5000, p.flow, undefined]);
    expect(q.frames).to.have.length(1).and.not.include(p.frames[0]);
    expect(h.cpu.costs.skbAllocFree).to.equal(1);
    expect(h.cpu.costs.gsoPerSegment).to.equal(undefined);
    expect(h.cpu.copies.map((c) => c.bytes)).to.deep.equal([200 + HDR_LEN]);
    expect(h.counters.pkt.split).to.equal(0);
  });

  it('a super-segment is cut into MSS segments first: one copy and one GSO charge per segment, the ledger counts the split', () => {
    const h = harness();
    const released: Exec[] = [];
    const len = 3 * MSS + 100;
    const p = packet(h, { owner: GUEST + 1, len }, released);
    const out = netbk_copy_skb(h.vif, h.x, p);
    expect(out.map((q) => q.len)).to.deep.equal([MSS, MSS, MSS, 100]);
    expect(out.map((q) => q.seq)).to.deep.equal([5000, 5000 + MSS, 5000 + 2 * MSS, 5000 + 3 * MSS]);
    expect(out.every((q) => q.owner === DOM0)).to.equal(true);
    expect(h.cpu.costs.gsoPerSegment).to.equal(4);
    expect(h.counters.softwareGsoSegments).to.equal(4);
    expect(h.counters.pkt.split).to.equal(3);
    expect(h.cpu.copies.map((c) => c.bytes)).to.deep.equal([MSS, MSS, MSS, 100].map((n) => n + HDR_LEN));
    expect(released).to.have.length(1);
  });

  it('a segment is never longer than a page holds, whatever the packet\'s MSS says', () => {
    const h = harness();
    const p = packet(h, { owner: GUEST + 1, len: 2 * PAGE_SIZE, mss: 9000 }, []);
    const out = netbk_copy_skb(h.vif, h.x, p);
    expect(out.every((q) => q.len + HDR_LEN <= PAGE_SIZE)).to.equal(true);
    expect(out.reduce((a, q) => a + q.len, 0)).to.equal(2 * PAGE_SIZE);
    expect(out).to.have.length(Math.ceil((2 * PAGE_SIZE) / (PAGE_SIZE - HDR_LEN)));
  });

  it('a partial checksum is completed in software (skb_checksum_help) when the vif takes none, per segment; else it stays partial', () => {
    const h = harness({ feat: { csum: false } });
    const out = netbk_copy_skb(h.vif, h.x, packet(h, { owner: GUEST + 1, len: MSS + 10, csum: 'partial' }, []));
    expect(h.cpu.checksums).to.deep.equal([MSS, 10]);
    expect(out.map((q) => q.csum)).to.deep.equal(['done', 'done']);
    const k = harness({ feat: { csum: true } });
    const kept = netbk_copy_skb(k.vif, k.x, packet(k, { owner: GUEST + 1, len: 100, csum: 'partial' }, []));
    expect(k.cpu.checksums).to.deep.equal([]);
    expect(kept[0].csum).to.equal('partial');
    const d = harness({ feat: { csum: false } });
    netbk_copy_skb(d.vif, d.x, packet(d, { owner: GUEST + 1, len: 100, csum: 'done' }, []));
    expect(d.cpu.checksums).to.deep.equal([]);
  });

  it('dom0\'s own packet that its socket still owns: copied for a flipping guest or when it is bigger than a page, queued as it is for a copying guest', () => {
    const flip = harness({ feat: { rxCopy: false } });
    const a: Exec[] = [];
    const p = packet(flip, { owner: DOM0 }, a);
    flip.vif.xmit(flip.x, p);
    expect(flip.vif.rxQueue[0]).to.not.equal(p);
    expect(a).to.have.length(1);
    const copy = harness({ feat: { rxCopy: true } });
    const b: Exec[] = [];
    const small = packet(copy, { owner: DOM0 }, b);
    copy.vif.xmit(copy.x, small);
    expect(copy.vif.rxQueue[0]).to.equal(small);
    expect(b).to.deep.equal([]); // released after delivery, not now
    const big = packet(copy, { owner: DOM0, len: PAGE_SIZE - HDR_LEN + 1 }, b);
    copy.vif.xmit(copy.x, big);
    expect(copy.vif.rxQueue.at(-1)).to.not.equal(big);
    expect(b).to.have.length(1);
    // A packet of dom0's own that nobody else holds (no release) is queued as it is, even for a flipping guest.
    const own: Packet = { ...flip.incoming({ len: 200 }), release: undefined };
    flip.vif.xmit(flip.x, own);
    expect(flip.vif.rxQueue.at(-1)).to.equal(own);
  });

  it('the copies meet the queue limit one by one: what does not fit is dropped and counted', () => {
    const h = harness({ rxQueueLimit: 2 });
    h.vif.xmit(h.x, packet(h, { owner: GUEST + 1, len: 3 * MSS }, []));
    expect(h.vif.rxQueue).to.have.length(2);
    expect(h.counters.drops['netback-rx-queue-full']).to.equal(1);
  });
});
