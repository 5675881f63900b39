/** The actor kinds of the emulator and the xstate machine each one runs. */
import type { AnyStateMachine } from 'xstate';
import { hypervisorMachine } from '../hypervisor/xen.js';
import { domainMachine } from '../domains/domain.js';
import { nicMachine } from '../hardware/nic.js';
import { eventChannelMachine } from '../hypervisor/event-channel.js';
import { clientMachine } from '../peer/client.js';
import { switchMachine } from '../hardware/switch.js';
import { tcpReceiverMachine, tcpSenderMachine } from '../domains/tcp-machine.js';
import { netbackMachine } from '../channels/netback-machine.js';
import { netfrontMachine } from '../channels/netfront-machine.js';
import { toolstackMachine } from '../toolstack/lifecycle.js';
import { pcpuMachine } from '../hypervisor/pcpu.js';
import { cpuMachine } from '../domains/native.js';
import { xenstoreMachine } from '../domains/xenstored.js';
import { migrationMachine } from '../toolstack/migration-machine.js';

export interface ActorKind { kind: string; machine: AnyStateMachine; description: string }

/** In actor-creation order of src/scenario/build.ts. */
export const ACTOR_KINDS: readonly ActorKind[] = [
  { kind: 'hypervisor', machine: hypervisorMachine, description: 'Xen (or bare metal) booting, then running and owning the CPUs and their completion events' },
  { kind: 'domain', machine: domainMachine, description: "a domain's lifecycle (created, active, paused, crashed, dying, dead) with its vCPU's runstate inside" },
  { kind: 'nic', machine: nicMachine, description: 'gigabit NIC: transmit engine, receive DMA, interrupt moderation, link' },
  { kind: 'evtchn', machine: eventChannelMachine, description: 'an interdomain event channel' },
  { kind: 'client', machine: clientMachine, description: 'external client machine at the far end of a link' },
  { kind: 'switch', machine: switchMachine, description: 'store-and-forward Ethernet switch: MAC learning or a static table, per-port output queues with drop-tail' },
  { kind: 'tcp-sender', machine: tcpSenderMachine, description: 'sending end of one TCP flow, its tcp_ca_state (open, disorder, recovery, loss) and whether the peer window holds it' },
  { kind: 'tcp-receiver', machine: tcpReceiverMachine, description: 'receiving end of one TCP flow, in order or behind a hole (duplicate ACKs), delayed ACK pending or not' },
  { kind: 'netback', machine: netbackMachine, description: 'one vif in the driver domain: XenBus state, TX/RX work, late-EOI back-off, control ring' },
  { kind: 'netfront', machine: netfrontMachine, description: "a guest's vif: XenBus state, TX queue stop/wake, RX buffer refill, NAPI poll" },
  { kind: 'pcpu', machine: pcpuMachine, description: "a physical CPU under Xen's scheduler (idle, in Xen, context switch, running a domain)" },
  { kind: 'cpu', machine: cpuMachine, description: 'a bare-metal CPU (idle, interrupt context, process context)' },
  { kind: 'toolstack', machine: toolstackMachine, description: "a host's toolstack (xl and libxl in dom0) running the scenario's lifecycle events: vif attach and detach, destroy, and the destroy of a crashed domain" },
  { kind: 'xenstore', machine: xenstoreMachine, description: 'xenstored in dom0, holding the XenStore tree, whose writes and removals fire the watches on their paths as XS_WATCH_EVENT messages' },
  { kind: 'migration', machine: migrationMachine, description: "the toolstack's view of a save, restore or live migration: pre-copy rounds, stop-and-copy, resume on the destination, release on the source" },
];

export function machineOf(kind: string): AnyStateMachine | undefined {
  return ACTOR_KINDS.find((k) => k.kind === kind)?.machine;
}
