/**
 * The backend's XenBus side (Linux xenbus.c, docs/protocol.md 2.9): walk only the allowed state edges,
 * read and check the frontend's keys, map the ring pages and bind the event channel, and fail into
 * Closing with an error node (xenbus_dev_fatal) leaving nothing mapped.
 */
import type { Exec } from '../../core/exec.js';
import { GNTMAP, GNTST, type GrantOps } from '../../hypervisor/grant-table.js';
import { note } from '../../model/counters.js';
import { BackRing, SharedRing, ringDiff } from '../ring.js';
import {
  BACKEND_EDGES, NET_CTRL_RING_SIZE, XenbusState,
  type CtrlRequest, type CtrlResponse, type RxRequest, type RxResponse, type TxResponse, type TxSlot, type VifFeatures,
} from '../netif.js';
import type { Xs } from '../../domains/xenstored.js';
import type { Netback } from '../netback.js';
import { MAC_RE, ZERO_CTRL, ZERO_RX, ZERO_TX } from './common.js';
import { xenvif_disconnect_data } from './interface.js';
import { NB, XENBUS_EVENT } from '../netback-machine.js';

export function set_backend_state(vif: Netback, to: number): void {
  // Walk the allowed edges (2.9), shortest path, like Linux's set_backend_state.
  const path = backend_state_path(vif, to);
  for (const s of path) { vif.transitions.push([vif.state, s]); vif.state = s; vif.actor?.send(XENBUS_EVENT[s]); }
}

export function backend_state_path(vif: Netback, to: number): number[] {
  const prev = new Map<number, number>([[vif.state, -1]]);
  const q = [vif.state];
  while (q.length) {
    const s = q.shift()!;
    if (s === to) break;
    for (const n of BACKEND_EDGES[s] ?? []) if (!prev.has(n)) { prev.set(n, s); q.push(n); }
  }
  if (!prev.has(to)) return [];
  const out: number[] = [];
  for (let s = to; s !== vif.state; s = prev.get(s)!) out.unshift(s);
  return out;
}

export function xenbus_dev_fatal(vif: Netback, xs: Xs, back: string, msg: string): false {
  vif.error = msg;
  xs.write(`${back}/error`, msg);
  note(vif.counters, `xenbus-fatal:${msg.split(' ')[0]}`);
  set_backend_state(vif, XenbusState.Closing);
  xenbus_switch_state(vif, xs, back);
  return false;
}

/**
 * The frontend switched to Connected: read and check its keys, map the ring pages, bind the event
 * channel (2.9 step 4). Run when the watch on the frontend's state fires (dom0's xenwatch work, not
 * charged: outside any CPU slice, as before the handshake went through xenstored). Any failure
 * ends in Closing with an error node and nothing left mapped (H3, H20; I5, I11).
 */
export function connect(vif: Netback, xs: Xs, front: string, back: string, gops: GrantOps, ringAt: (frame: number) => SharedRing<unknown, unknown> | undefined, expectPort: number): boolean {
  if (vif.connected) return true;
  if (vif.txInflight > 0 || vif.ringHandles.length) { // still tearing the last connection down
    vif.reconnect = () => connect(vif, xs, front, back, gops, ringAt, expectPort);
    return false;
  }
  if (vif.state === XenbusState.Closing || vif.state === XenbusState.Closed) set_backend_state(vif, XenbusState.InitWait);
  const num = (k: string): number | null => {
    const v = xs.read(`${front}/${k}`);
    return v !== undefined && /^\d{1,10}$/.test(v) && Number(v) <= 0xffffffff ? Number(v) : null;
  };
  const nq = xs.read(`${front}/multi-queue-num-queues`);
  if (nq !== undefined) {
    const n = num('multi-queue-num-queues');
    if (n === null || n === 0) return xenbus_dev_fatal(vif, xs, back, 'guest requested 0 or malformed queues');
    if (n > 1) return xenbus_dev_fatal(vif, xs, back, `guest requested ${n} queues, exceeding the maximum of 1`);
  }
  const txRef = num('tx-ring-ref'), rxRef = num('rx-ring-ref');
  if (txRef === null || rxRef === null) return xenbus_dev_fatal(vif, xs, back, 'reading ring-ref');
  const evt = num('event-channel');
  if (evt === null) return xenbus_dev_fatal(vif, xs, back, 'reading event-channel');
  const rxCopy = xs.read(`${front}/request-rx-copy`) ?? '0';
  if (rxCopy !== '0' && rxCopy !== '1') return xenbus_dev_fatal(vif, xs, back, 'reading request-rx-copy');
  if (rxCopy !== (vif.feat.rxCopy ? '1' : '0')) return xenbus_dev_fatal(vif, xs, back, 'request-rx-copy does not match vif backend\'s receive path');
  const mac = xs.read(`${front}/mac`);
  if (mac !== undefined && !MAC_RE.test(mac)) return xenbus_dev_fatal(vif, xs, back, 'parsing mac');
  vif.rxNotify = xs.read(`${front}/feature-rx-notify`) === '1';

  // Map the ring pages (writable) and attach to them; undo everything on any failure.
  const handles: number[] = [];
  const undo = (msg: string) => { for (const h of handles) gops.unmap(vif.kernel.domid, h); return xenbus_dev_fatal(vif, xs, back, msg); };
  const mapRing = (ref: number) => {
    const r = gops.map(vif.kernel.domid, { dom: vif.guestDom, ref, flags: GNTMAP.host_map });
    if (r.status !== GNTST.okay) return null;
    handles.push(r.handle!);
    return r.frame!;
  };
  const txF = mapRing(txRef);
  const rxF = txF === null ? null : mapRing(rxRef);
  if (txF === null || rxF === null) return undo('mapping shared-frames');
  const txS = (ringAt(txF) ?? new SharedRing(vif.rings.size)) as SharedRing<TxSlot, TxResponse>;
  const rxS = (ringAt(rxF) ?? new SharedRing(vif.rings.size)) as SharedRing<RxRequest, RxResponse>;
  // BACK_RING_ATTACH at the published rsp_prod; refuse a ring claiming more requests than fit (1.2).
  for (const s of [txS, rxS]) {
    const rspProd = s.rspProd >>> 0, reqProd = s.reqProd >>> 0;
    if (s.size !== vif.rings.size || ringDiff(reqProd, rspProd) > s.size) return undo('ring claims more requests than its size');
  }
  if (evt !== expectPort) return undo('binding event channel');
  let ctrl: BackRing<CtrlRequest, CtrlResponse> | null = null;
  if (xs.read(`${front}/ctrl-ring-ref`) !== undefined) {
    const cref = num('ctrl-ring-ref');
    const cF = cref === null ? null : mapRing(cref);
    if (cF === null) return undo('mapping ctrl-ring');
    const cS = (ringAt(cF) ?? new SharedRing(NET_CTRL_RING_SIZE)) as SharedRing<CtrlRequest, CtrlResponse>;
    if (cS.size !== NET_CTRL_RING_SIZE || ringDiff(cS.reqProd >>> 0, cS.rspProd >>> 0) > cS.size) return undo('ctrl ring claims more requests than its size');
    ctrl = new BackRing(cS, cS.rspProd >>> 0, ZERO_CTRL);
  }
  vif.tx = new BackRing(txS, txS.rspProd >>> 0, ZERO_TX);
  vif.rxr = new BackRing(rxS, rxS.rspProd >>> 0, ZERO_RX);
  vif.ctrl = ctrl;
  vif.ringHandles = handles;
  vif.connected = true;
  // A new connection: the vif is enabled and its carrier on again.
  if (vif.control.tx === 'disabled') vif.actor?.send(NB.TX_ENABLE);
  if (vif.control.rx === 'carrierOff') vif.actor?.send(NB.CARRIER_ON);
  vif.error = null;
  set_backend_state(vif, XenbusState.Connected);
  xenbus_switch_state(vif, xs, back);
  return true;
}

/**
 * netback_remove, as device_unregister runs it once the toolstack has set `online` to 0 and the
 * backend is Closed: the data path is torn down (xenvif_disconnect_data: queue stopped, rings
 * unmapped, grant mappings ended, pending slots given back) and, once the NIC is done with every
 * in-flight packet (the rings are unmapped then), xenvif_free runs in the driver domain: the event
 * channel is unbound (EVTCHNOP_close) and `done` follows (udev's remove event: the hotplug script).
 */
export function netback_remove(vif: Netback, done: () => void): void {
  if (vif.removing) return;
  vif.removing = true;
  xenvif_disconnect_data(vif, null);
  const free = () => vif.kernel.post({ name: `${vif.name}-free`, run: (x) => {
    if (vif.port) vif.xen.evtchnClose(x, vif.kernel, vif.port.port);
    vif.port = null;
    vif.removed = true;
    done();
  } }, 'irq');
  if (vif.txInflight === 0 && !vif.ringHandles.length) free(); else vif.removal = free;
}

/**
 * The frontend's state key changed (a XenStore watch fired). `remove`, when given: what netback_remove
 * is run with once the frontend closed a vif whose `online` node the toolstack set to 0.
 */
export function frontend_changed(vif: Netback, xs: Xs, back: string, s: number, connect: () => boolean, x: Exec | null, remove?: () => void): void {
  if (vif.removing) return; // netback_remove has run: a watch event still queued finds no device
  switch (s) {
    case XenbusState.Initialising: case XenbusState.InitWait: case XenbusState.Initialised:
      if (vif.state === XenbusState.Closed) set_backend_state(vif, XenbusState.InitWait);
      break;
    case XenbusState.Connected:
      if (vif.state !== XenbusState.Connected) connect();
      break;
    case XenbusState.Closing:
      xenvif_disconnect_data(vif, x);
      set_backend_state(vif, XenbusState.Closing);
      break;
    case XenbusState.Closed: case XenbusState.Unknown:
      xenvif_disconnect_data(vif, x);
      set_backend_state(vif, XenbusState.Closed);
      if (remove && xs.read(`${back}/online`) === '0') { xenbus_switch_state(vif, xs, back); netback_remove(vif, remove); return; }
      break;
    default: // 7, 8 are not used by netif; anything else is garbage
      xenvif_disconnect_data(vif, x);
      xenbus_dev_fatal(vif, xs, back, `saw state ${s} at frontend`);
  }
  xenbus_switch_state(vif, xs, back);
}

/** Publish the backend's state node (xenbus_switch_state writes only a change: no watch fires otherwise). */
export function xenbus_switch_state(vif: Netback, xs: Xs, back: string): void {
  if (xs.read(`${back}/state`) !== String(vif.state)) xs.write(`${back}/state`, vif.state);
}

/** xenbus_read_driver_state: a missing or unparsable node reads as Unknown. */
export function xenbus_read_driver_state(xs: Xs, path: string): number {
  const v = xs.read(`${path}/state`);
  return v !== undefined && /^\d{1,10}$/.test(v) ? Number(v) : XenbusState.Unknown;
}

/**
 * netback_probe (2.9 step 2): advertise the backend's features, go to InitWait, and watch the
 * frontend's state node (xenbus_watch_otherend); the watch's events reach the vif's actor `watcher`.
 */
export function netback_probe(vif: Netback, xs: Xs, front: string, back: string, offer: VifFeatures, watcher: string): void {
  xs.write(`${back}/feature-sg`, offer.sg);
  xs.write(`${back}/feature-gso-tcpv4`, offer.tso);
  xs.write(`${back}/feature-no-csum-offload`, !offer.csum);
  xs.write(`${back}/feature-rx-copy`, offer.rxCopy);
  xs.write(`${back}/feature-rx-flip`, true);
  xenbus_switch_state(vif, xs, back);
  xs.watch(`${front}/state`, watcher);
}
