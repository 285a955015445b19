// Calico's pod wiring, shared by ADD and CHECK. The pod sees one gateway,
// 169.254.1.1, on-link; nothing on the node has that address: the host end
// of the veth answers ARP for everything (proxy_arp, no delay) with its MAC
// ee:ee:ee:ee:ee:ee, the same on every host veth. IPv6 goes to the host
// end's link-local address, which that MAC makes fe80::ecee:eeff:feee:eeee.
// On the node, each pod is one route, `podIP dev <hostveth> scope link`: no
// bridge, no subnet on any interface.
import { familyBits, formatCidr, linkLocalOfMac, parseCidr, type Cidr } from '../../lib/ip/address';
import { hostVethName } from '../../lib/netlink/pod-veth';

export const HOST_VETH_MAC = 'ee:ee:ee:ee:ee:ee';
export const GATEWAY4 = '169.254.1.1';
export const GATEWAY6 = linkLocalOfMac(HOST_VETH_MAC);

/** "tsr" and 12 hex digits: 15 bytes, the kernel's limit, told apart from bridge's "veth". */
export function routedHostVeth(containerId: string, ifname: string): string {
  return hostVethName(containerId, ifname, 'tsr', 12);
}

/** The pod's address as the pod holds it: the whole prefix, /32 or /128. */
export function hostCidr(address: string): Cidr {
  const c = parseCidr(address) as Cidr;
  return { ip: c.ip, prefix: familyBits(c.ip.family) };
}

export const hostCidrText = (address: string) => formatCidr(hostCidr(address));

/** The sysctls of the host end, as Calico's plugin and felix set them. */
export function hostVethSysctls(hostVeth: string, family: 4 | 6): [string, string][] {
  return family === 4
    ? [[`net/ipv4/conf/${hostVeth}/proxy_arp`, '1'], [`net/ipv4/neigh/${hostVeth}/proxy_delay`, '0'], [`net/ipv4/conf/${hostVeth}/forwarding`, '1']]
    : [[`net/ipv6/conf/${hostVeth}/disable_ipv6`, '0'], [`net/ipv6/conf/${hostVeth}/accept_dad`, '0'], [`net/ipv6/conf/${hostVeth}/accept_ra`, '0'], [`net/ipv6/conf/${hostVeth}/forwarding`, '1']];
}
