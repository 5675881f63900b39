/** Run one scenario under a Recorder and write what was asked for: trace, pcap, xentop samples. */
import type { Interpreter } from '../actors/runtime.js';
import { PS_PER_MS } from '../actors/scheduler.js';
import { build } from '../scenario/build.js';
import type { Scenario } from '../scenario/schema.js';
import type { OnProgress, RunResult } from '../scenario/run.js';
import { Recorder } from './recorder.js';
import { writeTrace } from './trace-events.js';
import { framesUntil, toPcapngCapture, type Endpoints } from './pcap.js';
import { topSamples, domainSummaries, type TopSample, type DomainSummary } from './top.js';
import { checkWritable, writeText } from './files.js';
import { hostNamesOf } from './world.js';
import { worldEndpoints } from './pcap-world.js';

export interface InspectOptions {
  trace?: string;
  pcap?: string;
  /** xentop period in ms of virtual time. */
  topMs?: number;
  /** Metric sampling period for the trace's counters, in ms. */
  sampleMs?: number;
  interpreter?: Interpreter;
  onProgress?: OnProgress;
}

export interface Inspected {
  result: RunResult;
  rec: Recorder;
  top: TopSample[] | null;
  summaries: DomainSummary[];
  wrote: Array<{ file: string; what: string }>;
}

export function endpointsOf(rec: Recorder): Endpoints {
  const hosts = hostNamesOf(rec.b);
  if (hosts) return worldEndpoints(rec.b, hosts);
  const nics = new Set(rec.b.nics.map((n) => n.name));
  const domid = new Map(rec.domains.map((d) => [d.name, d.domid]));
  return {
    isServer: (a) => nics.has(a),
    nicOf: (f) => f % rec.b.nics.length,
    domidOf: (f) => domid.get(rec.ownerOfFlow(f) ?? '') ?? 0,
    bridged: rec.b.sc.topology === 'guest',
    nics: rec.b.nics.map((n) => n.name),
    serverSends: rec.b.sc.direction !== 'rx', // netperf on the server opens the connection (tx streams, RR)
    mss: rec.b.sc.tcp.mss,
  };
}

/** Metadata that identifies the run in output files (no wall-clock time: outputs are reproducible). */
export function runMeta(sc: Scenario, r: RunResult): Record<string, unknown> {
  return {
    tool: 'xennet', scenario: sc.name, topology: sc.topology, direction: sc.direction ?? sc.workload.kind, seed: sc.seed,
    warmupMs: sc.run.warmupMs, durationMs: sc.run.durationMs, throughputMbps: r.throughputMbps, traceHash: r.traceHash,
  };
}

export function runInspected(sc: Scenario, o: InspectOptions): Inspected {
  // Refuse unwritable outputs before a long run, not after it.
  if (o.trace) checkWritable(o.trace);
  if (o.pcap) checkWritable(o.pcap);
  const grids: number[] = [];
  if (o.topMs) grids.push(Math.round(o.topMs * PS_PER_MS));
  if (o.trace) grids.push(Math.round((o.sampleMs ?? 1) * PS_PER_MS));
  const b = build(sc, { interpreter: o.interpreter });
  const rec = new Recorder(b, { messages: !!o.trace, wire: !!(o.trace || o.pcap), samplePs: grids, onProgress: o.onProgress });
  let result: RunResult;
  try { result = rec.run(); } finally { b.sys.stop(); }
  const wrote: Inspected['wrote'] = [];
  if (o.trace) {
    const st = writeTrace(rec, o.trace, runMeta(sc, result));
    wrote.push({ file: o.trace, what: `trace (${st.events} events, ${st.flows} flows)` });
  }
  if (o.pcap) {
    const frames = framesUntil(rec.wire, rec.endPs);
    const e = endpointsOf(rec);
    writeText(o.pcap, toPcapngCapture(frames, e));
    wrote.push({ file: o.pcap, what: `pcapng (${frames.length} frames, ${e.links?.length ?? rec.b.nics.length} links)` });
  }
  const top = o.topMs ? topSamples(rec, Math.round(o.topMs * PS_PER_MS)) : null;
  return { result, rec, top, summaries: domainSummaries(rec), wrote };
}
