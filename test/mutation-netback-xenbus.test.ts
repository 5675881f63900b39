import { expect } from 'chai';
import { GNTST, GrantOps, GrantTable, type FrameOwnership } from '../src/hypervisor/grant-table.js';
import { NET_CTRL_RING_SIZE, XenbusState, type CtrlRequest, type CtrlResponse } from '../src/channels/netif.js';
import { SharedRing } from '../src/channels/ring.js';
import type { Xs, XsValue } from '../src/domains/xenstored.js';
import {
  backend_state_path, netback_probe, xenbus_read_driver_state, xenbus_switch_state,
} from '../src/channels/netback/xenbus.js';
import { DOM0, GUEST, harness } from './support/netback-double.js';

/**
 * The backend's XenBus side on its own (found by mutation testing, issue 14): reading and checking
 * the frontend's keys, mapping the ring pages with real grant-table bookkeeping, binding the event
 * channel, and failing into Closing with an error node and nothing left mapped (docs/protocol.md
 * 2.8, 2.9; H3, H20; I5, I11). XenStore is a map double; watches are recorded.
 */
class MapXs implements Xs {
  kv = new Map<string, string>();
  writes: Array<[string, string]> = [];
  watches: Array<[string, string]> = [];
  read(p: string) { return this.kv.get(p); }
  flag(p: string) { return this.kv.get(p) === '1'; }
  write(p: string, v: XsValue) { const s = String(typeof v === 'boolean' ? Number(v) : v); this.kv.set(p, s); this.writes.push([p, s]); }
  rm(p: string) { this.kv.delete(p); }
  watch(p: string, w: string) { this.watches.push([p, w]); }
  unwatch() {}
  transaction(body: (t: { write(p: string, v: XsValue): void }) => void) { body(this); }
}

const FRONT = '/local/domain/3/device/vif/0';
const BACK = '/local/domain/0/backend/vif/3/0';
const TXF = 900, RXF = 901, CTRLF = 902;
const PORT = 5;

function setup(keys: Record<string, string | undefined> = {}) {
  const h = harness();
  const frames = new Map<number, number>([[TXF, GUEST], [RXF, GUEST], [CTRLF, GUEST]]);
  const mem: FrameOwnership = {
    ownerOf: (m) => frames.get(m), refCount: () => 0, transfer: () => {}, domainExists: () => true, belowMaxPages: () => true,
  };
  const tables = new Map([[GUEST, new GrantTable(GUEST, 16)], [DOM0, new GrantTable(DOM0, 16)]]);
  const gops = new GrantOps(tables, mem);
  const gt = tables.get(GUEST)!;
  gt.grantAccess(1, DOM0, TXF, false);
  gt.grantAccess(2, DOM0, RXF, false);
  gt.grantAccess(3, DOM0, CTRLF, false);
  const ctrl = new SharedRing<CtrlRequest, CtrlResponse>(NET_CTRL_RING_SIZE);
  const ringAt = (f: number) => (f === TXF ? h.rings.tx : f === RXF ? h.rings.rx : f === CTRLF ? ctrl : undefined) as SharedRing<unknown, unknown> | undefined;
  const xs = new MapXs();
  const all: Record<string, string | undefined> = {
    'tx-ring-ref': '1', 'rx-ring-ref': '2', 'event-channel': String(PORT), 'request-rx-copy': '1', 'feature-rx-notify': '1', mac: '00:16:3e:00:00:01', ...keys,
  };
  for (const [k, v] of Object.entries(all)) if (v !== undefined) xs.kv.set(`${FRONT}/${k}`, v);
  h.vif.connected = false;
  const connect = () => h.vif.connect(xs, FRONT, BACK, gops, ringAt, PORT);
  return { h, xs, gops, gt, ctrl, connect };
}

describe('netback XenBus (mutation): connect', () => {
  it('reads the keys, maps both ring pages, attaches, and goes Connected', () => {
    const { h, xs, gops, connect } = setup();
    expect(connect()).to.equal(true);
    expect(h.vif.connected).to.equal(true);
    expect(h.vif.ringMappings()).to.equal(2);
    expect(gops.activeMappings(DOM0)).to.equal(2);
    expect(gops.mapsFrame(DOM0, TXF) && gops.mapsFrame(DOM0, RXF)).to.equal(true);
    expect(h.vif.state).to.equal(XenbusState.Connected);
    expect(h.vif.transitions).to.deep.equal([[XenbusState.InitWait, XenbusState.Connected]]);
    expect(xs.read(`${BACK}/state`)).to.equal(String(XenbusState.Connected));
    expect(h.vif.control.xenbus).to.equal('Connected');
    expect(h.vif.rxNotify).to.equal(true);
    expect(h.vif.error).to.equal(null);
    expect(h.vif.ctrl).to.equal(null);
    expect(connect()).to.equal(true); // already connected: nothing more
    expect(gops.activeMappings(DOM0)).to.equal(2);
  });

  it('without feature-rx-notify the backend polls; request-rx-copy absent reads as 0 (flipping)', () => {
    const { h, connect } = setup({ 'feature-rx-notify': undefined });
    expect(connect()).to.equal(true);
    expect(h.vif.rxNotify).to.equal(false);
    const flip = setup({ 'request-rx-copy': undefined });
    expect(flip.connect()).to.equal(false); // the vif was built for copying receive
    expect(flip.h.vif.error).to.match(/request-rx-copy/);
  });

  it('attaches the backend ring at the published rsp_prod', () => {
    const { h, connect } = setup();
    h.rings.tx.rspProd = 5;
    h.rings.tx.reqProd = 7;
    expect(connect()).to.equal(true);
    expect(h.vif.tx.reqCons).to.equal(5);
    expect(h.vif.tx.unconsumedRequests()).to.equal(2);
  });

  const refused: Array<[string, Record<string, string | undefined>, RegExp]> = [
    ['no tx-ring-ref', { 'tx-ring-ref': undefined }, /ring-ref/],
    ['no rx-ring-ref', { 'rx-ring-ref': undefined }, /ring-ref/],
    ['a ring-ref that is not a number', { 'tx-ring-ref': '1x' }, /ring-ref/],
    ['a negative ring-ref', { 'rx-ring-ref': '-2' }, /ring-ref/],
    ['a ring-ref past u32', { 'tx-ring-ref': '4294967296' }, /ring-ref/],
    ['an empty ring-ref', { 'tx-ring-ref': '' }, /ring-ref/],
    ['no event-channel', { 'event-channel': undefined }, /event-channel/],
    ['request-rx-copy neither 0 nor 1', { 'request-rx-copy': '2' }, /request-rx-copy/],
    ['request-rx-copy 0 on a copying vif', { 'request-rx-copy': '0' }, /request-rx-copy/],
    ['a malformed mac', { mac: '00:16:3e:00:00' }, /mac/],
    ['0 queues', { 'multi-queue-num-queues': '0' }, /queues/],
    ['a malformed queue count', { 'multi-queue-num-queues': 'two' }, /queues/],
    ['2 queues', { 'multi-queue-num-queues': '2' }, /2 queues/],
    ['a ring-ref not granted to us', { 'tx-ring-ref': '9' }, /mapping shared-frames/],
    ['an rx ring-ref not granted to us', { 'rx-ring-ref': '9' }, /mapping shared-frames/],
    ['another event channel', { 'event-channel': String(PORT + 1) }, /binding event channel/],
    ['a ctrl-ring-ref not granted to us', { 'ctrl-ring-ref': '9' }, /ctrl-ring/],
    ['a malformed ctrl-ring-ref', { 'ctrl-ring-ref': 'x' }, /ctrl-ring/],
  ];
  for (const [what, keys, msg] of refused) {
    it(`refuses ${what}: Closing, an error node, nothing left mapped`, () => {
      const { h, xs, gops, connect } = setup(keys);
      expect(connect()).to.equal(false);
      expect(h.vif.connected).to.equal(false);
      expect(h.vif.error).to.match(msg);
      expect(xs.read(`${BACK}/error`)).to.equal(h.vif.error);
      expect(h.vif.state).to.equal(XenbusState.Closing);
      expect(xs.read(`${BACK}/state`)).to.equal(String(XenbusState.Closing));
      expect(gops.activeMappings(DOM0)).to.equal(0);
      expect(h.vif.ringMappings()).to.equal(0);
      expect(Object.keys(h.counters.violations).filter((k) => k.startsWith('xenbus-fatal:'))).to.have.length(1);
    });
  }

  it('one queue is fine', () => {
    expect(setup({ 'multi-queue-num-queues': '1' }).connect()).to.equal(true);
  });

  it('refuses rings claiming more requests than their size, or of the wrong size, unmapping what it mapped', () => {
    for (const bad of ['tx', 'rx'] as const) {
      const { h, gops, connect } = setup();
      h.rings[bad].reqProd = h.rings[bad].rspProd + h.rings[bad].size + 1;
      expect(connect(), bad).to.equal(false);
      expect(h.vif.error).to.match(/more requests than its size/);
      expect(gops.activeMappings(DOM0)).to.equal(0);
    }
    const ok = setup();
    ok.h.rings.tx.reqProd = ok.h.rings.tx.size; // exactly full is fine
    expect(ok.connect()).to.equal(true);
  });

  it('maps the control ring when offered and refuses one of the wrong size or overfull', () => {
    const { h, gops, connect } = setup({ 'ctrl-ring-ref': '3' });
    expect(connect()).to.equal(true);
    expect(h.vif.ctrl).to.not.equal(null);
    expect(h.vif.ringMappings()).to.equal(3);
    expect(gops.mapsFrame(DOM0, CTRLF)).to.equal(true);
    const over = setup({ 'ctrl-ring-ref': '3' });
    over.ctrl.reqProd = NET_CTRL_RING_SIZE + 1;
    expect(over.connect()).to.equal(false);
    expect(over.h.vif.error).to.match(/ctrl ring/);
    expect(over.gops.activeMappings(DOM0)).to.equal(0);
  });

  it('a frontend that comes back after Closing goes through InitWait to Connected, along the allowed edges', () => {
    const { h, xs, connect } = setup({ 'event-channel': '99' });
    expect(connect()).to.equal(false);
    expect(h.vif.state).to.equal(XenbusState.Closing);
    xs.kv.set(`${FRONT}/event-channel`, String(PORT));
    expect(connect()).to.equal(true);
    expect(h.vif.transitions).to.deep.equal([[2, 5], [5, 6], [6, 2], [2, 4]]);
    expect(h.vif.error).to.equal(null);
  });

  it('connecting while the last connection still has packets in flight waits, and runs when they are done', () => {
    const { h, connect } = setup();
    h.vif.txInflight = 1;
    expect(connect()).to.equal(false);
    expect(h.vif.reconnect).to.not.equal(null);
    expect(h.vif.connected).to.equal(false);
    h.vif.reconnect!();
    expect(h.vif.connected).to.equal(false); // still in flight
    h.vif.txInflight = 0;
    h.vif.reconnect!();
    expect(h.vif.connected).to.equal(true);
  });
});

describe('netback XenBus (mutation): frontend state changes and the state path', () => {
  it('frontend Connected connects; Closing disconnects and closes; Closed and Unknown go Closed; Initialising after Closed re-opens', () => {
    const { h, xs, connect } = setup();
    let connects = 0;
    const conn = () => { connects++; return connect(); };
    h.vif.frontendChanged(xs, BACK, XenbusState.Initialising, conn, h.x);
    expect(h.vif.state).to.equal(XenbusState.InitWait);
    h.vif.frontendChanged(xs, BACK, XenbusState.Connected, conn, h.x);
    expect(connects).to.equal(1);
    expect(h.vif.state).to.equal(XenbusState.Connected);
    h.vif.frontendChanged(xs, BACK, XenbusState.Connected, conn, h.x);
    expect(connects).to.equal(1); // already Connected
    h.vif.frontendChanged(xs, BACK, XenbusState.Closing, conn, h.x);
    expect(h.vif.connected).to.equal(false);
    expect(h.vif.state).to.equal(XenbusState.Closing);
    expect(xs.read(`${BACK}/state`)).to.equal(String(XenbusState.Closing));
    h.vif.frontendChanged(xs, BACK, XenbusState.Closed, conn, h.x);
    expect(h.vif.state).to.equal(XenbusState.Closed);
    h.vif.frontendChanged(xs, BACK, XenbusState.Initialised, conn, h.x);
    expect(h.vif.state).to.equal(XenbusState.InitWait);
    h.vif.frontendChanged(xs, BACK, XenbusState.Unknown, conn, h.x);
    expect(h.vif.state).to.equal(XenbusState.Closed);
    h.vif.frontendChanged(xs, BACK, XenbusState.InitWait, conn, h.x);
    expect(h.vif.state).to.equal(XenbusState.InitWait);
  });

  it('a state netif never uses is a fatal error', () => {
    for (const s of [XenbusState.Reconfiguring, XenbusState.Reconfigured, 42]) {
      const { h, xs } = setup();
      h.vif.frontendChanged(xs, BACK, s, () => true, h.x);
      expect(h.vif.error).to.equal(`saw state ${s} at frontend`);
      expect(h.vif.state).to.equal(XenbusState.Closing);
    }
  });

  it('the backend state path is the shortest walk along the allowed edges (2.9)', () => {
    const { h } = setup();
    const path = (from: number, to: number) => { h.vif.state = from; return backend_state_path(h.vif, to); };
    expect(path(2, 4)).to.deep.equal([4]);
    expect(path(2, 6)).to.deep.equal([5, 6]);
    expect(path(4, 2)).to.deep.equal([5, 6, 2]);
    expect(path(6, 4)).to.deep.equal([2, 4]);
    expect(path(4, 4)).to.deep.equal([]);
    expect(path(4, 3)).to.deep.equal([]); // Initialised is never a backend state
  });

  it('the state node is written only when it changes; a missing or garbled node reads as Unknown', () => {
    const { h, xs } = setup();
    xenbus_switch_state(h.vif, xs, BACK);
    xenbus_switch_state(h.vif, xs, BACK);
    expect(xs.writes.filter(([p]) => p === `${BACK}/state`)).to.deep.equal([[`${BACK}/state`, '2']]);
    expect(xenbus_read_driver_state(xs, BACK)).to.equal(2);
    expect(xenbus_read_driver_state(xs, '/nowhere')).to.equal(XenbusState.Unknown);
    xs.kv.set('/garbled/state', '4x');
    expect(xenbus_read_driver_state(xs, '/garbled')).to.equal(XenbusState.Unknown);
  });

  it('probe advertises the backend features, publishes InitWait and watches the frontend state', () => {
    const { h, xs } = setup();
    netback_probe(h.vif, xs, FRONT, BACK, { sg: true, csum: false, tso: true, rxCopy: false }, 'watcher');
    expect(Object.fromEntries(xs.writes)).to.deep.equal({
      [`${BACK}/feature-sg`]: '1', [`${BACK}/feature-gso-tcpv4`]: '1', [`${BACK}/feature-no-csum-offload`]: '1',
      [`${BACK}/feature-rx-copy`]: '0', [`${BACK}/feature-rx-flip`]: '1', [`${BACK}/state`]: '2',
    });
    expect(xs.watches).to.deep.equal([[`${FRONT}/state`, 'watcher']]);
  });

  it('a map of a grant that is not ours fails with a grant status (never a throw)', () => {
    const { gops } = setup();
    expect(gops.map(DOM0, { dom: GUEST, ref: 9, flags: 2 }).status).to.equal(GNTST.general_error);
  });
});

describe('netback XenBus (mutation): key parsing details', () => {
  it('numbers of several digits and up to u32 max are numbers; past it they are not', () => {
    const { h, gt, connect } = setup({ 'tx-ring-ref': '12' });
    gt.grantAccess(12, DOM0, TXF, false);
    expect(connect()).to.equal(true);
    const max = setup({ 'event-channel': '4294967295' });
    expect(max.connect()).to.equal(false);
    expect(max.h.vif.error).to.equal('binding event channel'); // read fine, just not our port
    void h;
  });

  it('no request-rx-copy key means flipping: fine for a flipping vif; a value other than 0/1 is unreadable', () => {
    const { h, connect } = setup({ 'request-rx-copy': undefined });
    (h.vif as unknown as { feat: { rxCopy: boolean } }).feat = { ...h.vif.feat, rxCopy: false };
    expect(connect()).to.equal(true);
    const bad = setup({ 'request-rx-copy': '2' });
    expect(bad.connect()).to.equal(false);
    expect(bad.h.vif.error).to.equal('reading request-rx-copy');
  });

  it('no mac key is fine', () => {
    expect(setup({ mac: undefined }).connect()).to.equal(true);
  });

  it('rings of another size than the vif\'s, or a control ring of another size, are refused', () => {
    const { h, xs, gops } = setup();
    const ringAt = (f: number) => (f === TXF ? new SharedRing(h.rings.size / 2) : f === RXF ? h.rings.rx : undefined) as SharedRing<unknown, unknown> | undefined;
    expect(h.vif.connect(xs, FRONT, BACK, gops, ringAt, PORT)).to.equal(false);
    expect(h.vif.error).to.match(/more requests than its size/);
    const c = setup({ 'ctrl-ring-ref': '3' });
    const ringAtC = (f: number) => (f === TXF ? c.h.rings.tx : f === RXF ? c.h.rings.rx : f === CTRLF ? new SharedRing(NET_CTRL_RING_SIZE / 2) : undefined) as SharedRing<unknown, unknown> | undefined;
    expect(c.h.vif.connect(c.xs, FRONT, BACK, c.gops, ringAtC, PORT)).to.equal(false);
    expect(c.gops.activeMappings(DOM0)).to.equal(0);
    const full = setup({ 'ctrl-ring-ref': '3' });
    full.ctrl.reqProd = NET_CTRL_RING_SIZE;
    expect(full.connect()).to.equal(true);
  });

  it('a new connection re-enables a vif disabled by a fatal error and turns its carrier back on', () => {
    const { h, connect } = setup();
    h.vif.actor!.send({ type: 'NAPI_SCHEDULE' });
    h.vif.actor!.send({ type: 'TX_ACTION' });
    h.vif.actor!.send({ type: 'TX_FATAL_ERR', reason: 'x' } as { type: string });
    h.vif.actor!.send({ type: 'CARRIER_OFF' });
    expect(connect()).to.equal(true);
    expect(h.vif.control.tx).to.equal('idle');
    expect(h.vif.control.rx).to.equal('idle');
    const plain = setup();
    expect(plain.connect()).to.equal(true);
    expect(plain.h.vif.control).to.include({ tx: 'idle', rx: 'idle' });
  });

  it('a frontend saying Initialising to a connected backend changes nothing', () => {
    const { h, xs, connect } = setup();
    expect(connect()).to.equal(true);
    h.vif.frontendChanged(xs, BACK, XenbusState.Initialising, connect, h.x);
    expect(h.vif.state).to.equal(XenbusState.Connected);
    expect(h.vif.connected).to.equal(true);
  });

  it('driver state: a number of several digits reads as itself; anything with other characters is Unknown', () => {
    const { xs } = setup();
    xs.kv.set('/a/state', '12');
    xs.kv.set('/b/state', 'x4');
    expect(xenbus_read_driver_state(xs, '/a')).to.equal(12);
    expect(xenbus_read_driver_state(xs, '/b')).to.equal(XenbusState.Unknown);
  });
});
