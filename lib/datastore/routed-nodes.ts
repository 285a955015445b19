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
import { isObjectName, NAME_RULE } from '../routed/names';
import type { EtcdClient } from './etcd';
import { storedObject } from '../routed/stored-object';

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
  /** etcd's revision of the record's last write, as listNodes read it (an agent rewrites its record at every start) */
  written?: number;
}

export const nodesDir = (prefix: string) => `${prefix}/nodes/`;
export const nodeKey = (prefix: string, name: string) => `${nodesDir(prefix)}${name}`;
export const aliveDir = (prefix: string) => `${prefix}/nodes-alive/`;
export const aliveKey = (prefix: string, name: string) => `${aliveDir(prefix)}${name}`;

/** What is wrong with a node's name (routed mode's name rule), the name quoted as JSON: it may hold a quote or a newline. */
export function nodeNameProblem(name: string): string | undefined {
  return isObjectName(name) ? undefined : `${JSON.stringify(name)} ${NAME_RULE}`;
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

/**
 * A stored node, or a string naming what is wrong with it: what someone
 * wrote by hand passes the checks the agent's flags pass, since every field
 * ends up in BIRD's configuration, a route or a neighbour entry.
 */
export function decodeNode(name: string, text: string): RoutedNode | string {
  if (!isObjectName(name)) return `node ${JSON.stringify(name)}: the name ${NAME_RULE}`;
  const what = `node ${name}`;
  const raw = storedObject(what, text);
  if (typeof raw === 'string') return raw;
  const absent = (v: unknown) => v === undefined || v === null;
  const address = (v: unknown, family: 4 | 6) => (typeof v === 'string' ? parseIp(v) : undefined)?.family === family;
  if (!address(raw.ip, 4)) return `${what}: ip must be an IPv4 address`;
  if (!absent(raw.ip6) && !address(raw.ip6, 6)) return `${what}: ip6 must be an IPv6 address`;
  if (typeof raw.asn !== 'number' || asnProblem(String(raw.asn)) !== undefined) return `${what}: asn must be an AS number`;
  if (!absent(raw.routeReflector) && typeof raw.routeReflector !== 'boolean') return `${what}: routeReflector must be true or false`;
  const routeReflector = raw.routeReflector === true;
  if (!absent(raw.clusterId) && !address(raw.clusterId, 4)) return `${what}: clusterId must be an IPv4-formatted ID`;
  if (routeReflector !== !absent(raw.clusterId)) return `${what}: a route reflector, and only one, has a clusterId`;
  if (!absent(raw.tunnelAddress) && !address(raw.tunnelAddress, 4)) return `${what}: tunnelAddress must be an IPv4 address`;
  if (!absent(raw.vtepMAC) && !(typeof raw.vtepMAC === 'string' && isMac(raw.vtepMAC))) return `${what}: vtepMAC must be a MAC address`;
  const ip6 = absent(raw.ip6) ? undefined : formatIp(parseIp(raw.ip6)!);
  return {
    name, ip: formatIp(parseIp(raw.ip)!), ...(ip6 ? { ip6 } : {}), asn: raw.asn, routeReflector,
    ...(absent(raw.clusterId) ? {} : { clusterId: formatIp(parseIp(raw.clusterId)!) }),
    ...(absent(raw.tunnelAddress) ? {} : { tunnelAddress: formatIp(parseIp(raw.tunnelAddress)!) }),
    ...(absent(raw.vtepMAC) ? {} : { vtepMAC: (raw.vtepMAC as string).toLowerCase() }),
  };
}

/** Every record under `dir`, decoded by name (the key's last part); a record that does not decode is a problem, not a failure. */
export async function listRecords<T>(client: EtcdClient, dir: string, decode: (name: string, text: string, written: number) => T | string): Promise<{ records: T[]; problems: string[] }> {
  const { kvs } = await client.getPrefix(dir);
  const records: T[] = [];
  const problems: string[] = [];
  for (const kv of kvs) {
    const r = decode(kv.key.slice(dir.length), kv.value, kv.modRevision);
    if (typeof r === 'string') problems.push(r);
    else records.push(r);
  }
  return { records, problems };
}

export async function listNodes(client: EtcdClient, prefix: string): Promise<{ nodes: RoutedNode[]; problems: string[] }> {
  const { records, problems } = await listRecords(client, nodesDir(prefix), (name, text, written) => {
    const n = decodeNode(name, text);
    return typeof n === 'string' ? n : { ...n, written };
  });
  return { nodes: records, problems };
}

export async function registerNode(client: EtcdClient, prefix: string, n: RoutedNode): Promise<void> {
  await client.put(nodeKey(prefix, n.name), encodeNode(n));
}
