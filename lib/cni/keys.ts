// Object keys matched the way Go's encoding/json matches them, because the
// JSON our plugins read is written by Go programs and for Go plugins. Go
// decodes a struct field from the key that names it exactly, or else from
// one that names it regardless of case: containerd's CRI plugin (go-cni)
// sends port mappings as {"HostPort": 8080, ...}, its structs having no JSON
// tags, and the reference plugins accept them, as they accept "IPMasq" for
// "ipMasq" in a conflist.
//
// Go's rules, reproduced here (each checked against Go's decoder):
//  - each key, in document order, goes to the field it names exactly, else
//    to the first field (in declaration order) it names without case;
//  - a later key for the same field decodes into what an earlier one left:
//    an object (struct or map) keeps the members the later one does not
//    name, an array's elements are decoded into the earlier ones index by
//    index, a scalar is replaced;
//  - a map's keys are data: kept as they are, its values replaced whole;
//  - keys that name no field are left as they are (a loose schema passes
//    them on, a strict one drops them, as Go ignores them).
// "Without case" is Unicode simple case folding as Go does it. Field names
// are ASCII, and the only non-ASCII characters that fold to an ASCII letter
// are the Kelvin sign (k) and the long s (s); lowercasing plus those two is
// therefore the same test. Duplicate keys of identical spelling never reach
// us: JSON.parse keeps the last.
//
// The plan for a schema (which keys fold to which field, where objects nest)
// is built once per schema object and kept, so that a plugin call spends a
// map lookup per key and nothing on schemas without objects.

import type * as z from 'zod/mini';

type Plan = StructPlan | MapPlan | ListPlan;
interface StructPlan {
  kind: 'struct';
  fields: Map<string, Plan | undefined>;
  /** folded key -> field name, first declared field first */
  folded: Map<string, string>;
}
interface MapPlan {
  kind: 'map';
  value: Plan;
}
interface ListPlan {
  kind: 'list';
  element: Plan;
}

type Json = Record<string, unknown>;

const LONG_S = /\u017f/g;

/** The key as Go compares it without case (for ASCII field names, see above). */
function foldKey(key: string): string {
  const lower = key.toLowerCase(); // also turns the Kelvin sign into "k"
  return lower.includes('\u017f') ? lower.replace(LONG_S, 's') : lower;
}

const plans = new WeakMap<object, Plan | null>();

/** The decoding plan of a zod schema; undefined where nothing inside is an object with named fields. */
function planOf(schema: z.ZodMiniType): Plan | undefined {
  const cached = plans.get(schema);
  if (cached !== undefined) return cached ?? undefined;
  const def = schema._zod.def as any;
  let plan: Plan | undefined;
  switch (def.type) {
    case 'object': {
      const struct: StructPlan = { kind: 'struct', fields: new Map(), folded: new Map() };
      plans.set(schema, struct); // before the fields: a schema may contain itself (z.lazy)
      for (const [name, field] of Object.entries(def.shape as Record<string, z.ZodMiniType>)) {
        struct.fields.set(name, planOf(field));
        const folded = foldKey(name);
        if (!struct.folded.has(folded)) struct.folded.set(folded, name);
      }
      return struct;
    }
    case 'optional':
    case 'nullable':
    case 'default':
    case 'prefault':
    case 'nonoptional':
    case 'readonly':
    case 'catch':
      plan = planOf(def.innerType);
      break;
    case 'pipe':
      plan = planOf(def.in);
      break;
    case 'lazy':
      plan = planOf(def.getter());
      break;
    case 'array': {
      const element = planOf(def.element);
      plan = element && { kind: 'list', element };
      break;
    }
    case 'record': {
      const value = planOf(def.valueType);
      plan = value && { kind: 'map', value };
      break;
    }
    case 'union': {
      // One option with fields (e.g. an object or null) decides; several would be ambiguous and none of ours has them.
      const withFields = (def.options as z.ZodMiniType[]).map(planOf).filter((p): p is Plan => p !== undefined);
      plan = withFields.length === 1 ? withFields[0] : undefined;
      break;
    }
  }
  plans.set(schema, plan ?? null);
  return plan;
}

const isObject = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);

/**
 * out[key] = value as an own property, also for "__proto__": JSON.parse makes
 * that an ordinary key, and assigning it would set the object's prototype,
 * whose members a schema would then read as the config's.
 */
function put(out: Json, key: string, value: unknown): void {
  if (key === '__proto__') Object.defineProperty(out, key, { value, enumerable: true, writable: true, configurable: true });
  else out[key] = value;
}

/** `value` decoded into `into` (what earlier keys for the same field left), as Go would. */
function decodeInto(into: unknown, value: unknown, plan: Plan | undefined): unknown {
  if (!plan) return value;
  if (plan.kind === 'list') {
    if (!Array.isArray(value)) return value;
    const before = Array.isArray(into) ? into : [];
    return value.map((v, i) => decodeInto(i < before.length ? before[i] : undefined, v, plan.element));
  }
  if (!isObject(value)) return value;
  const out: Json = isObject(into) ? into : {};
  if (plan.kind === 'map') {
    for (const key of Object.keys(value)) put(out, key, decodeInto(undefined, value[key], plan.value));
    return out;
  }
  for (const key of Object.keys(value)) {
    const field = plan.fields.has(key) ? key : plan.folded.get(foldKey(key));
    if (field === undefined) put(out, key, value[key]);
    else out[field] = decodeInto(out[field], value[key], plan.fields.get(field));
  }
  return out;
}

/**
 * `input` with its keys renamed to the fields of `schema` they match as Go
 * matches them; a new object (the input is left as it is). Values that are
 * not of the schema's shape stay as they are, for the schema to refuse.
 */
export function matchKeys(schema: z.ZodMiniType, input: unknown): unknown {
  return decodeInto(undefined, input, planOf(schema));
}

/**
 * The one field `name` of a JSON object, as Go decodes it into a struct that
 * has only that field: the last key that matches it.
 */
export function fieldOf(obj: Json, name: string): unknown {
  const folded = foldKey(name);
  let value: unknown;
  for (const key of Object.keys(obj)) if (foldKey(key) === folded) value = obj[key];
  return value;
}
