/**
 * Validation errors of a YAML input, all at once: each zod issue with the file's line:column of
 * the value it is about, the field path, the message, and for an unknown key the nearest allowed
 * key ("did you mean"). One issue is one line; several are a header and one line each.
 */
import { readFileSync, statSync } from 'node:fs';
import { isMap, isSeq, LineCounter, parseDocument, type Document, type Node } from 'yaml';
import type { z } from 'zod';

/** A value given on the command line for a scenario field (`run.durationMs` from `--duration 0.5`), which an issue about it names. */
export interface Override { path: string; value: unknown; flag: string }

/** A parsed YAML file with what is needed to point at its lines. */
export interface YamlSource { doc: Document; lines: LineCounter }

/** Parse YAML text; syntax errors come back as messages with their line:column. */
export function parseYamlSource(text: string, where: string): { src: YamlSource; value: unknown } | { errors: string[] } {
  const lines = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lines, prettyErrors: false });
  if (doc.errors.length) {
    return { errors: doc.errors.map((e) => `${where}:${at(lines, e.pos[0])}: invalid YAML: ${e.message.split('\n')[0]}`) };
  }
  // The yaml library refuses an alias bomb (aliases expanding to millions of nodes) with a ReferenceError.
  try { return { src: { doc, lines }, value: doc.toJS({ maxAliasCount: 1000 }) }; } catch (e) {
    return { errors: [`${where}: invalid YAML: ${(e as Error).message.split('\n')[0]}`] };
  }
}

const at = (lines: LineCounter, offset: number) => { const p = lines.linePos(offset); return `${p.line}:${p.col}`; };

/** Where `path` is in the file: its node, or with `key` the key of that entry; else the nearest ancestor. */
function offsetOf(src: YamlSource, path: PropertyKey[], key?: string): number {
  let node: unknown = src.doc.contents;
  let offset = (node as Node | null)?.range?.[0] ?? 0;
  const steps = key === undefined ? path : [...path, key];
  for (let i = 0; i < steps.length; i++) {
    const k = steps[i];
    if (isMap(node)) {
      const pair = node.items.find((p) => String((p.key as { value?: unknown } | null)?.value ?? p.key) === String(k));
      if (!pair) break;
      const last = i === steps.length - 1 && key !== undefined;
      const target = (last ? pair.key : pair.value ?? pair.key) as Node | null;
      offset = target?.range?.[0] ?? offset;
      node = pair.value;
    } else if (isSeq(node) && typeof k === 'number' && node.items[k]) {
      node = node.items[k];
      offset = (node as Node).range?.[0] ?? offset;
    } else break;
  }
  return offset;
}

/** Levenshtein distance, case-insensitive. */
export function editDistance(a: string, b: string): number {
  a = a.toLowerCase(); b = b.toLowerCase();
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const cur = [i];
    for (let j = 1; j <= b.length; j++) cur[j] = Math.min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1));
    prev = cur;
  }
  return prev[b.length];
}

/** The allowed key closest to `word`, if it is close enough to be a typo. */
export function didYouMean(word: string, allowed: readonly string[]): string | undefined {
  let best: string | undefined;
  let bestD = Math.max(2, Math.floor(word.length / 3)) + 1;
  for (const a of allowed) { const d = editDistance(word, a); if (d < bestD) { best = a; bestD = d; } }
  return best;
}

type Def = { type: string; shape?: Record<string, z.ZodType>; innerType?: z.ZodType; element?: z.ZodType; in?: z.ZodType; keyType?: z.ZodType; entries?: Record<string, string> };
const defOf = (s: z.ZodType) => (s as unknown as { _zod: { def: Def } })._zod.def;

/** The keys a mapping at `path` may have (object fields, or an enum-keyed record's keys). */
export function allowedKeys(schema: z.ZodType, path: PropertyKey[]): string[] {
  let s: z.ZodType | undefined = schema;
  for (let i = 0; s; ) {
    const d = defOf(s);
    if (['default', 'prefault', 'optional', 'nullable', 'readonly'].includes(d.type)) s = d.innerType;
    else if (d.type === 'pipe') s = d.in;
    else if (i === path.length) {
      if (d.type === 'object') return Object.keys(d.shape!);
      if (d.type === 'record' && d.keyType && defOf(d.keyType).type === 'enum') return Object.values(defOf(d.keyType).entries!);
      return [];
    } else if (d.type === 'object') s = d.shape![String(path[i++])];
    else if (d.type === 'array') { s = d.element; i++; }
    else if (d.type === 'record') { s = undefined; }
    else return [];
  }
  return [];
}

export interface IssueContext { where: string; schema: z.ZodType; src?: YamlSource; overrides?: Override[] }

/** One line per problem, `file:line:col: message`, in file order. */
export function issueLines(issues: readonly z.core.$ZodIssue[], c: IssueContext): string[] {
  const out: Array<{ offset: number; text: string }> = [];
  const loc = (offset: number) => (c.src ? `${c.where}:${at(c.src.lines, offset)}` : c.where);
  for (const i of issues) {
    const path = i.path.join('.');
    if (i.code === 'unrecognized_keys') {
      const allowed = allowedKeys(c.schema, i.path);
      for (const k of i.keys) {
        const offset = c.src ? offsetOf(c.src, i.path, k) : 0;
        const hint = didYouMean(k, allowed);
        out.push({ offset, text: `${loc(offset)}: unknown field ${[...i.path, k].join('.')}${hint ? ` (did you mean ${hint}?)` : ''}` });
      }
      continue;
    }
    const o = c.overrides?.find((x) => x.path === path);
    const offset = c.src && !o ? offsetOf(c.src, i.path) : 0;
    const field = path ? `field ${path}` : 'field (top level)';
    out.push({ offset, text: `${o ? c.where : loc(offset)}: ${field}${o ? ` (set by ${o.flag})` : ''}: ${i.message}` });
  }
  return out.sort((a, b) => a.offset - b.offset).map((x) => x.text);
}

/** The error text: one line for one problem; otherwise a count, then one indented line each. */
export function formatIssues(issues: readonly z.core.$ZodIssue[], c: IssueContext): string {
  return joinProblems(c.where, issueLines(issues, c));
}

export function joinProblems(where: string, lines: string[]): string {
  return lines.length === 1 ? lines[0] : [`${where}: ${lines.length} problems`, ...lines.map((l) => `  ${l}`)].join('\n');
}

/** A user's mistake in a scenario or sweep file, or a flag: reported in one line, exit 2. */
export class ScenarioError extends Error {}

/** The largest scenario or sweep file read (the bundled ones are a few KiB). */
const MAX_YAML_BYTES = 1 << 20;

/** Read a YAML file; a missing file or a syntax error is a user mistake. */
export function readYamlFile(path: string, what = 'scenario file'): { value: unknown; src: YamlSource } {
  // A FIFO would block for ever and a device (/dev/zero) never ends: only regular files, of a sane size.
  let st;
  try { st = statSync(path); } catch { throw new ScenarioError(`${path}: cannot read ${what}: no such file`); }
  if (!st.isFile()) throw new ScenarioError(`${path}: cannot read ${what}: ${st.isDirectory() ? 'a directory' : 'not a regular file (a FIFO, socket or device)'}`);
  if (st.size > MAX_YAML_BYTES) throw new ScenarioError(`${path}: ${what} of ${st.size} bytes; at most ${MAX_YAML_BYTES}`);
  let text: string;
  try { text = readFileSync(path, 'utf8'); } catch { throw new ScenarioError(`${path}: cannot read ${what}`); }
  const r = parseYamlSource(text, path);
  if ('errors' in r) throw new ScenarioError(joinProblems(path, r.errors));
  return r;
}
