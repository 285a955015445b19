// Our conflists as containerd, CRI-O and podman run them: through Debian's
// libcni (the cnidriver), ADD with capability args, real traffic, CHECK, DEL
// twice, and nothing left in the kernel, nftables, IPAM or libcni's cache.
// Every conf-examples/*.conflist runs with our plugins only; then our plugins
// chained with the reference ones, both ways.
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { REPO_ROOT, useHarness, type External, type Netns } from '../integration/harness';
import { compareVersions } from '../../lib/cni/version';
import {
  leftovers, NOTHING_LEFT, OURS, pluginDir, qdiscKinds, REFERENCE, withDataDir, withFlannelNode, withRoutedNode, writeConflist, type RoutedNode,
} from './chain';
import { ensureDriver, runDriver, type DriverRun } from './cnidriver';

const h = useHarness();
const CONF_EXAMPLES = join(REPO_ROOT, 'conf-examples');
const HOST_PORT = 8080;
const POD_PORT = 80;
// bits per second and bits, as kubelet passes them
const BANDWIDTH = { ingressRate: 10_000_000, ingressBurst: 1_000_000, egressRate: 10_000_000, egressBurst: 1_000_000 };

interface Chain {
  title: string;
  /** the conflist as a runtime reads it; host-local's dataDir is moved to a temp dir */
  list: { name: string; cniVersion: string; plugins: Record<string, any>[] };
  /** plugin type -> the directory its binary comes from; absent: CNI_PATH is dist/bin alone */
  plugins?: Record<string, string>;
  /** the reference portmap, whose CHECK with port mappings hits containernetworking/plugins#819 */
  referencePortmap?: boolean;
}

const examples: Chain[] = readdirSync(CONF_EXAMPLES).filter((f) => f.endsWith('.conflist')).sort().map((f) => ({
  title: `conf-examples/${f}, our plugins only`,
  list: JSON.parse(readFileSync(join(CONF_EXAMPLES, f), 'utf8')),
}));

const bridge = {
  type: 'bridge', bridge: 'cni0', isGateway: true, isDefaultGateway: true, ipMasq: true,
  ipam: { type: 'host-local', ranges: [[{ subnet: '10.244.1.0/24' }]] },
};
const portmap = { type: 'portmap', capabilities: { portMappings: true } };
const bandwidth = { type: 'bandwidth', capabilities: { bandwidth: true } };
const list = (name: string, plugins: object[]) => ({ cniVersion: '1.0.0', name, plugins: plugins as Record<string, any>[] });

const mixed: Chain[] = [
  {
    title: 'our bridge → reference portmap',
    list: list('mix-ref-portmap', [bridge, portmap]),
    plugins: { bridge: OURS, 'host-local': OURS, portmap: REFERENCE },
    referencePortmap: true,
  },
  {
    title: 'our bridge → reference bandwidth',
    list: list('mix-ref-bandwidth', [bridge, bandwidth]),
    plugins: { bridge: OURS, 'host-local': OURS, bandwidth: REFERENCE },
  },
  {
    title: 'reference bridge → our portmap',
    list: list('mix-our-portmap', [bridge, portmap]),
    plugins: { bridge: REFERENCE, 'host-local': REFERENCE, portmap: OURS },
  },
];

/** What a runtime hands the plugins that declare each capability. */
function capabilityArgs(l: Chain['list']): Record<string, unknown> {
  const caps = new Set(l.plugins.flatMap((p) => Object.keys(p.capabilities ?? {}).filter((k) => p.capabilities[k] === true)));
  const args: Record<string, unknown> = {};
  if (caps.has('portMappings')) args.portMappings = [{ hostPort: HOST_PORT, containerPort: POD_PORT, protocol: 'tcp' }];
  if (caps.has('bandwidth')) args.bandwidth = BANDWIDTH;
  return args;
}

let attachments = 0;

function chainSuite(c: Chain): void {
  const caps = capabilityArgs(c.list);
  const flannel = c.list.plugins[0]?.type === 'flannel';
  // routed: the node's pool is natOutgoing
  const routedMode = c.list.plugins[0]?.type === 'routed';
  // flannel's bridge masquerades when the node does not (FLANNEL_SUBNET_ENV)
  const masquerades = c.list.plugins[0]?.ipMasq === true || flannel || routedMode;
  let routedNode: RoutedNode | undefined;
  let node: Netns;
  let ext: External;
  let pod: Netns;
  let base: Omit<DriverRun, 'command'>;
  let ipamDir: string;
  let flannelDir: string;
  let result: any;

  beforeAll(async () => {
    ensureDriver();
    const dir = await h.tempDir('conf');
    routedNode = await withRoutedNode(h, c.list);
    const runList = await withFlannelNode(withDataDir(routedNode?.list ?? c.list, join(dir, 'ipam')), join(dir, 'node'), join(dir, 'ipam'));
    ipamDir = join(dir, 'ipam', runList.name);
    flannelDir = join(dir, 'node', 'flannel');
    const cniPath = c.plugins ? [await pluginDir(h, c.plugins)] : [OURS];
    node = routedNode?.node ?? (await h.createNode());
    ext = await h.createExternal(node);
    pod = await h.createPod();
    base = {
      node, conflist: await writeConflist(dir, runList), containerId: `conformance-${++attachments}`,
      netns: pod, ifname: 'eth0', cniPath, cacheDir: join(dir, 'cache'), capabilityArgs: caps,
    };
  });

  const podIp = (): string => result.ips[0].address.split('/')[0];

  it('ADD: the pod reaches its gateway and the outside, and is reached on its host port', async () => {
    const add = await runDriver({ ...base, command: 'add' });
    expect(add.exitCode, add.stdout + add.stderr).toBe(0);
    result = add.json;
    expect(result.cniVersion).toBe(c.list.cniVersion);
    // routed: the pod holds its address alone, /32
    expect(result.ips[0].address).toMatch(routedMode ? /^10\.244\.1\.\d+\/32$/ : /^10\.244\.1\.\d+\/24$/);

    // What DEL must remove later is there now, so the emptiness check below means something.
    const built = await leftovers({ ...stateArgs(), podIp: podIp() });
    expect(built.nodeVeths).toHaveLength(1);
    expect(built.reservations).toHaveLength(1);
    expect(built.cachedResults).toHaveLength(1);
    if (flannel) expect(built.savedDelegates).toEqual([base.containerId]);
    if (masquerades) expect(built.nftElements + built.rulesNamingPod.length).toBeGreaterThan(0);

    // routed's gateway, 169.254.1.1, is an address nothing holds: the pod reaches the node itself instead
    const gw = await h.ping(pod, routedMode ? ext.nodeIp : result.ips[0].gateway, 2);
    expect(gw.ok, gw.output).toBe(true);
    if (masquerades) {
      const egress = await h.startTcpServer(ext);
      expect(await h.tcpRequest(pod, ext.ip, egress.port)).toBe(ext.nodeIp);
    }
    if (caps.portMappings) {
      await h.startTcpServer(pod, { port: POD_PORT });
      expect(await h.tcpRequest(ext, ext.nodeIp, HOST_PORT)).toBe(ext.ip);
    }
    if (caps.bandwidth) {
      // ingress: tbf on the host veth; egress: the host veth's ingress redirected to an ifb with a tbf
      const { nodeVeths, ifbs } = await leftovers({ ...stateArgs(), podIp: podIp() });
      expect(nodeVeths).toHaveLength(1);
      expect(ifbs).toHaveLength(1);
      expect(await qdiscKinds(node, nodeVeths[0]!)).toEqual(expect.arrayContaining(['tbf', 'ingress']));
      expect(await qdiscKinds(node, ifbs[0]!)).toContain('tbf');
      // bandwidth adds the ifb to the result, after the interfaces it was handed
      expect(result.interfaces.map((i: any) => i.name)).toEqual(expect.arrayContaining([nodeVeths[0], ifbs[0]]));
    }
  });

  it('CHECK passes on what ADD built', async () => {
    const check = await runDriver({ ...base, command: 'check' });
    if (compareVersions(c.list.cniVersion, '0.4.0') < 0) {
      // kube-flannel's conflist is 0.3.1, which has no CHECK: libcni refuses it before any plugin runs
      expect(check.exitCode).not.toBe(0);
      expect(check.stdout + check.stderr).toMatch(/does not support the CHECK command/);
      return;
    }
    if (c.referencePortmap && check.exitCode !== 0) {
      // The reference portmap 1.1.x checks its DNAT rules in ip6tables too, where it
      // never wrote them (containernetworking/plugins#819): with port mappings its
      // CHECK fails; without them it has nothing to check and the rest of the chain is.
      expect(check.json.msg).toMatch(/could not check ipv6 dnat/);
      const rest = await runDriver({ ...base, command: 'check', capabilityArgs: {} });
      expect(rest.exitCode, rest.stdout + rest.stderr).toBe(0);
      return;
    }
    expect(check.exitCode, check.stdout + check.stderr).toBe(0);
    expect(check.json).toEqual({});
  });

  it('DEL removes everything ADD made, and DEL again succeeds', async () => {
    const del = await runDriver({ ...base, command: 'del' });
    expect(del.exitCode, del.stdout + del.stderr).toBe(0);
    expect(await leftovers({ ...stateArgs(), podIp: podIp() })).toEqual(NOTHING_LEFT);
    if (caps.portMappings) await expect(h.tcpRequest(ext, ext.nodeIp, HOST_PORT, 1_500)).rejects.toThrow();
    const again = await runDriver({ ...base, command: 'del' });
    expect(again.exitCode, again.stdout + again.stderr).toBe(0);
  });

  function stateArgs() {
    const held = routedNode ? { held: () => routedNode!.held(base.containerId!, 'eth0') } : {};
    // a cluster node's eth0 is its veth to the fabric
    return { node, pod, keepLinks: [ext.nodeDev, 'eth0'], containerId: base.containerId!, ipamDir, cacheDir: base.cacheDir, flannelDir, ...held };
  }
}

for (const c of [...examples, ...mixed]) describe(c.title, () => chainSuite(c));
