// External BGP peers (a top-of-rack router, a router outside the cluster):
// /tscni/v1/bgp/peers/<name> {peerIP, asNumber, node?}, Calico's BGPPeer. A
// peer without a node is global: every node peers with it; with one, only
// that node does. Everything is checked before anything is written.
import { formatIp, parseIp } from '../ip/address';
import type { EtcdClient } from './etcd';
import { asnProblem, listNodes, listRecords, nodeNameProblem } from './routed-nodes';
import { storedObject } from '../routed/stored-object';

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
  const raw = storedObject(what, text);
  if (typeof raw === 'string') return raw;
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

const scopeOf = (p: BgpPeer) => (p.node === undefined ? 'every node' : `node ${p.node}`);

/**
 * Why `peer` would give a node a second session with one address, or
 * undefined: BIRD names a session by its neighbour's address, and the
 * agent keeps one session per address. A peer of the same name is the one
 * being replaced; a node's own address is its node-to-node session's.
 */
export function peerConflict(peer: BgpPeer, peers: BgpPeer[], nodes: Array<{ name: string; ip: string }>): string | undefined {
  const node = nodes.find((n) => n.ip === peer.peerIP);
  if (node) return `${peer.peerIP} is node ${node.name}'s address: the nodes have their sessions with each other already`;
  const shared = (p: BgpPeer) => p.node === undefined || peer.node === undefined || p.node === peer.node;
  const other = peers.find((p) => p.name !== peer.name && p.peerIP === peer.peerIP && shared(p));
  if (other) return `BGP peer ${other.name} has ${peer.peerIP} for ${scopeOf(other)} already: ${scopeOf(peer)} would have two sessions with it (tscni bgp peer remove ${other.name} first)`;
  return undefined;
}

export class BgpPeerConflictError extends Error {}

/**
 * Writes `peer` unless it conflicts with a stored peer or node; the write
 * compares every peer it checked against, so a peer added meanwhile makes
 * it fail rather than conflict.
 */
export async function addPeer(client: EtcdClient, prefix: string, peer: BgpPeer): Promise<void> {
  const [{ kvs }, { nodes }] = await Promise.all([client.getPrefix(peersDir(prefix)), listNodes(client, prefix)]);
  const peers = kvs.map((kv) => decodePeer(kv.key.slice(peersDir(prefix).length), kv.value)).filter((p): p is BgpPeer => typeof p !== 'string');
  const conflict = peerConflict(peer, peers, nodes);
  if (conflict) throw new BgpPeerConflictError(conflict);
  const key = peerKey(prefix, peer.name);
  const r = await client.txn(
    [...kvs.map((kv) => ({ key: kv.key, modRevision: kv.modRevision })), ...(kvs.some((kv) => kv.key === key) ? [] : [{ key, createRevision: 0 }])],
    [{ put: { key, value: encodePeer(peer) } }],
  );
  if (!r.succeeded) throw new BgpPeerConflictError(`the BGP peers changed while ${peer.name} was being added; try again`);
}
