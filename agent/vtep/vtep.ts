// The VXLAN device, laid out as flanneld lays it out: flannel.<VNI>, the
// config's VNI and UDP port, the node's PublicIP as source on the underlay
// interface, learning off (peers are programmed, never learned), MTU the
// underlay's minus 50 bytes of encapsulation, the subnet's network address
// as a /32. ensureVtep() repairs whatever differs: a device that is gone or
// built differently is made anew, a rewritten MAC or MTU is set back.
// Routed mode's cross-segment VTEP is built by the same code with Calico's
// name, VNI and port.
import { formatIp, type Cidr } from '../../lib/ip/address';
import type { Link, Rtnl } from '../../lib/netlink';
import type { Underlay } from '../underlay';

/** outer IPv4 (20) + UDP (8) + VXLAN (8) + inner Ethernet (14) */
export const VXLAN_OVERHEAD = 50;

export interface VtepSpec {
  name: string;
  vni: number;
  port: number;
  mac: string;
  underlay: Underlay;
}

const built = (l: Link, s: VtepSpec): boolean =>
  l.kind === 'vxlan' && l.vxlan?.vni === s.vni && l.vxlan.port === s.port && l.vxlan.local === s.underlay.publicIp
  && l.vxlan.underlayIndex === s.underlay.index && !l.vxlan.learning;

/** Makes the device match `s` and carry `own`'s network address; returns its ifindex and one line per change. */
export async function ensureVtep(nl: Rtnl, s: VtepSpec, own: Cidr): Promise<{ index: number; changes: string[] }> {
  const changes: string[] = [];
  const mtu = s.underlay.mtu - VXLAN_OVERHEAD;
  let link = await nl.links.get(s.name);
  if (link && !built(link, s)) {
    await nl.links.delete(link.index, { ignoreMissing: true });
    changes.push(`vtep ${s.name} deleted: not built as configured (vni ${link.vxlan?.vni}, port ${link.vxlan?.port}, local ${link.vxlan?.local})`);
    link = null;
  }
  if (!link) {
    await nl.links.createVxlan({
      name: s.name, vni: s.vni, port: s.port, local: s.underlay.publicIp, underlayIndex: s.underlay.index,
      learning: false, mtu, mac: s.mac,
    });
    link = await nl.links.require(s.name);
    changes.push(`vtep ${s.name} created vni=${s.vni} port=${s.port} mac=${s.mac} mtu=${mtu}`);
  }
  if (link.mac !== s.mac) {
    await nl.links.setMac(link.index, s.mac);
    changes.push(`vtep ${s.name} mac set back from ${link.mac} to ${s.mac}`);
  }
  if (link.mtu !== mtu) {
    await nl.links.setMtu(link.index, mtu);
    changes.push(`vtep ${s.name} mtu set from ${link.mtu} to ${mtu}`);
  }
  const address = `${formatIp(own.ip)}/32`;
  let has = false;
  for (const a of await nl.addrs.list({ link: link.index, family: 4 })) {
    if (a.cidr === address) {
      has = true;
      continue;
    }
    await nl.addrs.del(link.index, a.cidr, { ignoreMissing: true });
    changes.push(`vtep ${s.name} address ${a.cidr} removed`);
  }
  if (!has) {
    await nl.addrs.add(link.index, address, { ignoreExisting: true });
    changes.push(`vtep ${s.name} address ${address} added`);
  }
  if (!link.up) {
    await nl.links.setUp(link.index);
    changes.push(`vtep ${s.name} up`);
  }
  return { index: link.index, changes };
}
