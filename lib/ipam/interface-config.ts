// Applying an IPAM result to the pod's interface, and checking it is still
// there: the addresses whose `interface` index names this interface, the link
// up, then the result's routes (a route without a gateway goes via the
// gateway of its family, as the reference's ConfigureIface does).
// Runs against an Rtnl opened in the pod's namespace.
import { CniError, UNKNOWN_ERROR_CODE } from '../cni/errors';
import type { IpConfig, Result, Route } from '../cni/types';
import { ROUTE_SCOPE, type RouteScopeName } from '../netlink/constants';
import { formatCidr, formatIp, ipFamily, networkOf, parseCidr, parseIp } from '../ip/address';
import type { Rtnl } from '../netlink/rtnl';
import type { RouteSpec } from '../netlink/routes';

/** Canonical text, so "fd00:0::1/64" and "fd00::1/64" compare equal (results are validated: both parse). */
const canonicalCidr = (cidr: string, masked = false): string => {
  const c = parseCidr(cidr);
  if (typeof c === 'string') return cidr;
  return formatCidr(masked ? networkOf(c) : c);
};
const canonicalIp = (ip: string): string => {
  const parsed = parseIp(ip);
  return parsed ? formatIp(parsed) : ip;
};

function scopeName(scope: number | undefined): RouteScopeName | undefined {
  if (scope === undefined) return undefined;
  const name = (Object.keys(ROUTE_SCOPE) as RouteScopeName[]).find((k) => ROUTE_SCOPE[k] === scope);
  if (!name) throw new CniError(UNKNOWN_ERROR_CODE, `route scope ${scope} is not one the kernel knows`);
  return name;
}

/** The result's addresses that belong to interface `ifname`. */
export function addressesFor(result: Result, ifname: string): IpConfig[] {
  return (result.ips ?? []).filter((ip) => {
    if (ip.interface === undefined) return false;
    const iface = result.interfaces?.[ip.interface];
    if (!iface || iface.name !== ifname) {
      throw new CniError(UNKNOWN_ERROR_CODE, `failed to add IP addr ${ip.address} to "${ifname}": invalid interface index`);
    }
    return true;
  });
}

/** First gateway per family among `ips`: where gateway-less routes go. */
function defaultGateways(ips: IpConfig[]): Map<4 | 6, string> {
  const gws = new Map<4 | 6, string>();
  for (const ip of ips) if (ip.gateway && !gws.has(ipFamily(ip.gateway))) gws.set(ipFamily(ip.gateway), ip.gateway);
  return gws;
}

export function routeSpecFor(r: Route, ifname: string, gws: Map<4 | 6, string>): RouteSpec {
  const spec: RouteSpec = { dst: r.dst, dev: ifname };
  const gw = r.gw ?? gws.get(ipFamily(r.dst));
  if (gw) spec.gw = gw;
  if (r.priority !== undefined) spec.metric = r.priority;
  if (r.table !== undefined) spec.table = r.table;
  const scope = scopeName(r.scope);
  if (scope) spec.scope = scope;
  if (r.mtu !== undefined) spec.mtu = r.mtu;
  if (r.advmss !== undefined) spec.advmss = r.advmss;
  return spec;
}

/** Addresses, link up, routes. IPv6 addresses skip DAD unless `dad` asks for it. */
export async function configureInterface(pod: Rtnl, ifname: string, result: Result, opts: { dad?: boolean } = {}): Promise<void> {
  const ips = addressesFor(result, ifname);
  for (const ip of ips) {
    await pod.addrs.add(ifname, ip.address, { nodad: ipFamily(ip.address) === 6 && !opts.dad });
  }
  await pod.links.setUp(ifname);
  const gws = defaultGateways(ips);
  for (const r of result.routes ?? []) await pod.routes.add(routeSpecFor(r, ifname, gws));
}

/**
 * What differs between `result` and interface `ifname` in the pod, as one
 * message per difference (empty when all is in place): CHECK's answer.
 */
export async function verifyInterfaceConfig(pod: Rtnl, ifname: string, result: Result): Promise<string[]> {
  const problems: string[] = [];
  const link = await pod.links.get(ifname);
  if (!link) return [`interface ${ifname} not found in the container`];
  const ips = addressesFor(result, ifname);
  const present = new Set((await pod.addrs.list({ link: link.index })).map((a) => a.cidr));
  for (const ip of ips) {
    if (!present.has(canonicalCidr(ip.address))) problems.push(`address ${ip.address} missing on ${ifname}`);
  }
  const gws = defaultGateways(ips);
  const routes = await pod.routes.list({ table: 'all' });
  for (const r of result.routes ?? []) {
    const want = routeSpecFor(r, ifname, gws);
    const dst = canonicalCidr(want.dst, true);
    const gw = want.gw === undefined ? undefined : canonicalIp(want.gw);
    const found = routes.some(
      (have) =>
        have.dev === link.index &&
        have.dst === dst &&
        (gw === undefined || have.gw === gw) &&
        (want.table === undefined || have.table === want.table),
    );
    if (!found) problems.push(`route ${r.dst}${want.gw ? ` via ${want.gw}` : ''} dev ${ifname} missing`);
  }
  return problems;
}
