/**
 * The Linux software bridge in the driver domain. Each flow's guest vif and
 * the physical NIC it leaves through are learnt ports (static forwarding
 * database: one entry per guest MAC, as after the first packets).
 */
import type { Exec } from '../core/exec.js';
import type { NetDevice, Qdisc } from './netdev.js';
import { drop, type Counters } from '../model/counters.js';
import type { Packet } from '../core/packet.js';

export class Bridge {
  private uplink = new Map<number, Qdisc>();
  private vif = new Map<number, Qdisc>();
  constructor(readonly counters: Counters) {}

  /** Enslave a physical interface carrying `flow`. */
  addUplink(flow: number, dev: NetDevice, q: Qdisc): void {
    this.uplink.set(flow, q);
    dev.rx = (x, p) => this.forward(x, p, this.vif.get(p.flow));
  }
  /** Enslave a guest's backend interface for `flow`. */
  addVif(flow: number, dev: NetDevice, q: Qdisc): void {
    this.vif.set(flow, q);
    dev.rx = (x, p) => this.forward(x, p, this.uplink.get(p.flow));
  }

  private forward(x: Exec, p: Packet, out: Qdisc | undefined): void {
    x.touch('bridge');
    x.cost('bridgePerPacket');
    if (!out) { drop(this.counters, 'bridge-no-port'); p.release?.(x); return; }
    out.enqueue(x, p);
  }
}
