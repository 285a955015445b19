// A pod's veth pair, as bridge and routed make it: the container end becomes
// CNI_IFNAME in the pod's namespace, the host end stays on the node.
import { sha256Hex } from '../hash';
import { isNetnsGone, openNetns, type NetnsHandle } from '../netns';
import type { Link } from './link-decode';
import { isExists } from './errors';
import { Rtnl } from './rtnl';

/**
 * The host end's name is derived from the attachment, not random, so a DEL
 * that finds the pod's namespace gone, or an ADD retried after a crash, can
 * still find the host end: `prefix` and hex digits of a hash, 15 bytes at
 * most ("veth" + 8 digits is the reference bridge's form).
 */
export function hostVethName(containerId: string, ifname: string, prefix = 'veth', digits = 8): string {
  return `${prefix}${sha256Hex(`${containerId}/${ifname}`).slice(0, Math.min(digits, 15 - prefix.length))}`;
}

export interface VethRequest {
  hostName: string;
  podIfname: string;
  pod: NetnsHandle;
  mtu?: number;
  podMac?: string;
  hostMac?: string;
}

/** Creates the pair with the container end made directly inside the pod's namespace. */
export async function createPodVeth(node: Rtnl, v: VethRequest): Promise<void> {
  try {
    await node.links.createVeth({
      name: v.hostName,
      ...(v.mtu ? { mtu: v.mtu } : {}),
      ...(v.hostMac ? { mac: v.hostMac } : {}),
      peer: { name: v.podIfname, netnsFd: v.pod.fd, ...(v.mtu ? { mtu: v.mtu } : {}), ...(v.podMac ? { mac: v.podMac } : {}) },
    });
  } catch (e) {
    if (!isExists(e)) throw e;
    // The message the reference gives; which end clashed is not reported by the kernel.
    throw new Error(`container veth name provided (${v.podIfname}) already exists, or host veth ${v.hostName} does`, { cause: e });
  }
}

/**
 * The host end must be up before ADD returns, or the pod's first packets are
 * lost; the reference polls for the same reason.
 */
export async function waitForOperUp(node: Rtnl, name: string, what = 'host veth'): Promise<Link> {
  // Short pauses first: the port is usually up within a few milliseconds of its peer.
  for (const pause of [0, 2, 5, 10, 50, 200, 500, 1000]) {
    if (pause) await new Promise((r) => setTimeout(r, pause));
    const link = await node.links.require(name);
    if (link.operState === 'up') return link;
  }
  const link = await node.links.require(name);
  throw new Error(`${what} ${name} did not come up (operstate ${link.operState})`);
}

/** DEL's first step: the pod's end, which takes the host end with it. A namespace that is gone is success. */
export async function deletePodInterface(netns: string, ifname: string): Promise<void> {
  let pod;
  try {
    pod = openNetns(netns);
  } catch (e) {
    if (isNetnsGone(e)) return;
    throw e;
  }
  try {
    await Rtnl.use(pod, (nl) => nl.links.delete(ifname, { ignoreMissing: true }));
  } finally {
    pod.close();
  }
}
