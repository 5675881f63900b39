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
    tlbFlushes: 0,
    ioRequests: 0,         // I/O-channel ring requests (tx + rx) produced
    txRingRequests: 0,     // of which on TX rings (packet slots + extra-info slots)
    txDataMaps: 0,         // guest TX data pages mapped into the driver domain (host mappings)
    softwareGsoSegments: 0,
    drops: {} as Record<string, number>,
  };
}
export type Counters = ReturnType<typeof newCounters>;
export function drop(c: Counters, reason: string, n = 1): void { c.drops[reason] = (c.drops[reason] ?? 0) + n; }
