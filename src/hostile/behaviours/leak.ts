/** Information flow (H26): padding and stale data in responses. */
import type { Behaviour } from './common.js';

const RX_KEYS = 'flags,id,offset,status';
const TX_KEYS = 'id,status';
export const H26: Behaviour = {
  id: 'H26', title: 'padding and stale data', invariants: 'I10', variants: 1,
  setup(h) {
    const mine = h.nf.flows ?? new Set<number>();
    const mem = h.kernel.mem;
    h.nf.onRxResponse = (r, frame) => {
      const keys = Object.keys(r).sort().join(',');
      const rr = r as { offset: number; flags: number; status: number };
      if (keys !== RX_KEYS || rr.offset !== 0 || rr.flags & ~0x1f) h.record('leak', `RX response ${JSON.stringify(r)}`);
      if (frame >= 0 && rr.status > 0) {
        const p = mem.contents.get(frame);
        if (p && !mine.has(p.flow)) h.record('leak', `page holds flow ${p.flow}`);
      }
      h.record('seen', 1);
    };
    h.nf.onTxResponse = (r) => {
      if (Object.keys(r).sort().join(',') !== TX_KEYS) h.record('leak', `TX response ${JSON.stringify(r)}`);
    };
  },
  step() { /* passive */ },
  expect: (o) => ((o.h.log.leak ?? []).length ? [`information leak: ${(o.h.log.leak as string[])[0]}`] : []),
};
