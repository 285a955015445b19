// The kernel-routes step: the agent's routes (route protocol 75) are a
// blackhole per block this node holds and, with the VXLAN device, a route
// per remote block that is tunnelled. It runs after the BIRD step: BIRD has
// withdrawn a released block before its blackhole goes, and no longer puts
// the BGP route of a block that is now tunnelled into the kernel, where the
// agent's route takes its place.
import { ipFamily } from '../../../lib/ip/address';
import type { Rtnl } from '../../../lib/netlink';
import { ROUTE_PROTOCOL } from '../../../lib/route-protocol';
import type { Logger } from '../../log';
import { reconcileRoutes, type DesiredRoute } from '../../route-table';
import type { Desired } from '../desired';

export async function reconcileBlockRoutes(nl: Rtnl, desired: Desired, vtep: number | undefined, logger: Logger): Promise<void> {
  for (const family of [4, 6] as const) {
    const want: DesiredRoute[] = desired.ownBlocks.filter((b) => ipFamily(b) === family).map((dst) => ({ dst, blackhole: true as const }));
    if (vtep !== undefined) {
      want.push(...desired.tunnelled.filter((t) => ipFamily(t.block) === family).map((t) => ({ dst: t.block, gw: t.gw, dev: vtep, onlink: true })));
    }
    const routes = await reconcileRoutes(nl, ROUTE_PROTOCOL.routed, want, family);
    for (const change of routes.changes) logger.event('route', { change });
    for (const dst of routes.conflicts) logger.once(`conflict:${dst}`, 'route-conflict', { dst, why: 'a route of another owner holds this destination' });
  }
}
