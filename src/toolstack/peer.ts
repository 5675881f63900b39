/**
 * A peer host on the far end of a NIC's link (ns-3's PointToPointHelper in
 * spirit): the external client machine that runs the other ends of the flows
 * crossing that link, cabled to the NIC both ways.
 */
import type { NicModel } from '../hardware/nic.js';
import { cable } from '../hardware/link.js';
import { ClientModel, clientMachine } from '../peer/client.js';
import type { PhysicalHost } from './host.js';

/** The MAC of the peer on NIC `index`'s link (locally administered: 02:..., then the NIC's index). */
export const peerMac = (index: number): string => `02:00:00:00:${((index >> 8) & 255).toString(16).padStart(2, '0')}:${(index & 255).toString(16).padStart(2, '0')}`;

/** Cable `client` to `nic` and start its actor. */
export function attachPeer(h: PhysicalHost, nic: NicModel, client: ClientModel): ClientModel {
  cable(nic, 0, client, 0);
  h.sys.spawn(client.name, 'client', clientMachine, { model: client });
  return client;
}
