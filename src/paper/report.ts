/** Turn paper-configuration runs into the reproduction report: table, contributions, breakdowns. */
import type { RunResult } from '../scenario/run.js';
import { groupOf, type PaperConfig } from './configs.js';

export interface PaperRow {
  id: string;
  label: string;
  throughputMbps: number;
  cpuPct: number;
  paperMbps: number | null;
  errorPct: number | null;
  cyclesPerPacket: number;
  /** account ("guest", "xen", "driver domain") -> component group -> cycles per MSS segment */
  breakdown: Record<string, Record<string, number>>;
  counters: RunResult['counters'];
  /** Only when a receiver got wrong bytes (see RunResult). */
  dataIntegrity?: string[];
}

export interface Contribution { direction: 'tx' | 'rx'; optimization: string; aloneGainPct: number }

function accountLabel(a: string): string {
  if (a === 'xen') return 'Xen';
  if (a === 'dom0') return 'driver domain';
  if (a === 'linux') return 'Linux';
  return 'guest';
}

export function toRow(c: PaperConfig, r: RunResult): PaperRow {
  const breakdown: Record<string, Record<string, number>> = {};
  for (const [acct, cats] of Object.entries(r.cyclesPerPacket.byAccountCategory)) {
    const b = (breakdown[accountLabel(acct)] ??= {});
    for (const [cat, v] of Object.entries(cats)) b[groupOf(cat)] = (b[groupOf(cat)] ?? 0) + v;
  }
  return {
    id: c.id, label: c.label, throughputMbps: r.throughputMbps, cpuPct: r.cpuUtilPct.total,
    paperMbps: c.paperMbps, errorPct: r.errorPct, cyclesPerPacket: r.cyclesPerPacket.total, breakdown, counters: r.counters,
    ...(r.dataIntegrity ? { dataIntegrity: r.dataIntegrity } : {}),
  };
}

const pct = (a: number, b: number) => Math.round((1000 * (a - b)) / b) / 10;

/** Each optimization alone, as a throughput gain over Xen 2.0. */
export function contributions(rows: PaperRow[]): Contribution[] {
  const by = new Map(rows.map((r) => [r.id, r]));
  const out: Contribution[] = [];
  for (const dir of ['tx', 'rx'] as const) {
    const base = by.get(`guest-${dir}`);
    const all = by.get(`guest-${dir}-all`);
    if (!base || !all) continue;
    for (const [opt, id] of [['high-level virtual NIC', 'vnic'], ['I/O channel', 'io'], ['superpages + global pages', 'mem']] as const) {
      const alone = by.get(`guest-${dir}-${id}`);
      if (!alone) continue;
      out.push({ direction: dir, optimization: opt, aloneGainPct: pct(alone.throughputMbps, base.throughputMbps) });
    }
  }
  return out;
}
