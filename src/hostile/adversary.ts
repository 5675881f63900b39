/**
 * An adversary in place of a vif's netfront (an adversary is another frontend): the catalogue's
 * behaviour (behaviours.ts) driving a hostile netfront (netfront.ts). The toolstack calls this
 * when it attaches a vif the scenario's `hostile` section names.
 */
import type { Kernel } from '../domains/kernel.js';
import type { Xen } from '../hypervisor/xen.js';
import type { GrantTable } from '../hypervisor/grant-table.js';
import type { Counters } from '../model/counters.js';
import type { VifFeatures, VifRings } from '../channels/netif.js';
import { BEHAVIOUR_BY_ID } from './behaviours.js';
import { Hostile, HostileNetfront, type HostileSpec } from './netfront.js';

/** Build the adversary for a vif listed in the scenario's `hostile` section. */
export function createHostile(
  spec: HostileSpec, name: string, kernel: Kernel, xen: Xen, gt: GrantTable, backendDom: number, rings: VifRings,
  feat: VifFeatures, channel: string, counters: Counters, refBase: number,
): Hostile {
  const behaviour = BEHAVIOUR_BY_ID.get(spec.behaviour);
  if (!behaviour) throw new Error(`unknown hostile behaviour ${spec.behaviour}`);
  const nf = new HostileNetfront(name, kernel, xen, gt, backendDom, rings, feat, channel, counters, refBase);
  return new Hostile(spec, behaviour, nf);
}
