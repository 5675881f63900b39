/**
 * Draw src/'s import graph, folder to folder, as a Mermaid flowchart grouped by layer (from
 * dependency-cruiser's output), and write it into docs/architecture.md between the markers
 * `<!-- import-graph -->` and `<!-- /import-graph -->`. Run: `npm run graph`.
 */
const { execFileSync } = require('node:child_process');
const { readFileSync, writeFileSync } = require('node:fs');
const { join } = require('node:path');
const { LAYERS } = require('./layers.cjs');

const root = join(__dirname, '..');
const cruise = JSON.parse(execFileSync(join(root, 'node_modules/.bin/depcruise'),
  ['src', '--config', '.dependency-cruiser.cjs', '--output-type', 'json'], { cwd: root, maxBuffer: 64 << 20 }).toString());
const folderOf = (p) => (/^src\/([^/]+)\//.exec(p) ?? [])[1];
const edges = new Map();
for (const m of cruise.modules) {
  const from = folderOf(m.source);
  for (const d of m.dependencies) {
    const to = folderOf(d.resolved);
    if (!from || !to || from === to) continue;
    const k = `${from} --> ${to}`;
    edges.set(k, (edges.get(k) ?? 0) + 1);
  }
}
const lines = ['```mermaid', 'flowchart BT'];
for (const [name, folders] of LAYERS) {
  lines.push(`  subgraph ${name}`, ...folders.map((f) => `    ${f}`), '  end');
}
for (const k of [...edges.keys()].sort()) lines.push(`  ${k}`);
lines.push('```');
const doc = join(root, 'docs/architecture.md');
const text = readFileSync(doc, 'utf8');
const open = '<!-- import-graph -->', close = '<!-- /import-graph -->';
const a = text.indexOf(open), b = text.indexOf(close);
if (a < 0 || b < a) throw new Error(`docs/architecture.md: markers ${open} ... ${close} not found`);
writeFileSync(doc, `${text.slice(0, a + open.length)}\n${lines.join('\n')}\n${text.slice(b)}`);
console.log(`docs/architecture.md: ${edges.size} folder-to-folder imports`);
