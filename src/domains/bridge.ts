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
import type { NetDevice, NetFeatures, Qdisc } from './netdev.js';
import { drop, type Counters } from '../model/counters.js';
import type { Packet } from '../core/packet.js';
import type { Kernel } from './kernel.js';
import { skb_copy } from './skb.js';

/** One bridge port: the queue in front of the enslaved device (for the bridge's own interface: delivery up its stack). */
export interface BridgePort { readonly dev: NetDevice; readonly q: Pick<Qdisc, 'enqueue'> }

/**
 * The bridge's own interface (br0), where the driver domain's IP lives: its stack sends through
 * it (the frame enters the bridge at this port) and receives what is addressed to its MAC.
 * It offers every offload: segmentation and checksums are done where a frame leaves (the NIC,
 * or netback for a guest).
 */
export class BridgeDevice implements NetDevice {
  readonly name = 'br0';
  rx: (x: Exec, p: Packet) => void = () => {};
  wake: (x: Exec) => void = () => {};
  port: BridgePort | null = null;
  constructor(private readonly bridge: Bridge) {}
  features(): NetFeatures { return { sg: true, csum: true, tso: true }; }
  xmit(x: Exec, p: Packet): boolean { this.bridge.input(x, p, this.port!); return true; }
}

export class Bridge {
  /** The forwarding database: MAC -> the port it is behind. */
  private readonly fdb = new Map<string, BridgePort>();
  /** Per flow, the ports of its two ends (resolved through the database when the flow is added). */
  private readonly routes = new Map<number, [BridgePort | undefined, BridgePort | undefined]>();
  /** The ports of physical NICs. */
  private readonly nicPorts = new Set<BridgePort>();
  /**
   * `owner`: the driver domain, whose pages hold what its NICs receive; given, the bridge frees such
   * a frame (kfree_skb) when it drops it, or after a NIC transmitted it (forwarded NIC to NIC, as on
   * a host between two others of a world). Netback and dom0's own stack free theirs.
   */
  constructor(readonly counters: Counters, private readonly owner: Kernel | null = null) {}

  /** Enslave an interface (a vif, or a NIC with the MACs of the hosts on its link behind it). */
  addPort(dev: NetDevice, q: Qdisc, macs: readonly string[], nic = false): BridgePort {
    const port: BridgePort = { dev, q };
    if (nic) this.nicPorts.add(port);
    for (const m of macs) this.fdb.set(m, port);
    dev.rx = (x, p) => this.input(x, p, port);
    return port;
  }
  /**
   * The bridge's own interface, with the driver domain's (`k`'s) MAC. A frame for it goes up k's
   * stack; one still in another domain's pages, or that its sender still owns (a guest's, through
   * its netback), is copied into k's own pages first (skb_orphan_frags_rx) and handed back.
   */
  addLocal(mac: string, k: Kernel): BridgeDevice {
    const dev = new BridgeDevice(this);
    const up = (x: Exec, p: Packet) => {
      if (p.owner === k.domid && p.release === undefined) { dev.rx(x, p); return; }
      const q = skb_copy(x, k, p, 0, p.len);
      p.release?.(x);
      dev.rx(x, q);
    };
    const port: BridgePort = { dev, q: { enqueue: up } };
    dev.port = port;
    this.fdb.set(mac, port);
    this.local = k;
    return dev;
  }
  /** `mac` is behind `port` (a host on the far side of a NIC's cable). */
  learn(mac: string, port: BridgePort): void { this.fdb.set(mac, port); }
  /** A flow between MACs `a` and `b` (both learnt). */
  addFlow(flow: number, a: string, b: string): void {
    this.flowMacs.set(flow, [a, b]);
    this.routes.set(flow, [this.fdb.get(a), this.fdb.get(b)]);
  }
  /** Each flow's two MACs (its routes are looked up again when a port comes or goes). */
  private readonly flowMacs = new Map<number, [string, string]>();
  /** brctl delif (the hotplug script's remove): the port's MACs are forgotten; frames for them are dropped. */
  removePort(port: BridgePort): void {
    for (const [m, p] of [...this.fdb]) if (p === port) this.fdb.delete(m);
    this.reroute();
  }
  /** A port enslaved during the run (hot-plug): the flows of its MACs are routed through it. */
  replug(dev: NetDevice, q: Qdisc, macs: readonly string[]): BridgePort {
    const port = this.addPort(dev, q, macs);
    this.reroute();
    return port;
  }
  private reroute(): void {
    for (const [flow, [a, b]] of this.flowMacs) this.routes.set(flow, [this.fdb.get(a), this.fdb.get(b)]);
  }
  /** A flow's two MACs, as added (undefined: no end of it is on this bridge). */
  macsOf(flow: number): readonly [string, string] | undefined { return this.flowMacs.get(flow); }

  /** The driver domain whose interface is on the bridge (set by addLocal): flooded copies are its pages. */
  private local: Kernel | null = null;
  /** Ports that lead off the host (its NICs): where a broadcast goes. */
  private readonly uplinks: BridgePort[] = [];
  markUplink(port: BridgePort): void { this.uplinks.push(port); }
  /** Gratuitous ARPs this bridge may see: their frames' flow number, and the MAC each announces. */
  private readonly announcements = new Map<number, string>();
  expectAnnouncement(flow: number, mac: string): void { this.announcements.set(flow, mac); }
  /**
   * A gratuitous ARP (a broadcast from `mac`): br_fdb_update learns the MAC on the port it came in
   * by, and the flows to it are routed there from now on. From a vif of this host it is flooded out of
   * every uplink (copies into the driver domain's pages beyond the first); from an uplink it ends
   * here (this host's guests are not told: nothing here acts on ARP).
   */
  private announced(x: Exec, p: Packet, from: BridgePort, mac: string): void {
    if (this.fdb.get(mac) !== from) { this.fdb.set(mac, from); this.reroute(); }
    // (kfree_skb: one from a NIC is a frame of the driver domain's own, back to its pool.)
    if (this.uplinks.includes(from) || !this.uplinks.length) { this.counters.pkt.delivered++; this.free(x, p); return; }
    this.uplinks.forEach((u, i) => {
      if (i === 0) { u.q.enqueue(x, p); return; }
      this.counters.pkt.split++;
      u.q.enqueue(x, skb_copy(x, this.local!, p, 0, p.len));
    });
  }

  /** kfree_skb: the packet's owner frees it, or (a frame of the driver domain's own, from a NIC) back to its pool. */
  private free(x: Exec, p: Packet): void {
    if (p.release) { p.release(x); return; }
    const k = this.owner;
    if (k) for (const f of p.frames) if (k.mem.ownerOf(f) === k.domid) k.freeFrame(f);
  }
  /** br_handle_frame -> __br_fdb_get -> br_forward (or br_pass_frame_up, for the bridge's own interface). */
  input(x: Exec, p: Packet, from: BridgePort): void {
    x.touch('bridge');
    x.cost('bridgePerPacket');
    if (this.announcements.size) {
      const mac = this.announcements.get(p.flow);
      if (mac !== undefined) { this.announced(x, p, from, mac); return; }
    }
    const r = this.routes.get(p.flow);
    const out = r === undefined ? undefined : r[0] === from ? r[1] : r[1] === from ? r[0] : r[1];
    if (!out) { drop(this.counters, 'bridge-no-port'); this.free(x, p); return; }
    if (p.release === undefined && this.owner && this.nicPorts.has(from) && this.nicPorts.has(out)) p.release = (rx) => this.free(rx, { ...p, release: undefined });
    out.q.enqueue(x, p);
  }

}
