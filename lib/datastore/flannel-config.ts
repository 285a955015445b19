// flannel's network configuration, <prefix>/config, with flannel's field names
// and flannel's rules, so that a config either side wrote means the same to
// both: SubnetLen defaults to 24 (a small Network is split into four), the
// first subnet is never leased (SubnetMin defaults to the second), SubnetMax
// to the last, and a Network must hold at least four subnets. A problem is a
// code-7 CniError naming the field by flannel's name.
import * as z from 'zod/mini';
import { invalidConfig } from '../cni/errors';
import { parseOrThrow } from '../cni/schemas';
import { formatCidr, formatIp, networkOf, parseCidr, parseIp, prefixBounds, type Cidr, type Ip } from '../ip/address';

export const BACKEND_TYPES = ['vxlan', 'host-gw', 'udp'] as const;
export type BackendType = (typeof BACKEND_TYPES)[number];

export const VXLAN_DEFAULTS = { VNI: 1, Port: 8472, DirectRouting: false } as const;
export const UDP_DEFAULT_PORT = 8285;
const MAX_VNI = 2 ** 24 - 1;

export type Backend =
  | { Type: 'vxlan'; VNI: number; Port: number; DirectRouting: boolean }
  | { Type: 'host-gw' }
  | { Type: 'udp'; Port: number };

/** A config with flannel's defaults filled in: what an agent acts on. */
export interface FlannelConfig {
  Network: Cidr;
  SubnetLen: number;
  SubnetMin: Ip;
  SubnetMax: Ip;
  Backend: Backend;
}

const backendSchema = z.looseObject({
  Type: z.string(),
  VNI: z.optional(z.int()),
  Port: z.optional(z.int()),
  DirectRouting: z.optional(z.boolean()),
});

// Loose: flannel's other fields (EnableIPv6, IPv6Network, ...) are its own business.
const configSchema = z.looseObject({
  Network: z.string(),
  SubnetLen: z.optional(z.int()),
  SubnetMin: z.optional(z.string()),
  SubnetMax: z.optional(z.string()),
  Backend: z.optional(backendSchema),
});

function ipv4Network(field: string, text: string): Cidr {
  const c = parseCidr(text);
  if (typeof c === 'string') throw invalidConfig(field, c);
  if (c.ip.family !== 4) throw invalidConfig(field, `"${text}" is not an IPv4 network`);
  const net = networkOf(c);
  if (net.ip.value !== c.ip.value) throw invalidConfig(field, `"${text}" has host bits set (the network is ${formatCidr(net)})`);
  return c;
}

/** flannel's default: a /24 per node, unless the Network is too small to hold four of them. */
function defaultSubnetLen(network: Cidr): number {
  if (network.prefix > 28) throw invalidConfig('Network', `/${network.prefix} is too small: flannel needs a /28 or larger`);
  return network.prefix <= 22 ? 24 : network.prefix + 2;
}

function subnetLenOf(network: Cidr, subnetLen: number | undefined): number {
  if (subnetLen === undefined) return defaultSubnetLen(network);
  if (subnetLen > 30) throw invalidConfig('SubnetLen', `/${subnetLen} is longer than 30 (a node's subnet needs room for its bridge and pods)`);
  if (subnetLen < network.prefix) {
    throw invalidConfig('Network', `${formatCidr(network)} is smaller than one /${subnetLen} subnet`);
  }
  if (subnetLen < network.prefix + 2) {
    throw invalidConfig('SubnetLen', `/${subnetLen} must be at least /${network.prefix + 2}: the Network must hold four subnets, and flannel never leases the first`);
  }
  return subnetLen;
}

function boundary(field: 'SubnetMin' | 'SubnetMax', text: string | undefined, network: Cidr, subnetLen: number, fallback: bigint): Ip {
  if (text === undefined) return { family: 4, value: fallback };
  const ip = parseIp(text);
  if (!ip || ip.family !== 4) throw invalidConfig(field, `"${text}" is not an IPv4 address`);
  const { first, last } = prefixBounds(network);
  if (ip.value < first || ip.value > last) throw invalidConfig(field, `${text} is not in the Network ${formatCidr(network)}`);
  if (networkOf({ ip, prefix: subnetLen }).ip.value !== ip.value) {
    throw invalidConfig(field, `${text} is not on a /${subnetLen} boundary`);
  }
  return ip;
}

function backendOf(raw: z.infer<typeof backendSchema> | undefined): Backend {
  // flannel's default backend when none is named
  const type = raw?.Type ?? 'udp';
  if (!(BACKEND_TYPES as readonly string[]).includes(type)) {
    throw invalidConfig('Backend.Type', `unknown backend type "${type}" (one of ${BACKEND_TYPES.join(', ')})`);
  }
  const notFor = (field: 'VNI' | 'Port' | 'DirectRouting') => {
    if (raw?.[field] !== undefined) throw invalidConfig(`Backend.${field}`, `does not apply to the ${type} backend`);
  };
  if (raw?.Port !== undefined && (raw.Port < 1 || raw.Port > 65535)) {
    throw invalidConfig('Backend.Port', `${raw.Port} is out of range: must be between 1 and 65535`);
  }
  switch (type) {
    case 'vxlan':
      if (raw?.VNI !== undefined && (raw.VNI < 1 || raw.VNI > MAX_VNI)) {
        throw invalidConfig('Backend.VNI', `${raw.VNI} is out of range: must be between 1 and ${MAX_VNI} (24 bits)`);
      }
      return {
        Type: 'vxlan', VNI: raw?.VNI ?? VXLAN_DEFAULTS.VNI, Port: raw?.Port ?? VXLAN_DEFAULTS.Port,
        DirectRouting: raw?.DirectRouting ?? VXLAN_DEFAULTS.DirectRouting,
      };
    case 'udp':
      notFor('VNI');
      notFor('DirectRouting');
      return { Type: 'udp', Port: raw?.Port ?? UDP_DEFAULT_PORT };
    default:
      notFor('VNI');
      notFor('Port');
      notFor('DirectRouting');
      return { Type: 'host-gw' };
  }
}

/** Checks a config (as parsed JSON) by flannel's rules and fills in flannel's defaults. */
export function parseFlannelConfig(raw: unknown): FlannelConfig {
  const input = parseOrThrow(configSchema, raw);
  const network = ipv4Network('Network', input.Network);
  const subnetLen = subnetLenOf(network, input.SubnetLen);
  const size = 1n << BigInt(32 - subnetLen);
  const { first, last } = prefixBounds(network);
  const min = boundary('SubnetMin', input.SubnetMin, network, subnetLen, first + size);
  const max = boundary('SubnetMax', input.SubnetMax, network, subnetLen, last + 1n - size);
  if (min.value > max.value) throw invalidConfig('SubnetMax', `${formatIp(max)} is below SubnetMin ${formatIp(min)}`);
  return { Network: network, SubnetLen: subnetLen, SubnetMin: min, SubnetMax: max, Backend: backendOf(input.Backend) };
}

/** The JSON text of <prefix>/config, parsed and checked. */
export function decodeFlannelConfig(text: string): FlannelConfig {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (e) {
    throw invalidConfig('config', `not JSON: ${(e as Error).message}`);
  }
  return parseFlannelConfig(raw);
}

export interface FlannelConfigInput {
  network: string;
  subnetLen?: number;
  backend: string;
  vni?: number;
  port?: number;
  directRouting?: boolean;
}

/**
 * The config `tscni overlay config set` writes: checked, with SubnetLen and
 * the backend's settings spelled out (SubnetMin/SubnetMax are left to
 * flannel's defaults, which every reader computes the same way).
 */
export function flannelConfigJson(input: FlannelConfigInput): string {
  const backend: Record<string, unknown> = { Type: input.backend };
  if (input.vni !== undefined) backend.VNI = input.vni;
  if (input.port !== undefined) backend.Port = input.port;
  if (input.directRouting) backend.DirectRouting = true;
  const raw: Record<string, unknown> = { Network: input.network, Backend: backend };
  if (input.subnetLen !== undefined) raw.SubnetLen = input.subnetLen;
  const cfg = parseFlannelConfig(raw);
  return JSON.stringify({ Network: formatCidr(cfg.Network), SubnetLen: cfg.SubnetLen, Backend: cfg.Backend });
}
