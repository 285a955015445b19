// flannel's subnet leases: <prefix>/subnets/<net>-<len> (10.244.3.0-24), whose
// value says where the node is on the underlay and how to reach its pods
// through the backend. The value is encoded exactly as flanneld writes it
// (field names, order, PublicIPv6 null), so flanneld and tscni nodes read each
// other's leases.
import * as z from 'zod/mini';
import { formatCidr, formatIp, isMac, networkOf, parseCidr, parseIp, type Cidr } from '../ip/address';
import type { FlannelConfig } from './flannel-config';

/** The key of a subnet's lease. */
export function subnetKey(prefix: string, subnet: Cidr): string {
  return `${prefix}/subnets/${formatIp(subnet.ip)}-${subnet.prefix}`;
}

/** The subnet a lease key names, or undefined for a key that is not one (e.g. an IPv6 lease). */
export function subnetOfKey(prefix: string, key: string): Cidr | undefined {
  const dir = `${prefix}/subnets/`;
  if (!key.startsWith(dir)) return undefined;
  const m = /^(\d{1,3}(?:\.\d{1,3}){3})-(\d{1,2})$/.exec(key.slice(dir.length));
  if (!m) return undefined;
  const c = parseCidr(`${m[1]}/${m[2]}`);
  if (typeof c === 'string' || c.ip.family !== 4 || networkOf(c).ip.value !== c.ip.value) return undefined;
  return c;
}

export interface VxlanBackendData {
  VNI: number;
  VtepMAC: string;
}

export interface SubnetLease {
  /** the node's underlay address */
  PublicIP: string;
  BackendType: string;
  /** vxlan: {VNI, VtepMAC}; host-gw and udp carry none */
  BackendData?: VxlanBackendData | Record<string, unknown>;
}

const leaseSchema = z.looseObject({
  PublicIP: z.string().check(z.refine((v) => parseIp(v)?.family === 4, 'must be an IPv4 address')),
  PublicIPv6: z.optional(z.nullable(z.string().check(z.refine((v) => parseIp(v)?.family === 6, 'must be an IPv6 address')))),
  // flanneld's udp backend leaves BackendType out (its LeaseAttrs omit an empty one)
  BackendType: z._default(z.string(), ''),
  BackendData: z.optional(z.nullable(z.record(z.string(), z.unknown()))),
});

/** The lease value in flanneld's JSON shape. */
export function encodeSubnetLease(lease: SubnetLease): string {
  const out: Record<string, unknown> = { PublicIP: lease.PublicIP, PublicIPv6: null, BackendType: lease.BackendType };
  if (lease.BackendData !== undefined) {
    const d = lease.BackendData as Partial<VxlanBackendData>;
    // vxlan's two fields in flanneld's order; other backends' data as given
    out.BackendData = lease.BackendType === 'vxlan' ? { VNI: d.VNI, VtepMAC: d.VtepMAC } : lease.BackendData;
  }
  return JSON.stringify(out);
}

/** A lease value as flanneld or tscni wrote it; a string is the problem. */
export function decodeSubnetLease(text: string): SubnetLease | string {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (e) {
    return `not JSON: ${(e as Error).message}`;
  }
  const r = leaseSchema.safeParse(raw);
  if (!r.success) {
    const issue = r.error.issues[0]!;
    return `${issue.path.join('.') || 'lease'}: ${issue.message}`;
  }
  const { PublicIP, BackendType, BackendData } = r.data;
  if (BackendType === 'vxlan') {
    const d = BackendData ?? {};
    // 24 bits, and never 0: flanneld reads a config's 0 as "unset" and takes 1, as the config check here does
    if (typeof d.VNI !== 'number' || !Number.isInteger(d.VNI) || d.VNI < 1 || d.VNI > 2 ** 24 - 1) return 'BackendData.VNI: must be an integer from 1 to 16777215';
    if (typeof d.VtepMAC !== 'string' || !isMac(d.VtepMAC)) return 'BackendData.VtepMAC: must be a MAC address';
    return { PublicIP, BackendType, BackendData: { VNI: d.VNI, VtepMAC: d.VtepMAC.toLowerCase() } };
  }
  return BackendData ? { PublicIP, BackendType, BackendData } : { PublicIP, BackendType };
}

/**
 * The first subnet from SubnetMin to SubnetMax that no lease holds, or
 * undefined when every one is taken. `taken` may hold anything, e.g. subnets
 * of an older, different config; only exact matches count.
 */
export function firstFreeSubnet(config: FlannelConfig, taken: Iterable<Cidr>): Cidr | undefined {
  const used = new Set<bigint>();
  for (const t of taken) if (t.prefix === config.SubnetLen && t.ip.family === 4) used.add(t.ip.value);
  const step = 1n << BigInt(32 - config.SubnetLen);
  for (let v = config.SubnetMin.value; v <= config.SubnetMax.value; v += step) {
    if (!used.has(v)) return { ip: { family: 4, value: v }, prefix: config.SubnetLen };
  }
  return undefined;
}

/**
 * Why the lease of `subnet` is no node's share of `network`, or undefined.
 * flanneld and tscni lease subnets inside the network only; a lease for
 * anything else (the whole network, the underlay's prefix) was written by
 * hand, and routing it through the backend would take that traffic away.
 */
export function leaseSubnetProblem(network: Cidr, subnet: Cidr): string | undefined {
  const inside = subnet.prefix > network.prefix && networkOf({ ip: subnet.ip, prefix: network.prefix }).ip.value === network.ip.value;
  return inside ? undefined : `${formatCidr(subnet)} is not a subnet of the network ${formatCidr(network)}`;
}

/** Whether a lease's subnet fits the config (an agent keeps its old lease only if it does). */
export function subnetFits(config: FlannelConfig, subnet: Cidr): boolean {
  return subnet.prefix === config.SubnetLen && subnet.ip.value >= config.SubnetMin.value && subnet.ip.value <= config.SubnetMax.value
    && networkOf(subnet).ip.value === subnet.ip.value;
}

