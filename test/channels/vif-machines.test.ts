import { expect } from 'chai';
import { filter } from 'rxjs';
import { createActor } from 'xstate';
import { netbackMachine } from '../../src/channels/netback-machine.js';
import { netfrontMachine } from '../../src/channels/netfront-machine.js';
import { BACKEND_EDGES, XenbusState } from '../../src/channels/netif.js';
import type { CaseScenario } from '../../src/stress/case.js';
import { runWrapped } from '../support/wrapped-case.js';
import { stressCase } from '../support/stress-case.js';

/**
 * The netback and netfront statecharts follow what the drivers do: across a few real runs (a link
 * that goes down with many senders on small rings, and hostile guests that get their vif disabled,
 * starve RX until the carrier drops, storm the event channel, close with I/O in flight, use the
 * control ring), every non-initial state of both machines is entered, read from the actors' own
 * state changes (states$). Each run must also pass every stress invariant and the behaviour's expectations.
 */
/** Long enough for the TCP senders' slow start to open their windows before anything happens. */
const WARM_MS = 10;
const base = (name: string, over: Partial<CaseScenario>): CaseScenario =>
  stressCase({ name, run: { durationMs: 3, warmupMs: WARM_MS }, machine: { nics: 2, vifRingSize: 64 }, guests: 3, ...over });
const hostile = (behaviour: string, variant: number, over: Partial<CaseScenario> = {}): CaseScenario =>
  base(`${behaviour}-${variant}`, { hostile: [{ guest: 2, vif: 0, behaviour, variant, startUs: WARM_MS * 1000 + 300, periodUs: 200 }], ...over });

const CASES: CaseScenario[] = [
  // Eight senders without offload on 32-slot rings, and the NIC's link down for 2 ms once their
  // windows are open: the shared
  // pending-slot pool runs dry (tx.waitingForPendingSlots) and the guests' TX rings fill (txQueue.stopped).
  base('link-flap', {
    guests: 8,
    machine: { cpus: 1, nics: 1, vifRingSize: 32, memoryMiB: 2048, nic: { ringSize: 256, csumOffload: true, tso: true, sg: true } },
    optimizations: { vnicOffload: false, txNoRemap: true, rxCopy: true, rxCopyVia: 'gnttab', superpages: false, globalPages: false },
    tcp: { mss: 1448, sndBufKiB: 128, rcvBufKiB: 128, appChunkKiB: 16 },
    faults: [{ atUs: WARM_MS * 1000 + 500, nic: 0, kind: 'link-down', count: 1 }, { atUs: WARM_MS * 1000 + 2500, nic: 0, kind: 'link-up', count: 1 }],
  }),
  hostile('H1', 0), // runaway producer: the vif is disabled (tx.disabled)
  // No RX buffers, and a stall timeout shorter than the drain timeout: rx.stalled, then rx.carrierOff.
  hostile('H14', 0, { direction: 'rx', netback: { rxDrainMs: 5, rxStallMs: 1, rxPollMs: 0.5, lateEoiTickUs: 500 } }),
  hostile('H17', 0), // event storm: late EOI (lateEoi.backoff)
  // The frontend closes with I/O in flight (Closing, Closed on both ends); receiving, packets
  // queued for it then are purged (rx.draining). Whether some wait in netback at the moment of the
  // close depends on where guest 2's stream is in its burst, so it closes at three times 1 to 1.4 ms
  // into the window (the cost table moves the bursts; at least one of them lands in one).
  ...[1000, 1200, 1400].map((at) => hostile('H21', 0, { direction: 'rx', hostile: [{ guest: 2, vif: 0, behaviour: 'H21', variant: 0, startUs: WARM_MS * 1000 + at, periodUs: 200 }] })),
  // Guest 1's vif is limited to 50 Mb/s in 1 ms windows: a 64 KiB packet waits for credit (tx.creditWait).
  base('rate-limit', { netback: { rxDrainMs: 1, rxStallMs: 2, rxPollMs: 0.5, lateEoiTickUs: 500, rateLimits: [{ guest: 1, mbps: 50, intervalMs: 1 }] } }),
  hostile('H22', 0), // control-ring requests (ctrl.scheduled)
];

type Config = { initial?: string; states?: Record<string, Config>; on?: Record<string, unknown> };
/** Every non-initial leaf state, as "region.state". */
function nonInitial(m: { config: unknown }): string[] {
  const root = m.config as Config;
  return Object.entries(root.states!).flatMap(([r, c]) => Object.keys(c.states!).filter((s) => s !== c.initial).map((s) => `${r}.${s}`));
}

describe('netback and netfront machines', function () {
  this.timeout(60_000);

  it('enter every non-initial state across runs with link faults and hostile guests, all invariants holding', () => {
    const seen: Record<string, Set<string>> = { netback: new Set(), netfront: new Set() };
    const failures: string[] = [];
    for (const c of CASES) {
      // Read from the runtime's states$ stream (the same one the trace and the report use).
      const r = runWrapped(c, (b) => {
        b.sys.states$.pipe(filter((ch) => ch.kind === 'netback' || ch.kind === 'netfront')).subscribe((ch) => {
          for (const [r, v] of Object.entries(JSON.parse(ch.value) as Record<string, string>)) seen[ch.kind].add(`${r}.${v}`);
        });
      });
      if (!r.ok) failures.push(`${c.name}: ${r.failures.join('; ')}`);
    }
    expect(failures).to.deep.equal([]);
    for (const [kind, m] of [['netback', netbackMachine], ['netfront', netfrontMachine]] as const) {
      const missing = nonInitial(m).filter((s) => !seen[kind].has(s));
      expect(missing, `${kind} states never entered`).to.deep.equal([]);
    }
  });

  it('netback XenBus region takes exactly the backend edges of docs/protocol.md 2.9', () => {
    const byName = Object.fromEntries(Object.entries(XenbusState).map(([k, v]) => [k, v]));
    const xb = (netbackMachine.config as Config).states!.xenbus.states!;
    for (const [from, c] of Object.entries(xb)) {
      const to = Object.values(c.on ?? {}).map((t) => byName[t as string]).sort();
      expect(to, from).to.deep.equal([...(BACKEND_EDGES[byName[from]] ?? [])].sort());
    }
  });

  it('netback TX: a fatal error only from inside a pass (or the credit timer\'s final check), and the vif comes back only on reconnect', () => {
    const a = createActor(netbackMachine, { input: { name: 't' } }).start();
    const tx = () => (a.getSnapshot().value as Record<string, string>).tx;
    a.send({ type: 'TX_FATAL_ERR', reason: 'early' });
    expect(tx()).to.equal('idle');
    a.send({ type: 'NAPI_SCHEDULE' }); a.send({ type: 'TX_ACTION' });
    a.send({ type: 'TX_WAIT_PENDING' });
    expect(tx()).to.equal('waitingForPendingSlots');
    a.send({ type: 'NAPI_SCHEDULE' }); a.send({ type: 'TX_ACTION' }); a.send({ type: 'TX_FATAL_ERR', reason: 'bad-gso' });
    expect(tx()).to.equal('disabled');
    expect(a.getSnapshot().context.disabledFor).to.equal('bad-gso');
    a.send({ type: 'NAPI_SCHEDULE' });
    expect(tx()).to.equal('disabled');
    a.send({ type: 'TX_ENABLE' });
    expect(tx()).to.equal('idle');
    a.send({ type: 'NAPI_SCHEDULE' }); a.send({ type: 'TX_ACTION' }); a.send({ type: 'TX_CREDIT_WAIT' });
    expect(tx()).to.equal('creditWait');
    a.send({ type: 'TX_FATAL_ERR', reason: 'impossible-number-of-requests' });
    expect(tx()).to.equal('disabled');
  });

  it('netfront: the TX queue stops on a full ring and wakes when responses free slots', () => {
    const a = createActor(netfrontMachine, { input: { name: 't' } }).start();
    const v = () => a.getSnapshot().value as Record<string, string>;
    a.send({ type: 'NETIF_STOP_QUEUE' });
    expect(v().txQueue).to.equal('stopped');
    a.send({ type: 'NETIF_STOP_QUEUE' });
    a.send({ type: 'NETIF_WAKE_QUEUE' });
    expect(v().txQueue).to.equal('running');
    a.send({ type: 'RX_RING_FULL' }); a.send({ type: 'RX_BUFFERS_USED' });
    expect(v().rxBuffers).to.equal('refilling');
    a.send({ type: 'XENBUS_INITIALISED' }); a.send({ type: 'XENBUS_CONNECTED' }); a.send({ type: 'XENBUS_CLOSING' }); a.send({ type: 'XENBUS_CLOSED' });
    expect(v().xenbus).to.equal('Closed');
  });
});
