// Expression and statement builders for rule bodies, named after the nft
// syntax they stand for, so a rule reads close to `nft list ruleset` output.
import type { Expr } from './json';

export type AddressFamily = 4 | 6;

/** `ip saddr`, `ip6 daddr`, `tcp dport`, … */
export function payload(protocol: string, field: string): Expr {
  return { payload: { protocol, field } };
}

export function saddr(family: AddressFamily): Expr {
  return payload(family === 4 ? 'ip' : 'ip6', 'saddr');
}

export function daddr(family: AddressFamily): Expr {
  return payload(family === 4 ? 'ip' : 'ip6', 'daddr');
}

/** `meta l4proto`, `meta mark`, `meta iifname`, … */
export function meta(key: string): Expr {
  return { meta: { key } };
}

/** `ct state`, `ct status`, … */
export function ct(key: string): Expr {
  return { ct: { key } };
}

/** `fib daddr type` (e.g. == local): what the routing table says about an address. */
export function fib(flags: string[], result: 'type' | 'oif' | 'oifname'): Expr {
  return { fib: { flags, result } };
}

export function prefix(addr: string, len: number): Expr {
  return { prefix: { addr, len } };
}

export function match(left: Expr, op: '==' | '!=' | 'in', right: unknown): Expr {
  return { match: { op, left, right } };
}

/** `<key> vmap @<map>`: jump/goto/return decided per element. */
export function vmap(key: Expr, map: string): Expr {
  return { vmap: { key, data: `@${map}` } };
}

export function jump(target: string): Expr {
  return { jump: { target } };
}

export function ret(): Expr {
  return { return: null };
}

export function drop(): Expr {
  return { drop: null };
}

export function masquerade(): Expr {
  return { masquerade: null };
}

/** `dnat ip to <addr>:<port>`; in an inet table the family must be named. */
export function dnat(family: AddressFamily, addr: unknown, port?: unknown): Expr {
  const body: Record<string, unknown> = { family: family === 4 ? 'ip' : 'ip6', addr };
  if (port !== undefined) body.port = port;
  return { dnat: body };
}

/** `<key> map @<map>`: a value looked up by key, e.g. as a dnat target. */
export function mapLookup(key: Expr, map: string): Expr {
  return { map: { key, data: `@${map}` } };
}

/** `a . b`: a concatenated key, of expressions or (in set elements) values. */
export function concat(...parts: unknown[]): Expr {
  return { concat: parts };
}

/** A set or map element carrying a comment, e.g. the owner of a pod entry. */
export function commentedElement(val: unknown, comment: string): Expr {
  return { elem: { val, comment } };
}
