// The lab's Harness: makes the namespaces, veths, processes and temp dirs of
// one run, all named with one per-run prefix, and removes them in cleanup().
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawn, type ChildProcess } from 'node:child_process';
import { childEnv, ProcessRegistry, type ExecOptions, type ExecResult } from './exec';
import {
  addAddress, addNetns, addVeth, deleteNetns, execIn, ip, linkUp, listNetns, sysctl, type Netns,
} from './netns';
import { runCniPlugin, type CniOutcome, type CniRun } from './plugin';
import { ping, startTcpServer, tcpRequest, type PingResult, type TcpServer, type TcpServerOptions } from './traffic';

/** TESTING.md address plan for the "external" host that checks SNAT. */
export const EXTERNAL = { hostIp: '198.51.100.1', nodeIp: '198.51.100.2', prefixLen: 24 } as const;

export interface External extends Netns {
  /** the external host's address, where SNATed pod traffic must arrive */
  ip: string;
  /** the node's own address on the link to it: the expected SNAT source */
  nodeIp: string;
  /** interface name on the node side */
  nodeDev: string;
}

export class Harness {
  /** `tscni-<6 hex>-`: names every namespace and temp dir of this run */
  readonly prefix = `tscni-${randomBytes(3).toString('hex')}-`;
  private readonly processes = new ProcessRegistry();
  private readonly tempDirs: string[] = [];
  private counter = 0;

  /** A fresh netns `<prefix><role><n>` with lo up. */
  async createNetns(role: string): Promise<Netns> {
    const ns = await addNetns(`${this.prefix}${role}${++this.counter}`);
    await linkUp(ns, 'lo');
    return ns;
  }

  /** A virtual node: the namespace CNI plugins run in, forwarding on. */
  async createNode(): Promise<Netns> {
    const node = await this.createNetns('node');
    await sysctl(node, 'net.ipv4.ip_forward', 1);
    await sysctl(node, 'net.ipv6.conf.all.forwarding', 1);
    return node;
  }

  /** An empty pod sandbox, as a runtime creates it before calling ADD. */
  createPod(): Promise<Netns> {
    return this.createNetns('pod');
  }

  /**
   * An "external" host on a veth from `node` (dev ext0 there). The node's
   * default route points at it, so pod egress that the node masquerades
   * reaches it; it has no route back to pod subnets, so un-NATed traffic
   * cannot be answered.
   */
  async createExternal(node: Netns, nodeDev = 'ext0'): Promise<External> {
    const ext = await this.createNetns('ext');
    await addVeth(ext, 'eth0', node, nodeDev);
    await addAddress(ext, 'eth0', `${EXTERNAL.hostIp}/${EXTERNAL.prefixLen}`);
    await addAddress(node, nodeDev, `${EXTERNAL.nodeIp}/${EXTERNAL.prefixLen}`);
    await ip(node, ['route', 'replace', 'default', 'via', EXTERNAL.hostIp, 'dev', nodeDev]);
    return { ...ext, ip: EXTERNAL.hostIp, nodeIp: EXTERNAL.nodeIp, nodeDev };
  }

  execIn(ns: Netns | string, cmd: string, args: string[], opts?: ExecOptions): Promise<ExecResult> {
    return execIn(ns, cmd, args, opts);
  }

  runCniPlugin(r: CniRun): Promise<CniOutcome> {
    return runCniPlugin(r);
  }

  ping(from: Netns, addr: string, count = 3): Promise<PingResult> {
    return ping(from, addr, count);
  }

  startTcpServer(ns: Netns, opts?: TcpServerOptions): Promise<TcpServer> {
    return startTcpServer(this.processes, ns, opts);
  }

  tcpRequest(from: Netns, host: string, port: number, timeoutMs?: number): Promise<string> {
    return tcpRequest(from, host, port, timeoutMs);
  }

  /**
   * A long-running process inside `ns` (etcd, an agent), killed by PID in
   * cleanup() if the test has not stopped it. `ip netns exec` execs the
   * command in place, so the child's PID is the daemon's own.
   */
  startDaemon(ns: Netns, cmd: string, args: string[], opts: { env?: Record<string, string>; stdin?: boolean } = {}): ChildProcess {
    return this.processes.track(spawn('ip', ['netns', 'exec', ns.name, cmd, ...args], {
      env: childEnv(opts.env), stdio: [opts.stdin ? 'pipe' : 'ignore', 'pipe', 'pipe'],
    }));
  }

  /** A temp dir named with the run prefix (e.g. an IPAM dataDir), removed by cleanup(). */
  async tempDir(role = 'tmp'): Promise<string> {
    const dir = await mkdtemp(join(tmpdir(), `${this.prefix}${role}-`));
    this.tempDirs.push(dir);
    return dir;
  }

  /** Kills our processes, deletes every netns with our prefix, removes our temp dirs. */
  async cleanup(): Promise<void> {
    await this.processes.killAll();
    for (const name of await listNetns()) {
      if (name.startsWith(this.prefix)) await deleteNetns(name);
    }
    for (const dir of this.tempDirs.splice(0)) await rm(dir, { recursive: true, force: true });
  }
}

export function createHarness(): Harness {
  return new Harness();
}
