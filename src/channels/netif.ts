/**
 * netif protocol (xen/include/public/io/netif.h; docs/protocol.md 2): request
 * and response layouts, flags, statuses, and the XenStore feature handshake.
 */
import { SharedRing } from './ring.js';

export const NETTXF = { csum_blank: 1, data_validated: 2, more_data: 4, extra_info: 8 } as const;
export const NETRXF = { data_validated: 1, csum_blank: 2, more_data: 4, extra_info: 8 } as const;
export const NETIF_RSP = { DROPPED: -2, ERROR: -1, OKAY: 0, NULL: 1 } as const;
export const XEN_NETIF_EXTRA_TYPE = { NONE: 0, GSO: 1, MCAST_ADD: 2, MCAST_DEL: 3, HASH: 4, MAX: 5 } as const;
export const XEN_NETIF_GSO_TYPE = { NONE: 0, TCPV4: 1, TCPV6: 2 } as const;
export const XEN_NETIF_NR_SLOTS_MIN = 18;
export const FATAL_SKB_SLOTS = 20;
/** Pending-request slots a netback pool holds (Linux xen-netback common.h; Xen 2.0 netback.c). */
export const MAX_PENDING_REQS = 256;
export const NET_RING_SIZE = 256;
/** Linux netback's per-vif multicast filter (XEN_NETBK_MCAST_MAX). */
export const XEN_NETBK_MCAST_MAX = 64;
export const XEN_NETIF_EXTRA_FLAG_MORE = 1;

/** XenbusState (xen/include/public/io/xenbus.h, 2.9). */
export const XenbusState = { Unknown: 0, Initialising: 1, InitWait: 2, Initialised: 3, Connected: 4, Closing: 5, Closed: 6, Reconfiguring: 7, Reconfigured: 8 } as const;
/** The only edges Linux netback's backend state takes (2.9). */
export const BACKEND_EDGES: Readonly<Record<number, readonly number[]>> = { 1: [2, 6], 2: [4, 5], 4: [5], 5: [6], 6: [2, 5] };

/** Control ring (2.6, feature-ctrl-ring): request/response types and statuses. */
export const XEN_NETIF_CTRL_TYPE = {
  INVALID: 0, GET_HASH_FLAGS: 1, SET_HASH_FLAGS: 2, SET_HASH_KEY: 3, GET_HASH_MAPPING_SIZE: 4, SET_HASH_MAPPING_SIZE: 5,
  SET_HASH_MAPPING: 6, SET_HASH_ALGORITHM: 7, GET_GREF_MAPPING_SIZE: 8, ADD_GREF_MAPPING: 9, DEL_GREF_MAPPING: 10,
} as const;
export const XEN_NETIF_CTRL_STATUS = { SUCCESS: 0, NOT_SUPPORTED: 1, INVALID_PARAMETER: 2, BUFFER_OVERFLOW: 3 } as const;
export const XEN_NETIF_CTRL_HASH_ALGORITHM = { NONE: 0, TOEPLITZ: 1 } as const;
/** IPV4 | IPV4_TCP | IPV6 | IPV6_TCP */
export const XEN_NETIF_CTRL_HASH_TYPES = 0xf;
export const XEN_NETBK_MAX_HASH_KEY_SIZE = 40;
export const XEN_NETBK_MAX_HASH_MAPPING_SIZE = 128;
export const NET_CTRL_RING_SIZE = 128;
export interface CtrlRequest { id: number; type: number; data: [number, number, number] }
export interface CtrlResponse { id: number; type: number; status: number; data: number }

/**
 * Words a domain wrote into its own pages for the backend to grant-copy (control-ring hash keys and
 * mappings). Packet payloads live in MachineMemory.contents; this is the same idea for small tables.
 */
const words = new WeakMap<object, Map<number, number[]>>();
export function pageWords(mem: object): Map<number, number[]> {
  let m = words.get(mem);
  if (!m) { m = new Map(); words.set(mem, m); }
  return m;
}

export interface TxRequest { gref: number; offset: number; flags: number; id: number; size: number }
/** netif_extra_info (2.2): GSO (size, type), MCAST_ADD/DEL (a MAC), HASH (a hash type); `flags` bit 0 = XEN_NETIF_EXTRA_FLAG_MORE. */
export interface TxExtra { extra: true; type: number; flags: number; gsoSize: number; gsoType: number; addr?: string; hashType?: number }
export type TxSlot = TxRequest | TxExtra;
export interface TxResponse { id: number; status: number }
export interface RxRequest { id: number; gref: number }
export interface RxResponse { id: number; offset: number; flags: number; status: number }

export const isExtra = (s: TxSlot): s is TxExtra => (s as TxExtra).extra === true;

/** What crosses XenStore for one vif (2.8): backend features, frontend requests. */
export interface VifFeatures { sg: boolean; csum: boolean; tso: boolean; rxCopy: boolean }

/**
 * The handshake's feature agreement (2.8-2.9): the backend advertises what it can do (netback_probe
 * writes feature-*), the frontend asks for what it wants among those (talk_to_netback), and each
 * feature is on only if both sides agree. request-rx-copy picks copying receive over flipping.
 * Computed when the toolstack builds the vif; the keys themselves cross XenStore in the handshake.
 */
export function negotiate(backend: VifFeatures, frontend: VifFeatures): VifFeatures {
  const sg = frontend.sg && backend.sg;
  return { sg, csum: frontend.csum && backend.csum, tso: sg && frontend.tso && backend.tso, rxCopy: frontend.rxCopy && backend.rxCopy };
}

/** The two shared ring pages of one vif (and the optional control ring). */
export class VifRings {
  readonly tx: SharedRing<TxSlot, TxResponse>;
  readonly rx: SharedRing<RxRequest, RxResponse>;
  ctrl: SharedRing<CtrlRequest, CtrlResponse> | null = null;
  /** Machine frames holding the ring pages (granted by the frontend, mapped by the backend at connect). */
  txFrame = -1;
  rxFrame = -1;
  ctrlFrame = -1;
  constructor(readonly size = NET_RING_SIZE) {
    this.tx = new SharedRing<TxSlot, TxResponse>(size);
    this.rx = new SharedRing<RxRequest, RxResponse>(size);
  }
}
