// The node's side of the underlay: the interface peers are reached through
// (--iface, else the one the default route leaves by), its address (the
// lease's PublicIP, --public-ip or the interface's first IPv4) and the L2
// segment it sits on (the address's prefix), which decides whether a peer is
// reachable directly (host-gw, vxlan's DirectRouting).
import { networkOf, parseCidr, parseIp, prefixBounds, type Cidr } from '../lib/ip/address';
import type { Rtnl } from '../lib/netlink';

export interface Underlay {
  name: string;
  index: number;
  mtu: number;
  publicIp: string;
  /** the connected prefix of the interface's address that holds publicIp */
  segment: Cidr;
}

export class UnderlayError extends Error {}

export async function findUnderlay(nl: Rtnl, o: { iface?: string; publicIp?: string }): Promise<Underlay> {
  let index: number;
  if (o.iface !== undefined) {
    const link = await nl.links.get(o.iface);
    if (!link) throw new UnderlayError(`--iface: there is no interface "${o.iface}"`);
    index = link.index;
  } else {
    const def = (await nl.routes.list({ family: 4 })).find((r) => r.dst === '0.0.0.0/0' && r.dev !== undefined);
    if (!def) throw new UnderlayError('--iface: not given, and there is no IPv4 default route to take the interface from');
    index = def.dev!;
  }
  const link = await nl.links.require(index);
  const addrs = (await nl.addrs.list({ link: index, family: 4 })).filter((a) => a.scope === 0);
  if (addrs.length === 0) throw new UnderlayError(`--iface: ${link.name} has no IPv4 address`);
  const chosen = o.publicIp === undefined ? addrs[0]! : addrs.find((a) => a.ip === o.publicIp) ?? addrs[0]!;
  const segment = networkOf(parseCidr(chosen.cidr) as Cidr);
  return { name: link.name, index, mtu: link.mtu ?? 1500, publicIp: o.publicIp ?? chosen.ip, segment };
}

/** Whether `ip` is on the underlay's own segment (one hop, no router between). */
export function onSegment(u: Underlay, ip: string): boolean {
  const p = parseIp(ip);
  if (!p || p.family !== 4) return false;
  const { first, last } = prefixBounds(u.segment);
  return p.value >= first && p.value <= last;
}
