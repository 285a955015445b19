// The VXLAN step, when a pool may encapsulate. First, before the blocks are
// read: the device, with this node's tunnel address (its allocation under
// its own handle, taken once, then kept in the node's record). Last, after
// the routes: a neighbour and an FDB entry per remote VTEP.
import type { EtcdClient } from '../../../lib/datastore/etcd';
import { registerNode, type RoutedNode } from '../../../lib/datastore/routed-nodes';
import type { Pool } from '../../../lib/ipam/cluster/pool';
import type { ClusterIpamStore } from '../../../lib/ipam/cluster/store';
import { parseIp } from '../../../lib/ip/address';
import type { Rtnl } from '../../../lib/netlink';
import type { Logger } from '../../log';
import type { Underlay } from '../../underlay';
import { reconcileFdb, reconcileNeighbors } from '../../vtep/entries';
import { vtepMac } from '../../vtep/vtep-mac';
import { ensureVtep } from '../../vtep/vtep';
import type { Desired } from '../desired';
import { legacyTunnelHandle, tunnelHandle, vtepLinkLocal, VXLAN_DEVICE, VXLAN_PORT, VXLAN_VNI, vxlanPools } from '../vxlan';

export class VxlanStep {
  constructor(
    private readonly nl: Rtnl,
    private readonly client: EtcdClient,
    private readonly store: ClusterIpamStore,
    private readonly prefix: string,
    private readonly node: string,
    private readonly underlay: Underlay,
    private readonly logger: Logger,
  ) {}

  /** The device's ifindex, or undefined when no pool needs it. */
  async ensureDevice(self: RoutedNode | undefined, pools: Pool[]): Promise<number | undefined> {
    const { node, store } = this;
    const encapsulating = vxlanPools(pools);
    if (!self || encapsulating.length === 0) return undefined;
    let tunnel = self.tunnelAddress;
    if (tunnel === undefined) {
      // A record written anew (deleted under the agent) finds the address the node holds, in either handle form.
      const [legacy] = await store.heldBy(legacyTunnelHandle(node));
      const a = legacy ?? (await store.assign(tunnelHandle(node), encapsulating.map((p) => p.name))).ips[0];
      tunnel = a!.address.split('/')[0]!;
      await registerNode(this.client, this.prefix, { ...self, tunnelAddress: tunnel });
      this.logger.event('tunnel-address', { address: tunnel });
    }
    const spec = { name: VXLAN_DEVICE, vni: VXLAN_VNI, port: VXLAN_PORT, mac: self.vtepMAC ?? vtepMac(node), underlay: this.underlay };
    const { index, changes } = await ensureVtep(this.nl, spec, { ip: parseIp(tunnel)!, prefix: 32 });
    for (const change of changes) this.logger.event('vxlan', { change });
    return index;
  }

  /** The remote VTEPs' neighbours and FDB entries on the device. */
  async reconcilePeers(vtep: number, desired: Desired): Promise<void> {
    const { nl } = this;
    const remote = desired.vxlanPeers;
    // IPv6 neighbours (each VTEP's link-local) only while an IPv6 pool encapsulates.
    const remote6 = desired.pools.some((p) => p.vxlan !== 'never' && p.cidr.ip.family === 6) ? remote : [];
    const changes = [
      ...(await reconcileNeighbors(nl, vtep, new Map(remote.map((n) => [n.tunnelAddress!, n.vtepMAC!])))),
      ...(await reconcileNeighbors(nl, vtep, new Map(remote6.map((n) => [vtepLinkLocal(n), n.vtepMAC!])), 6)),
      ...(await reconcileFdb(nl, vtep, new Map(remote.map((n) => [n.vtepMAC!, n.ip])))),
    ];
    for (const change of changes) this.logger.event('vxlan', { change });
  }
}
