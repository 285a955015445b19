// Addresses as netlink attributes carry them: an AF_* family and 4 or 16
// bytes in network order. What the text means is lib/ip's (parsing, Go's
// rules, the byte order); the family numbers are the kernel's, so this form
// lives with the netlink code. The to* functions take text that has been
// validated and throw naming it.
import { familyBits, ipToBytes, networkOf, parseCidr, parseIp, type Cidr, type Ip } from '../ip/address';
import { AF_INET, AF_INET6 } from './constants';

/** An address in a netlink attribute: its AF_* family and 4 or 16 bytes. */
export interface IpBytes {
  family: typeof AF_INET | typeof AF_INET6;
  bytes: Buffer;
}

export interface CidrBytes extends IpBytes {
  prefixLen: number;
}

const afOf = (ip: Ip) => (ip.family === 4 ? AF_INET : AF_INET6);

/** A bare address as netlink carries it; throws naming the text. */
export function toIpBytes(text: string): IpBytes {
  const ip = parseIp(text);
  if (!ip) throw new Error(`${JSON.stringify(text)} is not an IP address`);
  return { family: afOf(ip), bytes: ipToBytes(ip) };
}

function cidrOrHost(text: string): Cidr {
  const ip = text.includes('/') ? undefined : parseIp(text);
  const c = ip ? { ip, prefix: familyBits(ip.family) } : parseCidr(text);
  if (typeof c === 'string') throw new Error(`${JSON.stringify(text)}: ${c.replace(/^prefix length/, 'bad prefix length')}`);
  return c;
}

/** "10.1.2.3/24" with its host bits (an interface address); a bare address is a host prefix. */
export function toCidrBytes(text: string): CidrBytes {
  const c = cidrOrHost(text);
  return { family: afOf(c.ip), bytes: ipToBytes(c.ip), prefixLen: c.prefix };
}

/** The network of "10.1.2.3/24", host bits cleared (a route destination). */
export function toNetworkBytes(text: string): CidrBytes {
  const c = networkOf(cidrOrHost(text));
  return { family: afOf(c.ip), bytes: ipToBytes(c.ip), prefixLen: c.prefix };
}
