// DEL: idempotent and complete. The pod's end goes first (it takes the host
// end and the host routes with it); then the host end by name, for a pod
// whose namespace is gone, but only when the device is ours; masquerade
// elements by owner; the address last, once its elements are gone (the
// reason is bridge's: a freed address may be handed out at once).
import { delegateDel } from '../../lib/cni/delegate';
import type { Logger } from '../../lib/cni/log';
import type { CmdArgs } from '../../lib/cni/skel';
import { ErrorCollector } from '../../lib/cni/transaction';
import { Rtnl } from '../../lib/netlink';
import { NfnlChannel } from '../../lib/netlink/nfnetlink';
import { deletePodInterface } from '../../lib/netlink/pod-veth';
import { removeMasquerade } from '../../lib/nft/masquerade';
import type { RoutedDelConfig } from './config';
import { HOST_VETH_MAC, routedHostVeth } from './dataplane';

export async function cmdDel(a: CmdArgs<RoutedDelConfig>): Promise<void> {
  const c = a.config;
  const errors = new ErrorCollector(a.log);
  if (a.netns !== '') await errors.attempt(`delete ${a.ifname} in the container`, () => deletePodInterface(a.netns, a.ifname));
  await errors.attempt('delete host veth', () => deleteHostVeth(routedHostVeth(a.containerId, a.ifname), a.log));
  // Masquerade may never have been set up; removing absent elements is success.
  const attachment = { network: c.network, containerId: a.containerId, ifname: a.ifname };
  // The netfilter socket is closed after the release: closing it right after
  // its transaction would wait for the kernel's cleanup of it.
  await NfnlChannel.useOnDemand(async (nf) => {
    const elementsGone = await errors.attempt('remove masquerade', () => removeMasquerade(attachment, nf()));
    if (elementsGone) await errors.attempt(`IPAM ${c.ipamType} release`, () => delegateDel(c.ipamType, a.raw));
    else a.log.warn('address kept reserved until a DEL has removed its nft elements');
  });
  errors.throwIfAny();
}

/** Ours: a veth with routed's MAC. A device that merely has the name is left alone. */
async function deleteHostVeth(name: string, log: Logger): Promise<void> {
  await Rtnl.use(undefined, async (node) => {
    const link = await node.links.get(name);
    if (!link) return;
    if (link.kind !== 'veth' || link.mac !== HOST_VETH_MAC) {
      log.warn('host veth name is taken by another device; leaving it', { device: name, kind: link.kind ?? 'none', mac: link.mac ?? 'none' });
      return;
    }
    await node.links.delete(link.index, { ignoreMissing: true });
  });
}
