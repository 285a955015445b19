// The vxlan backend: flanneld's kernel layout. For each peer with a vxlan
// lease, three entries on flannel.<VNI>:
//   route      <subnet> via <peer network address> dev flannel.<VNI> onlink
//   neighbour  <peer network address> lladdr <peer VtepMAC> permanent
//   FDB        <peer VtepMAC> dst <peer PublicIP> self permanent
// so the kernel encapsulates toward the right node with no ARP and no
// learning. With DirectRouting, a peer on this node's own L2 segment gets a
// plain route via its PublicIP on the underlay instead (no encapsulation).
import { formatCidr, formatIp } from '../../../lib/ip/address';
import type { Rtnl } from '../../../lib/netlink';
import type { VxlanBackendData } from '../../../lib/datastore/flannel-subnets';
import type { Cidr } from '../../../lib/ip/address';
import { reconcileRoutes, type DesiredRoute } from '../../route-table';
import { ROUTE_PROTOCOL } from '../../../lib/route-protocol';
import { routeChanges, type Backend, type BackendContext, type Peer } from '../backend';
import { onSegment } from '../../underlay';
import { ensureVtep, VXLAN_OVERHEAD, type VtepSpec } from '../../vtep/vtep';
import { vtepMac } from '../../vtep/vtep-mac';
import { reconcileFdb, reconcileNeighbors } from '../../vtep/entries';

export class VxlanBackend implements Backend {
  readonly type = 'vxlan';
  readonly leaseData: Record<string, unknown>;
  readonly mtu: number;
  private readonly vtep: VtepSpec;
  private readonly directRouting: boolean;

  constructor(private readonly ctx: BackendContext) {
    const b = ctx.config.Backend;
    if (b.Type !== 'vxlan') throw new Error('vxlan backend for a config of another type');
    this.vtep = { name: `flannel.${b.VNI}`, vni: b.VNI, port: b.Port, mac: vtepMac(ctx.nodeName), underlay: ctx.underlay };
    this.directRouting = b.DirectRouting;
    this.leaseData = { VNI: b.VNI, VtepMAC: this.vtep.mac } satisfies VxlanBackendData;
    this.mtu = ctx.underlay.mtu - VXLAN_OVERHEAD;
  }

  async reconcile(own: Cidr, peers: Peer[]): Promise<string[]> {
    const nl: Rtnl = this.ctx.nl;
    const { index, changes } = await ensureVtep(nl, this.vtep, own);
    const routes: DesiredRoute[] = [];
    const neighbors = new Map<string, string>();
    const fdb = new Map<string, string>();
    for (const p of peers) {
      if (p.lease.BackendType !== 'vxlan') continue;
      const data = p.lease.BackendData as VxlanBackendData;
      if (data.VNI !== this.vtep.vni) continue;
      const dst = formatCidr(p.subnet);
      if (this.directRouting && onSegment(this.ctx.underlay, p.lease.PublicIP)) {
        routes.push({ dst, gw: p.lease.PublicIP, dev: this.ctx.underlay.index });
        continue;
      }
      const gw = formatIp(p.subnet.ip);
      routes.push({ dst, gw, dev: index, onlink: true });
      neighbors.set(gw, data.VtepMAC);
      fdb.set(data.VtepMAC, p.lease.PublicIP);
    }
    // FDB and neighbours first: a route is only added when the kernel can already encapsulate along it.
    changes.push(...(await reconcileFdb(nl, index, fdb)));
    changes.push(...(await reconcileNeighbors(nl, index, neighbors)));
    const r = await reconcileRoutes(nl, ROUTE_PROTOCOL.overlay, routes);
    changes.push(...routeChanges(r, this.ctx.log));
    return changes;
  }

  async stop(): Promise<void> {}
}
