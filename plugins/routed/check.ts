// CHECK: what ADD built is still there, every difference named: the host
// end (a veth with routed's MAC, its sysctls), the host route per address,
// the pod's addresses and gateway routes, masquerade when it applies, and
// IPAM's own check.
import { delegateCheck } from '../../lib/cni/delegate';
import { CniError, UNKNOWN_ERROR_CODE } from '../../lib/cni/errors';
import type { CmdArgs } from '../../lib/cni/skel';
import { ipFamily } from '../../lib/ip/address';
import { Rtnl } from '../../lib/netlink';
import { openNetns, readSysctl } from '../../lib/netns';
import { checkMasquerade } from '../../lib/nft/masquerade';
import type { RoutedConfig } from './config';
import { GATEWAY4, GATEWAY6, HOST_VETH_MAC, hostCidrText, hostVethSysctls, routedHostVeth } from './dataplane';
import { planNat } from './nat';

export async function cmdCheck(a: CmdArgs<RoutedConfig>): Promise<void> {
  const c = a.config;
  const prev = a.prevResult;
  if (!prev) throw new CniError(UNKNOWN_ERROR_CODE, 'routed CHECK needs a prevResult');
  await delegateCheck(c.ipamType, a.raw);
  const addresses = (prev.ips ?? []).map((ip) => hostCidrText(ip.address));
  const families = [...new Set(addresses.map(ipFamily))];
  const hostName = routedHostVeth(a.containerId, a.ifname);
  const problems: string[] = [];

  await Rtnl.use(undefined, async (node) => {
    const link = await node.links.get(hostName);
    if (!link) return problems.push(`host veth ${hostName} not found`);
    if (link.kind !== 'veth') problems.push(`${hostName} is a ${link.kind ?? 'device without kind'}, not a veth`);
    if (link.mac !== HOST_VETH_MAC) problems.push(`host veth ${hostName} has MAC ${link.mac}, not ${HOST_VETH_MAC}`);
    for (const f of families) {
      for (const [key, want] of hostVethSysctls(hostName, f)) {
        const have = readSysctl(undefined, key);
        if (have !== want) problems.push(`${key.replaceAll('/', '.')} is ${have}, not ${want}`);
      }
    }
    const routes = await node.routes.list({ dev: link.index });
    for (const addr of addresses) {
      if (!routes.some((r) => r.dst === addr && r.gw === undefined)) problems.push(`host route ${addr} dev ${hostName} missing`);
    }
    return undefined;
  });

  const pod = openNetns(a.netns);
  try {
    await Rtnl.use(pod, async (inPod) => {
      const link = await inPod.links.get(a.ifname);
      if (!link) return problems.push(`interface ${a.ifname} not found in the container`);
      const present = new Set((await inPod.addrs.list({ link: link.index })).map((x) => x.cidr));
      for (const addr of addresses) if (!present.has(addr)) problems.push(`address ${addr} missing on ${a.ifname}`);
      const routes = await inPod.routes.list({ dev: link.index });
      const want = [
        ...(families.includes(4) ? [{ dst: `${GATEWAY4}/32`, gw: undefined }, { dst: '0.0.0.0/0', gw: GATEWAY4 }] : []),
        ...(families.includes(6) ? [{ dst: '::/0', gw: GATEWAY6 }] : []),
      ];
      for (const w of want) {
        if (!routes.some((r) => r.dst === w.dst && r.gw === w.gw)) problems.push(`route ${w.dst}${w.gw ? ` via ${w.gw}` : ''} dev ${a.ifname} missing in the container`);
      }
      return undefined;
    });
  } finally {
    pod.close();
  }

  const nat = planNat(c, (prev.ips ?? []).map((ip) => ip.address));
  if (nat.masquerade) {
    const ipamAddresses = (prev.ips ?? []).map((ip) => ip.address);
    problems.push(...(await checkMasquerade({ network: c.network, containerId: a.containerId, ifname: a.ifname, addresses: ipamAddresses, ...(nat.keepTo ? { keepTo: nat.keepTo } : {}) })));
  }
  if (problems.length > 0) throw new CniError(UNKNOWN_ERROR_CODE, `routed CHECK: ${problems.join('; ')}`);
}
