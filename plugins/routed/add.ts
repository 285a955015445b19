// ADD: IPAM, masquerade when the pool asks for it, veth, the pod's addresses
// and its one gateway, the node's host route per address; one transaction:
// every step that creates something registers its undo.
import { delegateAdd, delegateDel } from '../../lib/cni/delegate';
import { CniError, UNKNOWN_ERROR_CODE } from '../../lib/cni/errors';
import type { CmdArgs } from '../../lib/cni/skel';
import { withRollback } from '../../lib/cni/transaction';
import type { IpConfig, Result } from '../../lib/cni/types';
import { ipFamily } from '../../lib/ip/address';
import { Rtnl } from '../../lib/netlink';
import { NfnlChannel } from '../../lib/netlink/nfnetlink';
import { createPodVeth, waitForOperUp } from '../../lib/netlink/pod-veth';
import { openNetns, writeSysctl, type NetnsHandle } from '../../lib/netns';
import { addMasquerade, removeMasquerade } from '../../lib/nft/masquerade';
import { readPodMtu } from '../../lib/routed/pod-mtu';
import type { RoutedConfig } from './config';
import { GATEWAY4, GATEWAY6, HOST_VETH_MAC, hostCidrText, hostVethSysctls, routedHostVeth } from './dataplane';
import { planNat } from './nat';

export async function cmdAdd(a: CmdArgs<RoutedConfig>): Promise<Result> {
  const pod = openNetns(a.netns);
  try {
    // A netfilter socket only when the pod masquerades; it stays open until
    // the end, so that closing it finds the kernel done with the transaction.
    return await Rtnl.use(undefined, (node) => Rtnl.use(pod, (inPod) =>
      NfnlChannel.useOnDemand((nf) => addAttachment(a, pod, node, inPod, nf))));
  } finally {
    pod.close();
  }
}

async function addAttachment(a: CmdArgs<RoutedConfig>, pod: NetnsHandle, node: Rtnl, inPod: Rtnl, nf: () => NfnlChannel): Promise<Result> {
  const c = a.config;
  const attachment = { network: c.network, containerId: a.containerId, ifname: a.ifname };
  return withRollback(async (rb) => {
    // IPAM and masquerade first, as in bridge: the kernel frees an nf_tables
    // transaction after an RCU grace period, which then passes during the
    // veth work instead of in the socket's close.
    a.log.step(`IPAM ${c.ipamType}`);
    const ipamResult = await delegateAdd(c.ipamType, a.raw);
    rb.push(`IPAM ${c.ipamType} reservation`, () => delegateDel(c.ipamType, a.raw));
    if (!ipamResult.ips?.length) throw new CniError(UNKNOWN_ERROR_CODE, 'IPAM plugin returned missing IP config');
    const families = [...new Set(ipamResult.ips.map((ip) => ipFamily(ip.address)))];

    const nat = planNat(c, ipamResult.ips.map((ip) => ip.address));
    if (nat.masquerade) {
      a.log.step('nftables');
      await addMasquerade({ ...attachment, addresses: ipamResult.ips.map((ip) => ip.address), ...(nat.keepTo ? { keepTo: nat.keepTo } : {}) }, nf());
      rb.push('masquerade elements', () => removeMasquerade(attachment, nf()));
    }

    a.log.step('veth');
    const hostName = routedHostVeth(a.containerId, a.ifname);
    // The config's mtu, else the agent's (the VXLAN tunnel's when the node has one).
    const mtu = c.mtu ?? readPodMtu(c.agentSocket);
    await createPodVeth(node, { hostName, podIfname: a.ifname, pod, hostMac: HOST_VETH_MAC, ...(mtu ? { mtu } : {}) });
    rb.push(`veth ${hostName}`, () => node.links.delete(hostName, { ignoreMissing: true }));

    a.log.step('host veth');
    for (const f of families) for (const [key, value] of hostVethSysctls(hostName, f)) writeSysctl(undefined, key, value);
    writeSysctl(undefined, 'net/ipv4/ip_forward', '1');
    if (families.includes(6)) writeSysctl(undefined, 'net/ipv6/conf/all/forwarding', '1');
    await node.links.setUp(hostName);

    a.log.step('pod addresses and routes');
    const ips: IpConfig[] = ipamResult.ips.map((ip) => ({
      address: hostCidrText(ip.address), gateway: ipFamily(ip.address) === 4 ? GATEWAY4 : GATEWAY6, interface: 1,
    }));
    writeSysctlIfPresent(pod, `net/ipv6/conf/${a.ifname}/accept_dad`, '0');
    for (const ip of ips) await inPod.addrs.add(a.ifname, ip.address, { nodad: ipFamily(ip.address) === 6 });
    await inPod.links.setUp(a.ifname);
    if (families.includes(4)) {
      await inPod.routes.add({ dst: `${GATEWAY4}/32`, dev: a.ifname, scope: 'link' });
      await inPod.routes.add({ dst: '0.0.0.0/0', gw: GATEWAY4, dev: a.ifname });
    }
    if (families.includes(6)) await inPod.routes.add({ dst: '::/0', gw: GATEWAY6, dev: a.ifname });

    a.log.step('host routes');
    for (const ip of ips) await node.routes.replace({ dst: ip.address, dev: hostName, scope: 'link' });

    a.log.step('link state');
    const hostVeth = await waitForOperUp(node, hostName);
    const podLink = await inPod.links.require(a.ifname);
    const routes = [
      ...(families.includes(4) ? [{ dst: '0.0.0.0/0', gw: GATEWAY4 }] : []),
      ...(families.includes(6) ? [{ dst: '::/0', gw: GATEWAY6 }] : []),
    ];
    return {
      cniVersion: a.cniVersion,
      interfaces: [{ name: hostVeth.name, mac: hostVeth.mac! }, { name: podLink.name, mac: podLink.mac!, sandbox: a.netns }],
      ips,
      routes,
      ...(ipamResult.dns ? { dns: ipamResult.dns } : {}),
    };
  }, a.log);
}

/** IPv6 disabled in the pod: nothing to configure. */
function writeSysctlIfPresent(pod: NetnsHandle, key: string, value: string): void {
  try {
    writeSysctl(pod, key, value);
  } catch {
    // no such key: the pod has no IPv6
  }
}
