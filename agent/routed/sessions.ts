// Which records a node's agent acts on, and its BGP sessions. BIRD names a
// session by its neighbour's address (bird-config's sessionName), and one
// neighbour address can be one session only. Two records can still name one
// address: a node re-registered under a new host name leaves its old record,
// and a BGP peer may be added once for every node and once for one node, or
// with a node's own address. The agent then keeps one record per address,
// chosen the same way on every node, and reports the others, so one
// mistake in etcd never stops the sessions of everything else.
import type { BgpPeer } from '../../lib/datastore/bgp-peers';
import { peersOfNode } from '../../lib/datastore/bgp-peers';
import type { RoutedNode } from '../../lib/datastore/routed-nodes';
import { meshSessions, type Session } from './bird-config';

export interface Chosen<T> {
  kept: T[];
  /** one line per record left out, naming it and why */
  problems: string[];
}

const byName = <T extends { name: string }>(a: T, b: T) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0);

/**
 * One node per underlay address and per tunnel address: this node's own
 * record first (it is the one its agent keeps true), then the one written
 * last (a node re-registered under a new name wrote its new record after
 * the old one, and an agent rewrites its record at every start), then the
 * lowest name. A node left out gets no session, no route and no neighbour.
 */
export function distinctNodes(self: string, nodes: RoutedNode[]): Chosen<RoutedNode> {
  const rank = (n: RoutedNode) => (n.name === self ? Infinity : n.written ?? 0);
  const ordered = [...nodes].sort((a, b) => rank(b) - rank(a) || byName(a, b));
  const byIp = new Map<string, RoutedNode>();
  const byTunnel = new Map<string, RoutedNode>();
  const kept: RoutedNode[] = [];
  const problems: string[] = [];
  for (const n of ordered) {
    const sameIp = byIp.get(n.ip);
    const sameTunnel = n.tunnelAddress === undefined ? undefined : byTunnel.get(n.tunnelAddress);
    if (sameIp) problems.push(`node ${n.name}: ip ${n.ip} is node ${sameIp.name}'s too; only ${sameIp.name} is used`);
    else if (sameTunnel) problems.push(`node ${n.name}: tunnelAddress ${n.tunnelAddress} is node ${sameTunnel.name}'s too; only ${sameTunnel.name} is used`);
    else {
      kept.push(n);
      byIp.set(n.ip, n);
      if (n.tunnelAddress !== undefined) byTunnel.set(n.tunnelAddress, n);
    }
  }
  return { kept: kept.sort(byName), problems };
}

/**
 * The sessions of `self`: the node-to-node ones from `nodes` (distinct
 * already), then its external peers, one per address, a peer for this node
 * before a peer for every node, then the lowest name. A peer at a node's
 * address is left out: that node's session is there already.
 */
export function sessionsOf(self: RoutedNode, nodes: RoutedNode[], peers: BgpPeer[]): Chosen<Session> {
  const sessions = meshSessions(self, nodes);
  const problems: string[] = [];
  const nodeAt = new Map(nodes.map((n) => [n.ip, n.name]));
  const peerAt = new Map<string, string>();
  const ordered = peersOfNode(peers, self.name).sort((a, b) => (a.node === b.node ? byName(a, b) : a.node !== undefined ? -1 : 1));
  for (const p of ordered) {
    const node = nodeAt.get(p.peerIP);
    const peer = peerAt.get(p.peerIP);
    if (node !== undefined) problems.push(`BGP peer ${p.name}: ${p.peerIP} is node ${node}'s address; the node-to-node session stays`);
    else if (peer !== undefined) problems.push(`BGP peer ${p.name}: ${p.peerIP} is BGP peer ${peer}'s too; one session, with ${peer}`);
    else {
      peerAt.set(p.peerIP, p.name);
      sessions.push({ kind: 'external', ip: p.peerIP, asn: p.asNumber, peer: p.name });
    }
  }
  return { kept: sessions, problems };
}
