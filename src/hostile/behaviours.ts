/**
 * The hostile-guest catalogue of docs/protocol.md 5.2, H1-H26, as behaviours
 * of an adversarial netfront. Each behaviour says what the adversary does
 * (`publish` for the XenBus handshake, `step` every `periodUs` from
 * `startUs`), and what a correct driver domain and hypervisor must make of
 * it (`expect`, checked on the finished run). The invariants I1-I12 that hold
 * for every run, and the honest guests' progress, are checked by src/stress.
 */
import { H1, H2, H3, H4, H5 } from './behaviours/ring.js';
import { H6, H7, H8, H9, H10, H11, H12, H13 } from './behaviours/tx.js';
import { H14, H15, H16 } from './behaviours/rx.js';
import { H17, H18, H19 } from './behaviours/evtchn.js';
import { H20, H21, H22 } from './behaviours/xenbus.js';
import { H23, H24, H25 } from './behaviours/hypercall.js';
import { H26 } from './behaviours/leak.js';
import type { Behaviour } from './behaviours/common.js';

export type { Behaviour, Outcome } from './behaviours/common.js';

export const BEHAVIOURS: Behaviour[] = [H1, H2, H3, H4, H5, H6, H7, H8, H9, H10, H11, H12, H13, H14, H15, H16, H17, H18, H19, H20, H21, H22, H23, H24, H25, H26];
export const BEHAVIOUR_BY_ID = new Map(BEHAVIOURS.map((b) => [b.id, b]));
