// The agent's routes, reconciled the way Calico felix's route table does: the
// desired routes against the routes the kernel holds with the agent's own
// route protocol number (rtm_protocol), adding what is missing, replacing what
// differs and deleting what is no longer desired. A route with another
// protocol is never touched, even when it has a desired destination: that is
// a conflict, reported, and left to whoever owns it.
import type { Rtnl, Route, RouteSpec } from '../lib/netlink';
import { isExists } from '../lib/netlink';

/** One desired route: a destination in the main table, out of a device by index, or a blackhole. */
export type DesiredRoute =
  | { dst: string; gw?: string; dev: number; onlink?: boolean; blackhole?: undefined }
  | { dst: string; blackhole: true; gw?: undefined; dev?: undefined; onlink?: undefined };

/** The kernel gives every IPv6 route a metric, 1024 (IP6_RT_PRIO_USER) when the request named none, as ours do. */
const defaultMetric = (r: Route): boolean => r.metric === undefined || (r.dst.includes(':') && r.metric === 1024);

// An IPv6 blackhole comes back from the kernel on `lo`: a blackhole is compared by its type alone.
const same = (have: Route, want: DesiredRoute): boolean => defaultMetric(have) && (want.blackhole
  ? have.type === 'blackhole'
  : have.type === 'unicast' && have.gw === want.gw && have.dev === want.dev && have.onlink === (want.onlink ?? false));

const describe = (r: { dst: string; gw?: string; dev?: number; onlink?: boolean; blackhole?: boolean; type?: Route['type'] }): string =>
  r.blackhole || r.type === 'blackhole' ? `blackhole ${r.dst}` : `${r.dst}${r.gw ? ` via ${r.gw}` : ''} dev ${r.dev}${r.onlink ? ' onlink' : ''}`;

export interface RouteChanges {
  /** one line per change made, for the log */
  changes: string[];
  /** desired destinations that a route of another owner holds */
  conflicts: string[];
}

/** Makes the main-table routes of `protocol` of one family (IPv4 unless given) equal to `desired` (one per destination). */
export async function reconcileRoutes(nl: Rtnl, protocol: number, desired: DesiredRoute[], family: 4 | 6 = 4): Promise<RouteChanges> {
  const want = new Map(desired.map((r) => [r.dst, r]));
  const have = await nl.routes.list({ family, protocol });
  const out: RouteChanges = { changes: [], conflicts: [] };
  const kept = new Set<string>();
  for (const r of have) {
    const w = want.get(r.dst);
    if (w !== undefined && !kept.has(r.dst) && same(r, w)) {
      kept.add(r.dst);
      continue;
    }
    // The kernel deletes a route of another type than unicast only when the request names that type.
    const type = typeof r.type === 'string' && r.type !== 'unicast' ? { type: r.type } : {};
    await nl.routes.del({ dst: r.dst, ...(r.gw ? { gw: r.gw } : {}), ...(r.dev ? { dev: r.dev } : {}), protocol, ...type, ...(r.metric !== undefined ? { metric: r.metric } : {}) }, { ignoreMissing: true });
    out.changes.push(`route deleted ${describe(r)}`);
  }
  for (const w of desired) {
    if (kept.has(w.dst)) continue;
    const spec: RouteSpec = w.blackhole
      ? { dst: w.dst, type: 'blackhole', protocol }
      : { dst: w.dst, dev: w.dev, protocol, scope: w.gw ? 'universe' : 'link', ...(w.gw ? { gw: w.gw } : {}), ...(w.onlink ? { onlink: true } : {}) };
    try {
      await nl.routes.add(spec);
      out.changes.push(`route added ${describe(w)}`);
    } catch (e) {
      if (!isExists(e)) throw e;
      out.conflicts.push(w.dst);
    }
  }
  return out;
}
