// routed mode: Calico's cluster. etcd in an infra netns holds an IP pool
// (made by `tscni pool create`) and the blocks nodes claim from it; four
// nodes on two L2 segments joined by a router each run the built
// tscni-agent routed (cluster IPAM on its socket, BIRD in a full iBGP mesh);
// two pods per node are attached through conf-examples/20-routed.conflist
// (routed with cluster-ipam, then portmap). The matrix shows pods reaching
// each other with their own addresses: on one node through host routes, on
// one segment over the routes BGP learned, across segments through VXLAN.
// The underlay and the pods are dual-stack (an IPv6 pool beside the IPv4
// one, each agent given its node's IPv6 address): two IPv6 rows, one over
// BGP and one through VXLAN, show IPv6 taking the same ways.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { loadConfList } from '../../lib/cni/conflist';
import type { ConfList, Result } from '../../lib/cni/types';
import {
  createCluster, createPool, formatKernelRoute, ip, ipJson, kernelRoutes, listBlocks, NotBuiltError, RoutedAgent, routerIp, routesEvery, vxlanDevices,
  type Cluster, type Harness, type TcpServer,
} from '../../lib/lab/index';
import { missingRoutesReport } from './inspect';
import { podToRemotePod, POD_PORT, type DemoPod } from './paths';
import { deletePods, NodeRuntime, stopClusterProcesses, type PodAttachment } from './runtime';
import type { DemoEnv, DemoMode, PathCheck, Scenario } from './types';

const CONFLIST = '20-routed.conflist';
const NODES_PER_SEGMENT = [2, 2];
const PODS_PER_NODE = 2;
const POOL = { name: 'demo', cidr: '10.244.0.0/16', blockSize: 26, vxlan: 'cross-subnet' } as const;
const POOL6 = { name: 'demo-v6', cidr: 'fd00:244::/48', blockSize: 122, vxlan: 'cross-subnet' } as const;
const SERVER_LIFETIME_MS = 180_000;
const CONVERGE_MS = 15_000;
/** The MAC every host veth has (Calico's): the node's answer to a pod's ARP for its gateway. */
const HOST_VETH_MAC = 'ee:ee:ee:ee:ee:ee';

interface RoutedPod extends DemoPod {
  /** its address from the IPv6 pool */
  ip6?: string;
  node: number;
  /** 1..PODS_PER_NODE on its node */
  rank: number;
  attachment: PodAttachment;
  result: Result;
  addMs: number;
}

interface DemoNode {
  name: string;
  ns: Cluster['nodes'][number];
  agent: RoutedAgent;
  runtime: NodeRuntime;
}

/** The conflist as a node uses it, routed and cluster-ipam asking this node's agent in the run's temp dir. */
function nodeConfList(list: ConfList, agentSocket: string): ConfList {
  const plugins = list.plugins.map((p) => {
    const ipam = p.ipam as Record<string, unknown> | undefined;
    const withIpam = ipam?.type === 'cluster-ipam' ? { ...p, ipam: { ...ipam, agentSocket } } : p;
    return p.type === 'routed' ? { ...withIpam, agentSocket } : withIpam;
  });
  return { ...list, plugins };
}

/**
 * A pod's gateway, 169.254.1.1, is on no interface: the node answers the
 * pod's ARP for it (proxy ARP), with the host veth's MAC. One packet to it
 * (no echo comes back, as with Calico) makes the pod ask, if it has not yet.
 */
function podGatewayArp(h: Harness, pod: DemoPod): PathCheck {
  return {
    kind: 'pod: ARP for its gateway',
    from: pod.name,
    to: `gateway ${pod.gateway ?? '(none in result)'}`,
    async run() {
      if (!pod.gateway) return { ok: false, detail: 'the ADD result names no gateway' };
      const asked = async () => (await ipJson<{ lladdr?: string }>(pod.ns, ['neigh', 'show', pod.gateway!, 'dev', 'eth0']))[0]?.lladdr;
      // the pod's traffic so far has asked already, unless this row runs alone
      let mac = await asked();
      if (mac === undefined) {
        await h.ping(pod.ns, pod.gateway, 1);
        mac = (await asked()) ?? 'nobody';
      }
      return { ok: mac === HOST_VETH_MAC, detail: `answered by ${mac}${mac === HOST_VETH_MAC ? ' (proxy ARP on the host veth)' : `, expected ${HOST_VETH_MAC}`}` };
    },
  };
}

const address = (r: Result) => r.ips?.[0]?.address ?? '';
const address6 = (r: Result) => r.ips?.find((x) => x.address.includes(':'))?.address.split('/')[0];
const hostVeth = (r: Result) => r.interfaces?.filter((i) => !i.sandbox).at(-1)?.name ?? '?';

async function setUp(env: DemoEnv): Promise<Scenario> {
  const h = env.harness;
  const agentExe = join(env.binDir, 'tscni-agent');
  if (!existsSync(agentExe)) throw new Error(`${agentExe} not found: run \`make build\` first`);
  const confFile = join(env.confDir, CONFLIST);
  if (!existsSync(confFile)) throw new NotBuiltError(`${confFile} is not there yet`);
  if (!existsSync(join(env.binDir, 'routed'))) throw new NotBuiltError(`no routed plugin in ${env.binDir}`);
  const list = loadConfList(confFile);

  env.log(`underlay: ${NODES_PER_SEGMENT.join(' + ')} nodes on two segments joined by a router, etcd in the infra netns ...`);
  const cluster = await createCluster(h, { nodesPerSegment: NODES_PER_SEGMENT, etcd: true, ipv6: true });
  // A node has a default route, as every real one does: proxy ARP answers a pod's ARP for
  // 169.254.1.1 only when the node routes that address out another interface. The router
  // routes nothing beyond the underlay, so nothing leaves the machine.
  for (const n of cluster.nodes) await ip(n, ['route', 'add', 'default', 'via', routerIp(n.segment), 'dev', 'eth0']);
  const etcdUrl = cluster.etcd!.endpoints[0]!;
  const poolRow = await createPool(cluster.infra, join(env.binDir, 'tscni'), etcdUrl, POOL.name,
    ['--cidr', POOL.cidr, '--block-size', String(POOL.blockSize), '--vxlan', POOL.vxlan]);
  const pool6Row = await createPool(cluster.infra, join(env.binDir, 'tscni'), etcdUrl, POOL6.name,
    ['--cidr', POOL6.cidr, '--block-size', String(POOL6.blockSize), '--vxlan', POOL6.vxlan]);
  const dir = await h.tempDir('routed');

  env.log('tscni-agent routed on every node (cluster IPAM on its socket, BIRD, a full iBGP mesh) ...');
  const nodes: DemoNode[] = cluster.nodes.map((ns, i) => {
    const name = `node${i + 1}`;
    const agent = new RoutedAgent(h, { exe: agentExe, node: ns, nodeName: name, etcdUrl, runDir: join(dir, name) }).start();
    return { name, ns, agent, runtime: new NodeRuntime(ns, nodeConfList(list, agent.socket), [env.binDir]) };
  });
  await Promise.all(nodes.map((n) => n.agent.ready()));

  env.log(`CNI ADD for ${PODS_PER_NODE} pods per node through ${list.plugins.map((p) => p.type).join(' → ')} ...`);
  const pods: RoutedPod[] = [];
  for (const [i, node] of nodes.entries()) {
    for (let k = 1; k <= PODS_PER_NODE; k++) {
      const name = `n${i + 1}-pod${k}`;
      const attachment: PodAttachment = { containerId: `tscni-demo-${name}`, pod: await h.createPod(), ifname: 'eth0' };
      const { result, durationMs } = await node.runtime.add(attachment);
      const ip6 = address6(result);
      pods.push({
        name, node: i, rank: k, ns: attachment.pod, ip: address(result).split('/')[0]!, ...(ip6 ? { ip6 } : {}), gateway: result.ips?.[0]?.gateway,
        attachment, result, addMs: durationMs,
      });
    }
  }

  // Every node routes the blocks of the other nodes on its segment (BGP), and,
  // once the agent encapsulates across segments, those of the other segment too; bounded.
  const blocks = (await listBlocks(cluster.infra, etcdUrl)).filter((b) => b.pool === POOL.name || b.pool === POOL6.name);
  const blocksOf = (n: DemoNode) => blocks.filter((b) => b.node === n.name).map((b) => b.cidr);
  const routesOf = (n: DemoNode, peers: (o: DemoNode) => boolean) => routesEvery(n.ns, nodes.filter((o) => o !== n && peers(o)).flatMap(blocksOf));
  const converged = async (across: boolean) => (await Promise.all(nodes.map((n) => routesOf(n, (o) => across || o.ns.segment === n.ns.segment)))).every(Boolean);
  const deadline = Date.now() + CONVERGE_MS;
  let routed = await converged(false);
  for (; !routed && Date.now() < deadline; routed = await converged(false)) await new Promise((r) => setTimeout(r, 100));
  // Encapsulation across segments is the agent's job; an agent without it makes no VXLAN device.
  const vxlanBuilt = (await Promise.all(nodes.map((n) => vxlanDevices(n.ns)))).some((d) => d.length > 0);
  for (routed &&= !vxlanBuilt || await converged(true); vxlanBuilt && !routed && Date.now() < deadline; routed = await converged(true)) {
    await new Promise((r) => setTimeout(r, 100));
  }
  if (!routed) env.log(`not every node routes the other nodes' blocks after ${CONVERGE_MS / 1000} s`);

  const servers: TcpServer[] = [];
  for (const pod of pods) servers.push(await h.startTcpServer(pod.ns, { port: POD_PORT, lifetimeMs: SERVER_LIFETIME_MS }));
  const segment = (p: RoutedPod) => nodes[p.node]!.ns.segment;
  const kindOf = (a: RoutedPod, b: RoutedPod) => (a.node === b.node ? 'pod ↔ pod, one node (host routes)'
    : segment(a) === segment(b) ? 'pod ↔ pod, one segment (BGP)' : 'pod ↔ pod, across segments (VXLAN)');
  // Each pod to its neighbour on its node and to the pod of the same rank on every other node.
  const pairs = pods.flatMap((a) => pods.filter((b) => b !== a && (b.node === a.node || b.rank === a.rank)).map((b) => [a, b] as const));
  const tried = pairs.filter(([a, b]) => vxlanBuilt || segment(a) === segment(b));
  const untried = pairs.length - tried.length;
  const order = (k: string) => ['one node', 'one segment', 'across'].findIndex((w) => k.includes(w));
  // IPv6: the first pod to the first pod of its segment neighbour (BGP) and of the other segment (VXLAN).
  const asV6 = (p: RoutedPod): RoutedPod => ({ ...p, ip: p.ip6 ?? '(no IPv6 address in the result)' });
  const firsts = pods.filter((p) => p.rank === 1);
  const v6Pairs = [firsts.find((p) => p.node !== 0 && segment(p) === segment(firsts[0]!)), vxlanBuilt ? firsts.find((p) => segment(p) !== segment(firsts[0]!)) : undefined]
    .filter((b): b is RoutedPod => b !== undefined).map((b) => [firsts[0]!, b] as const);
  const checks: PathCheck[] = [
    ...tried.map(([a, b]) => ({ ...podToRemotePod(h, a, b), kind: kindOf(a, b) })).sort((x, y) => order(x.kind) - order(y.kind)),
    ...v6Pairs.map(([a, b]) => ({ ...podToRemotePod(h, asV6(a), asV6(b)), kind: `${kindOf(a, b)}, IPv6` })),
    ...pods.filter((p) => p.rank === 1).map((p) => podGatewayArp(h, p)),
  ];

  const node1 = nodes[0]!;
  return {
    checks,
    async describe() {
      const lines = [
        `etcd      ${cluster.infra.name}  ${etcdUrl}`,
        `pool      (made by \`tscni pool create ${POOL.name} --cidr ${POOL.cidr} --block-size ${POOL.blockSize} --vxlan ${POOL.vxlan}\`)`,
        ...poolRow.split('\n').map((l) => `          ${l}`),
        `pool      (made by \`tscni pool create ${POOL6.name} --cidr ${POOL6.cidr} --block-size ${POOL6.blockSize} --vxlan ${POOL6.vxlan}\`)`,
        ...pool6Row.split('\n').map((l) => `          ${l}`),
        `conflist  ${confFile}: network "${list.name}", cniVersion ${list.cniVersion}, ${list.plugins.map((p) => p.type).join(' → ')}`,
        `          (agentSocket and ipam.agentSocket set to ${dir}/<node>/agent.sock, so nothing is written to /run)`,
        `router    ${cluster.router!.name}  joins segment 0 (10.250.0.0/24) and segment 1 (10.250.1.0/24)`,
        'nodes',
      ];
      for (const n of nodes) {
        lines.push(`  ${n.name}  netns ${n.ns.name}  segment ${n.ns.segment}  eth0 ${n.ns.ip} ${n.ns.ip6 ?? ''}  blocks ${blocksOf(n).join(' ') || 'none'}`);
        lines.push(`         agent: ${agentExe} ${n.agent.args.join(' ')}`);
        for (const p of pods.filter((q) => nodes[q.node] === n)) {
          lines.push(`         ${p.name}  netns ${p.ns.name}  eth0 ${address(p.result)} ${p.ip6 ?? ''} gw ${p.gateway ?? '-'}  host veth ${hostVeth(p.result)}`
            + `  (ADD ${Math.round(p.addMs)} ms)`);
        }
      }
      lines.push(`${node1.name}'s route table (read back from its kernel; no bridge on any node)`);
      const table = await kernelRoutes(node1.ns);
      lines.push(...table.map((r) => `  ${formatKernelRoute(r)}`));
      const viaNode = table.filter((r) => r.protocol === 'bird' && r.gateway !== undefined && !r.dev?.startsWith('vxlan'));
      const sameSegment = nodes.filter((n) => n !== node1 && n.ns.segment === node1.ns.segment);
      lines.push(`  proto bird via a node of this segment: ${viaNode.length} route(s) for the ${sameSegment.flatMap(blocksOf).length} block(s) of `
        + `${sameSegment.map((n) => n.name).join(' ')}, one route per block, not per pod`);
      if (vxlanBuilt) {
        const other = nodes.filter((n) => n.ns.segment !== node1.ns.segment);
        const devs = await vxlanDevices(node1.ns);
        const encapsulated = table.filter((r) => r.dev !== undefined && devs.includes(r.dev) && r.dst.includes('/'));
        lines.push(`  through ${devs.join(' ')}: ${encapsulated.length} route(s) for the ${other.flatMap(blocksOf).length} block(s) of `
          + `${other.map((n) => n.name).join(' ')} on the other segment`);
      }
      const blockRoutes6 = (await kernelRoutes(node1.ns, 6)).filter((r) => r.protocol === 'bird' || (r.protocol === '75' && r.type !== 'blackhole'));
      lines.push(`${node1.name}'s IPv6 block routes: over BGP via the neighbour's IPv6 address, through VXLAN via the far VTEP's link-local`);
      lines.push(...blockRoutes6.map((r) => `  ${formatKernelRoute(r)}`));
      if (!vxlanBuilt) {
        lines.push(`  VXLAN across segments: not built yet (no VXLAN device on any node); the ${untried} paths between segments are not tried`);
      }
      if (!routed) lines.push(...missingRoutesReport(nodes));
      return lines;
    },
    stopProcesses() {
      stopClusterProcesses(servers, nodes.map((n) => n.agent), cluster.etcd);
    },
    async teardown() {
      const { ok: deleted, lines } = await deletePods(pods, (p) => nodes[p.node]!.runtime);
      let ok = deleted;
      const held = (await listBlocks(cluster.infra, etcdUrl)).flatMap((b) => Object.entries(b.allocations))
        .filter(([, handle]) => handle.includes('tscni-demo-')).map(([ip]) => ip);
      for (const n of nodes) {
        // eth0 is the node's own veth into the fabric
        const veths = (await ipJson<{ ifname: string }>(n.ns, ['link', 'show', 'type', 'veth'])).map((l) => l.ifname).filter((i) => i !== 'eth0');
        // a pod route: one address out of a device, no gateway
        const podRoutes = (await kernelRoutes(n.ns)).filter((r) => !r.dst.includes('/') && r.dev !== undefined && r.gateway === undefined).map((r) => r.dst);
        const { code, birdKilled } = await n.agent.stop();
        const clean = code === 0 && !birdKilled && veths.length === 0 && podRoutes.length === 0;
        ok &&= clean;
        lines.push(`${n.name}: ${veths.length} pod veths, ${podRoutes.length} pod routes; agent stopped (exit ${code})`
          + `${birdKilled ? ', its BIRD still ran and was killed' : ', BIRD with it'} ${clean ? '✓' : `✗ left: ${[...veths, ...podRoutes].join(' ')}`}`);
      }
      ok &&= held.length === 0;
      lines.push(`etcd: ${held.length} addresses still allocated to the demo's pods ${held.length === 0 ? '✓' : `✗ ${held.join(' ')}`}`);
      lines.push('(the agents leave their blocks, blackholes and BGP routes in place for a restart, as calico-node does; they go with the namespaces)');
      return { ok, lines };
    },
    keepHints() {
      const [a, b] = [pods[0]!, pods.find((p) => p.node === 1)!];
      return [
        `ip netns exec ${a.ns.name} ping -c 2 ${b.ip}`,
        `ip -n ${node1.ns.name} route show proto bird`,
        `ip -n ${node1.ns.name} route`,
      ];
    },
  };
}

export const routedMode: DemoMode = {
  name: 'routed',
  summary: "four nodes on two segments, two pods each, Calico's way: a pool's blocks in etcd, tscni-agent routed with BIRD, "
    + 'the routed plugin (no bridge, no NAT)',
  setUp,
};
