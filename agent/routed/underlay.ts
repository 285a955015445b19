// The node's underlay: its address (the BGP router ID, the source of its
// sessions, the next hop peers install) and the interface that has it.
import type { Rtnl } from '../../lib/netlink';

export interface Underlay {
  ip: string;
  dev: string;
}

export async function findUnderlay(nl: Rtnl, opts: { ip?: string; iface?: string }): Promise<Underlay> {
  const links = await nl.links.list();
  const addrs = await nl.addrs.list({ family: 4 });
  const nameOf = (index: number) => links.find((l) => l.index === index)?.name;
  if (opts.ip !== undefined) {
    const a = addrs.find((x) => x.ip === opts.ip);
    const dev = a ? nameOf(a.index) : undefined;
    if (!a || !dev) throw new Error(`--ip ${opts.ip}: no interface of this node has that address`);
    return { ip: opts.ip, dev };
  }
  const link = links.find((l) => l.name === opts.iface);
  if (!link) throw new Error(`--iface ${opts.iface}: no such interface on this node`);
  const a = addrs.find((x) => x.index === link.index && x.scope === 0);
  if (!a) throw new Error(`--iface ${opts.iface}: the interface has no IPv4 address`);
  return { ip: a.ip, dev: link.name };
}
