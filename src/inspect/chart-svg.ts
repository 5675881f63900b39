/**
 * Render a machine chart as a standalone SVG: elkjs (the Eclipse Layout
 * Kernel's layered algorithm, pure JavaScript) places states and routes
 * transitions; the SVG is written here. No browser and no network.
 *
 * Conventions (UML/Harel): rounded boxes are states, compound states hold
 * their children, parallel regions are dashed boxes, a black dot marks the
 * initial state, a double border a final state. Transitions without a target
 * (actions only) are listed inside their state box.
 */
import type { ElkExtendedEdge, ElkNode, ElkLabel, ELK as ElkApi } from 'elkjs/lib/elk-api.js';

/** elkjs, loaded on first use (only chart drawing needs it, and it is large). */
async function loadElk(): Promise<new () => ElkApi> {
  const elkBundled = (await import('elkjs/lib/elk.bundled.js')).default;
  // elkjs is CommonJS: the constructor is module.exports (and, for bundlers, its .default).
  return ((elkBundled as unknown as { default?: unknown }).default ?? elkBundled) as new () => ElkApi;
}
import { allStates, transitionLabel, type Chart, type ChartState } from './chart-model.js';

const FONT = 'DejaVu Sans Mono, Menlo, Consolas, monospace';
const CW = 7.3;       // width of one character at 12 px in a monospace font
const CW_SMALL = 6.1; // at 10 px
const esc = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
const r1 = (v: number) => Math.round(v * 10) / 10;

interface Drawn { state: ChartState; node: ElkNode }

function internalLines(s: ChartState): string[] {
  const lines: string[] = [];
  for (const a of s.entry) lines.push(`entry / ${a}`);
  for (const a of s.exit) lines.push(`exit / ${a}`);
  for (const t of s.transitions) if (!t.targets.length) lines.push(transitionLabel(t));
  return lines;
}

const HEADER = 24;
/** Each compound state is laid out on its own (its edges stay inside it), left to right. */
const LAYERED = {
  'elk.algorithm': 'layered',
  'elk.direction': 'RIGHT',
  'elk.edgeRouting': 'ORTHOGONAL',
  'elk.layered.spacing.nodeNodeBetweenLayers': '60',
  'elk.spacing.nodeNode': '30',
  'elk.spacing.edgeLabel': '4',
  'elk.edgeLabels.placement': 'CENTER',
  'elk.layered.nodePlacement.strategy': 'BRANDES_KOEPF',
};
/** Keep the machine's own order: initial state first, regions in declaration order. */
const ORDER = {
  'elk.layered.considerModelOrder.strategy': 'NODES_AND_EDGES',
  'elk.layered.cycleBreaking.strategy': 'MODEL_ORDER',
  'elk.layered.crossingMinimization.forceNodeModelOrder': 'true',
};

function elkGraph(chart: Chart): { graph: ElkNode; byId: Map<string, ChartState> } {
  const byId = new Map<string, ChartState>();
  for (const s of allStates(chart.root)) byId.set(s.id, s);
  const parentOf = new Map<string, ChartState>();
  for (const s of byId.values()) for (const c of s.children) parentOf.set(c.id, s);

  const edgesIn = new Map<string, ElkExtendedEdge[]>(); // container id -> edges
  let edgeNo = 0;
  const addEdge = (container: string, source: string, target: string, label: string | null) => {
    const e: ElkExtendedEdge = { id: `e${edgeNo++}`, sources: [source], targets: [target] };
    if (label) e.labels = [{ id: `${e.id}.label`, text: label, width: label.length * CW_SMALL + 6, height: 14 } as ElkLabel];
    const list = edgesIn.get(container) ?? [];
    list.push(e);
    edgesIn.set(container, list);
  };
  const ancestors = (id: string): string[] => {
    const out = [id];
    for (let p = parentOf.get(id); p; p = parentOf.get(p.id)) out.push(p.id);
    return out;
  };
  const lca = (a: string, b: string): string => {
    const as = new Set(ancestors(a));
    for (const x of ancestors(b)) if (as.has(x) && x !== a && x !== b) return x;
    return parentOf.get(a)?.id ?? chart.root.id;
  };
  for (const s of byId.values()) {
    if (s.type === 'compound' && s.initial) addEdge(s.id, `${s.id}#init`, s.initial, null);
    for (const t of s.transitions) for (const tg of t.targets) addEdge(s === chart.root ? `${s.id}#outer` : lca(s.id, tg), s.id, tg, transitionLabel(t));
  }

  const node = (s: ChartState): ElkNode => {
    const lines = internalLines(s);
    const n: ElkNode = { id: s.id };
    if (s.children.length) {
      const kids = s.children.map(node);
      if (s.type === 'compound' && s.initial) kids.unshift({ id: `${s.id}#init`, width: 14, height: 14 });
      n.children = kids;
      n.edges = edgesIn.get(s.id) ?? [];
      const extra = lines.length * 14;
      n.layoutOptions = {
        'elk.padding': `[top=${HEADER + 6 + extra},left=14,bottom=14,right=14]`,
        'elk.nodeSize.constraints': 'MINIMUM_SIZE',
        'elk.nodeSize.minimum': `(${Math.max(s.key.length * CW + 40, ...lines.map((l) => l.length * CW_SMALL + 28))},40)`,
        ...ORDER,
      };
      Object.assign(n.layoutOptions, LAYERED);
      // Regions: one column, in declaration order.
      if (s.type === 'parallel') Object.assign(n.layoutOptions, { 'elk.direction': 'RIGHT', 'elk.separateConnectedComponents': 'false', 'elk.layered.nodePlacement.strategy': 'SIMPLE' });
    } else {
      const w = Math.max(90, s.key.length * CW + 28, ...lines.map((l) => l.length * CW_SMALL + 20));
      n.width = Math.ceil(w);
      n.height = 34 + lines.length * 14;
    }
    return n;
  };
  const root = node(chart.root);
  const graph: ElkNode = {
    id: `${chart.root.id}#outer`,
    layoutOptions: {
      ...LAYERED,
      'elk.padding': '[top=44,left=16,bottom=16,right=16]',
      'elk.json.shapeCoords': 'ROOT',
      'elk.json.edgeCoords': 'ROOT',
      'elk.randomSeed': '1',
      ...ORDER,
    },
    children: [root],
    edges: edgesIn.get(`${chart.root.id}#outer`) ?? [],
  };
  return { graph, byId };
}

/** Lay out and draw one chart. Deterministic: same machine, same bytes. */
export async function toSvg(chart: Chart): Promise<string> {
  const { graph, byId } = elkGraph(chart);
  const ELK = await loadElk();
  const elk = new ELK();
  const g = await elk.layout(graph);
  const W = Math.ceil(g.width ?? 400), H = Math.ceil(g.height ?? 200);
  const out: string[] = [];
  out.push(`<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 ${W} ${H}" width="${W}" height="${H}" font-family="${FONT}" class="xennet-chart" data-kind="${esc(chart.kind)}">`);
  out.push('<defs><marker id="arrow-' + esc(chart.kind) + '" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="8" markerHeight="8" orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z" fill="#333"/></marker></defs>');
  out.push(`<rect x="0" y="0" width="${W}" height="${H}" fill="#fff"/>`);
  out.push(`<text x="16" y="22" font-size="15" font-weight="bold">${esc(chart.kind)}</text>`);
  out.push(`<text x="16" y="38" font-size="11" fill="#555">${esc(chart.description)}</text>`);

  const nodes: Drawn[] = [];
  const edges: ElkExtendedEdge[] = [];
  const walk = (n: ElkNode) => {
    const s = byId.get(n.id);
    if (s) nodes.push({ state: s, node: n });
    else if (n.id.endsWith('#init')) nodes.push({ state: { id: n.id, key: '', type: 'atomic', entry: [], exit: [], transitions: [], children: [] }, node: n });
    for (const e of n.edges ?? []) edges.push(e);
    for (const c of n.children ?? []) walk(c);
  };
  walk(g);

  // States, outermost first so children paint on top.
  for (const { state: s, node: n } of nodes) {
    const x = r1(n.x ?? 0), y = r1(n.y ?? 0), w = r1(n.width ?? 0), h = r1(n.height ?? 0);
    if (n.id.endsWith('#init')) {
      out.push(`<circle cx="${r1(x + w / 2)}" cy="${r1(y + h / 2)}" r="6" fill="#222"/>`);
      continue;
    }
    const isRegion = byId.get(s.id) && [...byId.values()].some((p) => p.type === 'parallel' && p.children.includes(s));
    const fill = s.children.length ? (isRegion ? '#fbfbfb' : '#f3f6fb') : '#eef4ff';
    const dash = isRegion ? ' stroke-dasharray="6 4"' : '';
    out.push(`<g class="state" data-id="${esc(s.id)}">`);
    out.push(`<rect x="${x}" y="${y}" width="${w}" height="${h}" rx="10" ry="10" fill="${fill}" stroke="#345"${dash} stroke-width="1.4"/>`);
    if (s.type === 'final') out.push(`<rect x="${r1(x + 4)}" y="${r1(y + 4)}" width="${r1(w - 8)}" height="${r1(h - 8)}" rx="7" ry="7" fill="none" stroke="#345" stroke-width="1.2"/>`);
    const lines = internalLines(s);
    if (s.children.length) {
      const tag = s.type === 'parallel' ? ' ‖ parallel' : '';
      out.push(`<text x="${r1(x + 12)}" y="${r1(y + 17)}" font-size="12" font-weight="bold">${esc(s.key)}<tspan font-weight="normal" fill="#777">${esc(tag)}</tspan></text>`);
      lines.forEach((l, i) => out.push(`<text x="${r1(x + 12)}" y="${r1(y + HEADER + 8 + i * 14)}" font-size="10" fill="#444">${esc(l)}</text>`));
    } else {
      out.push(`<text x="${r1(x + w / 2)}" y="${r1(y + 21)}" font-size="12" font-weight="bold" text-anchor="middle">${esc(s.key)}</text>`);
      if (lines.length) out.push(`<line x1="${r1(x + 6)}" y1="${r1(y + 29)}" x2="${r1(x + w - 6)}" y2="${r1(y + 29)}" stroke="#9ab"/>`);
      lines.forEach((l, i) => out.push(`<text x="${r1(x + 10)}" y="${r1(y + 42 + i * 14)}" font-size="10" fill="#333">${esc(l)}</text>`));
    }
    out.push('</g>');
  }

  // Transitions, on top of the boxes.
  for (const e of edges) {
    for (const sec of e.sections ?? []) {
      const pts = [sec.startPoint, ...(sec.bendPoints ?? []), sec.endPoint];
      const d = pts.map((p, i) => `${i ? 'L' : 'M'}${r1(p.x)},${r1(p.y)}`).join(' ');
      out.push(`<path d="${d}" fill="none" stroke="#333" stroke-width="1.2" marker-end="url(#arrow-${esc(chart.kind)})"/>`);
    }
    for (const l of e.labels ?? []) {
      const x = r1(l.x ?? 0), y = r1(l.y ?? 0);
      out.push(`<rect x="${x}" y="${y}" width="${r1(l.width ?? 0)}" height="${r1(l.height ?? 0)}" fill="#fff" fill-opacity="0.85"/>`);
      out.push(`<text x="${r1(x + 3)}" y="${r1(y + 11)}" font-size="10" fill="#123">${esc(l.text ?? '')}</text>`);
    }
  }
  out.push('</svg>');
  return out.join('\n') + '\n';
}
