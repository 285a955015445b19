// External BGP peers (a top-of-rack router, a router outside the cluster):
// /tscni/v1/bgp/peers/<name> {peerIP, asNumber, node?}, Calico's BGPPeer. A
// peer without a node is global: every node peers with it; with one, only
// that node does. Everything is checked before anything is written.
import { formatIp, parseIp } from '../ip/address';
import type { EtcdClient } from './etcd';
import { asnProblem, listRecords, nodeNameProblem } from './routed-nodes';

export interface BgpPeer {
  name: string;
  peerIP: string;
  asNumber: number;
  node?: string;
}

export const peersDir = (prefix: string) => `${prefix}/bgp/peers/`;
export const peerKey = (prefix: string, name: string) => `${peersDir(prefix)}${name}`;

export class BgpPeerError extends Error {
  constructor(readonly field: 'name' | 'peerIP' | 'asNumber' | 'node', message: string) {
    super(message);
  }
}

/** The peer's name when none is given: its address, as a key segment. */
export const defaultPeerName = (peerIP: string, node?: string) => `${node ? `${node}.` : ''}${peerIP.replace(/[.:]/g, '-')}`;

export function makePeer(input: { name?: string; peerIP: string; asNumber: string; node?: string }): BgpPeer {
  const ip = parseIp(input.peerIP);
  if (!ip || ip.family !== 4) throw new BgpPeerError('peerIP', `"${input.peerIP}" is not an IPv4 address`);
  const asProblem = asnProblem(input.asNumber);
  if (asProblem) throw new BgpPeerError('asNumber', asProblem);
  if (input.node !== undefined) {
    const p = nodeNameProblem(input.node);
    if (p) throw new BgpPeerError('node', p);
  }
  const peerIP = formatIp(ip);
  const name = input.name ?? defaultPeerName(peerIP, input.node);
  const nameProblem = nodeNameProblem(name);
  if (nameProblem) throw new BgpPeerError('name', nameProblem);
  return { name, peerIP, asNumber: Number(input.asNumber), ...(input.node !== undefined ? { node: input.node } : {}) };
}

export function encodePeer(p: BgpPeer): string {
  return JSON.stringify({ peerIP: p.peerIP, asNumber: p.asNumber, ...(p.node !== undefined ? { node: p.node } : {}) });
}

/** A stored peer, or a string naming what is wrong with it (checked as `tscni bgp peer add` checks its flags). */
export function decodePeer(name: string, text: string): BgpPeer | string {
  const what = `BGP peer ${nodeNameProblem(name) ? JSON.stringify(name) : name}`;
  let raw: any;
  try {
    raw = JSON.parse(text);
  } catch {
    return `${what}: the stored value is not JSON`;
  }
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) return `${what}: the stored value is not an object`;
  if (typeof raw.asNumber !== 'number') return `${what}: asNumber must be a number`;
  if (raw.node !== undefined && typeof raw.node !== 'string') return `${what}: node must be a node's name`;
  try {
    return makePeer({ name, peerIP: String(raw.peerIP), asNumber: String(raw.asNumber), ...(raw.node !== undefined ? { node: raw.node } : {}) });
  } catch (e) {
    return `${what}: ${(e as BgpPeerError).field}: ${(e as Error).message}`;
  }
}

export async function listPeers(client: EtcdClient, prefix: string): Promise<{ peers: BgpPeer[]; problems: string[] }> {
  const { records, problems } = await listRecords(client, peersDir(prefix), decodePeer);
  return { peers: records, problems };
}

/** The peers `node` has: the global ones and its own. */
export const peersOfNode = (peers: BgpPeer[], node: string) => peers.filter((p) => p.node === undefined || p.node === node);
