// The VTEP's neighbour and FDB entries against what the peers need: the
// kernel's entries on this one device are dumped, the difference applied.
// Every entry on the agent's own VTEP (flannel.<VNI> in overlay mode,
// vxlan.tscni in routed mode) is the agent's, so one that no peer needs is
// stale and goes. Shared by both agents.
import type { Rtnl } from '../../lib/netlink';

/** `want`: peer network address -> VtepMAC; the entries of one family (IPv4 unless given). */
export async function reconcileNeighbors(nl: Rtnl, dev: number, want: Map<string, string>, family: 4 | 6 = 4): Promise<string[]> {
  const changes: string[] = [];
  const ok = new Set<string>();
  for (const n of await nl.neighbors.list({ dev, family })) {
    const mac = want.get(n.ip);
    if (mac !== undefined && n.mac === mac && n.permanent) {
      ok.add(n.ip);
      continue;
    }
    if (mac === undefined) {
      await nl.neighbors.del({ dev, ip: n.ip }, { ignoreMissing: true });
      changes.push(`neighbour deleted ${n.ip} lladdr ${n.mac ?? 'none'}`);
    }
  }
  for (const [ip, mac] of want) {
    if (ok.has(ip)) continue;
    await nl.neighbors.replace({ dev, ip, mac });
    changes.push(`neighbour set ${ip} lladdr ${mac}`);
  }
  return changes;
}

/** `want`: peer VtepMAC -> PublicIP. */
export async function reconcileFdb(nl: Rtnl, dev: number, want: Map<string, string>): Promise<string[]> {
  const changes: string[] = [];
  const ok = new Set<string>();
  for (const e of await nl.fdb.list({ dev })) {
    if (!e.self) continue;
    const dst = want.get(e.mac);
    if (dst !== undefined && e.dst === dst && e.permanent && !ok.has(e.mac)) {
      ok.add(e.mac);
      continue;
    }
    await nl.fdb.del({ dev, mac: e.mac, ...(e.dst ? { dst: e.dst } : {}) }, { ignoreMissing: true });
    changes.push(`fdb deleted ${e.mac} dst ${e.dst ?? 'none'}`);
  }
  for (const [mac, dst] of want) {
    if (ok.has(mac)) continue;
    await nl.fdb.replace({ dev, mac, dst });
    changes.push(`fdb set ${mac} dst ${dst}`);
  }
  return changes;
}
