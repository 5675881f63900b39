/**
 * `xennet report`: one self-contained HTML page for one run. Everything is
 * inline (data, script, style, SVG); it opens from disk with no network.
 *
 *  - the state chart of every actor kind, with the states an actor is in at
 *    the chosen time highlighted,
 *  - a time slider (plus event stepping) and each actor's state at that time,
 *  - the message sequence around that time (a sequence diagram of the
 *    messages and hypervisor operations just before and after it),
 *  - plots (vega, inlined: zoom and pan with the mouse) of goodput, CPU, the
 *    cycle breakdown, ring occupancy, drops and notifications, with a cursor at
 *    that time and the lifecycle markers (a migration's pre-copy rounds,
 *    stop-and-copy and resume; attach, detach, destroy, crash, save, restore);
 *    xentop at that time,
 *  - the xenalyze-style per-domain summary and the run's usual report,
 *  - links to the run's files written beside the page: result JSON, cycle
 *    breakdown CSV, trace-event JSON (Perfetto) and pcapng.
 */
import { statSync } from 'node:fs';
import { join } from 'node:path';
import { PS_PER_MS } from '../actors/scheduler.js';
import type { Scenario } from '../scenario/schema.js';
import type { OnProgress, RunResult } from '../scenario/run.js';
import { formatRun } from '../results/format.js';
import { allCharts } from './charts.js';
import { leafPaths } from './chart-model.js';
import { toSvg } from './chart-svg.js';
import { topSamples, formatSummaries } from './top.js';
import { reportPlots, runMarks } from './report-plots.js';
import { vegaBrowserRuntime } from '../plot/vega.js';
import { fingerprintOf, makeResult, writeResult } from '../results/result.js';
import { versionInfo } from '../results/version.js';
import { checkWritable, writeText } from './files.js';
import { recordRun, runMeta, spoolPrefix, writeRecorded } from './inspect-run.js';
import { groupByHost, hostNamesOf } from './world.js';
import type { SwitchModel } from '../hardware/switch.js';

const esc = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');

export interface ReportFile { path: string; kind: 'html' | 'result-json' | 'runs-csv' | 'breakdown-csv' | 'trace' | 'pcapng'; bytes: number }
export interface ReportInfo { file: string; bytes: number; messages: number; stateChanges: number; files: ReportFile[] }

/** Messages (and state changes) the page holds at most: a long run's page covers its start; the trace has everything. */
export const PAGE_LIMIT = 200_000;
/** At most this many samples by default: the sampling period grows past 1 ms for runs longer than 2 s. */
export const DEFAULT_PAGE_SAMPLES = 2000;
export function defaultSampleMs(sc: Scenario): number {
  return Math.max(1, (sc.run.warmupMs + sc.run.durationMs) / DEFAULT_PAGE_SAMPLES);
}

/** The files written beside the page, linked from it. */
const DOWNLOADS = [
  { name: 'result.json', kind: 'result-json', what: 'result file, as `xennet run --out` writes it: versions, inputs, the resolved scenario and the run\'s result (JSON)' },
  { name: 'runs.csv', kind: 'runs-csv', what: 'the run\'s figures and counters, one column each (CSV, as `run --out`)' },
  { name: 'breakdown.csv', kind: 'breakdown-csv', what: 'cycles per packet by domain and cost category (CSV, as `run --out`)' },
  { name: 'trace.json', kind: 'trace', what: 'trace-event JSON (open in ui.perfetto.dev or chrome://tracing)' },
  { name: 'wire.pcapng', kind: 'pcapng', what: 'frames on the wires (pcapng, for Wireshark/tshark)' },
] as const;

/**
 * Write the page and the run's files into outDir. The result files are those `run --out` writes
 * (result.json, runs.csv, breakdown.csv: same schemas, with provenance); `inputs` says what was run.
 */
export async function writeReport(sc: Scenario, outDir: string, o: { sampleMs?: number; onProgress?: OnProgress; inputs?: Record<string, unknown>; pageLimit?: number } = {}): Promise<ReportInfo> {
  const limit = o.pageLimit ?? PAGE_LIMIT;
  const t0 = performance.now();
  const file = join(outDir, 'index.html');
  checkWritable(file); // fail on a bad path before the run
  const samplePs = Math.round((o.sampleMs ?? defaultSampleMs(sc)) * PS_PER_MS);
  const spool = spoolPrefix([file]);
  const { rec, result, log } = recordRun(sc, { samplePs: [samplePs], keepSamples: true, spool, what: outDir, onProgress: o.onProgress });
  const b = rec.b;

  // ---- data for the page, collected as the run's log is read back (at most `limit` entries of each kind)
  const actorIdx = new Map(rec.actors.map((a, i) => [a.name, i]));
  const kinds = allCharts();
  const rootOf = Object.fromEntries(kinds.map((c) => [c.kind, c.root.id]));
  const labels = new Map<string, string>();
  const label = (value: string) => { let l = labels.get(value); if (l === undefined) { l = leafPaths(JSON.parse(value)).join(' '); labels.set(value, l); } return l; };
  const states: Array<Array<[number, string]>> = rec.actors.map((a) => [[0, label(rec.initial.get(a.name) ?? '""')]]);
  const names: string[] = [];
  const nameIdx = new Map<string, number>();
  const intern = (s: string) => { let i = nameIdx.get(s); if (i === undefined) { i = names.length; names.push(s); nameIdx.set(s, i); } return i; };
  let stateChanges = 0, pageStates = 0, selfCount = 0, messages = 0;
  const msgs: unknown[][] = [];
  const { summaries: sums } = writeRecorded(rec, log, {
    trace: { file: join(outDir, 'trace.json'), meta: runMeta(sc, result) }, pcap: join(outDir, 'wire.pcapng'), spool,
    also: {
      state: (t, actor, value) => {
        stateChanges++;
        const i = actorIdx.get(actor);
        if (i === undefined) return;
        const list = states[i];
        const l = label(value);
        if (list[list.length - 1][1] === l) return;
        if (pageStates < limit) { list.push([t, l]); pageStates++; }
      },
    },
    onInteraction: (m) => {
      if (m.cat === 'self') { selfCount++; return; }
      messages++;
      if (msgs.length >= limit) return;
      msgs.push([
        m.t0, m.t1, actorIdx.get(m.from) ?? -1, m.to === null ? -1 : actorIdx.get(m.to) ?? -1, intern(m.name), intern(m.cat),
        (m.detail ?? '') + (m.n !== undefined && m.n > 1 ? ` x${m.n}` : '') + (m.bytes !== undefined ? ` ${m.bytes} B` : ''),
      ]);
    },
  });
  /** How far the page's messages and states go when a long run had more than it holds. */
  const cut = messages > msgs.length || pageStates >= limit
    ? `The page holds the first ${msgs.length} of ${messages} messages and operations and ${pageStates} state changes (to ${((msgs.length ? (msgs[msgs.length - 1][1] as number) : 0) / PS_PER_MS).toFixed(3)} ms); trace.json has all of them.`
    : '';
  const marks = runMarks(rec, result);
  const plots = await reportPlots(rec, result, marks);
  const top = topSamples(rec, samplePs);
  const chartSvgs: string[] = [];
  for (const c of kinds) chartSvgs.push(await toSvg(c));

  const data = {
    meta: runMeta(sc, result),
    warmPs: rec.warmPs, endPs: rec.endPs,
    actors: rec.actors.map((a) => ({ name: a.name, kind: a.kind })),
    rootOf, states, names, msgs, top,
    /** Where the toolstack acted (a migration's rounds, downtime and resume; the other lifecycle events), ms. */
    lifecycle: marks,
    plots: Object.fromEntries(plots.map((p) => [p.id, p.vega])),
  };
  const json = JSON.stringify(data).replace(/</g, '\\u003c');

  // A world: the page lists its actors host by host (collapsible groups), and has a section of hosts and switches.
  const hostNames = hostNamesOf(b) ?? [];
  const world = hostNames.length > 0;
  const option = (a: { name: string }) => `<option value="${actorIdx.get(a.name)}">${esc(a.name)}</option>`;
  const chartBlocks = kinds.map((c, i) => {
    const actors = rec.actors.filter((a) => a.kind === c.kind);
    if (!actors.length) return '';
    const opts = world
      ? groupByHost(actors, (a) => a.name, hostNames).map((g) => `<optgroup label="${esc(g.host ?? 'switches')}">${g.items.map(option).join('')}</optgroup>`).join('')
      : actors.map(option).join('');
    return `<div class="chart" data-kind="${esc(c.kind)}"><div class="chart-head"><b>${esc(c.kind)}</b> — highlight the states of <select class="chart-actor" data-kind="${esc(c.kind)}">${opts}</select></div>${chartSvgs[i]}</div>`;
  }).join('\n');
  const stateRow = (a: { name: string; kind: string }) => `<tr><td>${esc(a.name)}</td><td>${esc(a.kind)}</td><td class="st" id="state-${esc(a.name)}" data-actor="${actorIdx.get(a.name)}"></td><td class="since" id="since-${esc(a.name)}"></td></tr>`;
  const stateHead = '<table><thead><tr><th>actor</th><th>kind</th><th>state</th><th>since (µs)</th></tr></thead><tbody>';
  const stateTables = world
    ? groupByHost(rec.actors, (a) => a.name, hostNames).map((g, k) => `<details class="host" data-host="${esc(g.host ?? '')}"${k === 0 || g.host === null ? ' open' : ''}><summary>${esc(g.host ?? 'switches')} — ${g.items.length} actor${g.items.length === 1 ? '' : 's'}</summary>
${stateHead}
${g.items.map(stateRow).join('\n')}
</tbody></table></details>`).join('\n')
    : `${stateHead}
${rec.actors.map(stateRow).join('\n')}
</tbody></table>`;
  const sumRows = sums.map((s) => `<tr><td>${esc(s.name)}</td><td>${s.domid}</td><td>${s.cpu}</td><td>${s.runstate.running.pct.toFixed(1)}</td><td>${s.runstate.runnable.pct.toFixed(1)}</td><td>${s.runstate.blocked.pct.toFixed(1)}</td><td>${s.runs}</td><td>${s.avgRunUs}</td><td>${s.wakeups}</td><td>${s.preemptions}</td><td>${s.avgWaitUs}</td><td>${esc(Object.entries(s.ops).map(([k, v]) => `${k} ${v}`).join(', ') || '—')}</td></tr>`).join('\n');
  const cats = ['msg', 'wire', 'notify', 'irq', 'grant', 'copy', 'flip'];
  const catBoxes = cats.map((c) => `<label class="cat cat-${c}"><input type="checkbox" class="catbox" value="${c}" ${c === 'wire' ? '' : 'checked'}> ${c}</label>`).join(' ');
  const m = data.meta as Record<string, unknown>;
  const plotBlock = (p: (typeof plots)[number]) => `<div class="plot-box"><div class="vega-plot" id="${p.id}" data-plot="${p.id}" aria-label="${esc(p.title)}"></div><div class="muted">${esc(p.note)}</div></div>`;
  const worldBlock = world ? worldSection(result, hostNames, b.switches ?? [], plots.filter((p) => p.id === 'plot-switch').map(plotBlock).join('\n'),
    chartSvgs[kinds.findIndex((c) => c.kind === 'switch')] ?? '') : '';
  const plotBlocks = plots.filter((p) => !world || p.id !== 'plot-switch').map((p) => `<div class="plot-box"><div class="vega-plot" id="${p.id}" data-plot="${p.id}" aria-label="${esc(p.title)}"></div><div class="muted">${esc(p.note)}</div></div>`).join('\n');
  // The page opens with the key figures and a table of contents; plots come before the long charts.
  const lat = result.latency;
  const keyRows: Array<[string, string]> = [
    ['goodput', `${result.throughputMbps.toFixed(1)} Mb/s${result.paperMbps ? ` (paper ${result.paperMbps} Mb/s, ${result.errorPct! > 0 ? '+' : ''}${result.errorPct!.toFixed(1)}%)` : ''}`],
    world
      ? ['CPU', `${result.cpuUtilPct.total.toFixed(1)}% of all ${b.cpus.length} CPUs; by host ${Object.entries(result.perHost ?? {}).map(([h, v]) => `${h} ${v.cpuUtilPct.total.toFixed(1)}%`).join(', ')} (accounts under Hosts and switches)`]
      : ['CPU', `${result.cpuUtilPct.total.toFixed(1)}% (${Object.entries(result.cpuUtilPct.byAccount).map(([k, v]) => `${k} ${v.toFixed(1)}%`).join(', ')})`],
    ...(world && result.perFlow ? [['flows', `${Object.keys(result.perFlow.flows).length}, Jain's index ${result.perFlow.jainIndex.toFixed(4)}`] as [string, string]] : []),
    lat ? ['latency', `${lat.transactions} transactions, mean ${lat.meanUs.toFixed(1)} µs, p50 ${lat.p50Us.toFixed(1)}, p99 ${lat.p99Us.toFixed(1)}, p99.9 ${lat.p999Us.toFixed(1)} µs`]
      : ['cycles per packet', result.counters.goodputSegments ? String(result.cyclesPerPacket.total) : 'none (no segment of goodput in the window)'],
    ...(marks.length ? [['lifecycle', marks.map((k) => `${k.label} at ${k.fromMs.toFixed(3)}${k.toMs !== undefined ? `–${k.toMs.toFixed(3)}` : ''} ms`).join('; ')] as [string, string]] : []),
    ['drops', Object.entries(result.counters.drops).map(([k, v]) => `${k} ${v}`).join(', ') || 'none'],
    ['trace hash', `${result.traceHash} (${result.events} events)`],
  ];
  const toc = [...(world ? [['sec-world', 'Hosts and switches']] : []), ['sec-plots', 'Plots'], ['sec-files', 'Files of this run'], ['sec-states', 'Actor states'], ['sec-seq', 'Message sequence'], ['sec-charts', 'State charts'],
    ['sec-top', 'xentop'], ['sec-sum', 'Per-domain summary'], ['sec-run', 'Run report']];
  const summaryBlock = `<section id="sec-summary"><h2>Summary</h2>
<table><tbody>${keyRows.map(([k, v]) => `<tr><th>${esc(k)}</th><td>${esc(v)}</td></tr>`).join('')}</tbody></table>
<nav id="toc"><p class="muted">Contents: ${toc.map(([id, t]) => `<a href="#${id}">${esc(t)}</a>`).join(' · ')}</p></nav></section>`;
  const fileItems = DOWNLOADS.map((d) => `<li><a class="download" href="${d.name}" download>${d.name}</a> — ${esc(d.what)}</li>`).join('\n');
  // The vega runtime inline (no network); nothing in it may end the script element early.
  const runtime = vegaBrowserRuntime().replace(/<\/(script)/gi, '<\\/$1').replace(/<!--/g, '<\\!--');

  const html = `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>xennet report — ${esc(sc.name)}</title>
<style>
body { font-family: system-ui, sans-serif; margin: 0; color: #222; background: #fafafa; }
header { padding: 12px 20px; background: #233; color: #fff; }
header h1 { margin: 0 0 4px; font-size: 20px; }
header .sub { color: #cde; font-size: 13px; }
#controls { position: sticky; top: 0; z-index: 5; background: #fff; border-bottom: 1px solid #ccc; padding: 8px 20px; display: flex; gap: 10px; align-items: center; flex-wrap: wrap; }
#slider { flex: 1 1 400px; min-width: 300px; }
#time { font-family: monospace; font-size: 14px; min-width: 16em; }
main { padding: 0 20px 40px; }
section { background: #fff; border: 1px solid #ddd; border-radius: 6px; margin: 14px 0; padding: 10px 14px; }
h2 { font-size: 16px; margin: 4px 0 10px; }
table { border-collapse: collapse; font-size: 13px; }
td, th { border-bottom: 1px solid #eee; padding: 3px 8px; text-align: left; }
th { background: #f3f3f3; }
td.st { font-family: monospace; font-weight: bold; color: #036; }
td.since { font-family: monospace; color: #777; }
tr.changed td.st { background: #fff3c4; }
.grid { display: flex; flex-wrap: wrap; gap: 14px; align-items: flex-start; }
.chart { border: 1px solid #e2e2e2; border-radius: 4px; padding: 6px; overflow-x: auto; max-width: 100%; }
.chart-head { font-size: 13px; margin-bottom: 4px; }
g.state.active > rect:first-of-type { fill: #ffd75e; stroke: #b35c00; stroke-width: 2.5; }
g.state.active-parent > rect:first-of-type { stroke: #b35c00; stroke-width: 2.5; }
#seq { overflow-x: auto; }
#seq svg text { font-family: monospace; font-size: 11px; }
pre { font-size: 12px; overflow-x: auto; }
label.cat { font-size: 13px; margin-right: 6px; }
.muted { color: #777; font-size: 12px; }
.plot-box { margin: 8px 0 16px; }
.vega-plot { min-height: 200px; }
</style>
</head>
<body>
<header>
<h1>xennet — ${esc(sc.name)}</h1>
<div class="sub">${esc(`${sc.topology} ${sc.direction ?? sc.workload.kind}, seed ${sc.seed}, warm-up ${sc.run.warmupMs} ms + ${sc.run.durationMs} ms measured — goodput ${result.throughputMbps.toFixed(1)} Mb/s, CPU ${result.cpuUtilPct.total.toFixed(1)}%, trace hash ${result.traceHash}`)}</div>
</header>
<div id="controls">
<button id="prev" title="previous message">◀ event</button>
<input id="slider" type="range" min="0" max="${Math.round(rec.endPs / 1000)}" step="1" value="0" aria-label="virtual time in ns">
<button id="next" title="next message">event ▶</button>
<span id="time"></span>
<label>µs <input id="tinput" type="number" min="0" step="any" style="width:9em"></label>
</div>
<main>
${summaryBlock}
${worldBlock}
<section id="sec-plots"><h2>Plots</h2>
<p class="muted">Sampled every ${+(samplePs / PS_PER_MS).toPrecision(4)} ms of virtual time; the red line is the chosen time. Zoom with the mouse wheel, pan by dragging, double-click to reset.</p>
${plotBlocks}
</section>

<section id="sec-files"><h2>Files of this run</h2>
<ul>
${fileItems}
</ul></section>

<section id="sec-states"><h2>Actor states at the chosen time</h2>
${stateTables}</section>

<section id="sec-seq"><h2>Message sequence around the chosen time</h2>
<div>${catBoxes} <span class="muted">(${messages} messages and operations recorded, ${selfCount} self-messages such as CPU completions not shown)</span>${cut ? `<p class="muted">${esc(cut)}</p>` : ''}</div>
<div id="seq"></div></section>

<section id="sec-charts"><h2>State charts</h2>
<p class="muted">Highlighted: the states the selected actor is in at the chosen time.</p>
<div class="grid">
${chartBlocks}
</div></section>

<section id="sec-top"><h2>xentop at the chosen time</h2><div id="top"></div></section>

<section id="sec-sum"><h2>Per-domain summary (xenalyze-style, measured window)</h2>
<table><thead><tr><th>domain</th><th>domid</th><th>cpu</th><th>running %</th><th>runnable %</th><th>blocked %</th><th>runs</th><th>avg run µs</th><th>wakeups</th><th>preempted</th><th>avg wait µs</th><th>operations</th></tr></thead><tbody>
${sumRows}
</tbody></table>
<pre>${esc(formatSummaries(sums, rec))}</pre></section>

<section id="sec-run"><h2>Run report</h2><pre>${esc(formatRun(result))}</pre>
<p class="muted">${esc(`xennet ${String(m.scenario)} seed ${String(m.seed)}`)}</p></section>
</main>
<script type="application/json" id="data">${json}</script>
<script id="vega-runtime">
${runtime}
</script>
<script>
${PAGE_SCRIPT}
</script>
</body>
</html>
`;
  writeText(file, html);
  const files: ReportFile[] = [{ path: file, kind: 'html', bytes: Buffer.byteLength(html) }];
  const resultFile = makeResult({ xennet: versionInfo(), command: 'run', inputs: o.inputs ?? { scenario: sc.name }, fingerprint: fingerprintOf([sc]), total: 1 },
    [{ index: 0, id: sc.name, scenario: sc, result }], performance.now() - t0);
  writeResult(outDir, resultFile);
  for (const d of DOWNLOADS) {
    const path = join(outDir, d.name);
    files.push({ path, kind: d.kind, bytes: statSync(path).size });
  }
  return { file, bytes: Buffer.byteLength(html), messages, stateChanges, files };
}

/**
 * A world's hosts and switches: per host (a collapsible group) its CPU by account and the flows
 * with an end on it; per switch its ports over the window, its queue plot and its state chart.
 */
function worldSection(r: RunResult, hosts: readonly string[], switches: readonly SwitchModel[], switchPlot: string, switchChart: string): string {
  const pct = (v: number) => v.toFixed(1);
  const flows = Object.entries(r.perFlow?.flows ?? {});
  const hostBlocks = hosts.map((h, k) => {
    const cpu = r.perHost?.[h]?.cpuUtilPct;
    const mine = flows.filter(([, f]) => f.from.startsWith(`${h}/`) || f.to.startsWith(`${h}/`));
    const acct = cpu ? Object.entries(cpu.byAccount).map(([a, v]) => `<tr><td>${esc(a)}</td><td>${pct(v)}</td></tr>`).join('') : '';
    const flowRows = mine.map(([id, f]) => `<tr><td>${esc(id)}</td><td>${esc(`${f.from} → ${f.to}`)}</td><td>${esc(f.kind)}</td><td>${f.mbps.toFixed(1)}</td></tr>`).join('');
    return `<details class="host" data-host="${esc(h)}"${k === 0 ? ' open' : ''}><summary><b>${esc(h)}</b> — CPU ${cpu ? pct(cpu.total) : '?'}% of its CPUs, ${mine.length} flows</summary>
<div class="grid"><table><thead><tr><th>account</th><th>CPU %</th></tr></thead><tbody>${acct}</tbody></table>
<details><summary>its ${mine.length} flows</summary><table><thead><tr><th>flow</th><th>endpoints</th><th>kind</th><th>Mb/s</th></tr></thead><tbody>${flowRows}</tbody></table></details></div></details>`;
  }).join('\n');
  const switchBlocks = switches.map((sw) => {
    const rows = Object.entries(r.perSwitch?.[sw.name] ?? {}).map(([p, st]) => `<tr><td>${esc(`${sw.name}/${p}`)}</td><td>${esc(sw.ports[Number(p.slice(1))]?.link.actor ?? '')}</td><td>${st.framesIn}</td><td>${st.framesOut}</td><td>${st.drops}</td><td>${st.highWaterBytes}</td><td>${Math.round(st.meanQueueBytes)}</td></tr>`).join('');
    return `<div class="switch" data-switch="${esc(sw.name)}"><h3>${esc(sw.name)}</h3>
<table><thead><tr><th>port</th><th>cabled to</th><th>frames in</th><th>frames out</th><th>drops</th><th>queue max B</th><th>queue mean B</th></tr></thead><tbody>${rows}</tbody></table></div>`;
  }).join('\n');
  return `<section id="sec-world"><h2>Hosts and switches</h2>
<p class="muted">${hosts.length} hosts, ${switches.length} switches; measured window. CPU % is of each host's own CPUs.</p>
${hostBlocks}
${switches.length ? `${switchBlocks}
${switchPlot}
<div class="chart"><div class="chart-head"><b>switch</b> state chart (the switch actor's machine; its states at the chosen time are under State charts)</div>${switchChart}</div>` : ''}
</section>`;
}

/** The page's behaviour (plain browser JavaScript, no dependencies). */
const PAGE_SCRIPT = String.raw`
'use strict';
const D = JSON.parse(document.getElementById('data').textContent);
const slider = document.getElementById('slider');
const timeEl = document.getElementById('time');
const tinput = document.getElementById('tinput');
const SVGNS = 'http://www.w3.org/2000/svg';
const fmt = (ps) => (ps / 1e6).toFixed(3) + ' µs';
// Last index i with key(arr[i]) <= t, or -1.
function lastAtOrBefore(arr, t, key) {
  let lo = 0, hi = arr.length - 1, ans = -1;
  while (lo <= hi) { const mid = (lo + hi) >> 1; if (key(arr[mid]) <= t) { ans = mid; lo = mid + 1; } else hi = mid - 1; }
  return ans;
}
function stateAt(i, t) { const s = D.states[i]; const k = lastAtOrBefore(s, t, (x) => x[0]); return s[Math.max(0, k)]; }
let prevStates = [];
function updateStates(t) {
  D.actors.forEach((a, i) => {
    const [since, label] = stateAt(i, t);
    const td = document.getElementById('state-' + a.name);
    td.textContent = label;
    document.getElementById('since-' + a.name).textContent = (since / 1e6).toFixed(3);
    td.parentElement.classList.toggle('changed', prevStates[i] !== undefined && prevStates[i] !== label);
    prevStates[i] = label;
  });
}
function updateCharts(t) {
  for (const sel of document.querySelectorAll('select.chart-actor')) {
    const kind = sel.dataset.kind;
    const i = Number(sel.value);
    const root = D.rootOf[kind];
    const label = stateAt(i, t)[1];
    const leaves = new Set(), parents = new Set([root]);
    for (const leaf of label.split(' ').filter(Boolean)) {
      const parts = leaf.split('.');
      leaves.add(root + '.' + leaf);
      for (let k = 1; k < parts.length; k++) parents.add(root + '.' + parts.slice(0, k).join('.'));
    }
    const chart = sel.closest('.chart');
    for (const g of chart.querySelectorAll('g.state')) {
      g.classList.toggle('active', leaves.has(g.dataset.id));
      g.classList.toggle('active-parent', parents.has(g.dataset.id));
    }
  }
}
const CAT_COLOR = { msg: '#333', wire: '#1f77b4', notify: '#2ca02c', irq: '#d62728', grant: '#9467bd', copy: '#ff7f0e', flip: '#8c564b' };
function enabledCats() { return new Set([...document.querySelectorAll('.catbox')].filter((c) => c.checked).map((c) => c.value)); }
function updateSeq(t) {
  const cats = enabledCats();
  const shown = [];
  const at = lastAtOrBefore(D.msgs, t, (m) => m[1]);
  for (let i = at; i >= 0 && shown.length < 14; i--) if (cats.has(D.names[D.msgs[i][5]])) shown.unshift(D.msgs[i]);
  const before = shown.length;
  for (let i = at + 1; i < D.msgs.length && shown.length < before + 14; i++) if (cats.has(D.names[D.msgs[i][5]])) shown.push(D.msgs[i]);
  const box = document.getElementById('seq');
  box.textContent = '';
  if (!shown.length) { box.textContent = 'no messages of the selected kinds'; return; }
  const used = [...new Set(shown.flatMap((m) => [m[2], m[3]]).filter((x) => x >= 0))].sort((a, b) => a - b);
  const colX = new Map(used.map((a, k) => [a, 150 + k * 120]));
  const rowH = 22, top = 40;
  const W = 150 + used.length * 120 + 260, H = top + shown.length * rowH + 20;
  const svg = document.createElementNS(SVGNS, 'svg');
  svg.setAttribute('width', W); svg.setAttribute('height', H); svg.setAttribute('id', 'seq-svg');
  const el = (name, attrs, text) => { const e = document.createElementNS(SVGNS, name); for (const k in attrs) e.setAttribute(k, attrs[k]); if (text !== undefined) e.textContent = text; svg.appendChild(e); return e; };
  for (const [a, x] of colX) {
    el('text', { x, y: 16, 'text-anchor': 'middle', 'font-weight': 'bold' }, D.actors[a].name);
    el('line', { x1: x, x2: x, y1: 24, y2: H - 10, stroke: '#bbb', 'stroke-dasharray': '4 3' });
  }
  shown.forEach((m, k) => {
    const y = top + k * rowH;
    const [t0, t1, from, to, nameI, catI, detail] = m;
    const cat = D.names[catI], color = CAT_COLOR[cat] || '#333';
    const row = el('g', { class: 'seq-row' + (k === before ? ' at' : ''), 'data-t': t1 });
    const tx = document.createElementNS(SVGNS, 'text');
    tx.setAttribute('x', 6); tx.setAttribute('y', y + 4); tx.setAttribute('fill', k < before ? '#333' : '#999');
    tx.textContent = (t1 / 1e6).toFixed(3) + (t0 !== t1 ? ' (sent ' + (t0 / 1e6).toFixed(3) + ')' : '');
    row.appendChild(tx);
    const x0 = colX.get(from), x1 = to >= 0 ? colX.get(to) : x0;
    const line = document.createElementNS(SVGNS, x0 === x1 ? 'circle' : 'line');
    if (x0 === x1) { line.setAttribute('cx', x0); line.setAttribute('cy', y); line.setAttribute('r', 4); line.setAttribute('fill', color); }
    else { line.setAttribute('x1', x0); line.setAttribute('x2', x1); line.setAttribute('y1', y); line.setAttribute('y2', y); line.setAttribute('stroke', color); line.setAttribute('stroke-width', 1.6); line.setAttribute('marker-end', 'url(#seq-arrow)'); }
    row.appendChild(line);
    const lab = document.createElementNS(SVGNS, 'text');
    lab.setAttribute('x', Math.min(x0, x1) + (x0 === x1 ? 8 : 6)); lab.setAttribute('y', y - 4); lab.setAttribute('fill', color);
    lab.textContent = D.names[nameI] + (detail ? ' ' + detail : '');
    row.appendChild(lab);
  });
  const cutY = top + before * rowH - rowH / 2;
  el('line', { x1: 0, x2: W, y1: cutY, y2: cutY, stroke: '#c00', 'stroke-width': 1.2 });
  el('text', { x: 150 + used.length * 120, y: cutY - 3, fill: '#c00' }, 't = ' + fmt(t));
  const defs = document.createElementNS(SVGNS, 'defs');
  defs.innerHTML = '<marker id="seq-arrow" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" markerHeight="7" orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z" fill="context-stroke"/></marker>';
  svg.insertBefore(defs, svg.firstChild);
  box.appendChild(svg);
}
// The plots: vega views rendered to SVG; the time plots have a cursor signal (ms).
const VIEWS = [];
if (typeof vega !== 'undefined') {
  for (const el of document.querySelectorAll('.vega-plot')) {
    const view = new vega.View(vega.parse(D.plots[el.dataset.plot]), { renderer: 'svg', container: el, hover: true });
    VIEWS.push(view);
    view.runAsync().then(() => el.setAttribute('data-rendered', 'true'));
  }
}
function updateCursors(t) {
  for (const v of VIEWS) {
    try { v.signal('cursor'); } catch (e) { continue; } // plots without a time axis
    v.signal('cursor', t / 1e9).runAsync();
  }
}
function updateTop(t) {
  const box = document.getElementById('top');
  const k = lastAtOrBefore(D.top, t / 1e9, (s) => s.tMs);
  if (k < 0) { box.textContent = 'no sample yet (first sample at ' + (D.top.length ? D.top[0].tMs : 0) + ' ms)'; return; }
  const s = D.top[k];
  const head = ['NAME', 'STATE', 'CPU(sec)', 'CPU(%)', 'MEM(k)', 'NETS', 'NETTX(k)', 'NETRX(k)', 'TXRING', 'RXRING'];
  let h = '<div class="muted">sample at ' + s.tMs.toFixed(3) + ' ms (' + s.phase + '), CPU % over the preceding period</div><table><thead><tr>' + head.map((x) => '<th>' + x + '</th>').join('') + '</tr></thead><tbody>';
  for (const r of s.rows) h += '<tr><td>' + [r.name, r.state, r.cpuSec.toFixed(6), r.cpuPct.toFixed(1), r.memK || '-', r.nets, r.netTxK, r.netRxK, r.txRing == null ? '-' : r.txRing, r.rxRing == null ? '-' : r.rxRing].join('</td><td>') + '</td></tr>';
  box.innerHTML = h + '</tbody></table>';
}
function setTime(ps) {
  ps = Math.max(0, Math.min(D.endPs, ps));
  const ns = Math.round(ps / 1000);
  if (Number(slider.value) !== ns) slider.value = ns;
  timeEl.textContent = 't = ' + fmt(ps) + (ps <= D.warmPs ? ' (warm-up)' : ' (measuring)');
  tinput.value = (ps / 1e6).toFixed(3);
  updateStates(ps); updateCharts(ps); updateSeq(ps); updateCursors(ps); updateTop(ps);
  current = ps;
}
let current = 0;
slider.addEventListener('input', () => setTime(Number(slider.value) * 1000));
tinput.addEventListener('change', () => setTime(Math.round(Number(tinput.value) * 1e6)));
document.getElementById('next').addEventListener('click', () => {
  const i = lastAtOrBefore(D.msgs, current, (m) => m[1]) + 1;
  if (i < D.msgs.length) setTime(D.msgs[i][1]);
});
document.getElementById('prev').addEventListener('click', () => {
  const i = lastAtOrBefore(D.msgs, current - 1, (m) => m[1]);
  if (i >= 0) setTime(D.msgs[i][1]);
});
for (const s of document.querySelectorAll('select.chart-actor')) s.addEventListener('change', () => updateCharts(current));
for (const c of document.querySelectorAll('.catbox')) c.addEventListener('change', () => updateSeq(current));
setTime(0);
`;
