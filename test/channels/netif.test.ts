import { expect } from 'chai';
import { createActor } from 'xstate';
import { VifRings, isExtra, negotiate, pageWords, type VifFeatures } from '../../src/channels/netif.js';
import { asExtra, packetBytes } from '../../src/channels/netback/common.js';
import { netbackDisabledFor, netbackMachine, netbackState } from '../../src/channels/netback-machine.js';
import { netfrontMachine, netfrontState } from '../../src/channels/netfront-machine.js';
import { bytes } from '../support/netback-double.js';

/**
 * netif helpers and the vif statecharts' plumbing (found by mutation testing, issue 14): the
 * feature handshake (2.8: a feature is on only if both ends agree; GSO needs scatter-gather), page
 * words per memory, the bytes of a packet that reach a guest (I10), and the machines' inputs.
 */
describe('netif (mutation): helpers', () => {
  it('negotiate: each feature only when both ends want it, TSO only with scatter-gather as well', () => {
    const keys = ['sg', 'csum', 'tso', 'rxCopy'] as const;
    for (let bits = 0; bits < 256; bits++) {
      const back = Object.fromEntries(keys.map((k, i) => [k, !!(bits & (1 << i))])) as unknown as VifFeatures;
      const front = Object.fromEntries(keys.map((k, i) => [k, !!(bits & (16 << i))])) as unknown as VifFeatures;
      const both = (k: typeof keys[number]) => back[k] && front[k];
      expect(negotiate(back, front), `bits ${bits}`).to.deep.equal({ sg: both('sg'), csum: both('csum'), tso: both('tso') && both('sg'), rxCopy: both('rxCopy') });
    }
  });

  it('page words are kept per memory model, and the same map is returned each time', () => {
    const a = {}, b = {};
    pageWords(a).set(1, [7]);
    expect(pageWords(a).get(1)).to.deep.equal([7]);
    expect(pageWords(b).has(1)).to.equal(false);
    expect(pageWords(a)).to.equal(pageWords(a));
  });

  it('a new vif has no ring frames granted yet', () => {
    const r = new VifRings(8);
    for (const f of [r.txFrame, r.rxFrame, r.ctrlFrame]) expect(f).to.be.below(0);
    expect(r.ctrl).to.equal(null);
    expect(r.tx.size).to.equal(8);
  });

  it('an extra read as an extra stays an extra', () => {
    const e = asExtra({ extra: true, type: 1, flags: 0, gsoSize: 1448, gsoType: 1 });
    expect(isExtra(e)).to.equal(true);
  });

  it('the bytes written into a guest page carry the packet, none of the driver domain\'s bookkeeping (I10)', () => {
    const p = bytes({ frames: [5, 6], owner: 0, cold: true, release: () => {} });
    const b = packetBytes(p);
    expect(b).to.deep.equal({ ...p, frames: [], owner: -1, cold: undefined, release: undefined });
  });
});

describe('vif machines (mutation): plumbing', () => {
  it('without an actor the state is the initial one and nothing is disabled', () => {
    expect(netbackState(null)).to.deep.equal({ xenbus: 'InitWait', tx: 'idle', rx: 'idle', lateEoi: 'normal', ctrl: 'idle' });
    expect(netfrontState(null)).to.deep.equal({ xenbus: 'Initialising', txQueue: 'running', rxBuffers: 'empty', napi: 'idle' });
    expect(netbackDisabledFor(null)).to.equal(null);
  });

  it('the state is read from the actor; the disable reason only while disabled', () => {
    const a = createActor(netbackMachine, { input: { name: 'v' } }).start();
    a.send({ type: 'NAPI_SCHEDULE' });
    expect(netbackState(a).tx).to.equal('scheduled');
    expect(netbackDisabledFor(a)).to.equal(null);
    a.send({ type: 'TX_ACTION' });
    a.send({ type: 'TX_FATAL_ERR', reason: 'why' });
    expect(netbackDisabledFor(a)).to.equal('why');
    a.send({ type: 'TX_ENABLE' });
    expect(netbackDisabledFor(a)).to.equal(null);
    const f = createActor(netfrontMachine, { input: { name: 'f' } }).start();
    f.send({ type: 'NAPI_SCHEDULE' });
    expect(netfrontState(f).napi).to.equal('scheduled');
  });

  it('a watch event runs the driver\'s handler with the changed path, and is ignored without one', () => {
    const seen: string[] = [];
    const nb = createActor(netbackMachine, { input: { name: 'v', frontendChanged: (p) => { seen.push(`b:${p}`); } } }).start();
    const nf = createActor(netfrontMachine, { input: { name: 'f', backendChanged: (p) => { seen.push(`f:${p}`); } } }).start();
    nb.send({ type: 'XS_WATCH_EVENT', detail: '/x/state' });
    nf.send({ type: 'XS_WATCH_EVENT', detail: '/y/state' });
    expect(seen).to.deep.equal(['b:/x/state', 'f:/y/state']);
    const bare = createActor(netbackMachine, { input: { name: 'v' } }).start();
    bare.send({ type: 'XS_WATCH_EVENT', detail: '/x/state' });
    const bareF = createActor(netfrontMachine, { input: { name: 'f' } }).start();
    bareF.send({ type: 'XS_WATCH_EVENT', detail: '/y/state' });
    expect(bare.getSnapshot().context).to.include({ name: 'v', frontendChanged: null, disabledFor: null });
    expect(bareF.getSnapshot().context).to.include({ name: 'f', backendChanged: null });
  });
});
