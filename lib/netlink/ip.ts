// Addresses as the kernel wants them: IPs as 4/16 raw bytes, MACs as 6 bytes.
// Hand-written (not ip-address) because this sits on every plugin's start-up
// path and needs only parsing and canonical printing.
import { isIPv4, isIPv6 } from 'node:net';
import { AF_INET, AF_INET6 } from './constants';

export interface IpBytes {
  family: typeof AF_INET | typeof AF_INET6;
  bytes: Buffer;
}

export function parseIp(ip: string): IpBytes {
  if (isIPv4(ip)) return { family: AF_INET, bytes: Buffer.from(ip.split('.').map(Number)) };
  if (!isIPv6(ip)) throw new Error(`${JSON.stringify(ip)} is not an IP address`);
  let text = ip.split('%')[0] ?? ip;
  // An embedded IPv4 tail ("::ffff:1.2.3.4") becomes two hex groups.
  const v4 = /(\d+\.\d+\.\d+\.\d+)$/.exec(text);
  if (v4?.[1]) {
    const o = v4[1].split('.').map(Number) as [number, number, number, number];
    text = text.slice(0, -v4[1].length) + `${((o[0] << 8) | o[1]).toString(16)}:${((o[2] << 8) | o[3]).toString(16)}`;
  }
  const [head = '', tail] = text.split('::');
  const h = head ? head.split(':') : [];
  const t = tail ? tail.split(':') : [];
  const groups = tail === undefined ? h : [...h, ...Array<string>(8 - h.length - t.length).fill('0'), ...t];
  const bytes = Buffer.alloc(16);
  groups.forEach((g, i) => bytes.writeUInt16BE(parseInt(g, 16), i * 2));
  return { family: AF_INET6, bytes };
}

/** Canonical text (RFC 5952 for IPv6: lower case, longest zero run as "::"). */
export function formatIp(b: Uint8Array): string {
  if (b.length === 4) return Array.from(b).join('.');
  if (b.length !== 16) throw new Error(`IP address of ${b.length} bytes`);
  const buf = Buffer.from(b);
  const groups = Array.from({ length: 8 }, (_, i) => buf.readUInt16BE(i * 2));
  let best = -1;
  let bestLen = 1;
  for (let i = 0; i < 8; ) {
    if (groups[i] !== 0) { i++; continue; }
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j - i > bestLen) { best = i; bestLen = j - i; }
    i = j;
  }
  const hex = groups.map((g) => g.toString(16));
  if (best === -1) return hex.join(':');
  return `${hex.slice(0, best).join(':')}::${hex.slice(best + bestLen).join(':')}`;
}

export interface Cidr extends IpBytes {
  prefixLen: number;
}

/** "10.1.2.3/24", "fd00::1/64"; a bare IP is a host prefix (/32, /128). */
export function parseCidr(cidr: string): Cidr {
  const slash = cidr.indexOf('/');
  const ip = parseIp(slash === -1 ? cidr : cidr.slice(0, slash));
  const max = ip.family === AF_INET ? 32 : 128;
  const lenText = slash === -1 ? String(max) : cidr.slice(slash + 1);
  const prefixLen = Number(lenText);
  if (!/^\d{1,3}$/.test(lenText) || prefixLen > max) throw new Error(`${JSON.stringify(cidr)}: bad prefix length`);
  return { ...ip, prefixLen };
}

/** The network part of a prefix, host bits cleared (routes need it so). */
export function maskCidr(c: Cidr): Cidr {
  const bytes = Buffer.from(c.bytes);
  for (let i = 0; i < bytes.length; i++) {
    const keep = Math.max(0, Math.min(8, c.prefixLen - i * 8));
    bytes[i] = (bytes[i] ?? 0) & ((0xff00 >> keep) & 0xff);
  }
  return { ...c, bytes };
}

export function parseMac(mac: string): Buffer {
  if (!/^[0-9a-fA-F]{2}(:[0-9a-fA-F]{2}){5}$/.test(mac)) throw new Error(`${JSON.stringify(mac)} is not a MAC address`);
  return Buffer.from(mac.split(':').map((h) => parseInt(h, 16)));
}

export function formatMac(b: Uint8Array): string {
  return Array.from(b, (x) => x.toString(16).padStart(2, '0')).join(':');
}
