// overlay mode: flannel's cluster. etcd in an infra netns holds the network
// config (written by `tscni overlay config set`) and one subnet lease per
// node; three nodes on one underlay segment each run the built tscni-agent
// overlay with the chosen backend; two pods per node are attached through
// conf-examples/10-flannel.conflist (flannel → portmap, the delegate our
// bridge). Every pod runs a TCP server that reports who connected, so the
// matrix shows that traffic inside the cluster network keeps the pod's
// address and traffic to the external host leaves as the node's.
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { loadConfList } from '../../lib/cni/conflist';
import type { ConfList, Result } from '../../lib/cni/types';
import { formatCidr } from '../../lib/ip/address';
import {
  createCluster, execIn, formatRoute, ipJson, OverlayAgent, overlayRoutes, routesCover, setOverlayConfig,
  type Cluster, type External, type Netns, type TcpServer,
} from '../../lib/lab/index';
import { describeOverlayDevices, describeVxlanEntries, missingRoutesReport } from './inspect';
import { onTheWire, podToExternal, podToRemotePod, POD_PORT, type DemoPod } from './paths';
import { deletePods, NodeRuntime, stopClusterProcesses, type PodAttachment } from './runtime';
import type { DemoEnv, DemoMode, PathCheck, Scenario } from './types';

const CONFLIST = '10-flannel.conflist';
const NODES = 3;
const PODS_PER_NODE = 2;
const SERVER_LIFETIME_MS = 180_000;
const CONVERGE_MS = 10_000;
/** What each backend puts on the underlay: encapsulated in UDP to its port, or the pods' own packets. */
const ON_THE_WIRE: Record<string, (from: DemoPod, to: DemoPod) => string> = {
  vxlan: () => 'udp dst port 8472',
  udp: () => 'udp dst port 8285',
  'host-gw': (from, to) => `icmp and src host ${from.ip} and dst host ${to.ip}`,
};

interface OverlayPod extends DemoPod {
  node: number;
  attachment: PodAttachment;
  result: Result;
  addMs: number;
}

interface DemoNode {
  name: string;
  ns: Netns & { ip: string };
  agent: OverlayAgent;
  subnet: string;
  mtu: number;
  ext: External;
  runtime: NodeRuntime;
  /** the flannel plugin's dataDir and host-local's, in the run's temp dir */
  flannelDir: string;
  ipamDir: string;
}

/** kube-flannel's conflist with the subnet file and both data dirs pointed into the run's temp dir. */
function nodeConfList(list: ConfList, subnetFile: string, flannelDir: string, ipamDir: string): ConfList {
  const plugins = list.plugins.map((p) => (p.type === 'flannel'
    ? { ...p, subnetFile, dataDir: flannelDir, ipam: { ...(p.ipam as object | undefined), dataDir: ipamDir } }
    : p));
  return { ...list, plugins };
}

/** Every node has a route to every other node's subnet (the agents have seen all leases); bounded. */
async function converged(nodes: DemoNode[]): Promise<boolean> {
  const deadline = Date.now() + CONVERGE_MS;
  for (;;) {
    const done = await Promise.all(nodes.map((n) => routesCover(n.ns, nodes.filter((o) => o !== n).map((o) => o.subnet))));
    if (done.every(Boolean)) return true;
    if (Date.now() > deadline) return false;
    await new Promise((r) => setTimeout(r, 50));
  }
}

async function leaseLines(cluster: Cluster): Promise<string[]> {
  const out = await execIn(cluster.infra, 'etcdctl', ['--endpoints', cluster.etcd!.endpoints[0]!, 'get', '--prefix', '/coreos.com/network/subnets/'],
    { env: { ETCDCTL_API: '3' }, timeout: 10_000 });
  const kv = out.stdout.trim().split('\n');
  const lines: string[] = [];
  for (let i = 0; i + 1 < kv.length; i += 2) lines.push(`${kv[i]} = ${kv[i + 1]}`);
  return lines;
}

const files = (dir: string, keep: (f: string) => boolean = () => true) =>
  (existsSync(dir) ? readdirSync(dir).filter(keep) : []);

async function setUp(env: DemoEnv, backend: string): Promise<Scenario> {
  const h = env.harness;
  const agentExe = join(env.binDir, 'tscni-agent');
  if (!existsSync(agentExe)) throw new Error(`${agentExe} not found: run \`make build\` first`);
  env.log(`underlay: ${NODES} nodes on one segment, etcd in the infra netns ...`);
  const cluster = await createCluster(h, { nodesPerSegment: [NODES], etcd: true });
  const etcdUrl = cluster.etcd!.endpoints[0]!;
  const config = await setOverlayConfig(cluster.infra, join(env.binDir, 'tscni'), etcdUrl, backend);
  const dir = await h.tempDir('overlay');
  const confFile = join(env.confDir, CONFLIST);
  const list = loadConfList(confFile);

  env.log(`tscni-agent overlay (${backend}) on every node ...`);
  const agents = cluster.nodes.map((ns, i) => new OverlayAgent(h, {
    exe: agentExe, node: ns, nodeName: `node${i + 1}`, etcdUrl, iface: 'eth0', dir, flags: ['--ip-masq'],
  }).start());
  const subnetEnvs = await Promise.all(agents.map((a) => a.ready()));
  const nodes: DemoNode[] = [];
  for (const [i, ns] of cluster.nodes.entries()) {
    const agent = agents[i]!;
    const flannelDir = join(dir, agent.o.nodeName, 'flannel');
    const ipamDir = join(dir, agent.o.nodeName, 'ipam');
    nodes.push({
      name: agent.o.nodeName, ns, agent, subnet: formatCidr(subnetEnvs[i]!.subnet!), mtu: subnetEnvs[i]!.mtu,
      ext: await h.createExternal(ns), flannelDir, ipamDir,
      runtime: new NodeRuntime(ns, nodeConfList(list, agent.subnetFile, flannelDir, ipamDir), [env.binDir]),
    });
  }
  const routed = await converged(nodes);
  if (!routed) env.log(`not every node has a route to every other subnet after ${CONVERGE_MS / 1000} s`);

  env.log(`CNI ADD for ${PODS_PER_NODE} pods per node through ${list.plugins.map((p) => p.type).join(' → ')} ...`);
  const pods: OverlayPod[] = [];
  for (const [i, node] of nodes.entries()) {
    for (let k = 1; k <= PODS_PER_NODE; k++) {
      const name = `n${i + 1}-pod${k}`;
      const attachment: PodAttachment = { containerId: `tscni-demo-${name}`, pod: await h.createPod(), ifname: 'eth0' };
      const { result, durationMs } = await node.runtime.add(attachment);
      const ip = (result.ips?.[0]?.address ?? '').split('/')[0]!;
      pods.push({ name, node: i, ns: attachment.pod, ip, gateway: result.ips?.[0]?.gateway, attachment, result, addMs: durationMs });
    }
  }

  const servers: TcpServer[] = [];
  for (const pod of pods) servers.push(await h.startTcpServer(pod.ns, { port: POD_PORT, lifetimeMs: SERVER_LIFETIME_MS }));
  const egress: TcpServer[] = [];
  for (const n of nodes) egress.push(await h.startTcpServer(n.ext, { lifetimeMs: SERVER_LIFETIME_MS }));
  servers.push(...egress);

  const checks: PathCheck[] = [
    ...pods.flatMap((a) => pods.filter((b) => b.node !== a.node).map((b) => podToRemotePod(h, a, b))),
    ...pods.map((p) => podToExternal(h, p, nodes[p.node]!.ext, egress[p.node]!.port)),
  ];
  const [first, remote] = [pods[0]!, pods.find((p) => p.node !== pods[0]!.node)!];
  const wire = ON_THE_WIRE[backend];
  if (wire) checks.push(onTheWire(h, cluster.fabric, first, remote, wire(first, remote)));

  return {
    checks,
    async describe() {
      const lines = [
        `etcd      ${cluster.infra.name}  ${etcdUrl}`,
        `config    /coreos.com/network/config = ${config}`,
        `          (written by \`tscni overlay config set --network ... --backend ${backend}\`)`,
        'leases',
        ...(await leaseLines(cluster)).map((l) => `  ${l}`),
        `conflist  ${confFile}: network "${list.name}", cniVersion ${list.cniVersion}, ${list.plugins.map((p) => p.type).join(' → ')}`,
        `          (subnetFile, dataDir and ipam.dataDir set to ${dir}/<node>/..., so nothing is written to /run or /var/lib/cni)`,
        'nodes',
      ];
      for (const n of nodes) {
        lines.push(`  ${n.name}  netns ${n.ns.name}  eth0 ${n.ns.ip}  subnet ${n.subnet}  pod mtu ${n.mtu}`
          + `  external ${n.ext.ip} behind ${n.ext.nodeDev} ${n.ext.nodeIp}`);
        lines.push(`         agent: ${agentExe} overlay --iface eth0 --ip-masq --subnet-file ${n.agent.subnetFile}`);
        for (const p of pods.filter((q) => nodes[q.node] === n)) {
          lines.push(`         ${p.name}  netns ${p.ns.name}  eth0 ${p.ip} gw ${p.gateway ?? '-'}  (ADD ${Math.round(p.addMs)} ms)`);
        }
      }
      lines.push('overlay state (read back from each node\'s kernel)');
      for (const n of nodes) {
        lines.push(`  ${n.name}`);
        const devices = await describeOverlayDevices(n.ns);
        lines.push(...devices.map((d) => `    dev   ${d}`));
        lines.push(...(await overlayRoutes(n.ns)).map((r) => `    route ${formatRoute(r)} proto 74`));
        for (const vxlan of devices.filter((d) => / vxlan /.test(d))) {
          lines.push(...(await describeVxlanEntries(n.ns, vxlan.split(' ')[0]!)).map((l) => `    ${l}`));
        }
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
      for (const n of nodes) {
        const code = await n.agent.stop();
        const ports = (await ipJson(n.ns, ['link', 'show', 'master', 'cni0']).catch(() => [])).map((l: { ifname: string }) => l.ifname);
        const saved = files(n.flannelDir);
        const reserved = files(join(n.ipamDir, list.name), (f) => /^\d/.test(f));
        const clean = code === 0 && ports.length === 0 && saved.length === 0 && reserved.length === 0;
        ok &&= clean;
        lines.push(`${n.name}: agent stopped (exit ${code}); ${ports.length} pod veths on cni0, ${saved.length} saved delegate configs, `
          + `${reserved.length} IPAM reservations ${clean ? '✓' : `✗ left: ${[...ports, ...saved, ...reserved].join(' ')}`}`);
      }
      lines.push('(the agents leave their lease, routes and devices in place for a restart, as flanneld does; they go with the namespaces)');
      return { ok, lines };
    },
    keepHints() {
      const [a, b] = [pods[0]!, pods.find((p) => p.node !== pods[0]!.node)!];
      return [
        `ip netns exec ${a.ns.name} ping -c 2 ${b.ip}`,
        `ip -n ${nodes[0]!.ns.name} route show proto 74`,
        `ip netns exec ${cluster.fabric.name} tcpdump -ni br0 -c 4 ${backend === 'host-gw' ? 'icmp' : 'udp'}`,
      ];
    },
  };
}

export function overlayMode(backend: string): DemoMode {
  return {
    name: `overlay --backend ${backend}`,
    summary: `three nodes, two pods each, flannel's way: subnet leases in etcd, tscni-agent overlay with the ${backend} backend, `
      + 'the flannel CNI plugin',
    setUp: (env) => setUp(env, backend),
  };
}
