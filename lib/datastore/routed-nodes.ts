// Routed mode's node registry: /tscni/v1/nodes/<node> holds what the other
// nodes need to reach it (underlay address, its IPv6 underlay address when
// it has one, AS, reflector role) and, for
// VXLAN across segments, its tunnel address and VTEP MAC. A node record is
// not bound to a lease, as Calico's Node is not: an agent that restarts must
// not make its peers drop its routes. A node leaves when it is removed.
// /tscni/v1/nodes-alive/<node> ({pid}) is its agent's heartbeat, bound to a
// lease the running agent keeps alive (agent/routed/heartbeat.ts): a node is
// gone only when both its record and its heartbeat are.
import { formatIp, isMac, parseIp } from '../ip/address';
import type { EtcdClient } from './etcd';

export interface RoutedNode {
  name: string;
  /** underlay IPv4 address: BGP sessions and BGP next hops */
  ip: string;
  /** underlay IPv6 address, the next hop of its IPv6 blocks; records written before it existed have none */
  ip6?: string;
  asn: number;
  routeReflector: boolean;
  /** the reflector cluster ID (an IPv4-formatted 32-bit number); only for reflectors */
  clusterId?: string;
  tunnelAddress?: string;
  /** the node's VXLAN device's MAC, stable across restarts */
  vtepMAC?: string;
}

export const nodesDir = (prefix: string) => `${prefix}/nodes/`;
export const nodeKey = (prefix: string, name: string) => `${nodesDir(prefix)}${name}`;
export const aliveDir = (prefix: string) => `${prefix}/nodes-alive/`;
export const aliveKey = (prefix: string, name: string) => `${aliveDir(prefix)}${name}`;

/** Node names become etcd keys, BIRD protocol names and file names: DNS-label-like, as Kubernetes node names are. */
const NODE_NAME_RE = /^[a-z0-9]([a-z0-9.-]{0,61}[a-z0-9])?$/;

export function nodeNameProblem(name: string): string | undefined {
  return NODE_NAME_RE.test(name) ? undefined : `"${name}" must be lower-case letters, digits, "-" and ".", starting and ending with a letter or digit, at most 63 characters`;
}

/** A private AS number or any other in 1..4294967294 (0 and 4294967295 are reserved). */
export function asnProblem(text: string): string | undefined {
  if (!/^\d{1,10}$/.test(text)) return `"${text}" is not an AS number`;
  const n = Number(text);
  return n >= 1 && n <= 4294967294 ? undefined : `${n} is out of range (1-4294967294)`;
}

export function encodeNode(n: RoutedNode): string {
  return JSON.stringify({
    ip: n.ip, ip6: n.ip6 ?? null, asn: n.asn, routeReflector: n.routeReflector, clusterId: n.clusterId ?? null,
    tunnelAddress: n.tunnelAddress ?? null, vtepMAC: n.vtepMAC ?? null,
  });
}

/** A stored node, or a string naming what is wrong with it. */
export function decodeNode(name: string, text: string): RoutedNode | string {
  let raw: any;
  try {
    raw = JSON.parse(text);
  } catch {
    return `node ${name}: the stored value is not JSON`;
  }
  const ip = typeof raw?.ip === 'string' ? parseIp(raw.ip) : undefined;
  if (!ip || ip.family !== 4) return `node ${name}: ip must be an IPv4 address`;
  const ip6 = typeof raw.ip6 === 'string' ? parseIp(raw.ip6) : undefined;
  if (raw.ip6 !== undefined && raw.ip6 !== null && (!ip6 || ip6.family !== 6)) return `node ${name}: ip6 must be an IPv6 address`;
  if (typeof raw.asn !== 'number' || asnProblem(String(raw.asn)) !== undefined) return `node ${name}: asn must be an AS number`;
  return {
    name, ip: formatIp(ip), ...(ip6 ? { ip6: formatIp(ip6) } : {}), asn: raw.asn, routeReflector: raw.routeReflector === true,
    ...(typeof raw.clusterId === 'string' ? { clusterId: raw.clusterId } : {}),
    ...(typeof raw.tunnelAddress === 'string' ? { tunnelAddress: raw.tunnelAddress } : {}),
    ...(typeof raw.vtepMAC === 'string' && isMac(raw.vtepMAC) ? { vtepMAC: raw.vtepMAC } : {}),
  };
}

/** Every record under `dir`, decoded by name (the key's last part); a record that does not decode is a problem, not a failure. */
export async function listRecords<T>(client: EtcdClient, dir: string, decode: (name: string, text: string) => T | string): Promise<{ records: T[]; problems: string[] }> {
  const { kvs } = await client.getPrefix(dir);
  const records: T[] = [];
  const problems: string[] = [];
  for (const kv of kvs) {
    const r = decode(kv.key.slice(dir.length), kv.value);
    if (typeof r === 'string') problems.push(r);
    else records.push(r);
  }
  return { records, problems };
}

export async function listNodes(client: EtcdClient, prefix: string): Promise<{ nodes: RoutedNode[]; problems: string[] }> {
  const { records, problems } = await listRecords(client, nodesDir(prefix), decodeNode);
  return { nodes: records, problems };
}

export async function registerNode(client: EtcdClient, prefix: string, n: RoutedNode): Promise<void> {
  await client.put(nodeKey(prefix, n.name), encodeNode(n));
}
