/**
 * The report's lifecycle markers: where on the run's timeline the toolstack acted. A migration is
 * spans, from its account in the result (`migration`): each live pre-copy round, then stop-and-copy
 * (the guest paused: the downtime, to its unpause on the destination) and the resume; a save is its
 * suspension and write, a restore the image read back and the resume. The other verbs (attach,
 * detach, destroy, crash) are instants, at the event's time.
 */
import type { MigrationResult } from '../toolstack/migration.js';
import type { LifecycleEvent } from '../toolstack/lifecycle.js';

export type MarkKind = 'precopy' | 'stop-and-copy' | 'resume' | 'saved' | 'attach' | 'detach' | 'destroy' | 'crash' | 'save' | 'restore';

/** One marker: a span (`toMs` set) or an instant, in virtual ms. */
export interface LifecycleMark { kind: MarkKind; label: string; fromMs: number; toMs?: number }

/** The markers of a run: its migrations' and saves' phases (from their accounts) and its other events; `endMs` closes what was still going. */
export function lifecycleMarks(migrations: readonly MigrationResult[], events: readonly LifecycleEvent[], endMs: number): LifecycleMark[] {
  const out: LifecycleMark[] = [];
  for (const m of migrations) {
    if (m.kind === 'save') {
      // Not live: suspended at once, the image written, the domain gone until a restore.
      out.push({ kind: 'saved', label: `${m.guest} saved (paused)`, fromMs: m.startMs, toMs: m.resumedAtMs ?? endMs });
      if (m.resumedAtMs !== null) out.push({ kind: 'resume', label: `${m.guest} restored`, fromMs: m.resumedAtMs });
      continue;
    }
    // The last round is stop-and-copy: it starts when the guest is suspended.
    const live = m.suspendedAtMs === null ? m.roundsAtMs : m.roundsAtMs.slice(0, -1);
    live.forEach((t, i) => out.push({ kind: 'precopy', label: `${m.guest} pre-copy round ${i + 1} (${m.pagesPerRound[i]} pages)`, fromMs: t, toMs: live[i + 1] ?? m.suspendedAtMs ?? endMs }));
    if (m.suspendedAtMs !== null) out.push({ kind: 'stop-and-copy', label: `${m.guest} stop-and-copy: paused (downtime)`, fromMs: m.suspendedAtMs, toMs: m.resumedAtMs ?? endMs });
    if (m.resumedAtMs !== null) out.push({ kind: 'resume', label: `${m.guest} resumed on ${m.to}`, fromMs: m.resumedAtMs });
  }
  for (const e of events) {
    if (e.verb === 'migrate') continue; // its spans above
    const who = `${e.host ? `${e.host}/` : ''}guest${e.guest}`;
    out.push({ kind: e.verb, label: `${e.verb} ${who}${e.vif !== null ? ` vif ${e.vif}` : ''}`, fromMs: e.atMs });
  }
  return out.sort((a, b) => a.fromMs - b.fromMs);
}

/** Span colours by kind (light, behind the lines), and the instants' rule colour. */
const SPAN_COLORS: Partial<Record<MarkKind, string>> = { precopy: '#c6dbef', 'stop-and-copy': '#fcbba1', saved: '#fdd0a2' };
const RESUME_COLOR = '#31a354', EVENT_COLOR = '#636363';

/** Vega-lite layers drawing the markers on a time plot (x in ms): spans shaded, instants as dashed rules; the label as tooltip. */
export function markLayers(marks: readonly LifecycleMark[]): object[] {
  const layers: object[] = [];
  const x = { field: 'fromMs', type: 'quantitative' };
  for (const [kind, color] of Object.entries(SPAN_COLORS)) {
    const values = marks.filter((m) => m.kind === kind && m.toMs !== undefined);
    if (values.length) layers.push({ data: { values }, mark: { type: 'rect', color, opacity: 0.6, stroke: '#fff', strokeWidth: 0.5 }, encoding: { x, x2: { field: 'toMs' }, tooltip: { field: 'label' } } });
  }
  const instants = marks.filter((m) => m.toMs === undefined);
  for (const [values, color] of [[instants.filter((m) => m.kind === 'resume'), RESUME_COLOR], [instants.filter((m) => m.kind !== 'resume'), EVENT_COLOR]] as const) {
    if (values.length) layers.push({ data: { values }, mark: { type: 'rule', color, strokeWidth: 1.5, strokeDash: [4, 3] }, encoding: { x, tooltip: { field: 'label' } } });
  }
  return layers;
}
