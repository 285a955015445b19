// Routed mode's pieces for cluster tests: etcdctl in the infra netns, the
// built tscni-agent started in a node's netns as the node starts it (its own
// run dir under the test's temp dir), pods wired the way the routed plugin
// wires them, and readers of the kernel's and BIRD's state.
import type { ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { askAgent } from '../../lib/ipam/cluster/protocol';
import { parseProtocols, type BirdProtocol } from '../../lib/bird/control';
import { poll } from './overlay-cluster';
import { DIST_BIN, addVeth, ip, ipJson, sysctl, type Harness, type Netns, type Cluster, type ClusterNode } from './harness';

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
  node: ClusterNode;
}

/** Polls `probe` until it returns true; a string it returns says what is not so yet, for the timeout's message. */
export async function eventually(what: string, probe: () => Promise<boolean | string>, timeoutMs = 30_000): Promise<void> {
  let last: boolean | string = false;
  await poll(what, async () => {
    last = await probe().catch((e: Error) => e.message);
    return last === true || undefined;
  }, timeoutMs, () => String(last));
}

export class RoutedLab {
  readonly agents = new Map<string, Agent>();
  private pods = 0;

  constructor(readonly h: Harness, readonly cluster: Cluster, readonly baseDir: string) {}

  get endpoint(): string {
    return this.cluster.etcd!.endpoints[0]!;
  }

  async etcdctl(args: string[]): Promise<string> {
    const r = await this.h.execIn(this.cluster.infra, 'etcdctl', [`--endpoints=${this.endpoint}`, ...args], { env: { ETCDCTL_API: '3' } });
    return r.stdout;
  }

  /** `tscni ...` run on a node, with etcd given by the environment as an operator would. */
  tscni(node: Netns, args: string[]) {
    return this.h.execIn(node, join(DIST_BIN, 'tscni'), args, { env: { ETCD_ENDPOINTS: this.endpoint }, reject: false, timeout: 15_000 });
  }

  async createPool(name: string, cidr: string, blockSize: number, vxlan = 'never'): Promise<void> {
    await this.etcdctl(['put', `/tscni/v1/ipam/pools/${name}`, JSON.stringify({ cidr, blockSize, vxlan, natOutgoing: false })]);
  }

  startAgent(node: ClusterNode, name: string, extra: string[] = []): Agent {
    const runDir = join(this.baseDir, name);
    const child = this.h.startDaemon(node, join(DIST_BIN, 'tscni-agent'), [
      'routed', '--node-name', name, '--ip', node.ip, '--etcd-endpoints', this.endpoint, '--run-dir', runDir, ...extra,
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

  /** An address from the node's agent, as cluster-ipam asks for one. */
  async assign(name: string, containerId: string): Promise<string> {
    await eventually(`agent ${name} serves IPAM`, async () => (await askAgent(this.socket(name), { op: 'pools' })).ok === true, 20_000);
    const a = await askAgent(this.socket(name), { op: 'assign', handle: `net/${containerId}/eth0` });
    return a.ips[0]!.address.split('/')[0]!;
  }

  /** A pod wired as routed mode wires it: /32, default via 169.254.1.1 on-link, proxy ARP and a host route on the node. */
  async pod(name: string): Promise<Pod> {
    const a = this.agents.get(name)!;
    const n = ++this.pods;
    const address = await this.assign(name, `pod${n}`);
    const pod = await this.h.createPod();
    const hostIf = `tp${n}`;
    await addVeth(a.node, hostIf, pod, 'eth0');
    await ip(pod, ['addr', 'add', `${address}/32`, 'dev', 'eth0']);
    await ip(pod, ['route', 'add', '169.254.1.1', 'dev', 'eth0', 'scope', 'link']);
    // Proxy ARP answers only for a target the node routes elsewhere, and these nodes have no default route.
    const [hostLink] = await ipJson(a.node, ['link', 'show', 'dev', hostIf]);
    await ip(pod, ['neigh', 'replace', '169.254.1.1', 'lladdr', hostLink.address, 'dev', 'eth0', 'nud', 'permanent']);
    await ip(pod, ['route', 'add', 'default', 'via', '169.254.1.1', 'dev', 'eth0']);
    await sysctl(a.node, `net.ipv4.conf.${hostIf}.proxy_arp`, 1);
    await sysctl(a.node, `net.ipv4.neigh.${hostIf}.proxy_delay`, 0);
    await ip(a.node, ['route', 'add', `${address}/32`, 'dev', hostIf, 'scope', 'link']);
    return { ...pod, ip: address, node: a.node };
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
