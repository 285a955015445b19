// CHECK: what ADD built is still there — the container interface with its
// addresses and routes, its host end on the bridge, the IPAM reservation,
// the masquerade elements. Fails naming the first things that differ.
import { delegateCheck } from '../../lib/cni/delegate';
import { CniError, UNKNOWN_ERROR_CODE } from '../../lib/cni/errors';
import type { CmdArgs } from '../../lib/cni/skel';
import type { Result } from '../../lib/cni/types';
import { addressesFor, verifyInterfaceConfig } from '../../lib/ipam/interface-config';
import { Rtnl } from '../../lib/netlink';
import { openNetns } from '../../lib/netns';
import { checkMasquerade } from '../../lib/nft/masquerade';
import { checkSpoofCheck } from '../../lib/nft/spoofcheck';
import type { BridgeConfig } from './config';

export async function cmdCheck(a: CmdArgs<BridgeConfig>): Promise<void> {
  const c = a.config;
  const prev = a.prevResult;
  if (!prev) throw new CniError(UNKNOWN_ERROR_CODE, 'bridge: CHECK requires prevResult (the result of ADD)');
  if (c.ipamType) await delegateCheck(c.ipamType, a.raw);

  const container = prev.interfaces?.find((i) => i.name === a.ifname && i.sandbox);
  if (!container) throw new CniError(UNKNOWN_ERROR_CODE, `bridge: prevResult has no interface ${a.ifname} in a sandbox`);
  const problems: string[] = [];
  const pod = openNetns(a.netns);
  let podPeerIndex: number | undefined;
  try {
    await Rtnl.use(pod, async (nl) => {
      const link = await nl.links.get(a.ifname);
      if (link && link.kind !== 'veth') problems.push(`${a.ifname} in the container is a ${link.kind ?? 'non-veth'} device, not a veth`);
      if (link && container.mac && link.mac !== container.mac) {
        problems.push(`${a.ifname} has MAC ${link.mac}, the result says ${container.mac}`);
      }
      podPeerIndex = link?.peerIndex;
      problems.push(...(await verifyInterfaceConfig(nl, a.ifname, prev)));
    });
  } finally {
    pod.close();
  }
  problems.push(...(await checkHostSide(c, prev, podPeerIndex)));
  if (c.ipMasq && c.ipamType) {
    const addresses = addressesFor(prev, a.ifname).map((ip) => ip.address);
    problems.push(...(await checkMasquerade({ network: c.network, containerId: a.containerId, ifname: a.ifname, addresses })));
  }
  if (c.macSpoofCheck) {
    const hostVeth = prev.interfaces?.find((i) => !i.sandbox && i.name !== c.bridge)?.name ?? '';
    problems.push(...(await checkSpoofCheck({ network: c.network, containerId: a.containerId, ifname: a.ifname, hostVeth, mac: container.mac ?? '' })));
  }
  if (problems.length > 0) throw new CniError(UNKNOWN_ERROR_CODE, `bridge: ${problems.join('; ')}`);
}

/** The bridge exists and the host end of this pod's veth is one of its ports. */
async function checkHostSide(c: BridgeConfig, prev: Result, podPeerIndex: number | undefined): Promise<string[]> {
  return Rtnl.use(undefined, async (node) => {
    const br = await node.links.get(c.bridge);
    if (!br) return [`bridge ${c.bridge} not found`];
    if (br.kind !== 'bridge') return [`${c.bridge} is not a bridge`];
    const host = prev.interfaces?.find((i) => !i.sandbox && i.name !== c.bridge);
    if (!host) return ['prevResult names no host veth'];
    const link = await node.links.get(host.name);
    if (!link) return [`host veth ${host.name} not found`];
    const out: string[] = [];
    if (link.master !== br.index) out.push(`host veth ${host.name} is not a port of ${c.bridge}`);
    if (podPeerIndex !== undefined && link.index !== podPeerIndex) out.push(`host veth ${host.name} is not the peer of the container interface`);
    return out;
  });
}
