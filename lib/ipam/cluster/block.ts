// A block: one node's share of a pool, stored at
// <prefix>/ipam/blocks/<pool>/<ip>-<prefix> (the CIDR spelled as flannel
// spells its subnet keys, since "/" separates key levels) with the value
// {node, allocations: {ip: handle}}. The block's first address is never given
// to a pod: it is the gateway an IPAM result names, which point-to-point
// plugins such as the reference ptp put on the node's end of each veth.
import { familyBits, formatCidr, formatIp, parseCidr, parseIp, prefixBounds, type Cidr, type Ip } from '../../ip/address';

/** What an allocation is filed under: one attachment of one network. */
export interface Attachment {
  network: string;
  containerId: string;
  ifname: string;
}

/**
 * "<network>/<containerId>/<ifname>": none of the three may hold "/" (the CNI
 * spec's rules for names and IDs, the kernel's for interface names), so the
 * handle splits back unambiguously. The network is part of it so that one
 * network's GC never releases another network's addresses.
 */
export function handleOf(a: Attachment): string {
  return `${a.network}/${a.containerId}/${a.ifname}`;
}

/**
 * The agent's own allocations (a node's VXLAN tunnel address) are filed under
 * a network name no CNI network can have (":" is outside the CNI name rule),
 * so no plugin's GC or DEL can name them. Agents before this rule used
 * "vxlan-tunnel", a valid CNI name: stored handles keep it, so it stays
 * reserved too, and cluster-ipam refuses a network of that name.
 */
export const AGENT_NETWORK = 'tscni:agent';
export const LEGACY_AGENT_NETWORKS: readonly string[] = ['vxlan-tunnel'];

/** Whether a handle is one of the agent's own, in either form. */
export function isAgentHandle(handle: string): boolean {
  const network = handle.split('/')[0]!;
  return network === AGENT_NETWORK || LEGACY_AGENT_NETWORKS.includes(network);
}

export function attachmentOfHandle(handle: string): Attachment | undefined {
  const parts = handle.split('/');
  if (parts.length !== 3 || parts.some((p) => p === '')) return undefined;
  return { network: parts[0]!, containerId: parts[1]!, ifname: parts[2]! };
}

export interface Block {
  pool: string;
  cidr: Cidr;
  node: string;
  /** address (as formatIp prints it) → handle */
  allocations: Record<string, string>;
}

export const blocksDir = (prefix: string) => `${prefix}/ipam/blocks/`;
export const poolBlocksDir = (prefix: string, pool: string) => `${blocksDir(prefix)}${pool}/`;

export function blockKey(prefix: string, pool: string, cidr: Cidr): string {
  return `${poolBlocksDir(prefix, pool)}${formatIp(cidr.ip)}-${cidr.prefix}`;
}

/** The pool and CIDR a block key names, or undefined for a key that is not one. */
export function blockOfKey(prefix: string, key: string): { pool: string; cidr: Cidr } | undefined {
  const rest = key.startsWith(blocksDir(prefix)) ? key.slice(blocksDir(prefix).length) : undefined;
  const m = rest === undefined ? null : /^([^/]+)\/([0-9a-f.:]+)-(\d{1,3})$/.exec(rest);
  if (!m) return undefined;
  const cidr = parseCidr(`${m[2]}/${m[3]}`);
  return typeof cidr === 'string' ? undefined : { pool: m[1]!, cidr };
}

export function encodeBlock(b: Pick<Block, 'node' | 'allocations'>): string {
  return JSON.stringify({ node: b.node, allocations: b.allocations });
}

export function decodeBlock(pool: string, cidr: Cidr, text: string): Block {
  const raw = JSON.parse(text) as { node?: unknown; allocations?: unknown };
  if (typeof raw.node !== 'string') throw new Error(`block ${formatCidr(cidr)} of pool ${pool}: no node`);
  const allocations: Record<string, string> = {};
  for (const [ip, handle] of Object.entries((raw.allocations ?? {}) as Record<string, unknown>)) {
    if (typeof handle === 'string') allocations[ip] = handle;
  }
  return { pool, cidr, node: raw.node, allocations };
}

/** The gateway a result names for addresses of this block: its first address. */
export function blockGateway(cidr: Cidr): Ip {
  return { family: cidr.ip.family, value: prefixBounds(cidr).first };
}

/** Addresses a block can give to pods. */
export function blockCapacity(prefix: number, family: 4 | 6): bigint {
  return (1n << BigInt(familyBits(family) - prefix)) - 1n;
}

/** The lowest address of the block no allocation holds, or undefined when it is full. */
export function freeAddress(b: Block): Ip | undefined {
  const { first, last } = prefixBounds(b.cidr);
  for (let v = first + 1n; v <= last; v++) {
    const ip: Ip = { family: b.cidr.ip.family, value: v };
    if (b.allocations[formatIp(ip)] === undefined) return ip;
  }
  return undefined;
}

/** The addresses `handle` holds in the block. */
export function heldByHandle(b: Block, handle: string): Ip[] {
  return Object.entries(b.allocations).filter(([, h]) => h === handle).map(([ip]) => parseIp(ip)!).filter((ip) => ip !== undefined);
}
