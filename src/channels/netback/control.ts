/**
 * The control ring (Linux hash.c and the ctrl handlers, docs/protocol.md 2.6, feature-ctrl-ring): hash
 * flags, key, mapping and algorithm, every request validated overflow-safely (XSA-270).
 */
import type { Exec } from '../../core/exec.js';
import { GNTST } from '../../hypervisor/grant-table.js';
import { ringDiff } from '../ring.js';
import {
  XEN_NETBK_MAX_HASH_KEY_SIZE, XEN_NETBK_MAX_HASH_MAPPING_SIZE, XEN_NETIF_CTRL_HASH_ALGORITHM, XEN_NETIF_CTRL_HASH_TYPES,
  XEN_NETIF_CTRL_STATUS, XEN_NETIF_CTRL_TYPE, pageWords, type CtrlRequest,
} from '../netif.js';
import type { Netback } from '../netback.js';
import { PAGE_SIZE } from '../../core/packet.js';
import { notify } from './interface.js';
import { NB } from '../netback-machine.js';

export function xenvif_ctrl_action(vif: Netback, x: Exec): void {
  vif.actor?.send(NB.CTRL_DONE);
  const c = vif.ctrl;
  if (!c || !vif.connected || vif.control.tx === 'disabled') return;
  x.touch('netback');
  // At most one ring of requests per pass (I3), from one read of the producer.
  let n = 0;
  const prod = c.sring.reqProd >>> 0;
  const inFlight = ringDiff(c.reqCons, c.rspProdPvt);
  let avail = inFlight >= c.size ? 0 : Math.min(ringDiff(prod, c.reqCons), c.size - inFlight);
  while (avail-- > 0) {
    const r = c.takeRequest();
    const req: CtrlRequest = { id: r.id & 0xffff, type: r.type & 0xffff, data: [r.data?.[0] >>> 0, r.data?.[1] >>> 0, r.data?.[2] >>> 0] };
    const { status, data } = xenvif_ctrl_process_request(vif, x, req);
    c.putResponse({ id: req.id, type: req.type, status, data });
    n++;
  }
  if (n > vif.stats.maxCtrlPerPass) vif.stats.maxCtrlPerPass = n;
  if (n) notify(vif, x, c.pushResponses());
  if (c.unconsumedRequests() > 0 || c.finalCheckForRequests()) {
    vif.kernel.post(vif.ctrlTask, 'irq');
    vif.actor?.send(NB.CTRL_SCHEDULE);
  }
}

/** One control request, validated like Linux's xenvif_ctrl (XSA-270: overflow-safe bounds). */
export function xenvif_ctrl_process_request(vif: Netback, x: Exec, r: CtrlRequest): { status: number; data: number } {
  const S = XEN_NETIF_CTRL_STATUS, T = XEN_NETIF_CTRL_TYPE;
  const h = vif.hash;
  const copyIn = (gref: number, bytes: number): number[] | null => {
    if (bytes === 0) return [];
    if (bytes > PAGE_SIZE) return null;
    const frame = vif.kernel.allocFrame();
    const res = vif.xen.grantCopy(x, vif.kernel, [{ source: { dom: vif.guestDom, ref: gref, offset: 0 }, dest: { dom: vif.kernel.domid, frame, offset: 0 }, len: bytes }]);
    vif.kernel.freeFrame(frame);
    if (res[0].status !== GNTST.okay) return null;
    return (pageWords(vif.kernel.mem).get(res[0].srcFrame!) ?? []).slice(0, bytes);
  };
  switch (r.type) {
    case T.GET_HASH_FLAGS: return { status: S.SUCCESS, data: XEN_NETIF_CTRL_HASH_TYPES };
    case T.SET_HASH_FLAGS:
      if (r.data[0] & ~XEN_NETIF_CTRL_HASH_TYPES) return { status: S.INVALID_PARAMETER, data: 0 };
      h.flags = r.data[0];
      return { status: S.SUCCESS, data: 0 };
    case T.SET_HASH_KEY: {
      const len = r.data[1];
      if (len > XEN_NETBK_MAX_HASH_KEY_SIZE) return { status: S.INVALID_PARAMETER, data: 0 };
      const key = copyIn(r.data[0], len);
      if (!key) return { status: S.INVALID_PARAMETER, data: 0 };
      h.key = key;
      return { status: S.SUCCESS, data: 0 };
    }
    case T.GET_HASH_MAPPING_SIZE: return { status: S.SUCCESS, data: XEN_NETBK_MAX_HASH_MAPPING_SIZE };
    case T.SET_HASH_MAPPING_SIZE: {
      const size = r.data[0];
      if (size > XEN_NETBK_MAX_HASH_MAPPING_SIZE) return { status: S.INVALID_PARAMETER, data: 0 };
      h.size = size;
      h.mapping = new Array(size).fill(0);
      return { status: S.SUCCESS, data: 0 };
    }
    case T.SET_HASH_MAPPING: {
      const [gref, len, off] = r.data;
      // Overflow-safe: never off + len (which wraps in u32).
      if (off > h.size || len > h.size - off || len > PAGE_SIZE / 4) return { status: S.INVALID_PARAMETER, data: 0 };
      const words = copyIn(gref, len * 4);
      if (!words) return { status: S.INVALID_PARAMETER, data: 0 };
      const entries = Array.from({ length: len }, (_, i) => words[i] ?? 0);
      if (entries.some((q) => q >>> 0 >= 1)) return { status: S.INVALID_PARAMETER, data: 0 }; // one queue
      for (let i = 0; i < len; i++) h.mapping[off + i] = entries[i];
      return { status: S.SUCCESS, data: 0 };
    }
    case T.SET_HASH_ALGORITHM:
      if (r.data[0] !== XEN_NETIF_CTRL_HASH_ALGORITHM.NONE && r.data[0] !== XEN_NETIF_CTRL_HASH_ALGORITHM.TOEPLITZ) return { status: S.INVALID_PARAMETER, data: 0 };
      h.alg = r.data[0];
      return { status: S.SUCCESS, data: 0 };
    default: return { status: S.NOT_SUPPORTED, data: 0 };
  }
}
