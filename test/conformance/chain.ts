// Helpers for running a conflist through the libcni driver on a fresh node and
// judging the outcome by the kernel: which binary each plugin type resolves
// to, what the node holds for an attachment, and that DEL left nothing.
import { existsSync, readdirSync } from 'node:fs';
import { mkdir, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { nftElementCount } from '../../cli/demo/inspect';
import { askAgent } from '../../lib/ipam/cluster/protocol';
import { createCluster, DIST_BIN, execIn, ipJson, REFERENCE_BIN, type Harness, type Netns } from '../integration/harness';
import { startIpamAgent } from '../integration/ipam-agent-remote';

export const OURS = DIST_BIN;
export const REFERENCE = REFERENCE_BIN;

/**
 * A CNI_PATH directory holding exactly one executable per type, so a chain
 * can mix our plugins and the reference ones: `{ bridge: OURS, portmap: REFERENCE }`.
 */
export async function pluginDir(h: Harness, pick: Record<string, string>): Promise<string> {
  const dir = await h.tempDir('bin');
  for (const [type, from] of Object.entries(pick)) await symlink(join(from, type), join(dir, type));
  return dir;
}

/** The conflist with every host-local dataDir inside `dataDir`, so nothing lands in /var/lib/cni. */
export function withDataDir<L extends { plugins: Record<string, any>[] }>(list: L, dataDir: string): L {
  const plugins = list.plugins.map((p) => (p.ipam?.type === 'host-local' ? { ...p, ipam: { ...p.ipam, dataDir } } : p));
  return { ...list, plugins };
}

/**
 * The subnet file a flannel plugin in these tests reads: the node does not
 * masquerade (FLANNEL_IPMASQ=false), so flannel's bridge must.
 */
export const FLANNEL_SUBNET_ENV = 'FLANNEL_NETWORK=10.244.0.0/16\nFLANNEL_SUBNET=10.244.1.1/24\nFLANNEL_MTU=1450\nFLANNEL_IPMASQ=false\n';

/**
 * The conflist with every flannel plugin reading FLANNEL_SUBNET_ENV from
 * `dir`, keeping its saved delegate configs in `dir`/flannel and its
 * host-local store in `ipamDir`: nothing lands in /run or /var/lib.
 */
export async function withFlannelNode<L extends { plugins: Record<string, any>[] }>(list: L, dir: string, ipamDir: string): Promise<L> {
  if (!list.plugins.some((p) => p.type === 'flannel')) return list;
  await mkdir(dir, { recursive: true });
  await writeFile(join(dir, 'subnet.env'), FLANNEL_SUBNET_ENV);
  const plugins = list.plugins.map((p) =>
    p.type === 'flannel'
      ? { ...p, subnetFile: join(dir, 'subnet.env'), dataDir: join(dir, 'flannel'), ipam: { ...p.ipam, dataDir: ipamDir } }
      : p,
  );
  return { ...list, plugins };
}

/** The pool a routed node's pods get addresses from (natOutgoing, as a Calico default pool). */
export const ROUTED_POOL = '10.244.1.0/24';

export interface RoutedNode {
  node: Netns;
  /** the conflist with every agentSocket pointing at the node's agent */
  list: { name: string; cniVersion: string; plugins: Record<string, any>[] };
  /** what the agent holds for an attachment */
  held(containerId: string, ifname: string): string[];
}

/**
 * For a conflist that needs the node agent (routed, cluster-ipam): a cluster
 * node with etcd, a natOutgoing pool, and the agent's IPAM service on a
 * socket in a temp dir; undefined for any other conflist.
 */
export async function withRoutedNode<L extends RoutedNode['list']>(h: Harness, list: L): Promise<RoutedNode | undefined> {
  const needsAgent = list.plugins.some((p) => p.type === 'routed' || p.ipam?.type === 'cluster-ipam');
  if (!needsAgent) return undefined;
  const cluster = await createCluster(h, { nodesPerSegment: [1], etcd: true });
  const node = cluster.nodes[0]!;
  const etcd = { 'etcd-endpoints': cluster.etcd!.endpoints[0]!, 'etcd-prefix': '/tscni-test/conformance' };
  await execIn(node, join(DIST_BIN, 'tscni'), ['pool', 'create', 'default-ipv4', '--cidr', ROUTED_POOL, '--nat-outgoing',
    ...Object.entries(etcd).flatMap(([k, v]) => [`--${k}`, v])]);
  const agent = await startIpamAgent(h, node, 'node-a', etcd);
  const plugins = list.plugins.map((p) => {
    const out: Record<string, any> = p.type === 'routed' ? { ...p, agentSocket: agent.socket } : { ...p };
    if (p.ipam?.type === 'cluster-ipam') out.ipam = { ...p.ipam, agentSocket: agent.socket };
    return out;
  });
  return {
    node,
    list: { ...list, plugins },
    held: (containerId, ifname) => askAgent(agent.socket, { op: 'held', handle: `${list.name}/${containerId}/${ifname}` }).ips.map((ip) => ip.address),
  };
}

export async function writeConflist(dir: string, list: object): Promise<string> {
  await mkdir(dir, { recursive: true });
  const path = join(dir, 'net.conflist');
  await writeFile(path, JSON.stringify(list, null, 2));
  return path;
}

/** Everything that must be gone once an attachment is deleted. */
export interface Leftovers {
  podLinks: string[];
  /** veths on the node other than the link to the external host */
  nodeVeths: string[];
  ifbs: string[];
  nftElements: number;
  /** lines of the node's ruleset (nft and iptables-nft) naming the pod address or container id */
  rulesNamingPod: string[];
  reservations: string[];
  cachedResults: string[];
  /** delegate configs a flannel plugin saved (in flannelDir) */
  savedDelegates: string[];
}

export async function leftovers(o: {
  node: Netns; pod: Netns; keepLinks: string[]; podIp: string; containerId: string; ipamDir: string; cacheDir: string; flannelDir?: string;
  /** reservations kept elsewhere than ipamDir (routed mode: by the agent) */
  held?: () => string[];
}): Promise<Leftovers> {
  const names = (links: { ifname: string }[]) => links.map((l) => l.ifname);
  const ruleset = await execIn(o.node, 'nft', ['list', 'ruleset']);
  const files = (dir: string) => (existsSync(dir) ? readdirSync(dir) : []);
  return {
    podLinks: names(await ipJson(o.pod, ['link', 'show'])).filter((n) => n !== 'lo'),
    nodeVeths: names(await ipJson(o.node, ['link', 'show', 'type', 'veth'])).filter((n) => !o.keepLinks.includes(n)),
    ifbs: names(await ipJson(o.node, ['link', 'show', 'type', 'ifb'])),
    nftElements: await nftElementCount(o.node),
    rulesNamingPod: ruleset.stdout.split('\n').filter((l) => l.includes(o.podIp) || l.includes(o.containerId)),
    reservations: o.held ? o.held() : files(o.ipamDir).filter((f) => f !== 'lock' && !f.startsWith('last_reserved_ip')),
    cachedResults: files(join(o.cacheDir, 'results')),
    savedDelegates: o.flannelDir ? files(o.flannelDir) : [],
  };
}

export const NOTHING_LEFT: Leftovers = {
  podLinks: [], nodeVeths: [], ifbs: [], nftElements: 0, rulesNamingPod: [], reservations: [], cachedResults: [], savedDelegates: [],
};

/** qdisc kinds on a link of the node, e.g. ['tbf', 'ingress']. */
export async function qdiscKinds(node: Netns, dev: string): Promise<string[]> {
  const out = await execIn(node, 'tc', ['-j', 'qdisc', 'show', 'dev', dev]);
  return (JSON.parse(out.stdout) as { kind: string }[]).map((q) => q.kind);
}
