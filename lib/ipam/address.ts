// IP addresses as (family, bigint) pairs, so range arithmetic is plain integer
// arithmetic for both families. Parsing and printing go through ip-address;
// the printed form must equal Go's net.IP.String(), because the reference
// host-local names its reservation files with it and we share its dataDir.
import { Address4, Address6 } from 'ip-address';

export type Family = 4 | 6;

export interface Ip {
  readonly family: Family;
  readonly value: bigint;
}

export interface Cidr {
  readonly ip: Ip;
  readonly prefix: number;
}

export function familyBits(family: Family): number {
  return family === 4 ? 32 : 128;
}

const V4_MAPPED_PREFIX = 0xffffn << 32n;
const V4_MASK = 0xffffffffn;

/**
 * Parses a bare address (no prefix, no zone). An IPv4-mapped IPv6 address
 * becomes IPv4, as Go's canonicalisation does, so both spellings name the same
 * reservation file.
 */
export function parseIp(text: string): Ip | undefined {
  if (text.includes('/') || text.includes('%')) return undefined;
  if (!text.includes(':')) {
    if (!Address4.isValid(text)) return undefined;
    return { family: 4, value: new Address4(text).bigInt() };
  }
  if (!Address6.isValid(text)) return undefined;
  const value = new Address6(text).bigInt();
  if (value >> 32n === V4_MAPPED_PREFIX >> 32n) return { family: 4, value: value & V4_MASK };
  return { family: 6, value };
}

/** Parses "addr/prefix"; the host bits are kept (callers decide whether they matter). */
export function parseCidr(text: string): Cidr | string {
  const slash = text.indexOf('/');
  if (slash < 0) return `"${text}" is not in CIDR notation (address/prefix)`;
  const ip = parseIp(text.slice(0, slash));
  if (!ip) return `"${text.slice(0, slash)}" is not an IP address`;
  const prefixText = text.slice(slash + 1);
  const prefix = Number(prefixText);
  if (!/^\d{1,3}$/.test(prefixText) || prefix > familyBits(ip.family)) {
    return `prefix length "${prefixText}" is out of range for IPv${ip.family} (0-${familyBits(ip.family)})`;
  }
  return { ip, prefix };
}

export function formatIp(ip: Ip): string {
  return ip.family === 4 ? Address4.fromBigInt(ip.value).correctForm() : Address6.fromBigInt(ip.value).correctForm();
}

export function formatCidr(c: Cidr): string {
  return `${formatIp(c.ip)}/${c.prefix}`;
}

export function ipEquals(a: Ip, b: Ip): boolean {
  return a.family === b.family && a.value === b.value;
}

export function withValue(ip: Ip, value: bigint): Ip {
  return { family: ip.family, value };
}

/** The network address and the last address (all host bits set) of a prefix. */
export function prefixBounds(c: Cidr): { first: bigint; last: bigint } {
  const hostBits = BigInt(familyBits(c.ip.family) - c.prefix);
  const hostMask = (1n << hostBits) - 1n;
  const first = c.ip.value & ~hostMask;
  return { first, last: first | hostMask };
}
