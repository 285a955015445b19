// The workload of one suite: a bridge network with ipMasq and portmap chained
// after it, as a runtime runs the conflist — bridge ADD then portmap ADD with
// bridge's result as prevResult and one host port per pod; DEL in reverse.
// The two suites use their own bridge, subnet, dataDir and host-port range,
// so they never touch each other's state in the shared node.
import type { NetnsHandle } from '../lib/netns/netns';
import { timedCall, type TimedResult } from './timed';

export type Op = 'bridge ADD' | 'portmap ADD' | 'bridge DEL' | 'portmap DEL';

export interface Suite {
  name: 'ours' | 'reference';
  binDir: string;
  bridge: string;
  subnet: string;
  dataDir: string;
  firstHostPort: number;
}

export interface Pod {
  index: number;
  containerId: string;
  netns: string;
}

const PATH = '/usr/sbin:/usr/bin:/sbin:/bin';
const CNI_VERSION = '1.0.0';

function networkName(s: Suite): string {
  return `bench-${s.name}`;
}

function bridgeConfig(s: Suite, prevResult?: unknown): Record<string, unknown> {
  return {
    cniVersion: CNI_VERSION, name: networkName(s), type: 'bridge', bridge: s.bridge, isGateway: true, ipMasq: true,
    ipam: { type: 'host-local', dataDir: s.dataDir, ranges: [[{ subnet: s.subnet }]], routes: [{ dst: '0.0.0.0/0' }] },
    ...(prevResult === undefined ? {} : { prevResult }),
  };
}

function portmapConfig(s: Suite, pod: Pod, prevResult?: unknown): Record<string, unknown> {
  return {
    cniVersion: CNI_VERSION, name: networkName(s), type: 'portmap', capabilities: { portMappings: true },
    runtimeConfig: { portMappings: [{ hostPort: s.firstHostPort + pod.index, containerPort: 80, protocol: 'tcp' }] },
    ...(prevResult === undefined ? {} : { prevResult }),
  };
}

function env(s: Suite, command: string, pod: Pod): Record<string, string> {
  return {
    PATH, CNI_COMMAND: command, CNI_CONTAINERID: pod.containerId, CNI_NETNS: pod.netns, CNI_IFNAME: 'eth0',
    CNI_PATH: s.binDir,
  };
}

/** Collects every call's figures by operation; a failed call throws. */
export class Recorder {
  readonly calls = new Map<Op, TimedResult[]>();

  async call(node: NetnsHandle, s: Suite, op: Op, pod: Pod, config: Record<string, unknown>): Promise<TimedResult> {
    const [plugin, command] = op.split(' ') as [string, string];
    const r = await timedCall(node, { exe: `${s.binDir}/${plugin}`, env: env(s, command, pod), stdin: JSON.stringify(config) });
    if (r.exitCode !== 0) {
      throw new Error(`${s.name} ${op} for pod ${pod.index} failed (exit ${r.exitCode}): ${r.stdout.trim()} ${r.stderr.trim()}`);
    }
    const list = this.calls.get(op) ?? [];
    list.push(r);
    this.calls.set(op, list);
    return r;
  }
}

export interface ChainTiming {
  /** both plugin processes' wall times added: what the runtime waits for */
  ms: number;
}

export interface ChainAdd extends ChainTiming {
  /** the pod's IPv4 address */
  address: string;
  /** bridge's result: what libcni caches and hands to every plugin's DEL as prevResult */
  result: unknown;
}

export async function chainAdd(rec: Recorder, node: NetnsHandle, s: Suite, pod: Pod): Promise<ChainAdd> {
  const bridge = await rec.call(node, s, 'bridge ADD', pod, bridgeConfig(s));
  const result = JSON.parse(bridge.stdout) as { ips?: { address: string }[] };
  const address = result.ips?.[0]?.address;
  if (!address) throw new Error(`${s.name} bridge ADD for pod ${pod.index} returned no address: ${bridge.stdout}`);
  const portmap = await rec.call(node, s, 'portmap ADD', pod, portmapConfig(s, pod, result));
  return { ms: bridge.ms + portmap.ms, address, result };
}

export async function chainDel(rec: Recorder, node: NetnsHandle, s: Suite, pod: Pod, prevResult: unknown): Promise<ChainTiming> {
  const portmap = await rec.call(node, s, 'portmap DEL', pod, portmapConfig(s, pod, prevResult));
  const bridge = await rec.call(node, s, 'bridge DEL', pod, bridgeConfig(s, prevResult));
  return { ms: portmap.ms + bridge.ms };
}
