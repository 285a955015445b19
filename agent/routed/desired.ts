// What one sync wants, read from etcd: the nodes, BGP peers and pools first
// (the VXLAN step needs them before the blocks are read: taking the tunnel
// address may claim a block), then the blocks; from them, the BIRD input,
// the block routes and the VXLAN peers. A record that does not pass the
// checks, or that would give one address two sessions, is left out and
// reported in `ignored`.
import type { EtcdClient } from '../../lib/datastore/etcd';
import { listPeers, type BgpPeer } from '../../lib/datastore/bgp-peers';
import { listNodes, type RoutedNode } from '../../lib/datastore/routed-nodes';
import type { Block } from '../../lib/ipam/cluster/block';
import type { Pool } from '../../lib/ipam/cluster/pool';
import type { ClusterIpamStore } from '../../lib/ipam/cluster/store';
import { formatCidr } from '../../lib/ip/address';
import { ROUTE_PROTOCOL } from '../../lib/route-protocol';
import type { Underlay } from '../underlay';
import type { BirdInput } from './bird-config';
import type { RoutedOptions } from './options';
import { distinctNodes, sessionsOf } from './sessions';
import { tunnelRoutes, vxlanPeers, type TunnelRoute } from './vxlan';

/** The nodes, peers and pools, each with the records left out of it. */
export interface Cluster {
  nodes: RoutedNode[];
  /** this node's record, when it is there and passes the checks */
  self: RoutedNode | undefined;
  peers: BgpPeer[];
  pools: Pool[];
  problems: { listed: string[]; nodes: string[]; peers: string[]; pools: string[] };
}

export interface Desired {
  self: RoutedNode | undefined;
  pools: Pool[];
  /** the blocks this node holds */
  mine: Block[];
  ownBlocks: string[];
  /** remote blocks routed through the VXLAN device (none without it) */
  tunnelled: TunnelRoute[];
  /** the nodes the VXLAN device sends to (none without it) */
  vxlanPeers: RoutedNode[];
  /** IPv6 pools that would encapsulate but have no VXLAN device to ride */
  lonely6: Pool[];
  birdInput: BirdInput;
  ignored: string[];
}

export async function readCluster(client: EtcdClient, store: ClusterIpamStore, opts: RoutedOptions): Promise<Cluster> {
  const [listed, { peers, problems: peerProblems }, { records: pools, problems: poolProblems }] = await Promise.all([
    listNodes(client, opts.etcd.prefix), listPeers(client, opts.etcd.prefix), store.readPools(),
  ]);
  const { kept: nodes, problems: nodeProblems } = distinctNodes(opts.node, listed.nodes);
  return {
    nodes, self: nodes.find((n) => n.name === opts.node), peers, pools,
    problems: { listed: listed.problems, nodes: nodeProblems, peers: peerProblems, pools: poolProblems },
  };
}

/** The desired state, from the cluster and the blocks; `vtep` says whether the VXLAN device exists. */
export async function readDesired(
  store: ClusterIpamStore, opts: RoutedOptions, underlay: Underlay, underlay6: { address: string; dev: string } | undefined,
  cluster: Cluster, vtep: number | undefined,
): Promise<Desired> {
  const { nodes, self, peers, pools } = cluster;
  const { records: blocks, problems: blockProblems } = await store.readBlocks();
  const mine = blocks.filter((b) => b.node === opts.node);
  const ownBlocks = mine.map((b) => formatCidr(b.cidr));
  const plan = self ? sessionsOf(self, nodes, peers) : { kept: [], problems: [] };
  const vxlan = vtep === undefined ? { peers: [], problems: [] } : vxlanPeers(opts.node, nodes, pools);
  const p = cluster.problems;
  const ignored = [...p.listed, ...p.nodes, ...p.peers, ...plan.problems, ...p.pools, ...blockProblems, ...vxlan.problems];
  const tunnelled = vtep === undefined ? [] : tunnelRoutes(opts.node, underlay, nodes, blocks, pools);
  const lonely6 = vtep === undefined ? pools.filter((pool) => pool.vxlan !== 'never' && pool.cidr.ip.family === 6) : [];
  const birdInput: BirdInput = {
    node: opts.node, routerId: underlay.publicIp, asn: opts.asn, underlayDev: underlay.name,
    ownBlocks, tunnelBlocks: tunnelled.map((t) => t.block), routeProtocol: ROUTE_PROTOCOL.routed,
    ...(underlay6 ? { ipv6: underlay6 } : {}),
    ...(opts.clusterId ? { clusterId: opts.clusterId } : {}), sessions: plan.kept,
  };
  return { self, pools, mine, ownBlocks, tunnelled, vxlanPeers: vxlan.peers, lonely6, birdInput, ignored };
}
