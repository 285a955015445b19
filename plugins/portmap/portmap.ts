// portmap's commands. The plugin runs in the node's network namespace, so
// nft and /proc/sys/net here are the node's.
import { readFileSync } from 'node:fs';
import { CniError, invalidConfig, UNKNOWN_ERROR_CODE } from '../../lib/cni/errors';
import type { CmdArgs, GcArgs } from '../../lib/cni/skel';
import { withRollback } from '../../lib/cni/transaction';
import type { Result } from '../../lib/cni/types';
import { formatIp, ipFamily, parseCidr, parseIp, prefixBounds } from '../../lib/ip/address';
import type { Route } from '../../lib/netlink';
import { deleteConntrackEntries, IPPROTO, type OriginalDestination } from '../../lib/netlink/conntrack';
import { NfnlChannel } from '../../lib/netlink/nfnetlink';
import { writeSysctl } from '../../lib/netns/sysctl';
import { DuplicateMappingError, type PortmapTarget } from './nft-rules';
import { addPortmap, checkPortmap, gcPortmap, removePortmap } from './nft-state';
import type { PortmapConfig, PortmapDelConfig } from './config';

/**
 * The sandbox interface's addresses, the first of each family, as the
 * reference picks them: an address whose `interface` names another interface,
 * or one outside the sandbox, is not the pod's.
 */
export function containerAddresses(prev: Result, ifname: string): string[] {
  const out = new Map<4 | 6, string>();
  for (const ip of prev.ips ?? []) {
    const address = ip.address.split('/')[0]!;
    const family = ipFamily(address);
    if (out.has(family)) continue;
    const iface = ip.interface !== undefined ? prev.interfaces?.[ip.interface] : undefined;
    if (iface && (iface.name !== ifname || !iface.sandbox)) continue;
    out.set(family, address);
  }
  return [...out.values()];
}

function target(a: CmdArgs<PortmapConfig>, addresses: string[]): PortmapTarget {
  const c = a.config;
  return { network: c.network, containerId: a.containerId, ifname: a.ifname, addresses, mappings: c.mappings, snat: c.snat, masqAll: c.masqAll };
}

/** The interface of the main table's best IPv4 route to `ip`, from /proc/net/route (no netlink to load). */
export function routeInterface(ip: string, table = readFileSync('/proc/net/route', 'utf8')): string | undefined {
  const addr = ip.split('.').reduce((acc, o) => ((acc << 8) | Number(o)) >>> 0, 0);
  let best: { iface: string; len: number; metric: number } | undefined;
  for (const line of table.split('\n').slice(1)) {
    const [iface, dst, , flags, , , metric, mask] = line.trim().split(/\s+/);
    if (!iface || !mask || (parseInt(flags!, 16) & 1) === 0) continue;
    const be = (hex: string) => Buffer.from(hex.padStart(8, '0'), 'hex').readUInt32LE();
    const m = be(mask);
    if (((addr & m) >>> 0) !== be(dst!)) continue;
    const len = m.toString(2).replace(/0/g, '').length;
    if (!best || len > best.len || (len === best.len && Number(metric) < best.metric)) best = { iface, len, metric: Number(metric) };
  }
  return best?.iface;
}

/**
 * localhost:hostPort: 127.0.0.0/8 may only leave through an interface with
 * route_localnet, so it is set on the interface towards the pod, as the
 * reference does; the pm_input rule drops what that would otherwise let in.
 */
function enableRouteLocalnet(podIpv4: string): void {
  const iface = routeInterface(podIpv4);
  if (!iface) return;
  try {
    writeSysctl(undefined, `net/ipv4/conf/${iface}/route_localnet`, '1');
  } catch (e) {
    throw new CniError(UNKNOWN_ERROR_CODE, `portmap: unable to enable route_localnet on ${iface}: ${(e as Error).message}`);
  }
}

/**
 * UDP flows that reached the new host ports before the mapping existed would
 * keep bypassing it until their conntrack entries time out; as the reference,
 * delete them once the rules are in, and only log a failure. Only flows to
 * the node's own addresses are the mapping's: with hostPort 53, the pods' own
 * DNS flows to a resolver elsewhere have that port too, and must stay.
 */
async function deleteStaleUdpFlows(a: CmdArgs<PortmapConfig>, t: PortmapTarget, nf: NfnlChannel): Promise<void> {
  const udp = t.mappings.filter((m) => m.protocol === 'udp');
  if (udp.length === 0) return;
  try {
    const local = localAddressTest(await nodeLocalRoutes());
    const families = new Set(t.addresses.map(ipFamily));
    const ports = udp.map((m) => {
      const hostIp = m.hostIP ? parseIp(m.hostIP) : undefined;
      return { port: m.hostPort, family: hostIp?.family, address: hostIp && hostIp.value !== 0n ? formatIp(hostIp) : undefined };
    });
    const stale = (d: OriginalDestination): boolean =>
      d.proto === IPPROTO.udp && families.has(d.family!) &&
      ports.some((p) => p.port === d.port && (p.family ?? d.family) === d.family && (p.address ? p.address === d.address : local(d.address!)));
    const n = await deleteConntrackEntries(nf, stale);
    if (n > 0) a.log.info('deleted stale UDP conntrack entries', { ports: udp.map((m) => String(m.hostPort)), entries: n });
  } catch (e) {
    a.log.warn('could not delete stale UDP conntrack entries', { ports: udp.map((m) => String(m.hostPort)), error: (e as Error).message });
  }
}

/**
 * Whether an address is the node's own, as `fib daddr type local` decides:
 * it falls in one of the kernel's local routes (table local, type local:
 * each address of the node, and 127.0.0.0/8 whole).
 */
export function localAddressTest(localRoutes: readonly Pick<Route, 'dst' | 'type'>[]): (address: string) => boolean {
  const ranges = localRoutes.filter((r) => r.type === 'local').flatMap((r) => {
    const cidr = parseCidr(r.dst);
    return cidr && typeof cidr !== 'string' ? [{ family: cidr.ip.family, ...prefixBounds(cidr) }] : [];
  });
  return (address) => {
    const ip = parseIp(address);
    return ip !== undefined && ranges.some((r) => r.family === ip.family && r.first <= ip.value && ip.value <= r.last);
  };
}

/**
 * The node's local routes, both families. Routing netlink is loaded here,
 * not at start-up: only an ADD with UDP host ports needs it.
 */
async function nodeLocalRoutes(): Promise<Route[]> {
  const { Rtnl, RT_TABLE } = await import('../../lib/netlink');
  return Rtnl.use(undefined, (nl) => nl.routes.list({ table: RT_TABLE.LOCAL }));
}

export async function cmdAdd(a: CmdArgs<PortmapConfig>): Promise<Result> {
  const prev = a.prevResult;
  if (!prev) throw invalidConfig('prevResult', 'is required: portmap must be chained after the plugin that creates the interface');
  const c = a.config;
  const addresses = containerAddresses(prev, a.ifname);
  if (c.mappings.length === 0 || addresses.length === 0) return prev;
  const t = target(a, addresses);
  // One netfilter socket for the command, closed at its end: closing one right after the
  // nftables transaction would wait for the kernel's cleanup of it.
  return NfnlChannel.use((nf) => withRollback(async (rb) => {
    a.log.step('nftables');
    try {
      a.log.debug('nftables', { ...(await addPortmap(t, nf)) });
    } catch (e) {
      if (e instanceof DuplicateMappingError) throw invalidConfig('runtimeConfig.portMappings', e.message);
      throw e;
    }
    rb.push('portmap elements', () => removePortmap(t));
    const v4 = addresses.find((x) => !x.includes(':'));
    if (c.snat && v4 && c.mappings.some((m) => !m.hostIP?.includes(':'))) {
      a.log.step('route_localnet');
      enableRouteLocalnet(v4);
    }
    a.log.step('stale UDP flows');
    await deleteStaleUdpFlows(a, t, nf);
    return prev;
  }, a.log));
}

/**
 * Removal goes by owner, so neither prevResult, the netns nor the mappings
 * are needed: a runtime that lost its cache sends DEL without mappings, and
 * the host ports must still be given back.
 */
export async function cmdDel(a: CmdArgs<PortmapDelConfig>): Promise<void> {
  await removePortmap({ network: a.config.network, containerId: a.containerId, ifname: a.ifname });
}

export async function cmdCheck(a: CmdArgs<PortmapConfig>): Promise<void> {
  if (!a.prevResult) throw invalidConfig('prevResult', 'is required for CHECK');
  const addresses = containerAddresses(a.prevResult, a.ifname);
  if (a.config.mappings.length === 0 || addresses.length === 0) return;
  let problems: string[];
  try {
    problems = await checkPortmap(target(a, addresses));
  } catch (e) {
    if (e instanceof DuplicateMappingError) throw invalidConfig('runtimeConfig.portMappings', e.message);
    throw e;
  }
  if (problems.length > 0) throw new CniError(UNKNOWN_ERROR_CODE, `portmap: ${problems.join('; ')}`);
}

export async function cmdGc(a: GcArgs<PortmapConfig>): Promise<void> {
  await gcPortmap(a.config.network, a.validAttachments.map((v) => ({ containerId: v.containerID, ifname: v.ifname })));
}
