/** `xennet charts`: every actor kind's machine as Mermaid, SCXML, JSON and SVG. */
import { join } from 'node:path';
import { ACTOR_KINDS } from './machines.js';
import { chartOf, type Chart } from './chart-model.js';
import { toJson, toMermaid, toScxml } from './chart-export.js';
import { toSvg } from './chart-svg.js';
import { ensureDir, writeText } from './files.js';

export function allCharts(): Chart[] {
  return ACTOR_KINDS.map((k) => chartOf(k.kind, k.description, k.machine));
}

/** Write <kind>.mmd, .scxml, .json and .svg for every actor kind; returns the paths written. */
export async function writeCharts(dir: string): Promise<string[]> {
  ensureDir(dir);
  const files: string[] = [];
  for (const c of allCharts()) {
    const put = (ext: string, text: string) => { const f = join(dir, `${c.kind}.${ext}`); writeText(f, text); files.push(f); };
    put('mmd', toMermaid(c));
    put('scxml', toScxml(c));
    put('json', toJson(c));
    put('svg', await toSvg(c));
  }
  return files;
}
