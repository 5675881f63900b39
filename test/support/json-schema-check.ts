/**
 * A JSON Schema checker for exactly the keywords `xennet schema` emits, so the tests can check
 * that editors using xennet.schema.json accept the bundled scenarios without a new dependency.
 * A keyword it does not know is an error, never silently ignored.
 */
type Schema = Record<string, unknown>;

const ANNOTATIONS = new Set(['$schema', '$id', 'title', 'description', 'default']);
const KNOWN = new Set([...ANNOTATIONS, 'type', 'properties', 'required', 'additionalProperties', 'propertyNames', 'items',
  'enum', 'const', 'anyOf', 'minimum', 'maximum', 'exclusiveMinimum', 'exclusiveMaximum', 'minLength',
  'pattern', 'minItems', 'maxItems']);

function typeOk(t: string, v: unknown): boolean {
  switch (t) {
    case 'object': return typeof v === 'object' && v !== null && !Array.isArray(v);
    case 'array': return Array.isArray(v);
    case 'string': return typeof v === 'string';
    case 'boolean': return typeof v === 'boolean';
    case 'number': return typeof v === 'number' && Number.isFinite(v);
    case 'integer': return Number.isInteger(v);
    default: throw new Error(`json-schema-check: unknown type ${t}`);
  }
}

/** The violations of `v` against `s`, as `path: problem` strings (empty when valid). */
export function jsonSchemaErrors(s: Schema, v: unknown, path = '$'): string[] {
  for (const k of Object.keys(s)) if (!KNOWN.has(k)) throw new Error(`json-schema-check: keyword ${k} at ${path} not supported`);
  if (s.anyOf) {
    const branches = (s.anyOf as Schema[]).map((b) => jsonSchemaErrors(b, v, path));
    if (!branches.some((e) => e.length === 0)) return [`${path}: matches none of anyOf (${branches.map((e) => e.join('; ')).join(' | ')})`];
  }
  if (s.type !== undefined && !typeOk(s.type as string, v)) return [`${path}: not ${s.type}`];
  const out: string[] = [];
  if (s.const !== undefined && v !== s.const) out.push(`${path}: not ${JSON.stringify(s.const)}`);
  if (s.enum && !(s.enum as unknown[]).includes(v)) out.push(`${path}: not one of ${JSON.stringify(s.enum)}`);
  if (typeof v === 'number') {
    if (s.minimum !== undefined && v < (s.minimum as number)) out.push(`${path}: below ${s.minimum}`);
    if (s.maximum !== undefined && v > (s.maximum as number)) out.push(`${path}: above ${s.maximum}`);
    if (s.exclusiveMinimum !== undefined && v <= (s.exclusiveMinimum as number)) out.push(`${path}: not above ${s.exclusiveMinimum}`);
    if (s.exclusiveMaximum !== undefined && v >= (s.exclusiveMaximum as number)) out.push(`${path}: not below ${s.exclusiveMaximum}`);
  }
  if (typeof v === 'string' && s.minLength !== undefined && v.length < (s.minLength as number)) out.push(`${path}: shorter than ${s.minLength}`);
  if (typeof v === 'string' && s.pattern !== undefined && !new RegExp(s.pattern as string, 'u').test(v)) out.push(`${path}: does not match ${s.pattern}`);
  if (Array.isArray(v) && s.minItems !== undefined && v.length < (s.minItems as number)) out.push(`${path}: fewer than ${s.minItems} items`);
  if (Array.isArray(v) && s.maxItems !== undefined && v.length > (s.maxItems as number)) out.push(`${path}: more than ${s.maxItems} items`);
  if (Array.isArray(v) && s.items) v.forEach((x, i) => out.push(...jsonSchemaErrors(s.items as Schema, x, `${path}[${i}]`)));
  if (typeof v === 'object' && v !== null && !Array.isArray(v)) {
    const o = v as Record<string, unknown>;
    const props = (s.properties ?? {}) as Record<string, Schema>;
    for (const r of (s.required ?? []) as string[]) if (!(r in o)) out.push(`${path}: missing ${r}`);
    for (const [k, x] of Object.entries(o)) {
      if (s.propertyNames) out.push(...jsonSchemaErrors(s.propertyNames as Schema, k, `${path}.${k} (name)`));
      if (k in props) out.push(...jsonSchemaErrors(props[k], x, `${path}.${k}`));
      else if (s.additionalProperties === false) out.push(`${path}: unknown ${k}`);
      else if (typeof s.additionalProperties === 'object') out.push(...jsonSchemaErrors(s.additionalProperties as Schema, x, `${path}.${k}`));
    }
  }
  return out;
}
