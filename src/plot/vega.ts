/**
 * The one plotting stack: vega-lite specs, compiled to vega in Node. Static plots are rendered
 * headless to SVG here; interactive ones (zoom/pan) ship the compiled vega spec to a page that
 * renders it with the vega runtime (inlined by the report, no network).
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import type * as vl from 'vega-lite';
import { ensureDir, writeText } from '../inspect/files.js';

export const VL_SCHEMA = 'https://vega.github.io/schema/vega-lite/v6.json';

/** vega-lite -> vega. Loaded on first use: only plotting commands need vega-lite, and it takes a while to load. */
export async function compile(spec: vl.TopLevelSpec): Promise<object> {
  const vegaLite = await import('vega-lite');
  return vegaLite.compile(spec).spec;
}

/** A vega-lite spec rendered headless to an SVG document. */
export async function renderSvg(spec: vl.TopLevelSpec): Promise<string> {
  const [vega, vegaSpec] = await Promise.all([import('vega'), compile(spec)]);
  const view = new vega.View(vega.parse(vegaSpec as never), { renderer: 'none' });
  const svg = await view.toSVG();
  view.finalize();
  return svg;
}

/** The vega runtime for a browser (UMD build, defines `vega`), to inline in a page. */
export function vegaBrowserRuntime(): string {
  const require = createRequire(import.meta.url);
  // The package exports only its module entry and the schema; the browser build sits beside the schema.
  return readFileSync(join(dirname(require.resolve('vega/vega-schema.json')), 'vega.min.js'), 'utf8');
}

/** Zoom and pan on both axes' scales (mouse wheel, drag; double-click resets). */
export const ZOOM_PAN = { name: 'zoom', select: 'interval', bind: 'scales' } as const;

/** Render each spec to DIR/NAME.svg and keep the spec beside it (NAME.vl.json, to restyle or re-render); returns the SVG paths. */
export async function writeSvgs(dir: string, files: Array<[string, vl.TopLevelSpec]>): Promise<string[]> {
  ensureDir(dir);
  const out: string[] = [];
  for (const [name, spec] of files) {
    const path = join(dir, name);
    writeText(path, await renderSvg(spec));
    writeText(path.replace(/\.svg$/, '.vl.json'), JSON.stringify(spec, null, 2));
    out.push(path);
  }
  return out;
}
