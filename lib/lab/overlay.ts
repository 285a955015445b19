// The overlay lab, for `tscni demo --mode overlay` and the bench: flannel's
// network config written by the built `tscni overlay config set` (run in the
// infra netns, where etcd listens), and the built `tscni-agent overlay`
// started in a node's netns with its subnet file in the run's temp dir.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseSubnetEnv, type SubnetEnv } from '../flannel/subnet-env';
import { parseCidr, prefixBounds } from '../ip/address';
import { AgentDaemon } from './agent';
import type { Harness } from './harness';
import { execIn, ipJson, type Netns } from './netns';
import { NotBuiltError } from './plugin';

/** The cluster network every overlay run leases its node subnets from. */
export const OVERLAY_NETWORK = '10.244.0.0/16';
export const OVERLAY_BACKENDS = ['vxlan', 'host-gw', 'udp'] as const;
/** The route protocol the agent marks its routes with (lib/route-protocol.ts). */
export const OVERLAY_ROUTE_PROTOCOL = 74;

/** The agent at hand refuses the backend: it is not built into this tscni-agent yet. */
export class BackendNotBuiltError extends NotBuiltError {}

/** `tscni overlay config set` in `infra`; returns the config as written. */
export async function setOverlayConfig(infra: Netns, tscni: string, etcdUrl: string, backend: string): Promise<string> {
  const r = await execIn(infra, tscni, [
    'overlay', 'config', 'set', '--etcd-endpoints', etcdUrl, '--network', OVERLAY_NETWORK, '--backend', backend,
  ], { timeout: 15_000, reject: false });
  if (r.exitCode !== 0) throw new Error(`tscni overlay config set --backend ${backend}: ${r.stderr.trim()}`);
  return r.stdout.trim();
}

export interface OverlayAgentOptions {
  /** the built tscni-agent */
  exe: string;
  node: Netns;
  nodeName: string;
  etcdUrl: string;
  /** the underlay device in `node` */
  iface: string;
  /** a dir of the run: the subnet file goes there */
  dir: string;
  flags?: string[];
}

export class OverlayAgent extends AgentDaemon {
  readonly subnetFile: string;

  constructor(h: Harness, readonly o: OverlayAgentOptions) {
    super(h);
    this.subnetFile = join(o.dir, o.nodeName, 'subnet.env');
  }

  start(): this {
    const o = this.o;
    this.launch(o.node, o.exe, ['overlay', '--etcd-endpoints', o.etcdUrl, '--iface', o.iface,
      '--subnet-file', this.subnetFile, '--node-name', o.nodeName, ...(o.flags ?? [])]);
    return this;
  }

  /**
   * Until the subnet file is written and the lease watch is up (bounded);
   * the subnet file as the CNI plugin will read it. An agent that exits
   * first fails this with its last words.
   */
  async ready(timeoutMs = 20_000): Promise<SubnetEnv> {
    await this.untilLogged([/ subnet-file-written /, / watch-up( |$)/], timeoutMs, (why) =>
      /not built into this agent/.test(why)
        ? new BackendNotBuiltError(why.split('\n').at(-1)!)
        : new Error(`tscni-agent on ${this.o.nodeName} exited ${this.child?.exitCode ?? '?'}:\n${why}`));
    return parseSubnetEnv(readFileSync(this.subnetFile, 'utf8'), this.subnetFile);
  }

  /** SIGTERM (SIGKILL if it lingers); the exit code. Its lease and kernel state stay, as on a node. */
  stop(): Promise<number | null> {
    return this.terminate();
  }
}

export interface OverlayRoute {
  dst: string;
  gateway?: string;
  dev: string;
  flags?: string[];
}

/** The routes the agent owns on `node`: "10.244.2.0/24 via 10.244.2.0 dev flannel.1 onlink". */
export async function overlayRoutes(node: Netns): Promise<OverlayRoute[]> {
  return ipJson<OverlayRoute>(node, ['route', 'show', 'proto', String(OVERLAY_ROUTE_PROTOCOL)]);
}

/**
 * Whether `node` has an overlay route to every one of `subnets`: a route of
 * its own or one covering it (udp's one route to the whole network).
 */
export async function routesCover(node: Netns, subnets: string[]): Promise<boolean> {
  const bounds = (text: string) => {
    const c = parseCidr(text === 'default' ? '0.0.0.0/0' : text.includes('/') ? text : `${text}/32`);
    return typeof c === 'string' ? undefined : prefixBounds(c);
  };
  const routes = (await overlayRoutes(node)).map((r) => bounds(r.dst)).filter((b) => b !== undefined);
  return subnets.every((s) => {
    const want = bounds(s)!;
    return routes.some((r) => r.first <= want.first && want.last <= r.last);
  });
}

export const formatRoute = (r: OverlayRoute): string =>
  `${r.dst}${r.gateway ? ` via ${r.gateway}` : ''} dev ${r.dev}${r.flags?.includes('onlink') ? ' onlink' : ''}`;
