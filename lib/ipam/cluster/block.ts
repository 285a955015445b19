// A block: one node's share of a pool, stored at
// <prefix>/ipam/blocks/<pool>/<ip>-<prefix> (the CIDR spelled as flannel
// spells its subnet keys, since "/" separates key levels) with the value
// {node, allocations: {ip: handle}}. The block's first address is never given
// to a pod: it is the gateway an IPAM result names, which point-to-point
// plugins such as the reference ptp put on the node's end of each veth.
import { familyBits, formatCidr, formatIp, networkOf, parseCidr, parseIp, prefixBounds, type Cidr, type Ip } from '../../ip/address';
import { isObjectName } from '../../routed/names';
import { storedObject } from '../../routed/stored-object';

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

/**
 * A stored block, or a string naming what is wrong with it. A block the
 * store did not write (a node that is no name, an address outside the
 * block, a handle that is no attachment) is never used, so nothing is
 * allocated from it or written over it.
 */
export function decodeBlock(pool: string, cidr: Cidr, text: string): Block | string {
  const what = `block ${formatCidr(cidr)} of pool ${JSON.stringify(pool).slice(1, -1)}`;
  if (!isObjectName(pool)) return `${what}: the pool's name in the key ${JSON.stringify(pool)} is not a pool name`;
  if (networkOf(cidr).ip.value !== cidr.ip.value) return `${what}: the key's CIDR has host bits set`;
  const raw = storedObject(what, text);
  if (typeof raw === 'string') return raw;
  if (typeof raw.node !== 'string' || !isObjectName(raw.node)) return `${what}: node must be a node's name`;
  if (typeof raw.allocations !== 'object' || raw.allocations === null || Array.isArray(raw.allocations)) return `${what}: allocations must be an object`;
  const { first, last } = prefixBounds(cidr);
  const allocations: Record<string, string> = {};
  for (const [text, handle] of Object.entries(raw.allocations as Record<string, unknown>)) {
    const ip = parseIp(text);
    if (!ip || ip.family !== cidr.ip.family || ip.value <= first || ip.value > last) return `${what}: allocation ${JSON.stringify(text)} is not an address the block gives out`;
    if (typeof handle !== 'string' || !attachmentOfHandle(handle)) return `${what}: the handle of ${text} is not network/container/interface`;
    if (allocations[formatIp(ip)] !== undefined) return `${what}: ${formatIp(ip)} is allocated twice`;
    allocations[formatIp(ip)] = handle;
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
