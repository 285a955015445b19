// VXLAN where BGP routes cannot go: a pool with `vxlan: always` encapsulates
// traffic to every other node's blocks, `cross-subnet` only to nodes off this
// node's L2 segment (their BGP next hop is not on a connected network).
// Calico's layout: one device (VNI 4096, UDP 4789, MTU the underlay's − 50)
// with a tunnel address per node taken from the pool, and per remote block a
// route via the remote tunnel address, onlink, with a permanent neighbour
// (tunnel address → VTEP MAC) and FDB entry (VTEP MAC → underlay address).
//
// IPv6 pools ride the same device: VXLAN carries Ethernet frames, so an
// IPv6 packet crosses the IPv4 underlay as an IPv4 one does. A remote IPv6
// block is routed via the remote VTEP's link-local address (its MAC's
// EUI-64, which the FDB already maps to its underlay address), so IPv6 needs
// no tunnel address, no IPv6 underlay between segments and no second device
// (Calico's vxlan-v6.calico is for an IPv6 underlay). The device exists when
// an IPv4 pool encapsulates, as it takes its tunnel address from one.
import type { RoutedNode } from '../../lib/datastore/routed-nodes';
import { cidrsOverlap, formatCidr, linkLocalOfMac, parseIp } from '../../lib/ip/address';
import type { Pool } from '../../lib/ipam/cluster/pool';
import { AGENT_NETWORK, LEGACY_AGENT_NETWORKS, type Block } from '../../lib/ipam/cluster/block';
import { onSegment, type Underlay } from '../underlay';

export const VXLAN_DEVICE = 'vxlan.tscni';
export const VXLAN_VNI = 4096;
export const VXLAN_PORT = 4789;

/** The tunnel address is an allocation like a pod's, under a handle in the agent's own namespace. */
export const tunnelHandle = (node: string) => `${AGENT_NETWORK}/${node}/${VXLAN_DEVICE}`;
/** The handle agents before the reserved namespace filed it under: still read, never written. */
export const legacyTunnelHandle = (node: string) => `${LEGACY_AGENT_NETWORKS[0]}/${node}/${VXLAN_DEVICE}`;

/** IPv4 pools whose traffic may need encapsulation. */
export const vxlanPools = (pools: Pool[]) => pools.filter((p) => p.vxlan !== 'never' && p.cidr.ip.family === 4);

export interface TunnelRoute {
  block: string;
  node: RoutedNode;
  /** the remote VTEP: its tunnel address (IPv4 blocks) or link-local address (IPv6 blocks) */
  gw: string;
}

/** The neighbour address of a remote VTEP for IPv6 blocks. */
export const vtepLinkLocal = (n: RoutedNode) => linkLocalOfMac(n.vtepMAC!);

/**
 * The other nodes this node's VXLAN device can reach: a VTEP MAC and a
 * tunnel address, which the agent takes from a pool that encapsulates. A
 * tunnel address outside every such pool was not written by an agent: the
 * node is reported, and its blocks get no VXLAN route.
 */
export function vxlanPeers(self: string, nodes: RoutedNode[], pools: Pool[]): { peers: RoutedNode[]; problems: string[] } {
  const encapsulating = vxlanPools(pools);
  const peers: RoutedNode[] = [];
  const problems: string[] = [];
  for (const n of nodes) {
    if (n.name === self || !n.tunnelAddress || !n.vtepMAC) continue;
    const ip = parseIp(n.tunnelAddress);
    if (ip?.family === 4 && encapsulating.some((p) => cidrsOverlap(p.cidr, { ip, prefix: 32 }))) peers.push(n);
    else problems.push(`node ${n.name}: tunnelAddress ${n.tunnelAddress} is in no pool that encapsulates; no VXLAN route to its blocks`);
  }
  return { peers, problems };
}

/** The remote blocks this node reaches through the VXLAN device. */
export function tunnelRoutes(self: string, underlay: Underlay, nodes: RoutedNode[], blocks: Block[], pools: Pool[]): TunnelRoute[] {
  const mode = new Map(pools.map((p) => [p.name, p.vxlan]));
  const byName = new Map(vxlanPeers(self, nodes, pools).peers.map((n) => [n.name, n]));
  const out: TunnelRoute[] = [];
  for (const b of blocks) {
    const node = byName.get(b.node);
    if (!node) continue;
    const m = mode.get(b.pool);
    const gw = b.cidr.ip.family === 4 ? node.tunnelAddress! : vtepLinkLocal(node);
    if (m === 'always' || (m === 'cross-subnet' && !onSegment(underlay, node.ip))) out.push({ block: formatCidr(b.cidr), node, gw });
  }
  return out;
}
