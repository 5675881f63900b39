/**
 * netif protocol (xen/include/public/io/netif.h; xen-protocol.md 2): request
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
export const NET_RING_SIZE = 256;

export interface TxRequest { gref: number; offset: number; flags: number; id: number; size: number }
export interface TxExtra { extra: true; type: number; flags: number; gsoSize: number; gsoType: number }
export type TxSlot = TxRequest | TxExtra;
export interface TxResponse { id: number; status: number }
export interface RxRequest { id: number; gref: number }
export interface RxResponse { id: number; offset: number; flags: number; status: number }

export const isExtra = (s: TxSlot): s is TxExtra => (s as TxExtra).extra === true;

/** What crosses XenStore for one vif (2.8): backend features, frontend requests. */
export interface VifFeatures { sg: boolean; csum: boolean; tso: boolean; rxCopy: boolean }

export class XenStore {
  private kv = new Map<string, string>();
  write(path: string, v: string | number | boolean): void { this.kv.set(path, String(typeof v === 'boolean' ? Number(v) : v)); }
  read(path: string): string | undefined { return this.kv.get(path); }
  flag(path: string): boolean { return this.kv.get(path) === '1'; }
  entries(): Array<[string, string]> { return [...this.kv.entries()].sort(([a], [b]) => a.localeCompare(b)); }
}

/**
 * The handshake of 2.9 reduced to its outcome: the backend advertises what it
 * can do, the frontend asks for what it wants, and each feature is on only
 * if both sides agree. request-rx-copy picks copying receive over flipping.
 */
export function negotiate(xs: XenStore, front: string, back: string, backend: VifFeatures, frontend: VifFeatures): VifFeatures {
  xs.write(`${back}/feature-sg`, backend.sg);
  xs.write(`${back}/feature-gso-tcpv4`, backend.tso);
  xs.write(`${back}/feature-no-csum-offload`, !backend.csum);
  xs.write(`${back}/feature-rx-copy`, backend.rxCopy);
  xs.write(`${back}/feature-rx-flip`, true);
  xs.write(`${front}/feature-sg`, frontend.sg && xs.flag(`${back}/feature-sg`));
  xs.write(`${front}/feature-gso-tcpv4`, frontend.tso && xs.flag(`${back}/feature-gso-tcpv4`));
  xs.write(`${front}/feature-no-csum-offload`, !(frontend.csum && !xs.flag(`${back}/feature-no-csum-offload`)));
  xs.write(`${front}/request-rx-copy`, frontend.rxCopy && xs.flag(`${back}/feature-rx-copy`));
  xs.write(`${front}/feature-rx-notify`, true);
  const sg = xs.flag(`${front}/feature-sg`);
  return {
    sg,
    csum: !xs.flag(`${front}/feature-no-csum-offload`),
    tso: sg && xs.flag(`${front}/feature-gso-tcpv4`), // GSO needs scatter/gather
    rxCopy: xs.flag(`${front}/request-rx-copy`),
  };
}

/** The two shared ring pages of one vif. */
export class VifRings {
  readonly tx = new SharedRing<TxSlot, TxResponse>(NET_RING_SIZE);
  readonly rx = new SharedRing<RxRequest, RxResponse>(NET_RING_SIZE);
}
