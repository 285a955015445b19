// The node's bridge: created on first use, shared by every pod of the network,
// never removed by a pod's DEL.
import { CniError, UNKNOWN_ERROR_CODE } from '../../lib/cni/errors';
import { cidrsOverlap, ipFamily, parseCidr } from '../../lib/ip/address';
import type { Link, Rtnl } from '../../lib/netlink';
import { isExists } from '../../lib/netlink';
import { writeSysctl } from '../../lib/netns';
import type { BridgeConfig } from './config';

export async function ensureBridge(node: Rtnl, config: BridgeConfig): Promise<Link> {
  let br = await node.links.get(config.bridge);
  if (!br) {
    try {
      await node.links.createBridge({ name: config.bridge, ...(config.mtu ? { mtu: config.mtu } : {}) });
      br = await node.links.require(config.bridge);
      // An explicit MAC stops the bridge from taking the lowest MAC of its
      // ports, which would change under the pods' feet as pods come and go.
      if (br.mac) await node.links.setMac(br.index, br.mac);
    } catch (e) {
      // Another ADD created it between our look-up and our create.
      if (!isExists(e)) throw e;
      br = await node.links.require(config.bridge);
    }
    // We own the bridge's routes; router advertisements must not add any.
    try {
      writeSysctl(undefined, `net/ipv6/conf/${config.bridge}/accept_ra`, '0');
    } catch {
      // IPv6 disabled on this node: nothing to turn off
    }
  }
  if (br.kind !== 'bridge') {
    throw new CniError(UNKNOWN_ERROR_CODE, `bridge: "${config.bridge}" already exists but is a ${br.kind ?? 'non-bridge'} device`);
  }
  if (config.promiscMode && !br.promisc) await node.links.setPromisc(br.index, true);
  if (!br.up) await node.links.setUp(br.index);
  return br;
}

/**
 * Puts `cidr` on the bridge. Another IPv4 address (or an overlapping IPv6 one)
 * is an error unless forceAddress asks to replace it, as in the reference.
 */
export async function ensureBridgeAddress(node: Rtnl, bridge: Link, cidr: string, forceAddress: boolean): Promise<void> {
  const family = ipFamily(cidr);
  const existing = await node.addrs.list({ link: bridge.index, family });
  if (existing.some((a) => a.cidr === cidr)) return;
  for (const a of existing) {
    if (a.scope === 253 && family === 6) continue; // link-local
    const clashes = family === 4 || overlaps(a.cidr, cidr);
    if (!clashes) continue;
    if (!forceAddress) {
      throw new CniError(UNKNOWN_ERROR_CODE, `"${bridge.name}" already has an IP address different from ${cidr}`, `existing: ${a.cidr}`);
    }
    await node.addrs.del(bridge.index, a.cidr, { ignoreMissing: true });
  }
  await node.addrs.add(bridge.index, cidr, { ignoreExisting: true, nodad: family === 6 });
}

function overlaps(a: string, b: string): boolean {
  const ca = parseCidr(a);
  const cb = parseCidr(b);
  if (typeof ca === 'string' || typeof cb === 'string') return false;
  return cidrsOverlap(ca, cb);
}

export function enableForwarding(families: (4 | 6)[]): void {
  for (const f of families) {
    writeSysctl(undefined, f === 4 ? 'net/ipv4/ip_forward' : 'net/ipv6/conf/all/forwarding', '1');
  }
}
