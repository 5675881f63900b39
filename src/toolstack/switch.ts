/**
 * A switch in a world: the box is created and powered on (its actor spawned)
 * here; hosts' NIC ports and peers are then plugged into its ports with
 * cable() (hardware/link.ts).
 */
import type { ActorSystem } from '../actors/runtime.js';
import type { Counters } from '../model/counters.js';
import { SwitchModel, switchMachine, type Addressing, type SwitchConfig } from '../hardware/switch.js';

/** Create switch `name` and start its actor; `counters` get its ledger units and drops. */
export function createSwitch(sys: ActorSystem, name: string, cfg: SwitchConfig, addressing: Addressing, counters: Counters): SwitchModel {
  const sw = new SwitchModel(name, cfg, addressing, counters);
  sys.spawn(name, 'switch', switchMachine, { model: sw, sys });
  return sw;
}
