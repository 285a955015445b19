// ADD: IPAM, masquerade, bridge, veth, addresses and routes, MAC spoof check
// and gateway, as one transaction: every step that creates something
// registers its undo.
import { delegateAdd, delegateDel } from '../../lib/cni/delegate';
import { CniError, UNKNOWN_ERROR_CODE } from '../../lib/cni/errors';
import type { CmdArgs } from '../../lib/cni/skel';
import { withRollback } from '../../lib/cni/transaction';
import type { Result } from '../../lib/cni/types';
import { configureInterface } from '../../lib/ipam/interface-config';
import { Rtnl } from '../../lib/netlink';
import { NfnlChannel } from '../../lib/netlink/nfnetlink';
import { createPodVeth, hostVethName, waitForOperUp } from '../../lib/netlink/pod-veth';
import { openNetns, writeSysctl, type NetnsHandle } from '../../lib/netns';
import { applyRuleset } from '../../lib/nft/add-elements';
import { addMasquerade, removeMasquerade } from '../../lib/nft/masquerade';
import { addSpoofCheckCommands, removeSpoofCheck } from './spoofcheck';
import { ensureBridge, ensureBridgeAddress, enableForwarding } from './bridge-device';
import { containerMac, type BridgeConfig } from './config';
import { planGateways } from './gateway';

export async function cmdAdd(a: CmdArgs<BridgeConfig>): Promise<Result> {
  const pod = openNetns(a.netns);
  try {
    // Each socket is closed by the use() that opened it, also when a later one fails to open.
    // The netfilter one only when an nft step needs it: closing one waits for
    // the kernel's cleanup of recent transactions, another pod's included.
    return await Rtnl.use(undefined, (node) =>
      Rtnl.use(pod, (inPod) => NfnlChannel.useOnDemand((nf) => addAttachment(a, pod, node, inPod, nf))));
  } finally {
    pod.close();
  }
}

async function addAttachment(a: CmdArgs<BridgeConfig>, pod: NetnsHandle, node: Rtnl, inPod: Rtnl, nf: () => NfnlChannel): Promise<Result> {
  const c = a.config;
  const attachment = { network: c.network, containerId: a.containerId, ifname: a.ifname };
  return withRollback(async (rb) => {
    // IPAM and masquerade come first. An nf_tables transaction's objects are
    // freed after an RCU grace period (~10 ms here), and closing the netfilter
    // socket waits for that: written before the veth work, which is slow and
    // waits for RCU itself, the grace period has passed when ADD ends.
    const result: Result = { cniVersion: a.cniVersion, interfaces: [] };
    let plan: ReturnType<typeof planGateways> | undefined;
    if (c.ipamType) {
      a.log.step(`IPAM ${c.ipamType}`);
      const ipamResult = await delegateAdd(c.ipamType, a.raw);
      rb.push(`IPAM ${c.ipamType} reservation`, () => delegateDel(c.ipamType!, a.raw));
      if (!ipamResult.ips?.length) throw new CniError(UNKNOWN_ERROR_CODE, 'IPAM plugin returned missing IP config');
      plan = planGateways(ipamResult, c);
      Object.assign(result, { ips: plan.ips, routes: plan.routes, ...(ipamResult.dns ? { dns: ipamResult.dns } : {}) });
      if (c.ipMasq) {
        a.log.step('nftables masquerade');
        a.log.debug('nftables', { ...(await addMasquerade({ ...attachment, addresses: plan.ips.map((ip) => ip.address) }, nf())) });
        rb.push('masquerade elements', () => removeMasquerade(attachment, nf()));
      }
    }

    a.log.step('bridge');
    const bridge = await ensureBridge(node, c);

    a.log.step('veth');
    const hostName = hostVethName(a.containerId, a.ifname);
    const mac = containerMac(c, a.args);
    await createPodVeth(node, { hostName, podIfname: a.ifname, pod, ...(c.mtu ? { mtu: c.mtu } : {}), ...(mac ? { podMac: mac } : {}) });
    rb.push(`veth ${hostName}`, () => node.links.delete(hostName, { ignoreMissing: true }));
    await node.links.setMaster(hostName, bridge.index);
    if (c.hairpinMode) await node.links.setHairpin(hostName, true);
    await node.links.setUp(hostName);

    if (plan) {
      a.log.step('pod addresses and routes');
      configurePodSysctls(pod, a.ifname, c.enableDad);
      // Interfaces are filled in below; configureInterface needs the index → name mapping now.
      result.interfaces = [{ name: c.bridge }, { name: hostName }, { name: a.ifname, sandbox: a.netns }];
      await configureInterface(inPod, a.ifname, result, { dad: c.enableDad });
    } else if (!c.disableContainerInterface) {
      await inPod.links.setUp(a.ifname);
    }

    // The spoof check needs the pod's MAC, so it waits for the veth.
    if (c.macSpoofCheck) {
      a.log.step('nftables MAC spoof check');
      const podMac = (await inPod.links.require(a.ifname)).mac!;
      a.log.debug('nftables', { ...(await applyRuleset(addSpoofCheckCommands({ ...attachment, hostVeth: hostName, mac: podMac }), nf())) });
      rb.push('MAC spoof check elements', () => removeSpoofCheck(attachment, nf()));
    }

    if (plan) {
      a.log.step('gateway addresses');
      for (const cidr of plan.bridgeAddresses) await ensureBridgeAddress(node, bridge, cidr, c.forceAddress);
      enableForwarding(plan.forwardingFamilies);
    }

    a.log.step('link state');
    const hostVeth = c.disableContainerInterface ? await node.links.require(hostName) : await waitForOperUp(node, hostName, 'bridge port');
    const podLink = await inPod.links.require(a.ifname);
    // Read the bridge last: its MAC may change when its first port joins.
    const br = await node.links.require(c.bridge);
    result.interfaces = [
      { name: br.name, mac: br.mac! },
      { name: hostVeth.name, mac: hostVeth.mac! },
      { name: podLink.name, mac: podLink.mac!, sandbox: a.netns },
    ];
    if (c.dns) result.dns = c.dns;
    return result;
  }, a.log);
}

/** DAD off unless asked (addresses usable at once), gratuitous ARP on link up. */
function configurePodSysctls(netns: NetnsHandle, ifname: string, enableDad: boolean): void {
  const tries: [string, string][] = [
    [`net/ipv6/conf/${ifname}/accept_dad`, enableDad ? '1' : '0'],
    [`net/ipv4/conf/${ifname}/arp_notify`, '1'],
  ];
  if (enableDad) tries.push([`net/ipv6/conf/${ifname}/enhanced_dad`, '1']);
  for (const [key, value] of tries) {
    try {
      writeSysctl(netns, key, value);
    } catch {
      // IPv6 disabled in the pod: nothing to configure, as in the reference
    }
  }
}
