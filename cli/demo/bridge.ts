// bridge mode: one node, three pods on conf-examples/10-bridge.conflist
// (bridge + portmap), an external host behind the node. Pod1 publishes a
// host port; every pod runs a TCP server that reports who connected.
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { loadConfList } from '../../lib/cni/conflist';
import type { ConfList, Result } from '../../lib/cni/types';
import { ipJson, type TcpServer } from '../../lib/lab/index';
import { describeBridges, describeNftables, nftElementCount } from './inspect';
import {
  externalToHostPort, hairpinHostPort, podToExternal, podToGateway, podToPod, POD_PORT, type DemoPod,
} from './paths';
import { deletePods, NodeRuntime, type PodAttachment } from './runtime';
import type { DemoEnv, DemoMode, PathCheck, Scenario } from './types';

const CONFLIST = '10-bridge.conflist';
const POD_COUNT = 3;
const HOST_PORT = 8080;
// Servers outlive the matrix by a margin and then exit on their own, even if the demo is killed.
const SERVER_LIFETIME_MS = 180_000;

interface BridgePod extends DemoPod {
  attachment: PodAttachment;
  result: Result;
  addMs: number;
}

/** Same conflist, with host-local's dataDir in the run's temp dir so nothing lands in /var/lib/cni. */
function withIpamDataDir(list: ConfList, dataDir: string): ConfList {
  const plugins = list.plugins.map((p) => {
    const ipam = p.ipam as Record<string, unknown> | undefined;
    return ipam?.type === 'host-local' ? { ...p, ipam: { ...ipam, dataDir } } : p;
  });
  return { ...list, plugins };
}

const address = (r: Result) => r.ips?.[0]?.address ?? '';
const hostVeth = (r: Result) => r.interfaces?.filter((i) => !i.sandbox).at(-1)?.name ?? '?';

async function setUp(env: DemoEnv): Promise<Scenario> {
  const h = env.harness;
  const confFile = join(env.confDir, CONFLIST);
  const dataDir = await h.tempDir('ipam');
  const list = withIpamDataDir(loadConfList(confFile), dataDir);
  const node = await h.createNode();
  const runtime = new NodeRuntime(node, list, [env.binDir]);
  const executables = runtime.resolvePlugins();
  const ext = await h.createExternal(node);

  env.log(`CNI ADD for ${POD_COUNT} pods through ${list.plugins.map((p) => p.type).join(' → ')} ...`);
  const pods: BridgePod[] = [];
  for (let n = 1; n <= POD_COUNT; n++) {
    const attachment: PodAttachment = {
      containerId: `tscni-demo-pod${n}`,
      pod: await h.createPod(),
      ifname: 'eth0',
      capabilityArgs: n === 1 ? { portMappings: [{ hostPort: HOST_PORT, containerPort: POD_PORT, protocol: 'tcp' }] } : undefined,
    };
    const { result, durationMs } = await runtime.add(attachment);
    const ip = address(result).split('/')[0]!;
    pods.push({ name: `pod${n}`, ns: attachment.pod, ip, gateway: result.ips?.[0]?.gateway, attachment, result, addMs: durationMs });
  }

  const servers: TcpServer[] = [];
  for (const pod of pods) servers.push(await h.startTcpServer(pod.ns, { port: POD_PORT, lifetimeMs: SERVER_LIFETIME_MS }));
  const egress = await h.startTcpServer(ext, { lifetimeMs: SERVER_LIFETIME_MS });
  servers.push(egress);
  const pod1 = pods[0]!;

  const checks: PathCheck[] = [
    ...pods.flatMap((a) => pods.filter((b) => b !== a).map((b) => podToPod(h, a, b))),
    ...pods.map((p) => podToGateway(h, p)),
    ...pods.map((p) => podToExternal(h, p, ext, egress.port)),
    externalToHostPort(h, ext, HOST_PORT, pod1),
    hairpinHostPort(h, pod1, ext.nodeIp, HOST_PORT),
  ];

  const reservations = (): string[] => {
    const dir = join(dataDir, list.name);
    return existsSync(dir) ? readdirSync(dir).filter((f) => f !== 'lock' && !f.startsWith('last_reserved_ip')) : [];
  };

  return {
    checks,
    async describe() {
      const lines = [
        `node      ${node.name}  (network namespace, forwarding on)`,
        `external  ${ext.name}  ${ext.ip}/24, behind the node's ${ext.nodeDev} ${ext.nodeIp}/24 (the node's default route)`,
        `conflist  ${confFile}: network "${list.name}", cniVersion ${list.cniVersion}, ${list.plugins.map((p) => p.type).join(' → ')}`,
        `          (host-local dataDir set to ${dataDir}, so nothing is written to /var/lib/cni)`,
        `plugins   ${executables.join(' ')}`,
        `          each one a separate process in the node netns, env -i with PATH and CNI_* only`,
        'pods',
      ];
      for (const p of pods) {
        const ports = p === pod1 ? `  hostPort tcp ${HOST_PORT} → ${POD_PORT}` : '';
        lines.push(`  ${p.name}  netns ${p.ns.name}  eth0 ${address(p.result)} gw ${p.gateway ?? '-'}  host veth ${hostVeth(p.result)}${ports}`
          + `  (ADD ${Math.round(p.addMs)} ms)`);
      }
      lines.push('bridge', ...(await describeBridges(node)).map((l) => `  ${l}`));
      lines.push('nftables (node)', ...(await describeNftables(node)).map((l) => `  ${l}`));
      return lines;
    },
    stopProcesses() {
      for (const s of servers) s.stop();
    },
    async teardown() {
      const { ok: deleted, lines } = await deletePods(pods, () => runtime);
      let ok = deleted;
      const veths = (await ipJson(node, ['link', 'show', 'type', 'veth'])).filter((l) => l.ifname !== ext.nodeDev);
      const elements = await nftElementCount(node);
      const left = reservations();
      const clean = veths.length === 0 && elements === 0 && left.length === 0;
      ok &&= clean;
      lines.push(`after DEL: ${veths.length} pod veths on the node, ${elements} nft set/map elements, `
        + `${left.length} IPAM reservations ${clean ? '✓' : `✗ left: ${[...veths.map((v) => v.ifname), ...left].join(' ')}`}`);
      return { ok, lines };
    },
    keepHints() {
      return [
        `ip netns exec ${pod1.ns.name} ping -c 2 ${pods[1]!.ip}`,
        `ip netns exec ${node.name} nft list ruleset`,
        `ip -n ${node.name} -br link show type veth`,
      ];
    },
  };
}

export const bridgeMode: DemoMode = {
  name: 'bridge',
  summary: "one node, three pods on a Linux bridge (Docker's docker0 model): host-local IPAM, masquerade, host ports",
  setUp,
};
