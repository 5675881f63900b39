/** The kernel's view of a network interface (net_device) and its transmit queue (qdisc). */
import type { Exec } from '../core/exec.js';
import { drop, type Counters } from '../model/counters.js';
import type { Packet } from '../core/packet.js';

export interface NetFeatures { sg: boolean; csum: boolean; tso: boolean }

export interface NetDevice {
  readonly name: string;
  features(): NetFeatures;
  /** Hand a packet to the device; false means its queue is full (the qdisc retries on wake). */
  xmit(x: Exec, p: Packet): boolean;
  /** Set by whoever sits above the device (the TCP/IP stack or the bridge). */
  rx: (x: Exec, p: Packet) => void;
  /** Set by the qdisc: the device calls it when it has room again. */
  wake: (x: Exec) => void;
}

/** pfifo_fast with txqueuelen packets; a full queue drops (and counts) like Linux. */
export class Qdisc {
  readonly queue: Packet[] = [];
  constructor(readonly dev: NetDevice, readonly counters: Counters, readonly limit = 1000) {
    dev.wake = (x) => this.run(x);
  }
  enqueue(x: Exec, p: Packet): void {
    if (this.queue.length >= this.limit) {
      drop(this.counters, 'qdisc-overflow');
      p.release?.(x);
      return;
    }
    this.queue.push(p);
    this.run(x);
  }
  run(x: Exec): void {
    while (this.queue.length && this.dev.xmit(x, this.queue[0])) this.queue.shift();
  }
  full(): boolean { return this.queue.length >= this.limit; }
}
