// Routed mode's pieces for cluster tests: etcdctl in the infra netns, the
// built tscni-agent started in a node's netns as the node starts it (its own
// run dir under the test's temp dir), pods attached by the built routed
// plugin with cluster-ipam, and readers of the kernel's and BIRD's state.
import type { ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { askAgent } from '../../lib/ipam/cluster/protocol';
import { parseProtocols, type BirdProtocol } from '../../lib/bird/control';
import { DIST_BIN, expectSuccess, ip, ipJson, listBlocks, poll, routerIp, type Harness, type Netns, type Cluster, type ClusterNode } from './harness';

export const POOL_CIDR = '10.244.0.0/16';

export interface Agent {
  node: ClusterNode;
  name: string;
  runDir: string;
  child: ChildProcess;
  log: string[];
}

export interface Pod extends Netns {
  ip: string;
  /** its IPv6 address, when an IPv6 pool gave it one */
  ip6?: string;
  node: ClusterNode;
}

/** Polls `probe` until it returns true; a string it returns says what is not so yet, for the timeout's message. */
export async function eventually(what: string, probe: () => Promise<boolean | string>, timeoutMs = 30_000): Promise<void> {
  let last: boolean | string = false;
  await poll(what, async () => {
    last = await probe().catch((e: Error) => e.message);
    return last === true || undefined;
  }, timeoutMs, { seen: () => String(last) });
}

/**
 * The configuration of a BGP router that is not tscni, written by hand as an
 * operator would: its own AS, one IPv4 session to every node (AS 64512), and
 * the network behind it (on eth1) announced in `family`: over IPv4, or, for
 * 6, on an ipv6 channel of those sessions with the router's IPv6 address as
 * next hop. What it learns goes into its kernel.
 */
export function externalRouterConfig(router: { ip: string; asn: number; ip6?: string }, nodes: { ip: string }[], family: 4 | 6): string {
  const channels = family === 4
    ? 'ipv4 { import all; export where source = RTS_DEVICE; };'
    : `ipv4 { import all; export none; };\n  ipv6 { next hop address ${router.ip6}; import all; export where source = RTS_DEVICE; };`;
  const sessions = nodes.map((n, i) => `protocol bgp node${i} {
  local ${router.ip} as ${router.asn};
  neighbor ${n.ip} as 64512;
  hold time 3; keepalive time 1; connect retry time 1; error wait time 1, 5;
  ${channels}
}`);
  return `router id ${router.ip};
protocol device { scan time 2; }
protocol direct { ipv${family}; interface "eth1"; }
protocol kernel { ipv${family} { import none; export where source = RTS_BGP; }; }
${sessions.join('\n')}
`;
}

export class RoutedLab {
  readonly agents = new Map<string, Agent>();
  private pods = 0;

  constructor(readonly h: Harness, readonly cluster: Cluster, readonly baseDir: string) {}

  /**
   * A default route on every node, towards the segment's router (there is
   * none on a single segment): as on any Calico node, it is what covers
   * 169.254.1.1, so the host veth's proxy ARP answers the pods for it.
   */
  async defaultRoutes(): Promise<void> {
    for (const n of this.cluster.nodes) await ip(n, ['route', 'replace', 'default', 'via', routerIp(n.segment), 'dev', 'eth0']);
  }

  get endpoint(): string {
    return this.cluster.etcd!.endpoints[0]!;
  }

  /** Every allocation of every block in etcd: address → handle. */
  async allocations(): Promise<Record<string, string>> {
    const values = (await this.etcdctl(['get', '--prefix', '--print-value-only', '/tscni/v1/ipam/blocks/'])).split('\n').filter((l) => l !== '');
    return Object.assign({}, ...values.map((v) => JSON.parse(v).allocations));
  }

  async etcdctl(args: string[]): Promise<string> {
    const certs = this.cluster.etcd!.certs;
    const tls = certs ? [`--cacert=${certs.caFile}`, `--cert=${certs.clientCert}`, `--key=${certs.clientKey}`] : [];
    const r = await this.h.execIn(this.cluster.infra, 'etcdctl', [`--endpoints=${this.endpoint}`, ...tls, ...args], { env: { ETCDCTL_API: '3' } });
    return r.stdout;
  }

  /** The blocks `name` owns, from etcd (etcd without TLS). */
  async blocksOf(name: string): Promise<string[]> {
    return (await listBlocks(this.cluster.infra, this.endpoint)).filter((b) => b.node === name).map((b) => b.cidr);
  }

  /** `tscni ...` run on a node, with etcd given by the environment as an operator would. */
  tscni(node: Netns, args: string[]) {
    return this.h.execIn(node, join(DIST_BIN, 'tscni'), args, { env: { ETCD_ENDPOINTS: this.endpoint }, reject: false, timeout: 15_000 });
  }

  async createPool(name: string, cidr: string, blockSize: number, vxlan = 'never'): Promise<void> {
    await this.etcdctl(['put', `/tscni/v1/ipam/pools/${name}`, JSON.stringify({ cidr, blockSize, vxlan, natOutgoing: false })]);
  }

  /** The agent's etcd flags: the endpoint, and the client certificates when etcd speaks TLS. */
  etcdFlags(): string[] {
    const certs = this.cluster.etcd!.certs;
    return ['--etcd-endpoints', this.endpoint, ...(certs ? ['--etcd-cafile', certs.caFile, '--etcd-certfile', certs.clientCert, '--etcd-keyfile', certs.clientKey] : [])];
  }

  startAgent(node: ClusterNode, name: string, extra: string[] = [], etcdFlags = this.etcdFlags()): Agent {
    const runDir = join(this.baseDir, name);
    const child = this.h.startDaemon(node, join(DIST_BIN, 'tscni-agent'), [
      'routed', '--node-name', name, '--ip', node.ip, ...(node.ip6 ? ['--ip6', node.ip6] : []), ...etcdFlags, '--run-dir', runDir, ...extra,
    ]);
    const agent: Agent = { node, name, runDir, child, log: [] };
    child.stderr!.on('data', (b: Buffer) => agent.log.push(...b.toString().split('\n').filter((l) => l !== '')));
    child.stdout!.resume();
    this.agents.set(name, agent);
    return agent;
  }

  /** SIGTERM, as systemd stops it; resolves with the exit code. */
  async stopAgent(name: string): Promise<number | null> {
    const a = this.agents.get(name)!;
    this.agents.delete(name);
    if (a.child.exitCode !== null) return a.child.exitCode;
    const exited = new Promise<number | null>((r) => a.child.once('exit', (code) => r(code)));
    a.child.kill('SIGTERM');
    return exited;
  }

  socket(name: string): string {
    return join(this.agents.get(name)!.runDir, 'agent.sock');
  }

  /** An address from the node's agent, as cluster-ipam asks for one (no pod made). */
  async assign(name: string, containerId: string, pools?: string[]): Promise<string> {
    await eventually(`agent ${name} serves IPAM`, async () => askAgent(this.socket(name), { op: 'pools' }).ok === true, 20_000);
    const a = askAgent(this.socket(name), { op: 'assign', handle: `net/${containerId}/eth0`, ...(pools ? { pools } : {}) });
    return a.ips[0]!.address.split('/')[0]!;
  }

  /** A pod attached by the routed plugin with cluster-ipam, both asking this node's agent, as 20-routed.conflist has them. */
  async pod(name: string): Promise<Pod> {
    const a = this.agents.get(name)!;
    const id = `pod${++this.pods}`;
    await eventually(`agent ${name} serves IPAM`, async () => askAgent(this.socket(name), { op: 'pools' }).ok === true, 20_000);
    const pod = await this.h.createPod();
    const socket = this.socket(name);
    const config = { cniVersion: '1.0.0', name: 'routed', type: 'routed', agentSocket: socket, ipam: { type: 'cluster-ipam', agentSocket: socket } };
    const r = expectSuccess(await this.h.runCniPlugin({ node: a.node, plugin: 'routed', command: 'ADD', containerId: id, netns: pod, ifname: 'eth0', config }), `ADD ${id} on ${name}`);
    const addresses = (r.json.ips as Array<{ address: string }>).map((x) => x.address.split('/')[0]!);
    const ip6 = addresses.find((x) => x.includes(':'));
    return { ...pod, ip: addresses[0]!, ...(ip6 ? { ip6 } : {}), node: a.node };
  }

  /** Routes of the main table with a given protocol ("bird", "75"), as [dst, gateway or type]. */
  async routes(ns: Netns, proto: string): Promise<string[][]> {
    const all = await ipJson(ns, ['route', 'show', 'proto', proto]);
    return all.map((r: any) => [r.dst, r.gateway ?? r.type ?? 'dev']);
  }

  async protocols(name: string): Promise<BirdProtocol[]> {
    const r = await this.h.execIn(this.agents.get(name)!.node, 'birdc', ['-s', join(this.agents.get(name)!.runDir, 'bird.ctl'), 'show', 'protocols'], { reject: false });
    return parseProtocols(r.stdout);
  }

  /** The BIRD of `name`'s run dir (its pidfile), while it runs. */
  birdPid(name: string): number | undefined {
    try {
      const pid = Number(readFileSync(join(this.baseDir, name, 'bird.pid'), 'utf8').trim());
      process.kill(pid, 0);
      return pid;
    } catch {
      return undefined;
    }
  }

  /** Kills every BIRD an agent left (by its pidfile), before the harness deletes the namespaces. */
  killBirds(names: string[]): void {
    for (const name of names) {
      try {
        process.kill(Number(readFileSync(join(this.baseDir, name, 'bird.pid'), 'utf8').trim()), 'SIGKILL');
      } catch {
        // no pidfile or no such process: nothing left
      }
    }
  }
}
