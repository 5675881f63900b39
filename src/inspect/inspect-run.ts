/** Run one scenario under a Recorder and write what was asked for: trace, pcap, xentop samples. */
import { tmpdir } from 'node:os';
import { basename, dirname, join } from 'node:path';
import type { Interpreter } from '../actors/runtime.js';
import { PS_PER_MS } from '../actors/scheduler.js';
import { build } from '../scenario/build.js';
import type { Scenario } from '../scenario/schema.js';
import type { OnProgress, RunResult } from '../scenario/run.js';
import { Recorder, type Replay } from './recorder.js';
import { RecordLog } from './record-log.js';
import { TraceBuilder } from './trace-events.js';
import { InteractionStream, type Interaction } from './messages.js';
import { PcapBuilder, type Endpoints } from './pcap.js';
import { topSamples, RunstateTally, type TopSample, type DomainSummary } from './top.js';
import { checkWritable, isInPlace } from './files.js';
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
  /** Memory for sorting the trace's and capture's events before they spill to temporary files (default 32 MiB each). */
  sortBudgetBytes?: number;
}

export interface Inspected {
  result: RunResult;
  rec: Recorder;
  top: TopSample[] | null;
  summaries: DomainSummary[];
  /** What was written; `spilledRuns`: sorted runs the file's events went through on disk (0: sorted in memory). */
  wrote: Array<{ file: string; what: string; spilledRuns: number }>;
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

/**
 * Where a run's temporary files go: beside its first output (same disk, renamed or removed at the
 * end), or in the system's temporary directory when that output is a device or a pipe.
 */
export function spoolPrefix(outputs: ReadonlyArray<string | undefined>): string {
  const file = outputs.find((f) => f !== undefined && !isInPlace(f));
  return join(file ? dirname(file) : tmpdir(), `.${file ? basename(file) : 'xennet'}.${process.pid}.spool`);
}

/** A run recorded to a log on disk (see Recorder's `log`). */
export function recordRun(sc: Scenario, o: { samplePs: number[]; keepSamples: boolean; spool: string; what: string; interpreter?: Interpreter; onProgress?: OnProgress }) {
  const b = build(sc, { interpreter: o.interpreter });
  const log = new RecordLog(`${o.spool}.log`, o.what);
  const rec = new Recorder(b, { log, samplePs: o.samplePs, keepSamples: o.keepSamples, onProgress: o.onProgress });
  let result: RunResult;
  try { result = rec.run(); } catch (e) { log.dispose(); throw e; } finally { b.sys.stop(); }
  return { rec, result, log };
}

export interface WriteRecorded {
  trace?: { file: string; meta: Record<string, unknown> };
  pcap?: string;
  spool: string;
  sortBudgetBytes?: number;
  /** Also told every interaction (a message or operation), in order. */
  onInteraction?: (m: Interaction) => void;
  /** Also told every state change (the value's JSON) and sample. */
  also?: Pick<Replay, 'sample'> & { state?: (t: number, actor: string, value: string) => void };
}

/** Read a recorded run's log back once, writing the trace and capture asked for; the summaries come along. */
export function writeRecorded(rec: Recorder, log: RecordLog, o: WriteRecorded) {
  const budgetBytes = o.sortBudgetBytes;
  const trace = o.trace ? new TraceBuilder(rec, { tempPrefix: `${o.spool}.trace`, what: o.trace.file, budgetBytes }) : null;
  const ends = o.pcap ? endpointsOf(rec) : null;
  const pcap = o.pcap && ends ? new PcapBuilder(ends, rec.endPs, { tempPrefix: `${o.spool}.pcap`, what: o.pcap, budgetBytes }) : null;
  const tally = new RunstateTally(rec);
  const onInteraction = o.onInteraction;
  const toTrace = trace && ((m: Interaction) => trace.interaction(m));
  const msgs = toTrace || onInteraction ? new InteractionStream(rec, toTrace && onInteraction ? (m) => { toTrace(m); onInteraction(m); } : (toTrace ?? onInteraction)!) : null;
  try {
    rec.replay({
      state: (t, actor, id) => {
        const value = rec.stateValue(id);
        tally.state(t, actor, value);
        trace?.state(t, actor, value);
        o.also?.state?.(t, actor, value);
      },
      message: msgs ? (t, from, to, type, detail) => msgs.message(t, from, to, type, detail) : undefined,
      op: msgs ? (op) => msgs.op(op) : undefined,
      wire: msgs || pcap ? (f) => { msgs?.wire(f); pcap?.frame(f); } : undefined,
      sample: (s) => { trace?.sample(s); o.also?.sample?.(s); },
    });
    msgs?.end();
    const wrote: Inspected['wrote'] = [];
    if (trace && o.trace) {
      const st = trace.write(o.trace.file, o.trace.meta);
      wrote.push({ file: o.trace.file, what: `trace (${st.events} events, ${st.flows} flows)`, spilledRuns: st.spilledRuns });
    }
    if (pcap && ends && o.pcap) {
      pcap.write(o.pcap);
      wrote.push({ file: o.pcap, what: `pcapng (${pcap.count} frames, ${ends.links?.length ?? rec.b.nics.length} links)`, spilledRuns: pcap.spilledRuns });
    }
    return { wrote, summaries: tally.summaries() };
  } finally {
    trace?.dispose();
    pcap?.dispose();
    log.dispose();
  }
}

export function runInspected(sc: Scenario, o: InspectOptions): Inspected {
  // Refuse unwritable outputs before a long run, not after it.
  if (o.trace) checkWritable(o.trace);
  if (o.pcap) checkWritable(o.pcap);
  const grids: number[] = [];
  if (o.topMs) grids.push(Math.round(o.topMs * PS_PER_MS));
  if (o.trace) grids.push(Math.round((o.sampleMs ?? 1) * PS_PER_MS));
  const spool = spoolPrefix([o.trace, o.pcap]);
  const { rec, result, log } = recordRun(sc, { samplePs: grids, keepSamples: !!o.topMs, spool, what: o.trace ?? o.pcap ?? 'the run\'s record log', interpreter: o.interpreter, onProgress: o.onProgress });
  const { wrote, summaries } = writeRecorded(rec, log, {
    trace: o.trace ? { file: o.trace, meta: runMeta(sc, result) } : undefined, pcap: o.pcap, spool, sortBudgetBytes: o.sortBudgetBytes,
  });
  const top = o.topMs ? topSamples(rec, Math.round(o.topMs * PS_PER_MS)) : null;
  return { result, rec, top, summaries, wrote };
}
