// The blackhole route of every block the node holds, so that an address of
// the block that no pod has does not follow the default route (Calico's
// felix installs the same). The agent owns the routes of its own route
// protocol number and only those: it adds the missing ones, deletes its own
// that are no longer wanted, and reports a destination another owner holds.
import type { Rtnl } from '../../lib/netlink';
import { isExists } from '../../lib/netlink';
import { ROUTE_PROTOCOL } from '../route-table';

export interface BlockRouteChanges {
  added: string[];
  deleted: string[];
  /** blocks whose destination a route of someone else holds */
  conflicts: string[];
}

export async function reconcileBlockRoutes(nl: Rtnl, blocks: string[], protocol: number = ROUTE_PROTOCOL.routed): Promise<BlockRouteChanges> {
  const want = new Set(blocks);
  const out: BlockRouteChanges = { added: [], deleted: [], conflicts: [] };
  const have = new Set<string>();
  for (const family of [4, 6] as const) {
    for (const r of await nl.routes.list({ family, protocol })) {
      if (want.has(r.dst) && r.type === 'blackhole' && r.metric === undefined) {
        have.add(r.dst);
        continue;
      }
      await nl.routes.del({ dst: r.dst, protocol, type: typeof r.type === 'string' ? r.type : undefined, ...(r.metric !== undefined ? { metric: r.metric } : {}) }, { ignoreMissing: true });
      out.deleted.push(r.dst);
    }
  }
  for (const dst of blocks) {
    if (have.has(dst)) continue;
    try {
      await nl.routes.add({ dst, type: 'blackhole', protocol });
      out.added.push(dst);
    } catch (e) {
      if (!isExists(e)) throw e;
      out.conflicts.push(dst);
    }
  }
  return out;
}
