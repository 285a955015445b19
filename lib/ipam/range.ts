// One allocation range: a subnet and the inclusive span [rangeStart, rangeEnd]
// inside it from which addresses are handed out, plus the gateway that is never
// handed out. Defaults follow the reference host-local so that a config means
// the same thing to both: rangeStart = network + 1, rangeEnd = broadcast - 1
// for IPv4 and the last address of the subnet for IPv6, gateway = network + 1.
import { invalidConfig } from '../cni/errors';
import {
  familyBits, formatCidr, formatIp, parseCidr, parseIp, prefixBounds, withValue, type Cidr, type Ip,
} from '../ip/address';

/** A range as written in the config (`ipam.ranges[i][j]`, or the legacy top-level fields). */
export interface RangeInput {
  subnet: string;
  rangeStart?: string;
  rangeEnd?: string;
  gateway?: string;
}

export interface IpRange {
  /** network address and prefix length */
  readonly subnet: Cidr;
  readonly rangeStart: Ip;
  readonly rangeEnd: Ip;
  readonly gateway: Ip;
}

/** Validates one range and fills in the defaults; errors name `<field>.<key>`. */
export function canonicalizeRange(input: RangeInput, field: string): IpRange {
  const parsed = parseCidr(input.subnet);
  if (typeof parsed === 'string') throw invalidConfig(`${field}.subnet`, parsed);
  const bits = familyBits(parsed.ip.family);
  // Without at least two host bits there is nothing left once the network
  // address (and for IPv4 the broadcast) is excluded.
  if (parsed.prefix > bits - 2) {
    throw invalidConfig(`${field}.subnet`, `network ${input.subnet} is too small to allocate from`);
  }
  const { first, last } = prefixBounds(parsed);
  if (parsed.ip.value !== first) {
    const network = formatIp(withValue(parsed.ip, first));
    throw invalidConfig(`${field}.subnet`, `${input.subnet} has host bits set; the network address is ${network}/${parsed.prefix}`);
  }
  const subnet: Cidr = parsed;
  const inSubnet = (key: keyof RangeInput, text: string): Ip => {
    const ip = parseIp(text);
    if (!ip) throw invalidConfig(`${field}.${key}`, `"${text}" is not an IP address`);
    if (ip.family !== subnet.ip.family || ip.value < first || ip.value > last) {
      throw invalidConfig(`${field}.${key}`, `${formatIp(ip)} is not in subnet ${formatCidr(subnet)}`);
    }
    return ip;
  };
  const lastUsable = subnet.ip.family === 4 ? last - 1n : last;
  const rangeStart = input.rangeStart !== undefined ? inSubnet('rangeStart', input.rangeStart) : withValue(subnet.ip, first + 1n);
  const rangeEnd = input.rangeEnd !== undefined ? inSubnet('rangeEnd', input.rangeEnd) : withValue(subnet.ip, lastUsable);
  if (rangeEnd.value < rangeStart.value) {
    throw invalidConfig(`${field}.rangeEnd`, `${formatIp(rangeEnd)} is before rangeStart ${formatIp(rangeStart)}`);
  }
  let gateway = withValue(subnet.ip, first + 1n);
  if (input.gateway !== undefined) {
    const gw = parseIp(input.gateway);
    if (!gw || gw.family !== subnet.ip.family) {
      throw invalidConfig(`${field}.gateway`, `"${input.gateway}" is not an IPv${subnet.ip.family} address`);
    }
    // The reference accepts any gateway; a pod's default route via an
    // address outside its own subnet is never reachable.
    if (gw.value < first || gw.value > last) {
      throw invalidConfig(`${field}.gateway`, `${formatIp(gw)} is not in subnet ${formatCidr(subnet)}`);
    }
    gateway = gw;
  }
  return { subnet, rangeStart, rangeEnd, gateway };
}

export function rangeContains(r: IpRange, ip: Ip): boolean {
  return ip.family === r.subnet.ip.family && ip.value >= r.rangeStart.value && ip.value <= r.rangeEnd.value;
}

export function rangesOverlap(a: IpRange, b: IpRange): boolean {
  return a.subnet.ip.family === b.subnet.ip.family
    && a.rangeStart.value <= b.rangeEnd.value && b.rangeStart.value <= a.rangeEnd.value;
}

/**
 * Whether the allocator may hand out `ip`: never the gateway, and never the
 * network or IPv4 broadcast address even when an explicit rangeStart/rangeEnd
 * includes them (the reference would; a pod with either address is broken).
 */
export function isAllocatable(r: IpRange, ip: Ip): boolean {
  if (!rangeContains(r, ip) || ip.value === r.gateway.value) return false;
  const { first, last } = prefixBounds(r.subnet);
  return ip.value !== first && !(r.subnet.ip.family === 4 && ip.value === last);
}

/** How many addresses the allocator can hand out from this range. */
export function allocatableCount(r: IpRange): bigint {
  const { first, last } = prefixBounds(r.subnet);
  const excluded = [r.gateway.value, first, ...(r.subnet.ip.family === 4 ? [last] : [])];
  const inside = new Set(excluded.filter((v) => v >= r.rangeStart.value && v <= r.rangeEnd.value));
  return r.rangeEnd.value - r.rangeStart.value + 1n - BigInt(inside.size);
}

/** "start-end", the form the reference uses in its messages. */
export function formatRange(r: IpRange): string {
  return `${formatIp(r.rangeStart)}-${formatIp(r.rangeEnd)}`;
}
