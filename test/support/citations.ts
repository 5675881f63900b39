/**
 * Citations of docs/protocol.md in the repository, in the forms the code uses:
 *   - `(2.10, XSA-39)`, `(1.7)`, `(4.3, 4.4)`, `(3.5 step 2)`, `(2.8-2.9)`: a parenthesis opening on a
 *     section number (a comma or dash list; `step K` names a numbered step of that section);
 *   - `// 3.4: ...`, `// 3.5 steal_page: ...`: a comment opening on a section number and a colon;
 *   - `section 1.5`, `section 0`;
 *   - `protocol.md 2.1, 2.2, 2.5` (a list after the document's name);
 *   - `H1`-`H26`, `I1`-`I12`: hostile behaviours and invariants.
 * Only comments and string literals of TypeScript files are read (numbers in code are not
 * citations); Markdown and YAML are read whole, JSON by its string values.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import ts from 'typescript';

export interface Citation {
  /** A section ("2.10", "0"), a step ("2.9 step 4"), a behaviour ("H12") or an invariant ("I4"). */
  ref: string;
  file: string;
  line: number;
}

export interface ProtocolDoc {
  sections: Set<string>;
  /** Numbered steps ("1.", "2.", ...) listed at the start of a line inside each section. */
  steps: Map<string, Set<number>>;
  /** `#### H12. ...` and `#### I4. ...` headings. */
  entries: Set<string>;
  /** The text under each H/I heading, up to the next heading. */
  entryText: Map<string, string>;
}

const SEC = String.raw`\d(?:\.\d{1,2})?`;
const SEC_DOTTED = String.raw`\d\.\d{1,2}`;
const STEP = String.raw`(?:\s+step\s+\d+)?`;
const LIST_AFTER_DOC = new RegExp(String.raw`protocol\.md\`?\s+(${SEC}${STEP}(?:\s*(?:,|-|and)\s*${SEC}${STEP})*)`, 'g');
const PAREN_LIST = new RegExp(String.raw`\((${SEC_DOTTED}${STEP}(?:\s*[,-]\s*${SEC_DOTTED}${STEP})*)(?=\s*[,;:)/])`, 'g');
const SECTION_WORD = new RegExp(String.raw`\bsection\s+(${SEC})\b`, 'gi');
const COMMENT_HEAD = new RegExp(String.raw`^(?:\/\/|\/\*\*?)\s*(${SEC_DOTTED})(?:\s+\w+)?:`);
const ENTRY = /\b([HI][1-9]\d?)\b/g;

/** "2.8-2.9", "4.3, 4.4", "2.9 step 4": the references in one matched list. */
function refsOf(list: string): string[] {
  return [...list.matchAll(new RegExp(String.raw`(${SEC})(?:\s+step\s+(\d+))?`, 'g'))].map((m) => (m[2] ? `${m[1]} step ${m[2]}` : m[1]));
}

/** Citations in one piece of prose (a comment, a string, a Markdown file) starting at `line`. */
export function citationsIn(text: string, file: string, line: number, comment = false): Citation[] {
  // A comment's continuation lines (` * `, `// `) are whitespace for the lists.
  const flat = text.replace(/\n\s*(?:\*(?!\/)|\/\/)?/g, (m) => ' '.repeat(m.length));
  const lineAt = (i: number) => line + (text.slice(0, i).match(/\n/g)?.length ?? 0);
  const out: Citation[] = [];
  const add = (ref: string, at: number) => out.push({ ref, file, line: lineAt(at) });
  for (const re of [LIST_AFTER_DOC, PAREN_LIST, SECTION_WORD]) for (const m of flat.matchAll(re)) for (const r of refsOf(m[1])) add(r, m.index!);
  if (comment) { const m = COMMENT_HEAD.exec(flat); if (m) add(m[1], 0); }
  for (const m of flat.matchAll(ENTRY)) add(m[1], m.index!);
  return out;
}

/**
 * Comments and string literals of a TypeScript file, each with its line. The parser finds the
 * literals (strings, template parts, regular expressions); with those blanked out, every `//` or
 * `/*` left in the text starts a comment.
 */
export function proseOfTs(text: string, file: string): Array<{ text: string; line: number; comment: boolean }> {
  const sf = ts.createSourceFile(file, text, ts.ScriptTarget.Latest, false, ts.ScriptKind.TS);
  const out: Array<{ text: string; line: number; comment: boolean }> = [];
  const lineOf = (pos: number) => sf.getLineAndCharacterOfPosition(pos).line + 1;
  const blank = text.split('');
  const visit = (n: ts.Node): void => {
    const literal = ts.isStringLiteral(n) || ts.isNoSubstitutionTemplateLiteral(n) || ts.isRegularExpressionLiteral(n);
    const parts = ts.isTemplateExpression(n) ? [n.head, ...n.templateSpans.map((t) => t.literal)] : literal ? [n] : [];
    for (const p of parts) {
      const start = p.getStart(sf);
      if (!ts.isRegularExpressionLiteral(p)) out.push({ text: (p as ts.LiteralLikeNode).text, line: lineOf(start), comment: false });
      for (let i = start; i < p.end; i++) if (blank[i] !== '\n') blank[i] = ' ';
    }
    ts.forEachChild(n, visit);
  };
  visit(sf);
  for (const m of blank.join('').matchAll(/\/\/[^\n]*|\/\*[\s\S]*?\*\//g)) out.push({ text: m[0], line: lineOf(m.index!), comment: true });
  return out;
}

function strings(v: unknown, out: string[]): string[] {
  if (typeof v === 'string') out.push(v);
  else if (Array.isArray(v)) for (const x of v) strings(x, out);
  else if (v && typeof v === 'object') for (const x of Object.values(v)) strings(x, out);
  return out;
}

/** Files under `paths` (files or folders) ending in one of `exts`. */
export function filesUnder(root: string, paths: string[], exts: string[]): string[] {
  const out: string[] = [];
  const walk = (p: string): void => {
    if (statSync(p).isDirectory()) { for (const e of readdirSync(p).sort()) walk(join(p, e)); return; }
    if (exts.some((x) => p.endsWith(x))) out.push(p);
  };
  for (const p of paths) walk(join(root, p));
  return out.map((f) => relative(root, f));
}

/** Every citation in `files` (relative to `root`). */
export function citations(root: string, files: string[]): Citation[] {
  const out: Citation[] = [];
  for (const f of files) {
    const text = readFileSync(join(root, f), 'utf8');
    if (f.endsWith('.ts')) for (const p of proseOfTs(text, f)) out.push(...citationsIn(p.text, f, p.line, p.comment));
    else if (f.endsWith('.json')) {
      for (const s of strings(JSON.parse(text), [])) {
        const at = text.indexOf(JSON.stringify(s));
        out.push(...citationsIn(s, f, at < 0 ? 0 : text.slice(0, at).split('\n').length));
      }
    }
    else out.push(...citationsIn(text, f, 1));
  }
  return out;
}

/** The headings, numbered steps and catalogue entries of docs/protocol.md. */
export function parseProtocolDoc(text: string): ProtocolDoc {
  const doc: ProtocolDoc = { sections: new Set(), steps: new Map(), entries: new Set(), entryText: new Map() };
  let section: string | null = null, entry: string | null = null;
  for (const line of text.split('\n')) {
    const h = /^#{2,4} (\d+(?:\.\d+)?)\.? /.exec(line);
    const e = /^#{3,5} ([HI][1-9]\d?)\. /.exec(line);
    if (h) { section = h[1]; entry = null; doc.sections.add(section); doc.steps.set(section, new Set()); continue; }
    if (e) { entry = e[1]; doc.entries.add(entry); doc.entryText.set(entry, ''); continue; }
    if (/^#/.test(line)) { entry = null; continue; }
    const s = /^(\d+)\. /.exec(line);
    if (s && section) doc.steps.get(section)!.add(Number(s[1]));
    if (entry) doc.entryText.set(entry, doc.entryText.get(entry) + line + '\n');
  }
  return doc;
}

/** Does `ref` name a heading (or a numbered step of one) in the document? */
export function resolves(doc: ProtocolDoc, ref: string): boolean {
  const step = /^(.+) step (\d+)$/.exec(ref);
  if (step) return doc.steps.get(step[1])?.has(Number(step[2])) ?? false;
  return /^[HI]/.test(ref) ? doc.entries.has(ref) : doc.sections.has(ref);
}
