// JSON as Go's encoding/json writes it (Go 1.19, the toolchain Debian's libcni
// is built with), so that the files tscni writes are byte for byte the files
// libcni writes:
//  - objects that went through map[string]interface{} have their keys sorted
//    (byte order); structs keep their field order, which callers give by
//    building them with goStruct();
//  - <, > and & are escaped as \u003c \u003e \u0026, as are U+2028 and U+2029;
//    control characters other than \n \r \t as \u00XX;
//  - numbers are float64: the shortest round-trip form, exponent from 1e21 and
//    below 1e-6, which is also what JSON.stringify prints.

/** A struct: its fields in declaration order, already serialised. */
export class GoStruct {
  constructor(readonly fields: readonly (readonly [string, unknown])[]) {}
}

/** Builds a struct, leaving out `omitempty` fields whose value is undefined. */
export function goStruct(fields: readonly (readonly [string, unknown])[]): GoStruct {
  return new GoStruct(fields.filter(([, v]) => v !== undefined));
}

const byteOrder = (a: string, b: string) => Buffer.compare(Buffer.from(a), Buffer.from(b));

export function goString(s: string): string {
  let out = '"';
  for (const ch of s) {
    const c = ch.codePointAt(0)!;
    if (ch === '"') out += '\\"';
    else if (ch === '\\') out += '\\\\';
    else if (ch === '\n') out += '\\n';
    else if (ch === '\r') out += '\\r';
    else if (ch === '\t') out += '\\t';
    else if (c < 0x20 || ch === '<' || ch === '>' || ch === '&' || c === 0x2028 || c === 0x2029) {
      out += `\\u${c.toString(16).padStart(4, '0')}`;
    } else if (c >= 0xd800 && c <= 0xdfff) {
      out += '\\ufffd'; // a lone surrogate is invalid UTF-8 to Go
    } else out += ch;
  }
  return out + '"';
}

export interface MarshalOptions {
  /** json.MarshalIndent's indent; compact when empty */
  indent?: string;
  /**
   * true (default): plain objects are Go maps, keys sorted. false: plain
   * objects are Go structs whose fields were set in declaration order.
   */
  maps?: boolean;
}

/**
 * Go's json.Marshal, or json.MarshalIndent(v, "", indent), of a value decoded
 * from JSON, with GoStruct marking structs.
 */
export function goMarshal(v: unknown, opts: MarshalOptions = {}): string {
  return encode(v, opts.indent ?? '', '', opts.maps ?? true);
}

function encode(v: unknown, indent: string, prefix: string, maps: boolean): string {
  if (v === null || v === undefined) return 'null';
  if (typeof v === 'string') return goString(v);
  if (typeof v === 'number') {
    if (!Number.isFinite(v)) throw new Error(`json: unsupported value: ${v}`);
    return JSON.stringify(v);
  }
  if (typeof v === 'boolean') return String(v);
  if (Buffer.isBuffer(v)) return `"${v.toString('base64')}"`;
  const inner = prefix + indent;
  const nl = indent ? '\n' : '';
  const sep = indent ? ': ' : ':';
  if (Array.isArray(v)) {
    if (v.length === 0) return '[]';
    return `[${nl}${v.map((x) => inner + encode(x, indent, inner, maps)).join(`,${nl}`)}${nl}${prefix}]`;
  }
  let entries = v instanceof GoStruct ? v.fields : Object.entries(v as Record<string, unknown>);
  if (maps && !(v instanceof GoStruct)) entries = [...entries].sort(([a], [b]) => byteOrder(a, b));
  if (entries.length === 0) return '{}';
  const body = entries.map(([k, x]) => `${inner}${goString(k)}${sep}${encode(x, indent, inner, maps)}`).join(`,${nl}`);
  return `{${nl}${body}${nl}${prefix}}`;
}
