/**
 * A vif, attached the way xl and the hotplug scripts attach one (libxl_nic.c,
 * libxl_device.c): the frontend (the guest's netfront, or an adversary in its
 * place) and the backend (netback in the driver domain) with their shared
 * rings, grant references and event channel; the backend and frontend
 * directories in XenStore; and the XenBus handshake through xenstored, which
 * connects both ends before anything runs.
 *
 * Grant references of a guest: the first VIF_FIRST_REF are reserved, then each
 * vif takes vifGrantRefs(ringSize): one per TX and RX buffer in flight and its
 * three ring pages (tx, rx, ctrl).
 */
import type { SharedRing } from '../channels/ring.js';
import { Netfront } from '../channels/netfront.js';
import { Netback, type NetbackClock, type NetbackOptions, type PendingPool, type RxCopyVia, type TxMode } from '../channels/netback.js';
import { TxCredit, creditFor } from '../channels/netback/credit.js';
import { netbackMachine } from '../channels/netback-machine.js';
import { netback_probe, xenbus_read_driver_state } from '../channels/netback/xenbus.js';
import { netfrontMachine } from '../channels/netfront-machine.js';
import { VifRings, XenbusState, negotiate, type VifFeatures } from '../channels/netif.js';
import type { Kernel } from '../domains/kernel.js';
import type { Xs } from '../domains/xenstored.js';
import { eventChannelMachine, type Port } from '../hypervisor/event-channel.js';
import { GNTTAB_ENTRIES } from '../hypervisor/grant-table.js';
import type { Hostile, HostileSpec } from '../hostile/netfront.js';
import { createHostile } from '../hostile/adversary.js';
import type { PhysicalHost } from './host.js';

/** Grant references below this are the guest's own (never a vif's). */
export const VIF_FIRST_REF = 8;
/** Grant references one vif takes: a TX and an RX buffer per ring slot, and the three ring pages. */
export const vifGrantRefs = (ringSize: number): number => 2 * ringSize + 3;
/** How many vifs one guest's grant table holds at this ring size. */
export const maxVifsPerGuest = (ringSize: number): number => Math.floor((GNTTAB_ENTRIES - VIF_FIRST_REF) / vifGrantRefs(ringSize));

export interface VifConfig {
  ringSize: number;
  /** What the backend offers and the frontend asks for (both the same here: no mismatch modelled). */
  offload: boolean; rxCopy: boolean;
  txMode: TxMode; rxCopyVia: RxCopyVia;
  /** The pending-slot pool this vif's netback takes TX slots from (shared by every vif, or its own). */
  pending: PendingPool;
  /** Transmit rate limit (xl's `rate=`), or null. */
  rate: { mbps: number; intervalMs: number } | null;
  opts: NetbackOptions;
  /** An adversary in place of the honest netfront (an adversary is another frontend), or null. */
  adversary: HostileSpec | null;
  /** The frontend's MAC (xl's `mac=`); default Xen's OUI, the domain id and the vif number. */
  mac?: string;
  /** Appended to the vif's actor names (`vif1.0r2`): a vif number plugged again after an unplug. Default none. */
  instance?: string;
}

/**
 * What the toolstack hangs on a vif it may plug or unplug during the run (src/toolstack/xl.ts): the
 * frontend's XenBus driver then also acts on the backend connecting (hot-plug: post the receive
 * buffers), closing (close too) and going away (tear down), and the backend on its `online` node.
 */
export interface VifLife {
  /** xennet_connect's refill once the backend is Connected (hot-plug), or null. */
  connected: (() => void) | null;
  /** The backend's directory was removed: xennet_remove's teardown in the guest. */
  removed: () => void;
  /** netback_remove finished (xenvif_free): udev's remove event, the hotplug script's turn. */
  backendRemoved: () => void;
}

/** One attached vif: its guest, both ends, the rings, the XenStore directories and the adversary if any. */
export interface Vif {
  guest: Kernel; vif: number; nf: Netfront; nb: Netback; rings: VifRings; front: string; back: string; hostile: Hostile | null;
  /** The frontend's MAC (xl's default: Xen's OUI 00:16:3e, then the domain id and the vif number). */
  mac: string;
  /** The XenBus handshake's two halves, run when the toolstack connects the vif (connectVifs). */
  handshake: Handshake;
  /** The vif's event channel ports: the guest's and the driver domain's. */
  ports: { front: Port; back: Port };
  /** Set by a toolstack that may unplug the vif during the run (null: the vif lives as long as the run). */
  life: VifLife | null;
}

interface Handshake {
  offer: VifFeatures; bxs: Xs; fxs: Xs;
  /** What each end's XenBus driver does when its watch on the other end's state node fires. */
  frontendChanged: () => void; backendChanged: () => void;
}

/** xl network-attach: vif `vif` of `guest`, backed by netback in `backend`. */
export function attachVif(h: PhysicalHost, backend: Kernel, guest: Kernel, vif: number, c: VifConfig): Vif {
  const xen = h.xen!;
  const { sys, counters, mem } = h;
  const rings = new VifRings(c.ringSize);
  const front = `/local/domain/${guest.domid}/device/vif/${vif}`;
  const back = `/local/domain/${backend.domid}/backend/vif/${guest.domid}/${vif}`;
  const offer = { sg: c.offload, csum: c.offload, tso: c.offload, rxCopy: c.rxCopy };
  const feat = negotiate(offer, { sg: c.offload, csum: c.offload, tso: c.offload, rxCopy: c.rxCopy });
  const id = `${guest.domid}.${vif}${c.instance ?? ''}`;
  const chan = `${h.prefix}evtchn-vif${id}`;
  const gt = xen.grantTables.get(guest.domid)!;
  const refs = vifGrantRefs(rings.tx.size);
  if (VIF_FIRST_REF + (vif + 1) * refs > gt.entries.length) throw new Error(`domain ${guest.domid}: too many vifs for its grant table`);
  const refBase = VIF_FIRST_REF + vif * refs;
  const name = `${h.prefix}vif${id}-front`;
  const hostile = c.adversary ? createHostile(c.adversary, name, guest, xen, gt, backend.domid, rings, feat, chan, counters, refBase) : null;
  const nf = hostile ? hostile.nf : new Netfront(name, guest, xen, gt, backend.domid, rings, feat, chan, counters, refBase);
  const nb = new Netback(`${h.prefix}vif${id}`, backend, xen, guest.domid, rings, feat, c.txMode, c.rxCopyVia, chan, counters, c.pending);
  nb.clock = clockFor(h, backend);
  if (c.rate) { const cr = creditFor(c.rate.mbps, c.rate.intervalMs * 1000); nb.credit = new TxCredit(cr.bytes, cr.usec, 0); }
  nb.opts = { ...c.opts };
  nb.adversary = hostile !== null;
  // The interdomain event channel, bound at both ends.
  const gPort = guest.evtchn.alloc(`${nf.name}`, (x) => nf.onEvent(x));
  const bPort = backend.evtchn.alloc(`${nb.name}`, (x) => nb.onEvent(x));
  nb.port = bPort;
  nb.portTable = backend.evtchn;
  xen.registerChannel(gPort, chan, 'a');
  xen.registerChannel(bPort, chan, 'b');
  sys.spawn(chan, 'evtchn', eventChannelMachine, {
    a: { table: guest.evtchn, port: gPort, domain: guest.name },
    b: { table: backend.evtchn, port: bPort, domain: backend.name },
  });
  // The ring pages are real guest frames granted to the backend in the XenBus handshake (taken from
  // the top of memory so that every other allocation is as without them).
  const pages = h.ringPages;
  rings.txFrame = mem.allocHigh(guest.domid);
  rings.rxFrame = mem.allocHigh(guest.domid);
  pages.set(rings.txFrame, rings.tx as SharedRing<unknown, unknown>);
  pages.set(rings.rxFrame, rings.rx as SharedRing<unknown, unknown>);
  const mac = c.mac ?? `00:16:3e:${[guest.domid >> 8, guest.domid & 255, vif].map((v) => (v & 255).toString(16).padStart(2, '0')).join(':')}`;
  // Each end's connection to xenstored, from its own domain.
  const bxs = h.xenstore.domain(backend.name), fxs = h.xenstore.domain(guest.name);
  const connect = () => nb.connect(bxs, front, back, xen.grants, (fr) => pages.get(fr), gPort.port);
  hostile?.attach({
    sys, xen, xs: fxs, front, back, rings, ringPages: pages, port: gPort, mac, dom0: backend, kernels: h.kernels,
    switchState: (st) => { nf.switchState(st); fxs.write(`${front}/state`, st); },
  });
  const v: Vif = {
    guest, vif, nf, nb, rings, front, back, hostile, mac, ports: { front: gPort, back: bPort }, life: null,
    handshake: {
      offer, bxs, fxs,
      frontendChanged: () => nb.frontendChanged(bxs, back, xenbus_read_driver_state(bxs, front), connect, null, v.life ? () => v.life?.backendRemoved() : undefined),
      backendChanged: () => nf.backendChanged(fxs, front, back, () => (hostile ? hostile.publish() : nf.publish(fxs, front, rings, gPort.port, mac)), hostile ? undefined : v.life ?? undefined),
    },
  };
  return v;
}

/** Netback's timers run in its driver domain's time line. */
function clockFor(h: PhysicalHost, k: Kernel): NetbackClock {
  const { sys } = h;
  return { now: () => sys.sched.now, after: (ps, fn) => { sys.sched.after(ps, sys.rankOf(k.name), fn); } };
}

/**
 * The vifs' control state as actors, spawned after every other actor but the CPUs' and xenstored
 * (ranks of the rest unchanged). Each is the watcher of its XenBus driver's watch on the other end's state node.
 */
export function spawnVifActors(h: PhysicalHost, vifs: readonly Vif[]): void {
  const { sys } = h;
  for (const v of vifs) v.nb.actor = sys.spawn(`${v.nb.name}-back`, 'netback', netbackMachine, { name: v.nb.name, frontendChanged: v.handshake.frontendChanged });
  for (const v of vifs) v.nf.actor = sys.spawn(v.nf.name, 'netfront', netfrontMachine, { name: v.nf.name, backendChanged: v.handshake.backendChanged });
}

/**
 * The XenBus handshake (2.9), through xenstored at virtual time 0, before anything runs: the
 * toolstack creates both directories (state Initialising); netback_probe advertises the backend's
 * features, goes to InitWait and watches the frontend's state; netfront_probe watches the
 * backend's. The rest follows from the watch events (messages): the frontend, seeing InitWait,
 * writes its keys and Connected; the backend, seeing Connected, maps the rings and connects.
 */
export function connectVifs(h: PhysicalHost, toolstackDomain: Kernel, vifs: readonly Vif[]): void {
  startHandshake(h, toolstackDomain, vifs);
  h.sys.sched.run(0);
  for (const v of vifs) {
    if (!v.nb.adversary && !v.nb.connected) throw new Error(`${v.nb.name}: XenBus handshake did not connect (${v.nb.error ?? `backend state ${v.nb.state}`})`);
  }
}

/** The toolstack's half of the handshake and both probes; the rest follows from the watch events as the system runs (a hot-plug). */
export function startHandshake(h: PhysicalHost, toolstackDomain: Kernel, vifs: readonly Vif[]): void {
  const toolstack = h.xenstore.domain(toolstackDomain.name);
  for (const v of vifs) {
    const fdom = v.front.split('/')[3], bdom = v.back.split('/')[3];
    toolstack.write(`${v.front}/backend`, v.back);
    toolstack.write(`${v.front}/backend-id`, bdom);
    toolstack.write(`${v.front}/state`, XenbusState.Initialising);
    toolstack.write(`${v.back}/frontend`, v.front);
    toolstack.write(`${v.back}/frontend-id`, fdom);
    toolstack.write(`${v.back}/state`, XenbusState.Initialising);
  }
  for (const v of vifs) {
    netback_probe(v.nb, v.handshake.bxs, v.front, v.back, v.handshake.offer, `${v.nb.name}-back`);
    v.nf.probe(v.handshake.fxs, v.back, v.nf.name);
  }
}
