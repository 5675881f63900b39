/** Human-readable renderings of run results. */
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

/** Each guest's goodput and Jain's fairness index of them (runs with several guests). */
export function formatPerGuest(g: NonNullable<RunResult['perGuest']>): string {
  return `per guest       ${g.mbps.map((v, i) => `domU${i + 1} ${v.toFixed(1)}`).join('  ')} Mb/s   (Jain's fairness index ${g.jainIndex.toFixed(4)})`;
}

export function formatRun(r: RunResult): string {
  const out: string[] = [];
  out.push(`scenario ${r.scenario}: ${r.topology} ${r.direction}, seed ${r.seed}, ${r.measuredMs} ms measured after ${r.warmupMs} ms warm-up`);
  out.push(`throughput      ${r.throughputMbps.toFixed(1)} Mb/s` + (r.paperMbps ? `   (paper ${r.paperMbps} Mb/s, ${fmtPct(r.errorPct)})` : ''));
  out.push(`CPU utilization ${r.cpuUtilPct.total.toFixed(1)}%   ` + Object.entries(r.cpuUtilPct.byAccount).map(([a, v]) => `${a} ${v.toFixed(1)}%`).join('  '));
  if (r.perGuest) out.push(formatPerGuest(r.perGuest));
  out.push('');
  out.push(`cycles per packet (per ${r.counters.goodputSegments} MSS segments of goodput): ${r.cyclesPerPacket.total}`);
  const accts = Object.keys(r.cyclesPerPacket.byAccount);
  const cats = Object.entries(r.cyclesPerPacket.byCategory).sort((a, b) => b[1] - a[1]).map(([c]) => c);
  out.push(table(['component', ...accts, 'total'], cats.map((c) => [
    c, ...accts.map((a) => r.cyclesPerPacket.byAccountCategory[a]?.[c] ?? 0), r.cyclesPerPacket.byCategory[c],
  ]).concat([['total', ...accts.map((a) => r.cyclesPerPacket.byAccount[a]), r.cyclesPerPacket.total]])));
  out.push('');
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
