/**
 * netback: the driver domain's end of one vif, a bridge port.
 * Transmit (guest -> wire): take requests off the TX ring, validate them,
 * and either map the guest's pages into the driver domain (Xen 2.0) or pin
 * them for device DMA and copy only the header (the paper's I/O channel);
 * responses go back once the NIC has sent the packet and the grants are gone.
 * Receive (wire -> guest): flip the page holding the packet to the guest in
 * exchange for a fresh one (Xen 2.0), or grant-copy it into a page the guest
 * granted (the paper's I/O channel).
 *
 * The frontend is not trusted (docs/protocol.md 2.10, 5.2): every ring index
 * and slot is read once into private memory and validated like Linux netback
 * does; a fatal violation disables the vif, and the rest of the driver domain
 * goes on. Spurious events are answered with a late, exponentially delayed EOI
 * (4.6); packets queued for a guest that posts no buffers expire, and a stalled
 * queue drops its carrier (XSA-392).
 *
 * The work is split as in Linux (src/channels/netback/): tx.ts (netback.c), rx.ts (rx.c),
 * interface.ts (interface.c), xenbus.ts (xenbus.c), control.ts (hash.c), common.ts (common.h).
 * This class is the vif (struct xenvif): its state, and the entry points other components call.
 */
import type { Kernel } from '../domains/kernel.js';
import type { Exec, Task } from '../core/exec.js';
import type { NetDevice, NetFeatures } from '../domains/netdev.js';
import type { Packet } from '../core/packet.js';
import type { Xen } from '../hypervisor/xen.js';
import type { GrantOps } from '../hypervisor/grant-table.js';
import type { Port, PortTable } from '../hypervisor/event-channel.js';
import type { Counters } from '../model/counters.js';
import type { ActorLike } from '../actors/runtime.js';
import type { Xs } from '../domains/xenstored.js';
import { BackRing, type SharedRing } from './ring.js';
import {
  XenbusState, type CtrlRequest, type CtrlResponse, type RxRequest, type RxResponse, type TxResponse, type TxSlot,
  type VifFeatures, type VifRings,
} from './netif.js';
import { NETBACK_DEFAULTS, ZERO_RX, ZERO_TX, type NetbackClock, type NetbackOptions, type PendingTx, type RxCopyVia, type TxMode } from './netback/common.js';
import { PendingPool, xenvif_tx_action, xenvif_tx_dealloc_action } from './netback/tx.js';
import { xenvif_rx_action } from './netback/rx.js';
import { xenvif_ctrl_action } from './netback/control.js';
import { xenvif_disconnect_data, xenvif_interrupt, xenvif_kick_thread, xenvif_start_xmit } from './netback/interface.js';
import { connect, frontend_changed } from './netback/xenbus.js';
import { netbackDisabledFor, netbackState, type NetbackValue } from './netback-machine.js';
import type { TxCredit } from './netback/credit.js';

export { COPY_LEN, NETBACK_DEFAULTS, type NetbackClock, type NetbackOptions, type NetbackValidation, type RxCopyVia, type TxMode } from './netback/common.js';
export { PendingPool } from './netback/tx.js';

export class Netback implements NetDevice {
  // Fields without a doc comment are driver-private state of the modules in netback/.
  rx: (x: Exec, p: Packet) => void = () => {};
  wake: (x: Exec) => void = () => {};
  tx: BackRing<TxSlot, TxResponse>;
  rxr: BackRing<RxRequest, RxResponse>;
  ctrl: BackRing<CtrlRequest, CtrlResponse> | null = null;
  rxQueue: Packet[] = [];
  rxQueuedAt: number[] = [];
  rxQueued = false;
  doneQueued = false;
  done: PendingTx[] = [];
  /** Requests still available in this TX pass (one read of req_prod per pass, I7). */
  avail = 0;
  /** Slots taken in this TX pass, for the bounded-work invariant (I3). */
  passSlots = 0;

  // ---- XenBus connection (2.9) ----
  state: number = XenbusState.InitWait;
  /** Every backend state change, for the state-machine invariant (I11). */
  readonly transitions: Array<[number, number]> = [];
  connected = false;
  error: string | null = null;
  ringHandles: number[] = [];
  rxNotify = true;
  /** Frontend asked to connect while a disconnect still waits for in-flight packets. */
  reconnect: (() => void) | null = null;
  /** TX packets forwarded whose pages the NIC still uses. */
  txInflight = 0;
  /** netback_remove waits for the in-flight packets before xenvif_free: what then runs, or null. */
  removal: (() => void) | null = null;
  /** netback_remove has started (the device is being unregistered). */
  removing = false;
  /** xenvif_free ran: the vif is gone from the driver domain (its event channel closed). */
  removed = false;

  // ---- receive queue health ----
  lastRxProgress = 0;
  rxTimer = false;

  // ---- event channel (late EOI) ----
  port: Port | null = null;
  portTable: PortTable | null = null;
  spurious = 0;

  // ---- per-vif tables, bounded (I8) ----
  readonly mcast = new Set<string>();
  readonly hash = { flags: 0, alg: 0, key: [] as number[], size: 0, mapping: [] as number[] };

  // ---- accounting (read by the stress oracles; never changes behaviour) ----
  /** The packet ledger treats this vif's frontend as outside the system (a hostile guest). */
  adversary = false;
  txUnits = 0;
  rxUnitsOk = 0;
  readonly stats = { events: 0, spuriousEvents: 0, txPasses: 0, maxTxSlotsPerPass: 0, maxGrantOpsPerPass: 0, maxRxPerPass: 0, maxCtrlPerPass: 0, zeroSizeFrags: 0, rxQueued: 0, maxRxQueue: 0, slotsTaken: 0 };
  rxQueueLength(): number { return this.rxQueue.length; }

  clock: NetbackClock | null = null;
  /** Transmit rate limit (credit_bytes per credit_usec, netback/credit.ts), or null: unlimited. */
  credit: TxCredit | null = null;
  /** This vif's `netback` actor (netback-machine.ts), told of every control-state change; it holds the control state. */
  actor: ActorLike | null = null;
  /** The vif's control state: XenBus, TX work (queued, in a pass, disabled), RX queue (stalled, carrier off), late EOI, control ring. */
  get control(): NetbackValue { return netbackState(this.actor); }
  /** Why a fatal protocol violation (2.10) disabled the vif, or null: the vif stops, the rest of the driver domain goes on. */
  get disabled(): string | null { return netbackDisabledFor(this.actor); }
  opts: NetbackOptions = { ...NETBACK_DEFAULTS };

  constructor(
    readonly name: string,
    readonly kernel: Kernel,
    readonly xen: Xen,
    readonly guestDom: number,
    readonly rings: VifRings,
    readonly feat: VifFeatures,
    readonly txMode: TxMode,
    readonly rxCopyVia: RxCopyVia,
    readonly channel: string,
    readonly counters: Counters,
    readonly pending: PendingPool,
    readonly budget = 64,
    readonly rxQueueLimit = 256,
  ) {
    this.tx = new BackRing(rings.tx, 0, ZERO_TX);
    this.rxr = new BackRing(rings.rx, 0, ZERO_RX);
    this.txTask = { name: `${name}-tx`, run: (x) => xenvif_tx_action(this, x) };
    this.txDoneTask = { name: `${name}-tx-done`, run: (x) => xenvif_tx_dealloc_action(this, x) };
    this.rxTask = { name: `${name}-rx`, run: (x) => xenvif_rx_action(this, x) };
    this.ctrlTask = { name: `${name}-ctrl`, run: (x) => xenvif_ctrl_action(this, x) };
    this.rxMmap = kernel.allocMapArea(budget);
  }
  /** First page of the area where a receive pass maps the guest's buffers (one page per request a pass takes). */
  readonly rxMmap: number;
  // Work items for our kernel, made once: each is queued at most once at a time (tx/ctrl: the actor's `scheduled`, rxQueued, doneQueued).
  readonly txTask: Task;
  readonly txDoneTask: Task;
  readonly rxTask: Task;
  readonly ctrlTask: Task;
  features(): NetFeatures { return { sg: this.feat.sg, csum: this.feat.csum, tso: this.feat.tso }; }


  /** The frontend switched to Connected (2.9 step 4); see netback/xenbus.ts. */
  connect(xs: Xs, front: string, back: string, gops: GrantOps, ringAt: (frame: number) => SharedRing<unknown, unknown> | undefined, expectPort: number): boolean {
    return connect(this, xs, front, back, gops, ringAt, expectPort);
  }
  /** The frontend's state key changed (a XenStore watch fired). */
  frontendChanged(xs: Xs, back: string, s: number, connect: () => boolean, x: Exec | null, remove?: () => void): void {
    frontend_changed(this, xs, back, s, connect, x, remove);
  }
  /** Tear the connection down (I5). */
  disconnect(x: Exec | null): void { xenvif_disconnect_data(this, x); }
  /** Grant mappings this vif holds for its ring pages. */
  ringMappings(): number { return this.ringHandles.length; }
  /** Event from the frontend: new TX requests, new RX buffers, control requests. */
  onEvent(x: Exec): void { xenvif_interrupt(this, x); }
  /** Schedule whatever work there is (also used by the pending pool when slots come back). */
  kick(x: Exec | null): void { xenvif_kick_thread(this, x); }
  /** Bridge hands us a packet for the guest. */
  xmit(x: Exec, p: Packet): boolean { return xenvif_start_xmit(this, x, p); }
}
