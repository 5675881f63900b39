/**
 * Log-dirty mode (log-dirty.ts): the bitmap logs exactly the domain's frames that were written
 * since the last read (a stack's store, a copy into it, a page flipped in, a ring page whose
 * indices moved), not other domains' frames nor pages it gave away, and a read cleans it.
 */
import { expect } from 'chai';
import { MachineMemory } from '../../src/hardware/memory.js';
import { writePayload } from '../../src/hardware/payload.js';
import { FrontRing, SharedRing } from '../../src/channels/ring.js';
import { LogDirty, type RingPage } from '../../src/hypervisor/log-dirty.js';
import type { Packet } from '../../src/core/packet.js';

const G = 3, D0 = 0;
function setup() {
  const mem = new MachineMemory(64);
  const frames = Array.from({ length: 8 }, () => mem.alloc(G));
  const dom0 = Array.from({ length: 4 }, () => mem.alloc(D0));
  const ring = new SharedRing<number, number>(4);
  const ringFrame = mem.allocHigh(G);
  const rings: RingPage[] = [{ frame: ringFrame, ring: ring as SharedRing<unknown, unknown> }];
  const ld = new LogDirty(mem, G, () => rings);
  return { mem, frames, dom0, ring, ringFrame, ld };
}

describe('log-dirty mode (log-dirty.ts)', () => {
  it('logs nothing before it is enabled, and a clean bitmap when it starts', () => {
    const { mem, frames, ld } = setup();
    writePayload(mem, [frames[0]], 1, 0, 100);
    expect(mem.logDirty).to.equal(null);
    ld.enable();
    expect(ld.enabled).to.equal(true);
    expect(ld.peekAndClean()).to.deep.equal([]);
  });

  it("logs the guest's own stores (payload and packet contents) and copies into its pages; not dom0's pages", () => {
    const { mem, frames, dom0, ld } = setup();
    ld.enable();
    writePayload(mem, [frames[2]], 1, 0, 100);
    writePayload(mem, [dom0[0]], 1, 0, 100);
    mem.contents.set(frames[5], { flow: 1 } as Packet);
    mem.copy(dom0[0], 0, frames[1], 0, 100); // a grant copy into its receive buffer
    mem.copy(frames[2], 0, dom0[1], 0, 100); // a copy out of it: dom0's page is written, not the guest's
    expect(ld.peekAndClean()).to.deep.equal([frames[1], frames[2], frames[5]]);
    expect(ld.peekAndClean(), 'the read cleaned the bitmap').to.deep.equal([]);
  });

  it('logs a page flipped in, and forgets a page flipped away', () => {
    const { mem, frames, dom0, ld } = setup();
    ld.enable();
    writePayload(mem, [frames[3]], 1, 0, 10);
    mem.transfer(frames[3], G, D0);          // the guest's page goes to dom0
    mem.transfer(dom0[2], D0, G);            // dom0's page is flipped into the guest
    expect(ld.peekAndClean()).to.deep.equal([dom0[2]]);
  });

  it('logs a ring page when its indices moved since the last read', () => {
    const { ring, ringFrame, ld } = setup();
    ld.enable();
    expect(ld.peekAndClean()).to.deep.equal([]);
    const fr = new FrontRing(ring);
    fr.putRequest(7);
    fr.pushRequests();
    expect(ld.peekAndClean()).to.deep.equal([ringFrame]);
    expect(ld.peekAndClean()).to.deep.equal([]);
  });

  it('counts each read, and stops logging once disabled', () => {
    const { mem, frames, ld } = setup();
    ld.enable();
    writePayload(mem, [frames[0], frames[1]], 1, 0, 5000);
    ld.peekAndClean();
    ld.peekAndClean();
    expect(ld.reads).to.deep.equal([2, 0]);
    ld.disable();
    expect(mem.logDirty).to.equal(null);
    writePayload(mem, [frames[0]], 1, 0, 10);
    expect(ld.pending).to.equal(0);
    expect(() => { ld.enable(); ld.enable(); }).to.throw(/already in log-dirty mode/);
  });
});
