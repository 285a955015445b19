// nftables JSON commands (libnftables-json(5)) as plain data, so a whole
// change can be built, unit-tested and then applied in one `nft -j -f -` call.

export type Family = 'ip' | 'ip6' | 'inet' | 'bridge';

export interface TableRef {
  family: Family;
  name: string;
}

/** tscni's own table: both address families, never shared with other tools. */
export const TSCNI_TABLE: TableRef = { family: 'inet', name: 'tscni' };

export type Expr = Record<string, unknown>;
/** One command of a batch: {"add": {"table": …}} and so on. */
export type NftCommand = Partial<Record<'add' | 'create' | 'delete' | 'flush', Record<string, unknown>>>;

export interface BaseChain {
  type: 'filter' | 'nat' | 'route';
  hook: 'prerouting' | 'input' | 'forward' | 'output' | 'postrouting';
  prio: number;
  policy?: 'accept' | 'drop';
}

/** Priorities of the NAT hooks, as `nft` names them dstnat and srcnat. */
export const PRIORITY = { dstnat: -100, srcnat: 100 } as const;

export function addTable(t: TableRef): NftCommand {
  return { add: { table: { family: t.family, name: t.name } } };
}

export function addChain(t: TableRef, name: string, base?: BaseChain): NftCommand {
  const chain: Record<string, unknown> = { family: t.family, table: t.name, name };
  if (base) Object.assign(chain, { type: base.type, hook: base.hook, prio: base.prio, policy: base.policy ?? 'accept' });
  return { add: { chain } };
}

export function flushChain(t: TableRef, name: string): NftCommand {
  return { flush: { chain: { family: t.family, table: t.name, name } } };
}

/**
 * Rules cannot be added "if missing", so a chain whose rules are fixed is
 * written as add + flush + rules in one transaction: idempotent, and no packet
 * ever sees it half-built.
 */
export function defineChain(t: TableRef, name: string, rules: Expr[][], base?: BaseChain): NftCommand[] {
  return [addChain(t, name, base), flushChain(t, name), ...rules.map((expr) => addRule(t, name, expr))];
}

export function addRule(t: TableRef, chain: string, expr: Expr[], comment?: string): NftCommand {
  const rule: Record<string, unknown> = { family: t.family, table: t.name, chain, expr };
  if (comment !== undefined) rule.comment = comment;
  return { add: { rule } };
}

export interface SetSpec {
  name: string;
  /** key type, e.g. "ipv4_addr", or several for a concatenation */
  type: string | string[];
  /** present for a map: the data type, e.g. "verdict", "ipv4_addr" */
  map?: string;
  flags?: ('interval' | 'constant' | 'timeout')[];
}

export function addSet(t: TableRef, spec: SetSpec): NftCommand {
  const body: Record<string, unknown> = { family: t.family, table: t.name, name: spec.name, type: spec.type };
  if (spec.map !== undefined) body.map = spec.map;
  if (spec.flags) body.flags = spec.flags;
  return { add: { [spec.map !== undefined ? 'map' : 'set']: body } };
}

/** A set element is a key; a map element is [key, data]. */
export type Element = unknown;

export function addElements(t: TableRef, set: string, elem: Element[]): NftCommand {
  return { add: { element: { family: t.family, table: t.name, name: set, elem } } };
}

/**
 * Like add, but an element whose key exists already fails the whole batch
 * (EEXIST) even when its data is the same: how a claim on a key is made.
 */
export function createElements(t: TableRef, set: string, elem: Element[]): NftCommand {
  return { create: { element: { family: t.family, table: t.name, name: set, elem } } };
}

export function deleteElements(t: TableRef, set: string, elem: Element[]): NftCommand {
  return { delete: { element: { family: t.family, table: t.name, name: set, elem } } };
}

/**
 * Deleting a missing element fails the whole transaction; adding it first
 * makes the delete succeed either way. Map elements need their data for the
 * add, so pass the full [key, data] pairs for maps.
 */
export function deleteElementsIfPresent(t: TableRef, set: string, elem: Element[]): NftCommand[] {
  const keys = elem.map(elementKey);
  return [addElements(t, set, elem), deleteElements(t, set, keys)];
}

/** The bare key of an element: without map data and without its comment wrapper. */
export function elementKey(e: Element): unknown {
  const key = Array.isArray(e) ? e[0] : e;
  if (key !== null && typeof key === 'object' && 'elem' in key) return (key as { elem: { val: unknown } }).elem.val;
  return key;
}

/**
 * Adds elements and replaces any existing element with the same key, so the
 * new comment (the owner) wins: plain "add" would keep the old one.
 */
export function replaceElements(t: TableRef, set: string, elem: Element[]): NftCommand[] {
  return [...deleteElementsIfPresent(t, set, elem), addElements(t, set, elem)];
}
