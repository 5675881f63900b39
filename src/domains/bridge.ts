/**
 * The Linux software bridge in the driver domain (net/bridge). Its ports are
 * the guests' backend interfaces (vifs) and the physical NICs; br_forward
 * sends a frame out of the port its destination MAC was learnt on, vif to
 * NIC, NIC to vif, or vif to vif (two guests of one host: the frame never
 * touches a NIC). The forwarding database is static: every MAC is known, as
 * after the first packets.
 *
 * A packet carries its flow, which stands for its Ethernet header: a flow
 * joins two MACs, and a frame of it entering on the port of one end is
 * addressed to the other. A frame whose flow has neither end behind its
 * ingress port (a guest writing another flow's header) is addressed to the
 * flow's second end.
 */
import type { Exec } from '../core/exec.js';
import type { NetDevice, Qdisc } from './netdev.js';
import { drop, type Counters } from '../model/counters.js';
import type { Packet } from '../core/packet.js';

/** One bridge port: the queue in front of the enslaved device. */
export interface BridgePort { readonly dev: NetDevice; readonly q: Qdisc }

export class Bridge {
  /** The forwarding database: MAC -> the port it is behind. */
  private readonly fdb = new Map<string, BridgePort>();
  /** Per flow, the ports of its two ends (resolved through the database when the flow is added). */
  private readonly routes = new Map<number, [BridgePort | undefined, BridgePort | undefined]>();
  constructor(readonly counters: Counters) {}

  /** Enslave an interface (a vif, or a NIC with the MACs of the hosts on its link behind it). */
  addPort(dev: NetDevice, q: Qdisc, macs: readonly string[]): BridgePort {
    const port: BridgePort = { dev, q };
    for (const m of macs) this.fdb.set(m, port);
    dev.rx = (x, p) => this.forward(x, p, port);
    return port;
  }
  /** `mac` is behind `port` (a host on the far side of a NIC's cable). */
  learn(mac: string, port: BridgePort): void { this.fdb.set(mac, port); }
  /** A flow between MACs `a` and `b` (both learnt). */
  addFlow(flow: number, a: string, b: string): void {
    this.routes.set(flow, [this.fdb.get(a), this.fdb.get(b)]);
  }

  /** br_handle_frame -> __br_fdb_get -> br_forward. */
  private forward(x: Exec, p: Packet, from: BridgePort): void {
    x.touch('bridge');
    x.cost('bridgePerPacket');
    const r = this.routes.get(p.flow);
    const out = r === undefined ? undefined : r[0] === from ? r[1] : r[1] === from ? r[0] : r[1];
    if (!out) { drop(this.counters, 'bridge-no-port'); p.release?.(x); return; }
    out.q.enqueue(x, p);
  }
}
