/** Event counters reported by every run (the "xenalyze" view of a run). */
export function newCounters() {
  return {
    packetsTx: 0,          // TCP segments handed to a device by the measured endpoint
    packetsRx: 0,          // TCP segments received by the measured endpoint
    wireFrames: 0,         // frames put on the wire by the server's NICs
    hypercalls: 0,
    mmuUpdates: 0,
    pageFlips: 0,
    grantMaps: 0,
    grantUnmaps: 0,
    grantCopies: 0,
    grantDeviceMaps: 0,
    bytesCopied: 0,
    bytesChecksummed: 0,
    interrupts: 0,
    upcalls: 0,
    notificationsSent: 0,
    notificationsSuppressed: 0,
    domainSwitches: 0,
    /** Inter-processor interrupts Xen sent to make another CPU notice an event (reported on machines of more than one CPU). */
    ipis: 0,
    tlbFlushes: 0,
    ioRequests: 0,         // I/O-channel ring requests (tx + rx) produced
    txRingRequests: 0,     // of which on TX rings (packet slots + extra-info slots)
    txDataMaps: 0,         // guest TX data pages mapped into the driver domain (host mappings)
    softwareGsoSegments: 0,
    /** Packets lost, by reason. Every call also counts one unit in the packet ledger (pkt.dropped). */
    drops: {} as Record<string, number>,
    /** Protocol violations and defensive actions that are not packet losses (a vif disabled, a bad response id...). */
    violations: {} as Record<string, number>,
    /**
     * Packet ledger (conservation, see src/stress): units created by endpoints (TCP stacks, clients),
     * extra units from splitting one packet into several (TSO on the NIC, software GSO), units that
     * reached an endpoint, units dropped with a reason; `injected`/`sunk` are units that crossed the
     * boundary of an adversarial guest (taken from / handed to its vif), which the ledger does not follow.
     */
    pkt: { created: 0, split: 0, delivered: 0, dropped: 0, injected: 0, sunk: 0 },
    /** Frames put on a wire (NICs and clients) and frames that arrived at the far end. */
    wire: { sent: 0, arrived: 0 },
  };
}
export type Counters = ReturnType<typeof newCounters>;
/** A packet was lost: count it under its reason (and in the ledger). */
export function drop(c: Counters, reason: string, n = 1): void {
  c.drops[reason] = (c.drops[reason] ?? 0) + n;
  c.pkt.dropped += n;
}
/** Something noteworthy that is not a packet loss (protocol violation, defensive action). */
export function note(c: Counters, what: string, n = 1): void { c.violations[what] = (c.violations[what] ?? 0) + n; }
