/**
 * A small XML well-formedness check (elements nest and close, attributes are quoted and unique,
 * `&` starts an entity), enough to catch a broken SVG without a browser. Returns the problems found.
 */
export function xmlProblems(src: string): string[] {
  const out: string[] = [];
  const stack: string[] = [];
  let roots = 0;
  const checkText = (text: string, at: number) => {
    for (const m of text.matchAll(/&([^;\s&<]*)(;?)/g)) {
      if (!m[2] || !/^(amp|lt|gt|quot|apos|#\d+|#x[0-9a-fA-F]+)$/.test(m[1])) out.push(`bad entity &${m[1]} at ${at + m.index!}`);
    }
  };
  let i = 0;
  while (i < src.length) {
    const lt = src.indexOf('<', i);
    if (lt < 0) { checkText(src.slice(i), i); break; }
    checkText(src.slice(i, lt), i);
    if (src.startsWith('<!--', lt)) { i = src.indexOf('-->', lt) + 3; if (i < 3) { out.push('unclosed comment'); break; } continue; }
    if (src.startsWith('<![CDATA[', lt)) { i = src.indexOf(']]>', lt) + 3; if (i < 3) { out.push('unclosed CDATA'); break; } continue; }
    if (src.startsWith('<?', lt) || src.startsWith('<!', lt)) { i = src.indexOf('>', lt) + 1; continue; }
    const m = /^<(\/?)([A-Za-z_][\w:.-]*)((?:\s+[\w:.-]+\s*=\s*(?:"[^"<]*"|'[^'<]*'))*)\s*(\/?)>/.exec(src.slice(lt));
    if (!m) { out.push(`malformed tag at ${lt}: ${src.slice(lt, lt + 40)}`); break; }
    const [all, close, name, attrs, selfClose] = m;
    if (close) {
      const open = stack.pop();
      if (open !== name) out.push(`</${name}> at ${lt} closes <${open ?? 'nothing'}>`);
    } else {
      if (!stack.length) roots++;
      const names = [...attrs.matchAll(/([\w:.-]+)\s*=/g)].map((a) => a[1]);
      if (new Set(names).size !== names.length) out.push(`repeated attribute in <${name}> at ${lt}`);
      for (const a of attrs.matchAll(/=\s*(?:"([^"]*)"|'([^']*)')/g)) checkText(a[1] ?? a[2], lt);
      if (!selfClose) stack.push(name);
    }
    i = lt + all.length;
  }
  if (stack.length) out.push(`unclosed <${stack.join('> <')}>`);
  if (roots !== 1) out.push(`${roots} root elements`);
  return out;
}
