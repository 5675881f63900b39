/** Human-readable renderings of run results. */

/**
 * Text for a terminal: control characters (ANSI/OSC escapes in a scenario's name, a path) are
 * shown as \uNNNN instead of reaching the terminal; newlines and tabs stay. The same escape is
 * JSON's, so --json output stays valid (JSON.stringify leaves DEL and C1 characters raw).
 */
// eslint-disable-next-line no-control-regex
const CONTROL = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f]/g;
export const terminalSafe = (s: string): string => s.replace(CONTROL, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
import type { RunResult } from '../scenario/run.js';

export function pad(s: string | number, n: number, right = false): string {
  const t = String(s);
  return right ? t.padStart(n) : t.padEnd(n);
}

export function table(headers: string[], rows: Array<Array<string | number>>, rightFrom = 1): string {
  const w = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => String(r[i]).length)));
  const line = (r: Array<string | number>) => r.map((c, i) => pad(c, w[i], i >= rightFrom)).join('  ');
  return [line(headers), w.map((n) => '-'.repeat(n)).join('  '), ...rows.map(line)].join('\n');
}

const fmtPct = (v: number | null) => (v === null ? '' : `${v > 0 ? '+' : ''}${v.toFixed(1)}%`);

type Latency = NonNullable<RunResult['latency']>;

/**
 * A nearest-rank percentile p rests on the samples above it: with fewer than 10 / (1 - p) samples
 * fewer than ten lie in its tail, and the figure is little more than the largest sample or two.
 */
export function thinPercentiles(n: number): string[] {
  return ([['p99', 0.99], ['p99.9', 0.999]] as const).filter(([, p]) => n < Math.round(10 / (1 - p))).map(([name, p]) => `${name} (needs ${Math.round(10 / (1 - p))})`);
}

/** The RR block of `xennet run`: rate, latency percentiles, and what one transaction cost. */
function formatLatency(l: Latency): string[] {
  const t = l.perTransaction;
  const thin = thinPercentiles(l.transactions);
  return [
    `transactions    ${l.transactions} (${l.tps.toFixed(1)}/s)`,
    `latency         mean ${l.meanUs.toFixed(1)} us   p50 ${l.p50Us.toFixed(1)}   p99 ${l.p99Us.toFixed(1)}   p99.9 ${l.p999Us.toFixed(1)} us`,
    ...(thin.length ? [`warning: ${l.transactions} transactions are too few for ${thin.join(' or ')}: fewer than 10 samples lie in such a tail; measure longer (--duration)`] : []),
    `per transaction ${t.cycles} cycles, ${t.interrupts} NIC interrupts, ${t.upcalls} upcalls, ${t.notificationsSent} ring notifications sent, ${t.notificationsSuppressed} held off`,
  ];
}

/** Columns of a latency table row (empty cells for a stream run). */
export const LATENCY_HEADERS = ['tps', 'mean us', 'p50 us', 'p99 us', 'p99.9 us', 'cycles/txn'];
export function latencyCells(r: RunResult): string[] {
  const l = r.latency;
  if (!l) return LATENCY_HEADERS.map(() => '');
  return [l.tps.toFixed(0), l.meanUs.toFixed(1), l.p50Us.toFixed(1), l.p99Us.toFixed(1), l.p999Us.toFixed(1), String(l.perTransaction.cycles)];
}

/** One row per run: throughput and CPU, and the latency columns when any run is a request/response one. */
export function runsTable(rs: RunResult[], lead: string[] = ['scenario'], leadCells: (r: RunResult, i: number) => string[] = (r) => [r.scenario],
  extra: { headers: string[]; cells: (r: RunResult, i: number) => Array<string | number> } = { headers: [], cells: () => [] }): string {
  const rr = rs.some((r) => r.latency);
  const headers = [...lead, ...(rr ? ['workload'] : []), 'Mb/s', 'CPU %', ...(rr ? LATENCY_HEADERS : ['cycles/pkt']), ...extra.headers];
  return table(headers, rs.map((r, i) => [
    ...leadCells(r, i), ...(rr ? [r.direction] : []), r.throughputMbps.toFixed(1), r.cpuUtilPct.total.toFixed(1), ...(rr ? latencyCells(r) : [String(r.cyclesPerPacket.total)]),
    ...extra.cells(r, i),
  ]), lead.length);
}

/** Each guest's goodput and Jain's fairness index of them (runs with several guests). */
export function formatPerGuest(g: NonNullable<RunResult['perGuest']>): string {
  return `per guest       ${g.mbps.map((v, i) => `domU${i + 1} ${v.toFixed(1)}`).join('  ')} Mb/s   (Jain's fairness index ${g.jainIndex.toFixed(4)})`;
}

/** Each flow of a flow list: its ends, kind, goodput and (RR) latency; Jain's index of the goodputs. */
export function formatPerFlow(pf: NonNullable<RunResult['perFlow']>): string[] {
  const flows = Object.entries(pf.flows);
  // Latency columns only when some flow is a request/response one.
  const rr = flows.some(([, f]) => f.latency);
  const rows = flows.map(([id, f]) => [id, `${f.from} -> ${f.to}`, f.kind, f.mbps.toFixed(1),
    ...(!rr ? [] : f.latency ? [f.latency.tps.toFixed(1), f.latency.meanUs.toFixed(1), f.latency.p50Us.toFixed(1), f.latency.p99Us.toFixed(1)] : ['', '', '', ''])]);
  const headers = ['flow', 'endpoints', 'kind', 'Mb/s', ...(rr ? ['tps', 'mean us', 'p50 us', 'p99 us'] : [])];
  return [table(headers, rows, 3), `Jain's fairness index over the flows' goodput: ${pf.jainIndex.toFixed(4)}`];
}

/** Each cabled switch port: frames in and out, drops, the most and the mean bytes its output buffer held. */
export function formatPerSwitch(ps: NonNullable<RunResult['perSwitch']>): string {
  const rows = Object.entries(ps).flatMap(([sw, ports]) => Object.entries(ports).map(([p, st]) => [`${sw}/${p}`, st.framesIn, st.framesOut, st.drops, st.highWaterBytes, st.meanQueueBytes]));
  return table(['switch port', 'frames in', 'frames out', 'drops', 'queue max B', 'queue mean B'], rows);
}

export function formatRun(r: RunResult): string {
  const out: string[] = [];
  out.push(`scenario ${r.scenario}: ${r.topology} ${r.direction}, seed ${r.seed}, ${r.measuredMs} ms measured after ${r.warmupMs} ms warm-up`);
  out.push(`throughput      ${r.throughputMbps.toFixed(1)} Mb/s` + (r.paperMbps ? `   (paper ${r.paperMbps} Mb/s, ${fmtPct(r.errorPct)})` : ''));
  out.push(`CPU utilization ${r.cpuUtilPct.total.toFixed(1)}%   ` + Object.entries(r.cpuUtilPct.byAccount).map(([a, v]) => `${a} ${v.toFixed(1)}%`).join('  '));
  if (r.perGuest) out.push(formatPerGuest(r.perGuest));
  for (const [h, v] of Object.entries(r.perHost ?? {})) out.push(`  ${h.padEnd(13)} ${v.cpuUtilPct.total.toFixed(1)}%   ` + Object.entries(v.cpuUtilPct.byAccount).map(([a, u]) => `${a} ${u.toFixed(1)}%`).join('  '));
  if (r.perFlow) out.push('', ...formatPerFlow(r.perFlow));
  if (r.perSwitch) out.push('', formatPerSwitch(r.perSwitch));
  out.push('');
  if (r.latency) out.push(...formatLatency(r.latency), '');
  // A request/response run is read per transaction; a stream per MSS segment of goodput.
  const cp = r.latency ? { ...r.latency.perTransaction, total: r.latency.perTransaction.cycles } : r.cyclesPerPacket;
  const none = r.latency ? r.latency.transactions === 0 : r.counters.goodputSegments === 0;
  // Nothing completed in the window: a per-packet figure would be 0/0, not a cost of 0.
  if (none) {
    out.push(r.latency ? 'cycles per transaction: none (no transaction completed in the measured window)' : 'cycles per packet: none (no MSS segment of goodput in the measured window)');
    out.push('');
  } else out.push(r.latency ? `cycles per transaction (${r.latency.transactions} transactions): ${cp.total}` : `cycles per packet (per ${r.counters.goodputSegments} MSS segments of goodput): ${cp.total}`);
  if (!none) {
  const accts = Object.keys(cp.byAccount);
  const cats = Object.entries(cp.byCategory).sort((a, b) => b[1] - a[1]).map(([c]) => c);
  out.push(table(['component', ...accts, 'total'], cats.map((c) => [
    c, ...accts.map((a) => cp.byAccountCategory[a]?.[c] ?? 0), cp.byCategory[c],
  ]).concat([['total', ...accts.map((a) => cp.byAccount[a]), cp.total]])));
  out.push('');
  }
  const { drops, violations, ...c } = r.counters;
  out.push('counters');
  out.push(table(['counter', 'value'], Object.entries(c).filter(([, v]) => typeof v === 'number').map(([k, v]) => [k, v as number])));
  const d = Object.entries(drops);
  out.push(`drops: ${d.length ? d.map(([k, v]) => `${k} ${v}`).join(', ') : 'none'}`);
  const v = Object.entries(violations ?? {});
  if (v.length) out.push(`protocol violations: ${v.map(([k, n]) => `${k} ${n}`).join(', ')}`);
  if (r.dataIntegrity) out.push(`DATA INTEGRITY VIOLATED: ${r.dataIntegrity.join('; ')}`);
  out.push(`trace hash ${r.traceHash} (${r.events} events)`);
  return out.join('\n');
}
