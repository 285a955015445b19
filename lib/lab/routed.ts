// The routed lab, for `tscni demo --mode routed` and the bench: an IP pool
// created by the built `tscni pool create` (run in the infra netns, where
// etcd listens), the built `tscni-agent routed` started in a node's netns
// with its run dir (agent.sock, BIRD's files) in the run's temp dir, and
// readers of what came of it: the blocks in etcd, the routes on a node.
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { formatCidr } from '../ip/address';
import { blockOfKey, blocksDir, decodeBlock } from '../ipam/cluster/block';
import { DEFAULT_ROUTED_PREFIX } from '../ipam/cluster/store';
import { AgentDaemon } from './agent';
import type { ClusterNode } from './cluster';
import type { Harness } from './harness';
import { execIn, ipJson, type Netns } from './netns';
import { NotBuiltError } from './plugin';

/** `tscni pool create NAME --cidr CIDR ...` in `infra`; returns what it printed (the pool as a table row). */
export async function createPool(infra: Netns, tscni: string, etcdUrl: string, name: string, flags: string[]): Promise<string> {
  const r = await execIn(infra, tscni, ['pool', 'create', name, ...flags, '--etcd-endpoints', etcdUrl], { timeout: 15_000, reject: false });
  if (r.exitCode !== 0) throw new Error(`tscni pool create ${name}: ${r.stderr.trim()}`);
  return r.stdout.trim();
}

export interface RoutedAgentOptions {
  /** the built tscni-agent */
  exe: string;
  node: ClusterNode;
  nodeName: string;
  etcdUrl: string;
  /** its --run-dir, in the run's temp dir */
  runDir: string;
  flags?: string[];
}

export class RoutedAgent extends AgentDaemon {
  readonly socket: string;

  constructor(h: Harness, readonly o: RoutedAgentOptions) {
    super(h);
    this.socket = join(o.runDir, 'agent.sock');
  }

  get args(): string[] {
    const o = this.o;
    return ['routed', '--node-name', o.nodeName, '--ip', o.node.ip, ...(o.node.ip6 ? ['--ip6', o.node.ip6] : []), '--etcd-endpoints', o.etcdUrl, '--run-dir', o.runDir, ...(o.flags ?? [])];
  }

  start(): this {
    this.launch(this.o.node, this.o.exe, this.args);
    return this;
  }

  /**
   * Until it serves IPAM on its socket and BIRD runs with its configuration
   * (bounded). An agent without the routed mode is NotBuiltError.
   */
  async ready(timeoutMs = 20_000): Promise<void> {
    await this.untilLogged([/ ipam-serving /, / bird-configured /], timeoutMs, (why) =>
      /unknown mode "routed"/.test(why)
        ? new NotBuiltError('this tscni-agent has no routed mode')
        : new Error(`tscni-agent routed on ${this.o.nodeName} exited ${this.child?.exitCode ?? '?'}:\n${why}`));
  }

  /** The BIRD the agent runs (its pidfile), while it runs. */
  birdPid(): number | undefined {
    const file = join(this.o.runDir, 'bird.pid');
    if (!existsSync(file)) return undefined;
    const pid = Number(readFileSync(file, 'utf8').trim());
    try {
      process.kill(pid, 0);
      return pid;
    } catch {
      return undefined;
    }
  }

  /**
   * SIGTERM (SIGKILL if it lingers); the exit code, and whether a BIRD of
   * its was still running and had to be killed (an agent may leave BIRD up
   * across a restart; here nothing of the run may outlive it).
   */
  async stop(): Promise<{ code: number | null; birdKilled: boolean }> {
    const code = await this.terminate();
    const bird = this.birdPid();
    if (bird !== undefined) process.kill(bird, 'SIGKILL');
    return { code, birdKilled: bird !== undefined };
  }
}

export interface EtcdBlock {
  pool: string;
  cidr: string;
  node: string;
  /** address → handle */
  allocations: Record<string, string>;
}

/** Every block of every pool, read with etcdctl in `infra`. */
export async function listBlocks(infra: Netns, etcdUrl: string): Promise<EtcdBlock[]> {
  const out = await execIn(infra, 'etcdctl', ['--endpoints', etcdUrl, 'get', '--prefix', blocksDir(DEFAULT_ROUTED_PREFIX)], { env: { ETCDCTL_API: '3' }, timeout: 10_000 });
  const kv = out.stdout.trim().split('\n').filter((l) => l !== '');
  const blocks: EtcdBlock[] = [];
  for (let i = 0; i + 1 < kv.length; i += 2) {
    const key = blockOfKey(DEFAULT_ROUTED_PREFIX, kv[i]!);
    if (!key) continue;
    const b = decodeBlock(key.pool, key.cidr, kv[i + 1]!);
    if (typeof b === 'string') continue; // a garbled block a test wrote: no pool's, no node's
    blocks.push({ pool: b.pool, cidr: formatCidr(b.cidr), node: b.node, allocations: b.allocations });
  }
  return blocks;
}

export interface KernelRoute {
  dst: string;
  gateway?: string;
  dev?: string;
  protocol?: string;
  type?: string;
  scope?: string;
  flags?: string[];
}

/** The main table of `node` as the kernel has it, of one family (IPv4 unless given). */
export function kernelRoutes(node: Netns, family: 4 | 6 = 4): Promise<KernelRoute[]> {
  return ipJson<KernelRoute>(node, [`-${family}`, 'route', 'show']);
}

export const formatKernelRoute = (r: KernelRoute): string => [
  r.type && r.type !== 'unicast' ? `${r.type} ${r.dst}` : r.dst, r.gateway ? `via ${r.gateway}` : '', r.dev ? `dev ${r.dev}` : '',
  r.protocol ? `proto ${r.protocol}` : '', r.scope && r.scope !== 'global' ? `scope ${r.scope}` : '', r.flags?.includes('onlink') ? 'onlink' : '',
].filter((p) => p !== '').join(' ');

/** The VXLAN devices on `node` (routed mode's encapsulation between segments), by name. */
export async function vxlanDevices(node: Netns): Promise<string[]> {
  const links = await ipJson<{ ifname: string; linkinfo?: { info_kind?: string } }>(node, ['-d', 'link', 'show', 'type', 'vxlan']);
  return links.map((l) => l.ifname);
}

/** Whether `node` has a route to each of `blocks` exactly (one per block, whoever installed it) that carries packets. */
export async function routesEvery(node: Netns, blocks: string[]): Promise<boolean> {
  // the kernel names a host route by its address alone
  const cidrOf = (dst: string) => (dst.includes('/') ? dst : `${dst}/${dst.includes(':') ? 128 : 32}`);
  const routes = [...await kernelRoutes(node, 4), ...await kernelRoutes(node, 6)].filter((r) => r.type === undefined || r.type === 'unicast').map((r) => cidrOf(r.dst));
  return blocks.every((b) => routes.includes(b));
}
