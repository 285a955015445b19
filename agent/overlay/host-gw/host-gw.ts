// The host-gw backend: no encapsulation, a plain route per peer,
//   <subnet> via <peer PublicIP> dev <underlay>
// which works only when the peer is on this node's own L2 segment. A peer
// behind a router is logged once as unreachable for host-gw and gets no
// route: sending its pods' traffic to the router would mis-route it.
import { formatCidr, type Cidr } from '../../../lib/ip/address';
import { reconcileRoutes, type DesiredRoute } from '../../route-table';
import { ROUTE_PROTOCOL } from '../../../lib/route-protocol';
import { routeChanges, type Backend, type BackendContext, type Peer } from '../backend';
import { onSegment } from '../../underlay';

export class HostGwBackend implements Backend {
  readonly type = 'host-gw';
  readonly mtu: number;

  constructor(private readonly ctx: BackendContext) {
    this.mtu = ctx.underlay.mtu;
  }

  async reconcile(_own: Cidr, peers: Peer[]): Promise<string[]> {
    const { underlay, log } = this.ctx;
    const routes: DesiredRoute[] = [];
    for (const p of peers) {
      if (p.lease.BackendType !== 'host-gw') continue;
      const dst = formatCidr(p.subnet);
      if (!onSegment(underlay, p.lease.PublicIP)) {
        log.once(`unreachable ${dst}`, 'peer-unreachable', {
          backend: 'host-gw', subnet: dst, publicIp: p.lease.PublicIP, reason: `not on ${formatCidr(underlay.segment)} of ${underlay.name}`,
        });
        continue;
      }
      routes.push({ dst, gw: p.lease.PublicIP, dev: underlay.index });
    }
    const r = await reconcileRoutes(this.ctx.nl, ROUTE_PROTOCOL.overlay, routes);
    return routeChanges(r, log);
  }

  async stop(): Promise<void> {}
}
