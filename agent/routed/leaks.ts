// Addresses that leak: an allocation whose attachment vanished without a DEL
// (the pod's netns and its veth gone). The evidence is the node's own
// kernel: every plugin that attaches a pod with cluster-ipam gives the node a
// route to the pod's address (routed and ptp: `ip dev <veth> scope link`), so
// an allocated address of this node that the kernel routes nowhere but into
// the block's blackhole, on two scans in a row, has no attachment here. The
// agent reports those at /tscni/v1/ipam/leaks/<node> for `tscni ipam check`,
// and frees its own at start, before it serves any plugin.
import type { EtcdClient } from '../../lib/datastore/etcd';
import type { Rtnl } from '../../lib/netlink';
import type { ClusterIpamStore, StoredBlock } from '../../lib/ipam/cluster/store';
import { familyBits, formatCidr, parseIp } from '../../lib/ip/address';

export const leaksDir = (prefix: string) => `${prefix}/ipam/leaks/`;
export const leaksKey = (prefix: string, node: string) => `${leaksDir(prefix)}${node}`;

export interface Leak {
  handle: string;
  ips: string[];
  block: string;
  pool: string;
  /** when this node first found no route to the address */
  since: string;
  evidence: string;
}

/**
 * A node's stored report, as publish() writes it. A record that is not one
 * reads as reporting nothing: no address is ever freed on its say.
 */
export function decodeLeaks(text: string): Leak[] {
  try {
    const leaks = (JSON.parse(text) as { leaks?: unknown }).leaks;
    if (!Array.isArray(leaks)) return [];
    return leaks.filter((l): l is Leak => typeof l?.handle === 'string' && Array.isArray(l.ips) && l.ips.every((ip: unknown) => typeof ip === 'string'));
  } catch {
    return [];
  }
}

/** The allocations of `blocks` whose address the node routes nowhere (handle → addresses), skipping `keep` handles. */
export async function unroutedAllocations(nl: Rtnl, blocks: StoredBlock[], keep: (handle: string) => boolean): Promise<Map<string, { ips: string[]; block: StoredBlock }>> {
  const routed = new Set<string>();
  for (const family of [4, 6] as const) {
    for (const r of await nl.routes.list({ family })) if (r.type === 'unicast') routed.add(r.dst);
    for (const a of await nl.addrs.list({ family })) routed.add(`${a.ip}/${familyBits(family)}`);
  }
  const out = new Map<string, { ips: string[]; block: StoredBlock }>();
  for (const b of blocks) {
    for (const [ip, handle] of Object.entries(b.allocations)) {
      const family = parseIp(ip)?.family ?? 4;
      if (keep(handle) || routed.has(`${ip}/${familyBits(family)}`)) continue;
      const entry = out.get(handle) ?? { ips: [], block: b };
      entry.ips.push(ip);
      out.set(handle, entry);
    }
  }
  return out;
}

/** Remembers since when each handle has been unrouted; reports those seen on two scans at least `settleMs` apart. */
export class LeakTracker {
  private readonly firstSeen = new Map<string, number>();
  private lastWritten = '';

  constructor(private readonly node: string, private readonly settleMs = 5_000) {}

  update(now: number, unrouted: Map<string, { ips: string[]; block: StoredBlock }>): Leak[] {
    for (const h of [...this.firstSeen.keys()]) if (!unrouted.has(h)) this.firstSeen.delete(h);
    const leaks: Leak[] = [];
    for (const [handle, { ips, block }] of unrouted) {
      const first = this.firstSeen.get(handle) ?? now;
      this.firstSeen.set(handle, first);
      if (now - first < this.settleMs) continue;
      leaks.push({
        handle, ips, block: formatCidr(block.cidr), pool: block.pool, since: new Date(first).toISOString(),
        evidence: `node ${this.node} has had no route to ${ips.join(', ')} (no attachment there) since ${new Date(first).toISOString()}`,
      });
    }
    return leaks.sort((a, b) => a.handle.localeCompare(b.handle));
  }

  /** Writes the report when it changed, so a quiet node does not churn etcd. */
  async publish(client: EtcdClient, prefix: string, leaks: Leak[]): Promise<void> {
    const text = JSON.stringify({ leaks });
    if (text === this.lastWritten) return;
    await client.put(leaksKey(prefix, this.node), text);
    this.lastWritten = text;
  }
}

/** At start: frees this node's allocations that have no route here; the addresses freed. */
export async function freeOwnLeaks(nl: Rtnl, store: ClusterIpamStore, keep: (handle: string) => boolean): Promise<string[]> {
  const unrouted = await unroutedAllocations(nl, await store.listBlocks(store.node), keep);
  return unrouted.size === 0 ? [] : store.releaseWhere((h) => unrouted.has(h));
}
