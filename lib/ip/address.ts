// The one address module every part of tscni uses: parsing, printing,
// prefix arithmetic and the kernel's byte form, for IP and MAC addresses.
// Addresses are (family, bigint) pairs, so range arithmetic is plain integer
// arithmetic for both families. parseIp/parseCidr answer undefined or the
// problem, for validators; toMacBytes takes text that has been validated and
// throws. The netlink attribute form (AF_* family and bytes) is
// lib/netlink/address-bytes.ts, on top of ipToBytes.
//
// It follows Go's net package, because the reference plugins do and we share
// their files and their answers: dotted quads without leading zeros, no zone
// index, an IPv4-mapped IPv6 address is IPv4 (as net.IP.To4 has it), and the
// printed form equals net.IP.String() — host-local names its reservation files
// with it. Hand-written rather than ip-address or node:net: it sits on every
// plugin's start-up path, where ip-address cost ~5 ms of compile time per call
// and node:net pulls in the socket and stream modules.

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

const OCTET = '(25[0-5]|2[0-4]\\d|1\\d\\d|[1-9]?\\d)';
const V4_RE = new RegExp(`^${OCTET}(\\.${OCTET}){3}$`);
const HEXTET_RE = /^[0-9a-fA-F]{1,4}$/;
const V4_MAPPED = 0xffffn;
const V4_MASK = 0xffffffffn;

function parseV4(text: string): bigint | undefined {
  if (!V4_RE.test(text)) return undefined;
  return text.split('.').reduce((acc, octet) => (acc << 8n) | BigInt(octet), 0n);
}

function parseV6(text: string): bigint | undefined {
  let hex = text;
  const lastColon = text.lastIndexOf(':');
  if (text.includes('.', lastColon)) {
    // an embedded IPv4 tail ("::ffff:10.0.0.1") stands for the last two groups
    const v4 = parseV4(text.slice(lastColon + 1));
    if (v4 === undefined) return undefined;
    hex = `${text.slice(0, lastColon + 1)}${(v4 >> 16n).toString(16)}:${(v4 & 0xffffn).toString(16)}`;
  }
  const halves = hex.split('::');
  if (halves.length > 2) return undefined;
  const [head, tail] = halves.map((h) => (h === '' ? [] : h.split(':')));
  const groups = [...head!, ...(tail ?? [])];
  if (!groups.every((g) => HEXTET_RE.test(g))) return undefined;
  // "::" stands for at least one zero group
  if (tail === undefined ? groups.length !== 8 : groups.length > 7) return undefined;
  const all = tail === undefined ? groups : [...head!, ...Array<string>(8 - groups.length).fill('0'), ...tail];
  return all.reduce((acc, g) => (acc << 16n) | BigInt(parseInt(g, 16)), 0n);
}

/** An IPv4-mapped IPv6 value becomes IPv4, so both spellings are one address. */
function canonical(family: Family, value: bigint): Ip {
  if (family === 6 && value >> 32n === V4_MAPPED) return { family: 4, value: value & V4_MASK };
  return { family, value };
}

/** Parses a bare address (no prefix, no zone); undefined when it is not one. */
export function parseIp(text: string): Ip | undefined {
  if (!text.includes(':')) {
    const v4 = parseV4(text);
    return v4 === undefined ? undefined : { family: 4, value: v4 };
  }
  const v6 = parseV6(text);
  return v6 === undefined ? undefined : canonical(6, v6);
}

/**
 * 4 or 6 for an address or a CIDR; an IPv4-mapped address counts as IPv4, as
 * Go's net package has it. Throws for anything else: callers pass validated
 * input, and a wrong guess would put an address in the other family's table.
 */
export function ipFamily(addressOrCidr: string): Family {
  const slash = addressOrCidr.indexOf('/');
  const ip = parseIp(slash < 0 ? addressOrCidr : addressOrCidr.slice(0, slash));
  if (!ip) throw new Error(`${JSON.stringify(addressOrCidr)} is not an IP address or CIDR`);
  return ip.family;
}

/** Parses "addr/prefix"; host bits are kept (callers decide whether they matter). A string is the problem. */
export function parseCidr(text: string): Cidr | string {
  const slash = text.indexOf('/');
  if (slash < 0) return `"${text}" is not in CIDR notation (address/prefix)`;
  const addressText = text.slice(0, slash);
  const ip = parseIp(addressText);
  if (!ip) return `"${addressText}" is not an IP address`;
  const prefixText = text.slice(slash + 1);
  // An IPv4-mapped address carries an IPv6 prefix length; Go's IPNet counts it
  // from the IPv4 part ("::ffff:10.0.0.1/120" is 10.0.0.0/24), and so do we.
  const mapped = ip.family === 4 && addressText.includes(':');
  const prefix = Number(prefixText) - (mapped ? 96 : 0);
  if (!/^\d{1,3}$/.test(prefixText) || prefix < 0 || prefix > familyBits(ip.family)) {
    const [low, high] = mapped ? [96, 128] : [0, familyBits(ip.family)];
    return `prefix length "${prefixText}" is out of range for ${mapped ? 'an IPv4-mapped address' : `IPv${ip.family}`} (${low}-${high})`;
  }
  return { ip, prefix };
}

function formatV4(v: bigint): string {
  return [24n, 16n, 8n, 0n].map((shift) => String((v >> shift) & 0xffn)).join('.');
}

/** RFC 5952 as Go prints it: lower case, the first longest run of 2+ zero groups as "::". */
function formatV6(v: bigint): string {
  const g = Array.from({ length: 8 }, (_, i) => Number((v >> BigInt(112 - 16 * i)) & 0xffffn));
  let best = -1;
  let bestLen = 1;
  for (let i = 0; i < 8; ) {
    let j = i;
    while (j < 8 && g[j] === 0) j++;
    if (j - i > bestLen) [best, bestLen] = [i, j - i];
    i = j === i ? i + 1 : j;
  }
  const hex = g.map((x) => x.toString(16));
  if (best < 0) return hex.join(':');
  return `${hex.slice(0, best).join(':')}::${hex.slice(best + bestLen).join(':')}`;
}

export function formatIp(ip: Ip): string {
  const c = canonical(ip.family, ip.value);
  return c.family === 4 ? formatV4(c.value) : formatV6(c.value);
}

export function formatCidr(c: Cidr): string {
  return `${formatIp(c.ip)}/${c.prefix}`;
}

export function withValue(ip: Ip, value: bigint): Ip {
  return { family: ip.family, value };
}

/** The network address and the last address (all host bits set) of a prefix. */
export function prefixBounds(c: Cidr): { first: bigint; last: bigint } {
  const hostMask = (1n << BigInt(familyBits(c.ip.family) - c.prefix)) - 1n;
  const first = c.ip.value & ~hostMask;
  return { first, last: first | hostMask };
}

/** The prefix with its host bits cleared: "10.244.1.77/24" → 10.244.1.0/24. */
/** The same prefix: family, address and length. */
export function sameCidr(a: Cidr, b: Cidr): boolean {
  return a.ip.family === b.ip.family && a.prefix === b.prefix && a.ip.value === b.ip.value;
}

/** Whether two prefixes share an address (prefixes of different families never do). */
export function cidrsOverlap(a: Cidr, b: Cidr): boolean {
  if (a.ip.family !== b.ip.family) return false;
  const x = prefixBounds(a);
  const y = prefixBounds(b);
  return x.first <= y.last && y.first <= x.last;
}

export function networkOf(c: Cidr): Cidr {
  return { ip: withValue(c.ip, prefixBounds(c).first), prefix: c.prefix };
}

/** The kernel's form: 4 or 16 bytes, network order. */
export function ipToBytes(ip: Ip): Buffer {
  const n = familyBits(ip.family) / 8;
  const out = Buffer.alloc(n);
  for (let i = 0, v = ip.value; i < n; i++, v >>= 8n) out[n - 1 - i] = Number(v & 0xffn);
  return out;
}

/** 4 or 16 bytes from the kernel; 16 bytes of a mapped address read as IPv4, as in Go. */
export function ipFromBytes(bytes: Uint8Array): Ip {
  if (bytes.length !== 4 && bytes.length !== 16) throw new Error(`IP address of ${bytes.length} bytes`);
  const value = bytes.reduce((acc, b) => (acc << 8n) | BigInt(b), 0n);
  return canonical(bytes.length === 4 ? 4 : 6, value);
}

/** 4 or 16 bytes from the kernel as Go's net.IP.String() prints them. */
export function ipBytesToString(bytes: Uint8Array): string {
  return formatIp(ipFromBytes(bytes));
}

const MAC_RE = /^[0-9a-fA-F]{2}(:[0-9a-fA-F]{2}){5}$/;

/** "0a:58:0a:f4:01:02": six colon-separated hex pairs, either case. */
export function isMac(text: string): boolean {
  return MAC_RE.test(text);
}

export function toMacBytes(text: string): Buffer {
  if (!isMac(text)) throw new Error(`${JSON.stringify(text)} is not a MAC address`);
  return Buffer.from(text.split(':').map((h) => parseInt(h, 16)));
}

export function macBytesToString(bytes: Uint8Array): string {
  return Array.from(bytes, (x) => x.toString(16).padStart(2, '0')).join(':');
}

/** The link-local address the kernel gives an interface with this MAC (EUI-64: U/L bit flipped, ff:fe in the middle). */
export function linkLocalOfMac(mac: string): string {
  const b = toMacBytes(mac);
  const id = Buffer.from([b[0]! ^ 0x02, b[1]!, b[2]!, 0xff, 0xfe, b[3]!, b[4]!, b[5]!]);
  return formatIp(ipFromBytes(Buffer.concat([Buffer.from([0xfe, 0x80, 0, 0, 0, 0, 0, 0]), id])));
}
