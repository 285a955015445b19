// Fixtures for the portmap tests: a node with an external host (IPv4 and
// IPv6) and a second node address for hostIP, pods attached by a bridge
// plugin with portmap chained after it as a runtime chains them, and a UDP
// echo that reports the peer address it saw.
import { spawn, type ChildProcess } from 'node:child_process';
import {
  addAddress, childEnv, expectSuccess, ip, REFERENCE_BIN, run, type CniOutcome, type External, type Harness, type Netns,
} from './harness';

export const NODE_V6 = '2001:db8:100::2';
export const EXT_V6 = '2001:db8:100::1';
/** A second node address, reachable from the external host through the node's first one. */
export const NODE_EXTRA = '10.250.0.1';

export type Impl = 'ours' | 'reference';

export interface PortMappingArg {
  hostPort: number;
  containerPort: number;
  protocol?: string;
  hostIP?: string;
}

export interface TestNode {
  node: Netns;
  ext: External;
  dataDir: string;
  subnet: number;
}

export async function setupNode(h: Harness, subnet: number): Promise<TestNode> {
  const node = await h.createNode();
  const ext = await h.createExternal(node);
  await addAddress(ext, 'eth0', `${EXT_V6}/64`);
  await addAddress(node, ext.nodeDev, `${NODE_V6}/64`);
  await addAddress(node, ext.nodeDev, `${NODE_EXTRA}/32`);
  await ip(ext, ['route', 'add', `${NODE_EXTRA}/32`, 'via', ext.nodeIp]);
  return { node, ext, dataDir: await h.tempDir('ipam'), subnet };
}

export function bridgeConfig(n: TestNode, cniVersion = '1.0.0'): Record<string, unknown> {
  return {
    cniVersion, name: 'pmnet', type: 'bridge', bridge: 'cni0', isGateway: true, ipMasq: true, hairpinMode: true,
    ipam: {
      type: 'host-local', dataDir: n.dataDir,
      ranges: [[{ subnet: `10.244.${n.subnet}.0/24` }], [{ subnet: `fd00:244:${n.subnet}::/64` }]],
      routes: [{ dst: '0.0.0.0/0' }, { dst: '::/0' }],
    },
  };
}

export function portmapConfig(mappings: PortMappingArg[], prevResult?: unknown, extra: Record<string, unknown> = {}) {
  return {
    cniVersion: '1.0.0', name: 'pmnet', type: 'portmap', capabilities: { portMappings: true },
    runtimeConfig: { portMappings: mappings }, ...(prevResult ? { prevResult } : {}), ...extra,
  };
}

const exe = (impl: Impl, name: string) => (impl === 'ours' ? { plugin: name } : { pluginPath: `${REFERENCE_BIN}/${name}` });

export interface Attached {
  id: string;
  pod: Netns;
  result: any;
  v4: string;
  v6: string;
  /** DEL through the chain in reverse, as a runtime does */
  detach(): Promise<void>;
}

/** ADD bridge, then portmap with the bridge's result: one attachment as a runtime makes it. */
export async function attach(
  h: Harness, n: TestNode, id: string, mappings: PortMappingArg[],
  opts: { bridge?: Impl; portmap?: Impl; portmapExtra?: Record<string, unknown> } = {},
): Promise<Attached> {
  const pod = await h.createPod();
  const bridge = opts.bridge ?? 'reference';
  const portmap = opts.portmap ?? 'ours';
  const base = { node: n.node, containerId: id, netns: pod, ifname: 'eth0' };
  const br = expectSuccess(await h.runCniPlugin({ ...base, ...exe(bridge, 'bridge'), command: 'ADD', config: bridgeConfig(n) }), `${bridge} bridge ADD`);
  const pmConf = (prev: unknown) => portmapConfig(mappings, prev, opts.portmapExtra);
  const pm = await h.runCniPlugin({ ...base, ...exe(portmap, 'portmap'), command: 'ADD', config: pmConf(br.json) });
  const detach = async () => {
    expectSuccess(await h.runCniPlugin({ ...base, ...exe(portmap, 'portmap'), command: 'DEL', config: pmConf(br.json) }), 'portmap DEL');
    expectSuccess(await h.runCniPlugin({ ...base, ...exe(bridge, 'bridge'), command: 'DEL', config: bridgeConfig(n) }), 'bridge DEL');
  };
  if (pm.exitCode !== 0) {
    await h.runCniPlugin({ ...base, ...exe(bridge, 'bridge'), command: 'DEL', config: bridgeConfig(n) });
    throw Object.assign(new Error(`portmap ADD failed: ${pm.stdout}`), { outcome: pm });
  }
  const addr = (v6: boolean) => (pm.json.ips as { address: string }[]).map((x) => x.address.split('/')[0]!).find((a) => a.includes(':') === v6)!;
  return { id, pod, result: pm.json, v4: addr(false), v6: addr(true), detach };
}

export function portmapCall(h: Harness, n: TestNode, command: 'ADD' | 'DEL' | 'CHECK' | 'GC', id: string, config: object, netns?: Netns | string): Promise<CniOutcome> {
  return h.runCniPlugin({ node: n.node, plugin: 'portmap', command, containerId: id, netns: netns ?? '', ifname: 'eth0', config: config as Record<string, unknown> });
}

/** Our elements in the node, as "<set> <owner id>" lines. */
export async function elementOwners(n: TestNode): Promise<string[]> {
  const r = await run('ip', ['netns', 'exec', n.node.name, 'nft', '-j', 'list', 'table', 'inet', 'tscni'], { reject: false });
  if (r.exitCode !== 0) return [];
  const out: string[] = [];
  for (const o of JSON.parse(r.stdout).nftables as any[]) {
    const s = o.map ?? o.set;
    if (!s?.name?.startsWith('pm_')) continue;
    for (const e of s.elem ?? []) {
      const key = Array.isArray(e) ? e[0] : e;
      out.push(`${s.name} ${String(key.elem?.comment ?? '').split(' ').pop()}`);
    }
  }
  return out.sort();
}

const UDP_ECHO = `
const s = require('dgram').createSocket({ type: 'udp6', ipv6Only: false });
s.on('message', (m, r) => s.send(r.address.replace(/^::ffff:/, ''), r.port, r.address));
s.bind(Number(process.argv[1]), '::', () => console.log('listening'));
setTimeout(() => process.exit(0), 60000);
`;

const UDP_ASK = `
const [host, port, sport] = process.argv.slice(1);
const s = require('dgram').createSocket(host.includes(':') ? 'udp6' : 'udp4');
s.on('message', (m) => { process.stdout.write(m.toString()); process.exit(0); });
const send = () => s.send('hi', Number(port), host);
const start = () => { send(); setInterval(send, 300); };
if (sport) s.bind(Number(sport), start); else start();
setTimeout(() => process.exit(2), 2000);
`;

export function startUdpEcho(children: ChildProcess[], ns: Netns, port: number): Promise<void> {
  const child = spawn('ip', ['netns', 'exec', ns.name, process.execPath, '-e', UDP_ECHO, String(port)], { env: childEnv(), stdio: ['ignore', 'pipe', 'pipe'] });
  children.push(child);
  return new Promise((resolve, reject) => {
    child.stdout!.on('data', () => resolve());
    child.on('exit', (code) => reject(new Error(`UDP echo exited ${code}`)));
  });
}

/**
 * The peer address the echo saw, or undefined when nothing came back within
 * 2 s of retries; with `sourcePort`, every datagram leaves from that port (one flow).
 */
export async function udpAsk(from: Netns, host: string, port: number, sourcePort?: number): Promise<string | undefined> {
  const args = ['netns', 'exec', from.name, process.execPath, '-e', UDP_ASK, host, String(port), ...(sourcePort ? [String(sourcePort)] : [])];
  const r = await run('ip', args, { reject: false, timeout: 5000 });
  return r.exitCode === 0 ? r.stdout.trim() : undefined;
}
