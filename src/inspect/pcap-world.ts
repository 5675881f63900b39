/** A world's capture: one interface per cable and per switch port, each flow's ends with their own addresses. */
import type { Built } from '../scenario/build.js';
import { flowEnds, type End } from '../scenario/host.js';
import { capturedLinks, type Endpoints } from './pcap.js';
import { hostOfActor } from './world.js';

const macBytes = (m: string) => m.split(':').map((x) => parseInt(x, 16));
/** An end's IPv4 address: 10.<host>.0.1 for dom0, 10.<host>.1.<domid> for a guest, 10.<host>.2.<NIC + 1> for a peer. */
const ipOf = (e: End) => [10, (e.host + 1) & 255, e.dom0 ? 0 : e.guest >= 0 ? 1 : 2, e.dom0 ? 1 : e.guest >= 0 ? e.guest + 1 : e.peer + 1];

/**
 * A world's capture: one interface per cable (NIC to NIC, NIC to its peer) and per cabled switch
 * port; a flow's `from` end (netperf, which connects and sends a stream's data) is the capture's
 * server side. A frame comes from the end behind the actor that put it on the cable: a peer, or
 * the NIC of the end's host; a switch forwards only streams, so its data frames are the sender's.
 */
export function worldEndpoints(b: Built, hosts: readonly string[]): Endpoints {
  const ends = flowEnds(b.sc.flows!, hosts);
  const links = capturedLinks([...b.nics, ...b.clients, ...(b.switches ?? [])]);
  const fromSide = (flow: number, actor: string, kind: 'data' | 'ack'): boolean => {
    const e = ends[flow].from;
    const host = hostOfActor(actor, hosts), dev = actor.slice(actor.indexOf('/') + 1);
    if (host === null) return kind === 'data';
    if (dev.startsWith('client')) return e.peer === Number(dev.slice(6)) && hosts[e.host] === host;
    return hosts[e.host] === host && e.peer < 0;
  };
  return {
    captured: (flow) => flow < ends.length,
    isServer: () => false,
    fromServer: (f) => fromSide(f.flow, f.from, f.kind),
    nicOf: () => 0, domidOf: () => 0, bridged: true,
    nics: b.nics.map((n) => n.name),
    serverSends: true,
    mss: b.mss,
    links,
    addresses: (flow) => ({
      server: { mac: macBytes(b.flowMacs![flow].from), ip: ipOf(ends[flow].from) },
      client: { mac: macBytes(b.flowMacs![flow].to), ip: ipOf(ends[flow].to) },
    }),
  };
}
