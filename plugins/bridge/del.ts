// DEL: idempotent and complete. Every removal is attempted, missing things
// count as removed, and the masquerade elements go by owner, so they are
// removed even when the runtime has lost the pod's namespace (ctr sends DEL
// with an empty CNI_NETNS) — the case where the reference leaks its NAT rule.
import { delegateDel } from '../../lib/cni/delegate';
import type { Logger } from '../../lib/cni/log';
import type { CmdArgs } from '../../lib/cni/skel';
import { ErrorCollector } from '../../lib/cni/transaction';
import { Rtnl } from '../../lib/netlink';
import { NfnlChannel } from '../../lib/netlink/nfnetlink';
import { deletePodInterface, hostVethName } from '../../lib/netlink/pod-veth';
import { removeMasquerade } from '../../lib/nft/masquerade';
import { removeSpoofCheck } from './spoofcheck';
import type { BridgeDelConfig } from './config';

export async function cmdDel(a: CmdArgs<BridgeDelConfig>): Promise<void> {
  const c = a.config;
  const errors = new ErrorCollector(a.log);
  const attachment = { network: c.network, containerId: a.containerId, ifname: a.ifname };
  // One netfilter socket for the removals, closed when DEL ends. The kernel
  // frees removed elements after an RCU grace period and closing the socket
  // waits for that, so the masquerade goes first: the grace period passes
  // while the veth is deleted, which waits for RCU itself.
  await NfnlChannel.useOnDemand(async (nf) => {
    const masqueradeGone = !c.ipMasq || (await errors.attempt('remove masquerade', () => removeMasquerade(attachment, nf())));

    // Deleting either end of a veth removes both; the pod's end first, as the
    // reference does, then the host end in case the pod's namespace is gone.
    if (a.netns !== '') await errors.attempt(`delete ${a.ifname} in the container`, () => deletePodInterface(a.netns, a.ifname));
    await errors.attempt('delete host veth', () => deleteHostVeth(c.bridge, hostVethName(a.containerId, a.ifname), a.log));
    // The spoof check guards the pod's frames: it goes once the veth has.
    const spoofCheckGone = !c.macSpoofCheck || (await errors.attempt('remove MAC spoof check', () => removeSpoofCheck(attachment, nf())));

    // The address is released last, and only once its elements are gone.
    // Removal by owner lists, then deletes by key; once the address is free,
    // an ADD may be given it and write its own element under that key, which a
    // removal still in progress, or retried after a failure, would delete.
    if (c.ipamType && masqueradeGone && spoofCheckGone) await errors.attempt(`IPAM ${c.ipamType} release`, () => delegateDel(c.ipamType!, a.raw));
    else if (c.ipamType) a.log.warn('address kept reserved until a DEL has removed its nft elements');
  });
  errors.throwIfAny();
}

/**
 * The host end's name is 32 bits of a hash: another device can carry it. Only
 * a veth that is a port of this network's bridge is ours to delete.
 */
async function deleteHostVeth(bridge: string, name: string, log: Logger): Promise<void> {
  await Rtnl.use(undefined, async (node) => {
    const link = await node.links.get(name);
    if (!link) return;
    const br = await node.links.get(bridge);
    if (link.kind !== 'veth' || !br || link.master !== br.index) {
      const what = link.kind === 'veth' ? 'a veth' : `a ${link.kind ?? 'device without kind'}`;
      log.warn('host veth name is taken by another device; leaving it', { device: name, kind: link.kind ?? 'none', reason: `${what}, not a port of ${bridge}` });
      return;
    }
    await node.links.delete(link.index, { ignoreMissing: true });
  });
}
