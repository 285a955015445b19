// A virtual overlay cluster for the agent's tests: the cluster harness's
// fabric, nodes and etcd, flannel's config written with etcdctl, and the
// built tscni-agent started in each node's netns with its own subnet file in
// the test's temp dir. Pods are attached with the built bridge plugin and
// host-local on the node's FLANNEL_SUBNET, as flannel's CNI plugin would.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { expect } from 'vitest';
import {
  AgentDaemon, createCluster, DIST_BIN, expectSuccess, ipJson, poll, type Cluster, type ClusterNode, type ClusterOptions, type Harness, type Netns,
} from './harness';

export const PREFIX = '/coreos.com/network';
export const NETWORK = '10.244.0.0/16';

export interface OverlayCluster extends Cluster {
  etcdUrl: string;
  dir: string;
}

export async function createOverlayCluster(h: Harness, config: Record<string, unknown>, opts: ClusterOptions = {}): Promise<OverlayCluster> {
  const cluster = await createCluster(h, { nodesPerSegment: [3], ...opts, etcd: true });
  const c = { ...cluster, etcdUrl: cluster.etcd!.endpoints[0]!, dir: await h.tempDir('overlay') };
  await etcdctl(h, c, ['put', `${PREFIX}/config`, JSON.stringify(config)]);
  return c;
}

/** etcdctl (etcd's own client, the oracle) in the infra netns. */
export async function etcdctl(h: Harness, c: OverlayCluster, args: string[]): Promise<string> {
  const r = await h.execIn(c.infra, 'etcdctl', ['--endpoints', c.etcdUrl, ...args], { env: { ETCDCTL_API: '3' }, timeout: 10_000 });
  return r.stdout;
}

/** Every key under `prefix` and its value. */
export async function etcdGet(h: Harness, c: OverlayCluster, prefix: string): Promise<Record<string, string>> {
  const kvs: { key: string; value: string }[] = JSON.parse(await etcdctl(h, c, ['get', '--prefix', prefix, '-w', 'json'])).kvs ?? [];
  return Object.fromEntries(kvs.map((kv) => [Buffer.from(kv.key, 'base64').toString(), Buffer.from(kv.value, 'base64').toString()]));
}

/** The built tscni-agent in overlay mode on one node of the cluster, its log lines named by the node. */
export class Agent extends AgentDaemon {
  readonly subnetFile: string;
  /** where the current run's lines begin */
  private firstLine = 0;

  constructor(h: Harness, private readonly c: OverlayCluster, readonly node: ClusterNode, readonly name: string, private readonly flags: string[] = []) {
    super(h);
    this.subnetFile = join(c.dir, name, 'subnet.env');
  }

  argv(extra: string[] = []): string[] {
    return ['overlay', '--etcd-endpoints', this.c.etcdUrl, '--iface', 'eth0', '--subnet-file', this.subnetFile,
      '--node-name', this.name, ...(this.flags.includes('--subnet-lease-ttl') ? [] : ['--subnet-lease-ttl', '4']), ...this.flags, ...extra];
  }

  start(extra: string[] = []): this {
    this.firstLine = this.lines.length;
    this.launch(this.node, join(DIST_BIN, 'tscni-agent'), this.argv(extra), `${this.name}: `);
    return this;
  }

  /** Waits (bounded) for a log line of the current run matching `re`, from line `from` on. */
  async waitLog(re: RegExp, timeoutMs = 15_000, from = this.firstLine): Promise<string> {
    return poll(`${this.name} log ${re}`, () => {
      const line = this.lines.slice(from).find((l) => re.test(l));
      if (line === undefined && !this.running) throw new Error(`${this.name} exited:\n${this.lines.slice(from).join('\n')}`);
      return line;
    }, timeoutMs, { seen: () => this.lines.join('\n') });
  }

  /** Until the subnet file is written; returns FLANNEL_* values. */
  async ready(timeoutMs = 15_000): Promise<Record<string, string>> {
    await this.waitLog(/ subnet-file-written /, timeoutMs);
    await this.waitLog(/ watch-up( |$)/, timeoutMs);
    return readSubnetFile(this.subnetFile);
  }

  /** SIGTERM, and the exit code. */
  stop(): Promise<number | null> {
    return this.terminate();
  }
}

/** Starts every agent and waits until each is ready; their FLANNEL_* values, in order. */
export async function startAgents(agents: Agent[]): Promise<Record<string, string>[]> {
  for (const a of agents) a.start();
  return Promise.all(agents.map((a) => a.ready()));
}

/** Stops every agent, as afterAll does; with TSCNI_TEST_LOG set, prints their logs. */
export async function stopAgents(agents: Agent[] | undefined): Promise<void> {
  for (const a of agents ?? []) await a.stop();
  if (process.env.TSCNI_TEST_LOG) console.log((agents ?? []).flatMap((a) => a.lines).join('\n'));
}

export function readSubnetFile(path: string): Record<string, string> {
  return Object.fromEntries(readFileSync(path, 'utf8').trim().split('\n').map((l) => l.split('=') as [string, string]));
}

/** Like poll(), returns how long it took (for the log; tests never assert it tightly). */
export async function timed(what: string, probe: () => boolean | Promise<boolean>, timeoutMs = 10_000): Promise<number> {
  const t0 = performance.now();
  await poll(what, async () => (await probe()) || undefined, timeoutMs);
  const ms = Math.round(performance.now() - t0);
  console.log(`${what}: ${ms} ms`);
  return ms;
}

export interface Pod extends Netns {
  ip: string;
}

/** A pod on `node` attached as flannel's plugin does: bridge cni0 as gateway, host-local on FLANNEL_SUBNET. */
export async function attachPod(h: Harness, c: OverlayCluster, node: Netns, env: Record<string, string>, id: string): Promise<Pod> {
  const pod = await h.createPod();
  const config = {
    cniVersion: '1.0.0', name: 'overlay', type: 'bridge', bridge: 'cni0', isGateway: true, isDefaultGateway: true,
    ipMasq: false, mtu: Number(env.FLANNEL_MTU), hairpinMode: true,
    ipam: { type: 'host-local', dataDir: join(c.dir, `ipam-${node.name}`), ranges: [[{ subnet: env.FLANNEL_SUBNET!.replace(/\.\d+\//, '.0/') }]] },
  };
  const r = expectSuccess(await h.runCniPlugin({ node, plugin: 'bridge', command: 'ADD', containerId: id, netns: pod, ifname: 'eth0', config }), `ADD ${id}`);
  const ip = (r.json.ips[0].address as string).split('/')[0]!;
  return { ...pod, ip };
}

/** One pod on each of the first `env.length` nodes (pod1, pod2, ...), on that node's subnet. */
export async function attachPods(h: Harness, c: OverlayCluster, env: Record<string, string>[]): Promise<Pod[]> {
  const pods: Pod[] = [];
  for (let i = 0; i < env.length; i++) pods.push(await attachPod(h, c, c.nodes[i]!, env[i]!, `pod${i + 1}`));
  return pods;
}

/** `ip -d -j` output helpers. */
export const routesOf = (ns: Netns, extra: string[] = []) => ipJson(ns, ['-d', 'route', 'show', ...extra]);

// An echo server and a client that keeps one connection open, sending a line
// every 100 ms for a while: a connection held across whatever the test does
// meanwhile (an etcd outage, an agent restart). Both exit by themselves.
const ECHO_SERVER = `
const net = require('net');
const srv = net.createServer((c) => { let a = c.remoteAddress || ''; if (a.startsWith('::ffff:')) a = a.slice(7); c.write('peer ' + a + '\\n'); c.pipe(c); });
srv.listen({ port: Number(process.argv[1]), host: '0.0.0.0' }, () => console.log('listening'));
setTimeout(() => process.exit(0), Number(process.argv[2]));
`;
const HOLD_CLIENT = `
const net = require('net');
const [host, port, ms] = process.argv.slice(1);
const c = net.connect({ host, port: Number(port) });
let sent = 0, echoed = 0, peer = '', buf = '';
c.on('data', (d) => { buf += d; const lines = buf.split('\\n'); buf = lines.pop(); for (const l of lines) { if (l.startsWith('peer ')) peer = l.slice(5); else echoed++; } });
c.on('error', (e) => { console.log(JSON.stringify({ sent, echoed, peer, error: e.message })); process.exit(0); });
const t = setInterval(() => { c.write('x' + sent++ + '\\n'); }, 100);
setTimeout(() => { clearInterval(t); setTimeout(() => { console.log(JSON.stringify({ sent, echoed, peer })); process.exit(0); }, 500); }, Number(ms));
`;

export interface HeldConnection {
  /** resolves when the client is done: lines sent and echoed back, the source address the server saw */
  result: Promise<{ sent: number; echoed: number; peer: string; error?: string }>;
}

export async function holdTcp(h: Harness, from: Netns, to: Pod, durationMs: number, port = 7001): Promise<HeldConnection> {
  const server = h.startDaemon(to, process.execPath, ['-e', ECHO_SERVER, String(port), String(durationMs + 5_000)]);
  await new Promise<void>((resolve, reject) => {
    const t = setTimeout(() => reject(new Error('echo server did not start')), 10_000);
    server.stdout!.on('data', () => {
      clearTimeout(t);
      resolve();
    });
  });
  const result = h.execIn(from, process.execPath, ['-e', HOLD_CLIENT, to.ip, String(port), String(durationMs)], { timeout: durationMs + 10_000 })
    .then((r) => JSON.parse(r.stdout.trim()));
  return { result };
}

/** Every pod pings every other, and a TCP connection from the first pod to the last holds, seen from its own address. */
export async function expectPodsConnected(h: Harness, pods: Pod[]): Promise<void> {
  for (const a of pods) {
    for (const b of pods) if (a !== b) expect((await h.ping(a, b.ip, 2)).ok, `${a.ip} -> ${b.ip}`).toBe(true);
  }
  const held = await holdTcp(h, pods[0]!, pods.at(-1)!, 1500);
  const r = await held.result;
  expect(r.error).toBeUndefined();
  expect(r.peer).toBe(pods[0]!.ip);
  expect(r.echoed).toBe(r.sent);
  expect(r.sent).toBeGreaterThan(5);
}
