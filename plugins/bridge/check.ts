// CHECK: what ADD built is still there — the container interface with its
// addresses, routes and MTU, its host end on the bridge with the hairpin mode
// ADD set, the gateway addresses on the bridge, the IPAM reservation, the
// masquerade and spoof-check elements. Fails naming the things that differ.
import { delegateCheck } from '../../lib/cni/delegate';
import { CniError, UNKNOWN_ERROR_CODE } from '../../lib/cni/errors';
import type { CmdArgs } from '../../lib/cni/skel';
import type { Result } from '../../lib/cni/types';
import { addressesFor, verifyInterfaceConfig } from '../../lib/ipam/interface-config';
import { Rtnl, type Link } from '../../lib/netlink';
import { openNetns } from '../../lib/netns';
import { checkMasquerade } from '../../lib/nft/masquerade';
import { checkSpoofCheck } from './spoofcheck';
import type { BridgeConfig } from './config';
import { planGateways } from './gateway';

export async function cmdCheck(a: CmdArgs<BridgeConfig>): Promise<void> {
  const c = a.config;
  const prev = a.prevResult;
  if (!prev) throw new CniError(UNKNOWN_ERROR_CODE, 'bridge: CHECK requires prevResult (the result of ADD)');
  const container = prev.interfaces?.find((i) => i.name === a.ifname && i.sandbox);
  if (!container) throw new CniError(UNKNOWN_ERROR_CODE, `bridge: prevResult has no interface ${a.ifname} in a sandbox`);
  // A CNI_NETNS that is no namespace is the first thing to report, before IPAM's view of it.
  const pod = openNetns(a.netns);
  const problems: string[] = [];
  let podPeerIndex: number | undefined;
  try {
    if (c.ipamType) await delegateCheck(c.ipamType, a.raw);
    await Rtnl.use(pod, async (nl) => {
      const link = await nl.links.get(a.ifname);
      if (link && link.kind !== 'veth') problems.push(`${a.ifname} in the container is a ${link.kind ?? 'non-veth'} device, not a veth`);
      if (link && container.mac && link.mac !== container.mac) {
        problems.push(`${a.ifname} has MAC ${link.mac}, the result says ${container.mac}`);
      }
      if (link) problems.push(...mtuProblems(c, `${a.ifname} in the container`, link));
      podPeerIndex = link?.peerIndex;
      problems.push(...(await verifyInterfaceConfig(nl, a.ifname, prev)));
    });
  } finally {
    pod.close();
  }
  const addresses = c.ipamType ? addressesFor(prev, a.ifname) : [];
  const gateways = planGateways({ cniVersion: prev.cniVersion, ips: addresses }, c).bridgeAddresses;
  problems.push(...(await checkHostSide(c, prev, podPeerIndex, gateways)));
  if (c.ipMasq && c.ipamType) {
    problems.push(...(await checkMasquerade({ network: c.network, containerId: a.containerId, ifname: a.ifname, addresses: addresses.map((ip) => ip.address) })));
  }
  if (c.macSpoofCheck) {
    const hostVeth = prev.interfaces?.find((i) => !i.sandbox && i.name !== c.bridge)?.name ?? '';
    problems.push(...(await checkSpoofCheck({ network: c.network, containerId: a.containerId, ifname: a.ifname, hostVeth, mac: container.mac ?? '' })));
  }
  if (problems.length > 0) throw new CniError(UNKNOWN_ERROR_CODE, `bridge: ${problems.join('; ')}`);
}

/** ADD gives both veth ends the configured MTU; without one, the kernel's default stands. */
function mtuProblems(c: BridgeConfig, what: string, link: Link): string[] {
  return c.mtu && link.mtu !== c.mtu ? [`${what} has MTU ${link.mtu ?? 'unknown'}, the config says ${c.mtu}`] : [];
}

/**
 * The bridge exists with the gateway addresses ADD put on it, and the host
 * end of this pod's veth is one of its ports, in the hairpin mode and with
 * the MTU of the config.
 */
async function checkHostSide(c: BridgeConfig, prev: Result, podPeerIndex: number | undefined, gateways: string[]): Promise<string[]> {
  return Rtnl.use(undefined, async (node) => {
    const br = await node.links.get(c.bridge);
    if (!br) return [`bridge ${c.bridge} not found`];
    if (br.kind !== 'bridge') return [`${c.bridge} is not a bridge`];
    const out: string[] = [];
    if (gateways.length > 0) {
      const onBridge = new Set((await node.addrs.list({ link: br.index })).map((x) => x.cidr));
      for (const cidr of gateways) if (!onBridge.has(cidr)) out.push(`gateway address ${cidr} missing on bridge ${c.bridge}`);
    }
    const host = prev.interfaces?.find((i) => !i.sandbox && i.name !== c.bridge);
    if (!host) return [...out, 'prevResult names no host veth'];
    const link = await node.links.get(host.name);
    if (!link) return [...out, `host veth ${host.name} not found`];
    if (link.master !== br.index) out.push(`host veth ${host.name} is not a port of ${c.bridge}`);
    else if ((link.hairpin ?? false) !== c.hairpinMode) out.push(`host veth ${host.name} has hairpin ${link.hairpin ? 'on' : 'off'}, the config says ${c.hairpinMode ? 'on' : 'off'}`);
    out.push(...mtuProblems(c, `host veth ${host.name}`, link));
    if (podPeerIndex !== undefined && link.index !== podPeerIndex) out.push(`host veth ${host.name} is not the peer of the container interface`);
    return out;
  });
}
