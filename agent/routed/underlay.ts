// The node's underlay as routed mode names it: --ip (the interface is the one
// that has the address) or --iface (its first IPv4 address); the rest is the
// overlay agent's underlay lookup (MTU, segment).
import type { Rtnl } from '../../lib/netlink';
import { findUnderlay, UnderlayError, type Underlay } from '../underlay';

export async function routedUnderlay(nl: Rtnl, opts: { ip?: string; iface?: string }): Promise<Underlay> {
  if (opts.ip === undefined) return findUnderlay(nl, { iface: opts.iface });
  const a = (await nl.addrs.list({ family: 4 })).find((x) => x.ip === opts.ip);
  const link = a ? await nl.links.get(a.index) : null;
  if (!link) throw new UnderlayError(`--ip ${opts.ip}: no interface of this node has that address`);
  return findUnderlay(nl, { iface: link.name, publicIp: opts.ip });
}

/** --ip6: the interface that has the address; peers' IPv6 next hops resolve through its prefix. */
export async function routedUnderlay6(nl: Rtnl, ip6: string): Promise<{ address: string; dev: string }> {
  const a = (await nl.addrs.list({ family: 6 })).find((x) => x.ip === ip6);
  const link = a ? await nl.links.get(a.index) : null;
  if (!link) throw new UnderlayError(`--ip6 ${ip6}: no interface of this node has that address`);
  return { address: ip6, dev: link.name };
}
