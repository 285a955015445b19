// Addresses as the kernel wants them: IPs as 4/16 raw bytes, MACs as 6 bytes.
// Parsing and printing of IPs is lib/ip/address's; this only converts to and
// from the byte form netlink messages carry.
import { formatIp as formatAddress, ipFromBytes, ipToBytes, parseCidr as parseAddressCidr, parseIp as parseAddress } from '../ip/address';
import { AF_INET, AF_INET6 } from './constants';

export interface IpBytes {
  family: typeof AF_INET | typeof AF_INET6;
  bytes: Buffer;
}

export function parseIp(ip: string): IpBytes {
  const parsed = parseAddress(ip);
  if (!parsed) throw new Error(`${JSON.stringify(ip)} is not an IP address`);
  return { family: parsed.family === 4 ? AF_INET : AF_INET6, bytes: ipToBytes(parsed) };
}

/** Canonical text, as Go's net.IP.String() prints it. */
export function formatIp(b: Uint8Array): string {
  return formatAddress(ipFromBytes(b));
}

export interface Cidr extends IpBytes {
  prefixLen: number;
}

/** "10.1.2.3/24", "fd00::1/64"; a bare IP is a host prefix (/32, /128). */
export function parseCidr(cidr: string): Cidr {
  const ip = cidr.includes('/') ? undefined : parseAddress(cidr);
  const c = ip ? { ip, prefix: ip.family === 4 ? 32 : 128 } : parseAddressCidr(cidr);
  if (typeof c === 'string') throw new Error(`${JSON.stringify(cidr)}: ${c.replace(/^prefix length/, 'bad prefix length')}`);
  return { family: c.ip.family === 4 ? AF_INET : AF_INET6, bytes: ipToBytes(c.ip), prefixLen: c.prefix };
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
