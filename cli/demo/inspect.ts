// Reads back what the plugins built on a node, from the kernel itself (ip and
// nft in the node's netns), so the demo shows state, not intentions.
import { execIn, ipJson, type Netns } from '../../lib/lab/index';

interface IpLink {
  ifname: string;
  mtu: number;
  flags: string[];
  addr_info?: { local: string; prefixlen: number; family: string; scope: string }[];
}

function globalAddrs(l: IpLink): string[] {
  return (l.addr_info ?? []).filter((a) => a.scope === 'global').map((a) => `${a.local}/${a.prefixlen}`);
}

/** "tscni0  10.244.1.1/24  mtu 1500  up  2 ports: vethA vethB". */
export async function describeBridges(node: Netns): Promise<string[]> {
  const bridges = await ipJson<IpLink>(node, ['addr', 'show', 'type', 'bridge']);
  const lines: string[] = [];
  for (const br of bridges) {
    const ports = (await ipJson<IpLink>(node, ['link', 'show', 'master', br.ifname])).map((p) => p.ifname);
    lines.push(`${br.ifname}  ${globalAddrs(br).join(' ') || 'no address'}  mtu ${br.mtu}  ${br.flags.includes('UP') ? 'up' : 'down'}`
      + `  ${ports.length} port${ports.length === 1 ? '' : 's'}: ${ports.join(' ')}`);
  }
  return lines;
}

interface NftObject {
  table?: { family: string; name: string };
  chain?: { family: string; table: string; name: string; hook?: string };
  set?: { family: string; table: string; name: string; elem?: unknown[] };
  map?: { family: string; table: string; name: string; elem?: unknown[] };
  rule?: { family: string; table: string };
}

export interface NftTableSummary {
  table: string;
  chains: string[];
  rules: number;
  /** set or map name -> element count */
  elements: Map<string, number>;
}

export async function nftTables(node: Netns): Promise<NftTableSummary[]> {
  const out = await execIn(node, 'nft', ['-j', 'list', 'ruleset'], { timeout: 10_000 });
  const objects = (JSON.parse(out.stdout) as { nftables: NftObject[] }).nftables;
  const tables = new Map<string, NftTableSummary>();
  const of = (family: string, name: string): NftTableSummary => {
    const key = `${family} ${name}`;
    if (!tables.has(key)) tables.set(key, { table: key, chains: [], rules: 0, elements: new Map() });
    return tables.get(key)!;
  };
  for (const o of objects) {
    if (o.table) of(o.table.family, o.table.name);
    if (o.chain) of(o.chain.family, o.chain.table).chains.push(o.chain.hook ? `${o.chain.name}(${o.chain.hook})` : o.chain.name);
    if (o.rule) of(o.rule.family, o.rule.table).rules++;
    const set = o.set ?? o.map;
    if (set) of(set.family, set.table).elements.set(set.name, set.elem?.length ?? 0);
  }
  return [...tables.values()];
}

/** One line per table: chains, rule count, and the sets/maps that hold elements. */
export async function describeNftables(node: Netns): Promise<string[]> {
  const tables = await nftTables(node);
  if (tables.length === 0) return ['(empty ruleset)'];
  return tables.map((t) => {
    const filled = [...t.elements].filter(([, n]) => n > 0).map(([name, n]) => `${name}=${n}`);
    return `table ${t.table}: ${t.chains.length} chains, ${t.rules} rules; elements ${filled.join(' ') || 'none'}`
      + `\n      chains ${t.chains.join(' ')}`;
  });
}

/** Total elements left in every set and map: 0 once every pod is deleted. */
export async function nftElementCount(node: Netns): Promise<number> {
  return (await nftTables(node)).reduce((n, t) => n + [...t.elements.values()].reduce((a, b) => a + b, 0), 0);
}

interface IpDetailedLink extends IpLink {
  address?: string;
  linkinfo?: { info_kind?: string; info_data?: { id?: number; port?: number; learning?: boolean; local?: string; link?: string } };
}

/** The overlay devices the agent made on a node (flannel.<VNI>, flannel0), as the kernel has them. */
export async function describeOverlayDevices(node: Netns): Promise<string[]> {
  const links = (await ipJson<IpDetailedLink>(node, ['-d', 'addr', 'show'])).filter((l) => l.ifname.startsWith('flannel'));
  return links.map((l) => {
    const kind = l.linkinfo?.info_kind ?? '?';
    const d = l.linkinfo?.info_data;
    const vxlan = kind === 'vxlan' && d
      ? `  VNI ${d.id} port ${d.port} local ${d.local} dev ${d.link} learning ${d.learning ? 'on' : 'off'}  mac ${l.address}` : '';
    return `${l.ifname}  ${kind}  ${globalAddrs(l).join(' ') || 'no address'}  mtu ${l.mtu}  ${l.flags.includes('UP') ? 'up' : 'down'}${vxlan}`;
  });
}

/** vxlan's per-peer entries on `dev`: the permanent neighbours and the FDB. */
export async function describeVxlanEntries(node: Netns, dev: string): Promise<string[]> {
  const neigh = await ipJson<{ dst: string; lladdr?: string; state?: string[] }>(node, ['neigh', 'show', 'dev', dev]);
  const fdbOut = await execIn(node, 'bridge', ['-j', 'fdb', 'show', 'dev', dev]);
  const fdb = JSON.parse(fdbOut.stdout || '[]') as { mac: string; dst?: string; state?: string }[];
  return [
    ...neigh.map((n) => `neigh ${n.dst} lladdr ${n.lladdr ?? '-'} ${(n.state ?? []).join(',').toLowerCase()}`),
    ...fdb.map((f) => `fdb   ${f.mac} dst ${f.dst ?? '-'} ${f.state ?? ''}`.trimEnd()),
  ];
}

/** What the demo shows when routes are missing: the last lines each node's agent logged, named by node. */
export function missingRoutesReport(nodes: { name: string; agent: { lines: string[] } }[], count = 5): string[] {
  return ['  ✗ routes missing: agent logs follow', ...nodes.flatMap((n) => n.agent.lines.slice(-count).map((l) => `    ${n.name}: ${l}`))];
}
