// VXLAN where BGP routes cannot go: a pool with `vxlan: always` encapsulates
// traffic to every other node's blocks, `cross-subnet` only to nodes off this
// node's L2 segment (their BGP next hop is not on a connected network).
// Calico's layout: one device (VNI 4096, UDP 4789, MTU the underlay's − 50)
// with a tunnel address per node taken from the pool, and per remote block a
// route via the remote tunnel address, onlink, with a permanent neighbour
// (tunnel address → VTEP MAC) and FDB entry (VTEP MAC → underlay address).
import type { RoutedNode } from '../../lib/datastore/routed-nodes';
import { formatCidr } from '../../lib/ip/address';
import type { Pool } from '../../lib/ipam/cluster/pool';
import type { Block } from '../../lib/ipam/cluster/block';
import { onSegment, type Underlay } from '../underlay';

export const VXLAN_DEVICE = 'vxlan.tscni';
export const VXLAN_VNI = 4096;
export const VXLAN_PORT = 4789;

/** The tunnel address is an allocation like a pod's, under a handle of its own. */
export const tunnelHandle = (node: string) => `vxlan-tunnel/${node}/${VXLAN_DEVICE}`;

/** IPv4 pools whose traffic may need encapsulation. */
export const vxlanPools = (pools: Pool[]) => pools.filter((p) => p.vxlan !== 'never' && p.cidr.ip.family === 4);

export interface TunnelRoute {
  block: string;
  node: RoutedNode;
}

/** The remote blocks this node reaches through the VXLAN device. */
export function tunnelRoutes(self: string, underlay: Underlay, nodes: RoutedNode[], blocks: Block[], pools: Pool[]): TunnelRoute[] {
  const mode = new Map(pools.map((p) => [p.name, p.vxlan]));
  const byName = new Map(nodes.map((n) => [n.name, n]));
  const out: TunnelRoute[] = [];
  for (const b of blocks) {
    const node = byName.get(b.node);
    if (!node || node.name === self || b.cidr.ip.family !== 4 || !node.tunnelAddress || !node.vtepMAC) continue;
    const m = mode.get(b.pool);
    if (m === 'always' || (m === 'cross-subnet' && !onSegment(underlay, node.ip))) out.push({ block: formatCidr(b.cidr), node });
  }
  return out;
}
