/**
 * Text exports of a machine chart: Mermaid stateDiagram-v2, SCXML, and an
 * xstate-config-shaped JSON (targets as `#id`, guards and actions by name).
 */
import { allStates, transitionLabel, type Chart, type ChartState, type ChartTransition } from './chart-model.js';

// ---------------------------------------------------------------- Mermaid

/** Mermaid state ids: letters, digits and underscores, unique per machine (the path below the root). */
function mid(chart: Chart, id: string): string {
  const rel = id === chart.root.id ? chart.root.key : id.slice(chart.root.id.length + 1);
  return 's_' + rel.replace(/[^A-Za-z0-9]/g, '_');
}
/** Mermaid transition labels end at the line; keep them free of characters with meaning there. */
const mlabel = (s: string) => s.replace(/[:;#\n]/g, ' ').replace(/\s+/g, ' ').trim();

export function toMermaid(chart: Chart): string {
  const out: string[] = ['---', `title: ${chart.kind} — ${mlabel(chart.description)}`, '---', 'stateDiagram-v2', '  direction LR'];
  const states = allStates(chart.root);

  // Declare every state's display name once (composite names too), then the structure.
  for (const s of states) out.push(`  state "${s.key}" as ${mid(chart, s.id)}`);

  const edges = (s: ChartState, ind: string) => {
    for (const t of s.transitions) {
      const label = mlabel(transitionLabel(t)) + (t.targets.length ? '' : ' (internal)');
      const targets = t.targets.length ? t.targets : [s.id];
      for (const tg of targets) out.push(`${ind}${mid(chart, s.id)} --> ${mid(chart, tg)} : ${label}`);
    }
  };
  const body = (s: ChartState, ind: string) => {
    if (s.type === 'compound' && s.initial) out.push(`${ind}[*] --> ${mid(chart, s.initial)}`);
    s.children.forEach((c, i) => {
      if (s.type === 'parallel' && i > 0) out.push(`${ind}--`);
      if (c.children.length) {
        out.push(`${ind}state ${mid(chart, c.id)} {`);
        body(c, ind + '  ');
        out.push(`${ind}}`);
      }
      if (c.type === 'final') out.push(`${ind}${mid(chart, c.id)} --> [*]`);
      edges(c, ind);
    });
  };
  if (chart.root.type === 'parallel') {
    out.push(`  state ${mid(chart, chart.root.id)} {`);
    body(chart.root, '    ');
    out.push('  }');
    out.push(`  [*] --> ${mid(chart, chart.root.id)}`);
  } else {
    body(chart.root, '  ');
  }
  edges(chart.root, '  ');
  return out.join('\n') + '\n';
}

// ---------------------------------------------------------------- SCXML

const xml = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');

function scxmlState(s: ChartState, ind: string, out: string[]): void {
  const tag = s.type === 'parallel' ? 'parallel' : s.type === 'final' ? 'final' : 'state';
  const attrs = [`id="${xml(s.id)}"`];
  if (s.type === 'compound' && s.initial) attrs.push(`initial="${xml(s.initial)}"`);
  const inner: string[] = [];
  const i2 = ind + '  ';
  const afters = s.transitions.filter((t) => t.kind === 'after');
  if (s.entry.length || afters.length) {
    inner.push(`${i2}<onentry>`);
    for (const a of s.entry) inner.push(`${i2}  <log label="${xml(a)}"/>`);
    // xstate's delayed transitions are a delayed internal event sent on entry and cancelled on exit.
    for (const t of afters) inner.push(`${i2}  <send id="${xml(t.event)}" event="${xml(t.event)}" delayexpr="${xml(t.delay ?? '')}"/>`);
    inner.push(`${i2}</onentry>`);
  }
  if (s.exit.length || afters.length) {
    inner.push(`${i2}<onexit>`);
    for (const a of s.exit) inner.push(`${i2}  <log label="${xml(a)}"/>`);
    for (const t of afters) inner.push(`${i2}  <cancel sendid="${xml(t.event)}"/>`);
    inner.push(`${i2}</onexit>`);
  }
  for (const t of s.transitions) inner.push(...scxmlTransition(t, i2));
  for (const c of s.children) scxmlState(c, i2, inner);
  if (inner.length === 0) { out.push(`${ind}<${tag} ${attrs.join(' ')}/>`); return; }
  out.push(`${ind}<${tag} ${attrs.join(' ')}>`, ...inner, `${ind}</${tag}>`);
}

function scxmlTransition(t: ChartTransition, ind: string): string[] {
  const attrs: string[] = [];
  if (t.kind !== 'always') attrs.push(`event="${xml(t.event)}"`);
  if (t.guard) attrs.push(`cond="${xml(t.guard)}"`);
  if (t.targets.length) attrs.push(`target="${xml(t.targets.join(' '))}"`);
  if (t.targets.length && !t.reenter) attrs.push('type="internal"');
  const head = `${ind}<transition ${attrs.join(' ')}`;
  if (!t.actions.length) return [`${head}/>`];
  return [`${head}>`, ...t.actions.map((a) => `${ind}  <log label="${xml(a)}"/>`), `${ind}</transition>`];
}

export function toScxml(chart: Chart): string {
  const out = [
    '<?xml version="1.0" encoding="UTF-8"?>',
    `<!-- xennet actor kind "${chart.kind.replace(/--/g, '- -')}": ${chart.description.replace(/--/g, '- -')}. Guards and actions are named; their code is in the TypeScript source. -->`,
    `<scxml xmlns="http://www.w3.org/2005/07/scxml" version="1.0" datamodel="ecmascript" name="${xml(chart.kind)}" initial="${xml(chart.root.id)}">`,
  ];
  scxmlState(chart.root, '  ', out);
  out.push('</scxml>');
  return out.join('\n') + '\n';
}

// ---------------------------------------------------------------- JSON

interface ConfigTransition { target?: string[]; guard?: string; actions?: string[]; reenter?: boolean }
interface ConfigState {
  id: string;
  type?: string;
  initial?: string;
  entry?: string[];
  exit?: string[];
  on?: Record<string, ConfigTransition[]>;
  after?: Record<string, ConfigTransition[]>;
  always?: ConfigTransition[];
  states?: Record<string, ConfigState>;
}

function configTransition(t: ChartTransition): ConfigTransition {
  const c: ConfigTransition = {};
  if (t.targets.length) c.target = t.targets.map((x) => `#${x}`);
  if (t.guard) c.guard = t.guard;
  if (t.actions.length) c.actions = t.actions;
  if (t.reenter) c.reenter = true;
  return c;
}

function configState(s: ChartState): ConfigState {
  const c: ConfigState = { id: s.id };
  if (s.type !== 'atomic' && s.type !== 'compound') c.type = s.type;
  if (s.initial) c.initial = s.initial.slice(s.id.length + 1);
  if (s.entry.length) c.entry = s.entry;
  if (s.exit.length) c.exit = s.exit;
  for (const t of s.transitions) {
    if (t.kind === 'always') (c.always ??= []).push(configTransition(t));
    else if (t.kind === 'after') ((c.after ??= {})[t.delay ?? ''] ??= []).push(configTransition(t));
    else ((c.on ??= {})[t.event] ??= []).push(configTransition(t));
  }
  if (s.children.length) c.states = Object.fromEntries(s.children.map((k) => [k.key, configState(k)]));
  return c;
}

/** The machine as an xstate-style config object (implementations referenced by name). */
export function toJson(chart: Chart): string {
  return JSON.stringify({ kind: chart.kind, description: chart.description, machine: configState(chart.root) }, null, 2) + '\n';
}
