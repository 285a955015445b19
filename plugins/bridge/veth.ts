// The pod's veth pair: the container end becomes CNI_IFNAME in the pod's
// namespace, the host end joins the bridge.
import { sha256Hex } from '../../lib/hash';
import { CniError, UNKNOWN_ERROR_CODE } from '../../lib/cni/errors';
import type { Link, Rtnl } from '../../lib/netlink';
import { isExists } from '../../lib/netlink';
import type { NetnsHandle } from '../../lib/netns';

/**
 * The host end's name is derived from the attachment, not random, so a DEL
 * that finds the pod's namespace gone, or an ADD retried after a crash, can
 * still find the host end ("veth" + 8 hex digits, like the reference's).
 */
export function hostVethName(containerId: string, ifname: string): string {
  return `veth${sha256Hex(`${containerId}/${ifname}`).slice(0, 8)}`;
}

export interface VethRequest {
  hostName: string;
  podIfname: string;
  pod: NetnsHandle;
  mtu?: number;
  podMac?: string;
}

/** Creates the pair with the container end made directly inside the pod's namespace. */
export async function createPodVeth(node: Rtnl, v: VethRequest): Promise<void> {
  try {
    await node.links.createVeth({
      name: v.hostName,
      ...(v.mtu ? { mtu: v.mtu } : {}),
      peer: { name: v.podIfname, netnsFd: v.pod.fd, ...(v.mtu ? { mtu: v.mtu } : {}), ...(v.podMac ? { mac: v.podMac } : {}) },
    });
  } catch (e) {
    if (!isExists(e)) throw e;
    // The message the reference gives; which end clashed is not reported by the kernel.
    throw new CniError(UNKNOWN_ERROR_CODE, `container veth name provided (${v.podIfname}) already exists, or host veth ${v.hostName} does`);
  }
}

/**
 * The bridge port must be forwarding before ADD returns, or the pod's first
 * packets are lost; the reference polls for the same reason.
 */
export async function waitForOperUp(node: Rtnl, name: string): Promise<Link> {
  for (const pause of [0, 10, 50, 200, 500, 1000]) {
    if (pause) await new Promise((r) => setTimeout(r, pause));
    const link = await node.links.require(name);
    if (link.operState === 'up') return link;
  }
  const link = await node.links.require(name);
  throw new CniError(UNKNOWN_ERROR_CODE, `bridge port ${name} did not come up (operstate ${link.operState})`);
}
