/** Run one scenario: warm up, measure, and report what the mechanism produced. */
import { PS_PER_MS, PS_PER_S } from '../actors/scheduler.js';
import { build, type Built } from './build.js';
import type { Interpreter } from '../actors/runtime.js';
import type { Scenario } from './schema.js';
import { newCounters, type Counters } from '../model/counters.js';
import { distribution, summarize, type LatencyDistribution, type LatencySummary } from '../domains/netperf-rr.js';
import type { PortStats } from '../hardware/switch.js';
import type { MigrationResult } from '../toolstack/migration.js';

export interface RunResult {
  scenario: string;
  topology: string;
  direction: string;
  seed: number;
  /** Length of the warm-up before the window (virtual ms): run, then forgotten. */
  warmupMs: number;
  /** Length of the measured window (virtual ms) every rate and utilisation is over. */
  measuredMs: number;
  throughputMbps: number;
  paperMbps: number | null;
  errorPct: number | null;
  cpuUtilPct: { total: number; byAccount: Record<string, number> };
  /** Cycles per measured TCP segment (MSS of goodput), by account and by cost category. */
  cyclesPerPacket: { total: number; byAccount: Record<string, number>; byCategory: Record<string, number>; byAccountCategory: Record<string, Record<string, number>> };
  /** `ipis` only on machines of more than one CPU. */
  counters: Omit<Counters, 'ipis'> & { ipis?: number; tlbMisses: number; itlbMisses: number; dtlbMisses: number; goodputSegments: number };
  traceHash: string;
  events: number;
  /**
   * Several guests (topology guest, guests > 1): each guest's goodput over the window (Mb/s, guest 1
   * first) and Jain's fairness index of those, (sum x)^2 / (n sum x^2): 1 when all are equal, 1/n
   * when one guest gets everything (Jain, Chiu, Hawe, DEC-TR-301, 1984).
   */
  perGuest?: { mbps: number[]; jainIndex: number };
  /**
   * A scenario with a flow list: each flow's goodput over the window (Mb/s, at the end that consumes
   * its data) and, for TCP_RR / UDP_RR, its transactions and latency; Jain's index of the goodputs.
   */
  perFlow?: { jainIndex: number; flows: Record<string, FlowResult> };
  /** A world of several hosts: each host's CPU utilisation over the window (% of its own CPUs), in total and by account (its domains, and Xen). */
  perHost?: Record<string, { cpuUtilPct: { total: number; byAccount: Record<string, number> } }>;
  /** A world's switches: each cabled port over the window (frames and frame bytes in and out, drops, most and mean bytes queued). */
  perSwitch?: Record<string, Record<string, PortStats>>;
  /**
   * Request/response workloads only (netperf TCP_RR / UDP_RR): transactions completed in the window,
   * their rate and round-trip latency, and per transaction the CPU cycles (by account and category)
   * and the I/O-channel notifications and interrupts the mechanism spent.
   */
  latency?: LatencySummary & {
    perTransaction: { cycles: number; byAccount: Record<string, number>; byCategory: Record<string, number>; byAccountCategory: Record<string, Record<string, number>>; notificationsSent: number; notificationsSuppressed: number; interrupts: number; upcalls: number };
    /** The whole distribution of the window's latencies (latency.csv under --out; the CDF and histogram plots). */
    distribution: LatencyDistribution;
  };
  /**
   * Scenarios with save or migrate events: each one's account (total time, rounds, pages per round,
   * downtime, each of the guest's flows' stall and recovery, what the source still held after).
   */
  migration?: MigrationResult[];
  /** Present only when a TCP receiver of an honest flow got wrong bytes (warm-up included): the first mismatches. */
  dataIntegrity?: string[];
}

/** One flow of a flow list in the window. */
export interface FlowResult { from: string; to: string; kind: string; mbps: number; latency?: LatencySummary }

const round = (v: number, d = 1) => Math.round(v * 10 ** d) / 10 ** d;

/** Called with the fraction of the run's virtual time done (warm-up included), rising to exactly 1 at the end. */
export type OnProgress = (fraction: number) => void;
/** Progress reports per run: the scheduler runs to each checkpoint in turn (the same events, in the same order). */
const PROGRESS_STEPS = 200;

export function runBuilt(b: Built, onProgress?: OnProgress): RunResult {
  const sc = b.sc;
  const warm = Math.round(sc.run.warmupMs * PS_PER_MS);
  const end = warm + Math.round(sc.run.durationMs * PS_PER_MS);
  // Busy time counts only inside [warm, end): slices straddling either edge are clipped.
  for (const c of b.cpus) c.measureWindow(warm, end);
  let step = 1;
  const runTo = (until: number) => {
    // Running to t1 and then to t2 delivers exactly the events running to t2 does: nothing happens in between.
    if (onProgress && end > 0) for (let cp = Math.round((end * step) / PROGRESS_STEPS); step <= PROGRESS_STEPS && cp <= until; cp = Math.round((end * ++step) / PROGRESS_STEPS)) {
      b.sys.sched.run(cp);
      onProgress(cp / end);
    }
    b.sys.sched.run(until);
  };
  b.start();
  runTo(warm);
  // Measurement window starts: forget warm-up costs and counts.
  for (const c of b.cpus) c.resetLedger();
  Object.assign(b.counters, newCounters());
  b.rr?.reset();
  for (const sw of b.switches ?? []) sw.resetStats(b.sys.sched.now);
  const bytes0 = b.goodputBytes();
  const perGuest = sc.topology === 'guest' && sc.guests > 1 && !sc.flows;
  const flow0 = perGuest || sc.flows ? Array.from({ length: b.flows }, (_, f) => b.flowGoodput(f)) : [];
  runTo(end);
  const secs = (end - warm) / PS_PER_S;
  const bytes = b.goodputBytes() - bytes0;
  const mbps = (bytes * 8) / secs / 1e6;
  const segs = bytes / b.mss;

  const byAccount: Record<string, number> = {};
  const byCategory: Record<string, number> = {};
  const byAccountCategory: Record<string, Record<string, number>> = {};
  let cycles = 0;
  for (const cpu of b.cpus) {
    for (const [acct, cats] of [...cpu.ledger.entries()].sort(([a], [z]) => a.localeCompare(z))) {
      for (const [cat, cyc] of [...cats.entries()].sort(([a], [z]) => a.localeCompare(z))) {
        byAccount[acct] = (byAccount[acct] ?? 0) + cyc;
        byCategory[cat] = (byCategory[cat] ?? 0) + cyc;
        (byAccountCategory[acct] ??= {})[cat] = (byAccountCategory[acct][cat] ?? 0) + cyc;
        cycles += cyc;
      }
    }
  }
  const capacity = b.cpus.reduce((n, c) => n + c.hz * secs, 0);
  const util: Record<string, number> = {};
  for (const [a, c] of Object.entries(byAccount)) util[a] = round((100 * c) / capacity);
  const perPkt = (v: number) => (segs > 0 ? Math.round(v / segs) : 0);
  const mapVals = (o: Record<string, number>) => Object.fromEntries(Object.entries(o).map(([k, v]) => [k, perPkt(v)]));

  const paper = sc.paper?.mbps ?? null;
  return {
    scenario: sc.name,
    topology: sc.topology,
    direction: sc.flows ? 'flows' : sc.direction ?? sc.workload.kind,
    seed: sc.seed,
    warmupMs: sc.run.warmupMs,
    measuredMs: sc.run.durationMs,
    throughputMbps: round(mbps),
    paperMbps: paper,
    errorPct: paper ? round((100 * (mbps - paper)) / paper) : null,
    cpuUtilPct: { total: round((100 * cycles) / capacity), byAccount: util },
    cyclesPerPacket: {
      total: perPkt(cycles),
      byAccount: mapVals(byAccount),
      byCategory: mapVals(byCategory),
      byAccountCategory: Object.fromEntries(Object.entries(byAccountCategory).map(([a, o]) => [a, mapVals(o)])),
    },
    counters: {
      ...countersOf(b),
      tlbMisses: b.cpus.reduce((n, c) => n + c.tlb.stats.misses, 0),
      itlbMisses: b.cpus.reduce((n, c) => n + c.tlb.itlb.stats.misses, 0),
      dtlbMisses: b.cpus.reduce((n, c) => n + c.tlb.dtlb.stats.misses, 0),
      goodputSegments: Math.round(segs),
    },
    ...(perGuest ? { perGuest: guestShares(b, sc.guests, flow0, secs) } : {}),
    ...(sc.flows ? { perFlow: flowShares(b, sc.flows, flow0, secs) } : {}),
    ...(b.migrations?.length ? { migration: b.migrations.map((m) => structuredClone(m)) } : {}),
    ...(b.switches?.length ? { perSwitch: Object.fromEntries(b.switches.map((sw) => [sw.name, Object.fromEntries(sw.portStats(b.sys.sched.now)
      .flatMap((st, k) => (sw.ports[k].link.actor ? [[`p${k}`, { ...st, meanQueueBytes: Math.round(st.meanQueueBytes) }]] : [])))])) } : {}),
    ...(b.hosts ? { perHost: Object.fromEntries(b.hosts.map((h) => [h.name, { cpuUtilPct: cpuUtil(h.cpus, secs) }])) } : {}),
    ...(b.rr ? { latency: latencyBlock(b, secs, cycles, byAccount, byCategory, byAccountCategory) } : {}),
    traceHash: b.sys.traceHash(),
    events: b.sys.sched.delivered,
    // The end-to-end data check (src/model/integrity.ts): a broken model must not report throughput quietly.
    ...(b.streams.mismatches.length ? { dataIntegrity: [...b.streams.mismatches] } : {}),
  };
}

/** The run's counters; IPIs only exist on a machine of more than one CPU, so only such runs report them. */
function countersOf(b: Built): Omit<Counters, 'ipis'> & { ipis?: number } {
  if (b.cpus.length > 1) return b.counters;
  const { ipis: _, ...rest } = b.counters;
  return rest;
}

/** The RR block: the latency summary, and what one transaction cost (cycles, notifications, interrupts). */
function latencyBlock(
  b: Built, secs: number, cycles: number, byAccount: Record<string, number>, byCategory: Record<string, number>, byAccountCategory: Record<string, Record<string, number>>,
): NonNullable<RunResult['latency']> {
  const s = summarize(b.rr!.samplesPs, secs);
  const n = s.transactions;
  const per = (v: number, d = 0) => (n > 0 ? round(v / n, d) : 0);
  const perMap = (o: Record<string, number>) => Object.fromEntries(Object.entries(o).map(([k, v]) => [k, per(v)]));
  const c = b.counters;
  return {
    ...s,
    perTransaction: {
      cycles: per(cycles), byAccount: perMap(byAccount), byCategory: perMap(byCategory),
      byAccountCategory: Object.fromEntries(Object.entries(byAccountCategory).map(([a, o]) => [a, perMap(o)])),
      notificationsSent: per(c.notificationsSent, 2), notificationsSuppressed: per(c.notificationsSuppressed, 2),
      interrupts: per(c.interrupts, 2), upcalls: per(c.upcalls, 2),
    },
    distribution: distribution(b.rr!.samplesPs),
  };
}

/** Per-guest goodput over the window and Jain's index of it. */
function guestShares(b: Built, guests: number, flow0: number[], secs: number): { mbps: number[]; jainIndex: number } {
  const bytes = new Array<number>(guests).fill(0);
  for (let f = 0; f < b.flows; f++) bytes[f % guests] += b.flowGoodput(f) - flow0[f];
  const mbps = bytes.map((v) => (v * 8) / secs / 1e6);
  return { mbps: mbps.map((v) => round(v)), jainIndex: round(jainIndex(mbps), 4) };
}

/** Utilisation of some CPUs over the window, % of their capacity: in total and by account. */
function cpuUtil(cpus: Built['cpus'], secs: number): { total: number; byAccount: Record<string, number> } {
  const by: Record<string, number> = {};
  let total = 0;
  for (const cpu of cpus) {
    for (const [acct, cats] of [...cpu.ledger.entries()].sort(([a], [z]) => a.localeCompare(z))) {
      for (const cyc of cats.values()) { by[acct] = (by[acct] ?? 0) + cyc; total += cyc; }
    }
  }
  const capacity = cpus.reduce((n, c) => n + c.hz * secs, 0);
  return { total: round((100 * total) / capacity), byAccount: Object.fromEntries(Object.entries(by).map(([a, c]) => [a, round((100 * c) / capacity)])) };
}

/** Each flow's goodput over the window and RR latency, and Jain's index of the goodputs. */
function flowShares(b: Built, list: NonNullable<Scenario['flows']>, flow0: number[], secs: number): NonNullable<RunResult['perFlow']> {
  const mbps = list.map((_, f) => ((b.flowGoodput(f) - flow0[f]) * 8) / secs / 1e6);
  const flows: Record<string, FlowResult> = {};
  list.forEach((fl, f) => {
    const samples = b.rr?.byFlow.get(f);
    flows[`f${f}`] = { from: fl.from, to: fl.to, kind: fl.kind, mbps: round(mbps[f]), ...(fl.kind !== 'stream' ? { latency: summarize(samples ?? [], secs) } : {}) };
  });
  return { jainIndex: round(jainIndex(mbps), 4), flows };
}

/** Jain's fairness index of non-negative allocations: (sum x)^2 / (n sum x^2); 1 for an empty or all-zero set. */
export function jainIndex(xs: readonly number[]): number {
  let s = 0, s2 = 0;
  for (const x of xs) { s += x; s2 += x * x; }
  return s2 === 0 ? 1 : (s * s) / (xs.length * s2);
}

/** The runs whose receivers got wrong bytes, one line each (for the CLI to fail loudly). */
export function integrityFailures(rs: RunResult[]): string[] {
  return rs.filter((r) => r.dataIntegrity).map((r) => `${r.scenario}: data integrity violated: ${r.dataIntegrity!.join('; ')}`);
}

export function runScenario(sc: Scenario, opts: { interpreter?: Interpreter; onProgress?: OnProgress } = {}): RunResult {
  const b = build(sc, opts);
  try { return runBuilt(b, opts.onProgress); } finally { b.sys.stop(); }
}
