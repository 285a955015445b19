// A virtual cluster (TESTING.md's address plan): the underlay is a "fabric"
// netns holding one bridge per L2 segment (10.250.0.0/24, 10.250.1.0/24);
// each node is a netns with one veth (eth0) into its segment's bridge; a
// router netns joins the segments (the router is .1 on each); etcd runs in an
// "infra" netns on segment 0 (10.250.0.2). Nothing has a route beyond
// 10.250.0.0/16, so no packet can leave the machine. With `ipv6`, the
// underlay is dual-stack: segment s is also fd00:250:s::/64 (ULA, as the
// pods' fd00:244::/48), a member's host number the same digits as its
// IPv4 one (10.250.1.11 is fd00:250:1::11, 10.250.0.11 fd00:250::11), the
// router ::1 and forwarding, and nothing routed beyond fd00:250::/48.
import { formatIp, parseIp } from '../ip/address';
import type { Harness } from './harness';
import { addAddress, addVeth, ip, linkUp, sysctl, type Netns } from './netns';
import { makeCertificates, type LabCertificates } from './certs';
import { startEtcd, type EtcdServer } from './etcd';

export const UNDERLAY = '10.250.0.0/16';
const SEGMENT_PREFIX = 24;
const segmentNet = (segment: number) => `10.250.${segment}`;
export const routerIp = (segment: number) => `${segmentNet(segment)}.1`;
export const INFRA_IP = '10.250.0.2';
export const UNDERLAY6 = 'fd00:250::/48';
const SEGMENT_PREFIX6 = 64;
/** The IPv6 twin of a member's underlay address: the same segment and host digits, written as the kernel writes it. */
export const underlayIp6 = (segment: number, host: number) => formatIp(parseIp(`fd00:250:${segment}::${host}`)!);
const FIRST_NODE_HOST = 11;

export interface ClusterNode extends Netns {
  /** the node's underlay address on eth0 */
  ip: string;
  /** its IPv6 underlay address on eth0, in a cluster made with `ipv6` */
  ip6?: string;
  segment: number;
}

export interface Cluster {
  fabric: Netns;
  /** joins the segments; only when there are two */
  router?: Netns;
  infra: Netns & { ip: string };
  nodes: ClusterNode[];
  etcd?: EtcdServer & { certs?: LabCertificates };
}

export interface ClusterOptions {
  /** nodes per segment, e.g. [3] or [2, 1]; default [3] */
  nodesPerSegment?: number[];
  /** start etcd in the infra netns; `{ tls: true }` for https with client certificates */
  etcd?: boolean | { tls: boolean };
  /** a dual-stack underlay: every member also gets its IPv6 underlay address */
  ipv6?: boolean;
}

/** A member of a segment: a veth from `ns` (dev `dev`) into the segment's bridge, addressed, routed to the underlay. */
async function attach(fabric: Netns, segment: number, port: string, ns: Netns, dev: string, host: string, host6?: string): Promise<void> {
  await addVeth(fabric, port, ns, dev);
  await ip(fabric, ['link', 'set', 'dev', port, 'master', `br${segment}`]);
  await addAddress(ns, dev, `${host}/${SEGMENT_PREFIX}`);
  if (host6 !== undefined) await addAddress(ns, dev, `${host6}/${SEGMENT_PREFIX6}`);
}

export async function createCluster(h: Harness, opts: ClusterOptions = {}): Promise<Cluster> {
  const perSegment = opts.nodesPerSegment ?? [3];
  if (perSegment.length < 1 || perSegment.length > 2) throw new Error('createCluster: one or two segments');
  const fabric = await h.createNetns('fabric');
  for (let s = 0; s < perSegment.length; s++) {
    await ip(fabric, ['link', 'add', `br${s}`, 'type', 'bridge']);
    await linkUp(fabric, `br${s}`);
  }

  let router: Netns | undefined;
  if (perSegment.length === 2) {
    router = await h.createNetns('router');
    await sysctl(router, 'net.ipv4.ip_forward', 1);
    if (opts.ipv6) await sysctl(router, 'net.ipv6.conf.all.forwarding', 1);
    for (let s = 0; s < 2; s++) await attach(fabric, s, `rt${s}`, router, `eth${s}`, routerIp(s), opts.ipv6 ? underlayIp6(s, 1) : undefined);
  }
  // Members of segment s reach the other segment through the router; a single segment needs no route.
  const routeToUnderlay = async (ns: Netns, segment: number) => {
    if (!router) return;
    await ip(ns, ['route', 'add', UNDERLAY, 'via', routerIp(segment), 'dev', 'eth0']);
    if (opts.ipv6) await ip(ns, ['-6', 'route', 'add', UNDERLAY6, 'via', underlayIp6(segment, 1), 'dev', 'eth0']);
  };

  const infraNs = await h.createNetns('infra');
  await attach(fabric, 0, 'infra', infraNs, 'eth0', INFRA_IP, opts.ipv6 ? underlayIp6(0, 2) : undefined);
  await routeToUnderlay(infraNs, 0);
  const infra = { ...infraNs, ip: INFRA_IP };

  const nodes: ClusterNode[] = [];
  for (let s = 0; s < perSegment.length; s++) {
    for (let i = 0; i < perSegment[s]!; i++) {
      const node = await h.createNode();
      const nodeIp = `${segmentNet(s)}.${FIRST_NODE_HOST + i}`;
      const nodeIp6 = opts.ipv6 ? underlayIp6(s, FIRST_NODE_HOST + i) : undefined;
      await attach(fabric, s, `n${nodes.length + 1}`, node, 'eth0', nodeIp, nodeIp6);
      await routeToUnderlay(node, s);
      nodes.push({ ...node, ip: nodeIp, ...(nodeIp6 ? { ip6: nodeIp6 } : {}), segment: s });
    }
  }

  const cluster: Cluster = { fabric, ...(router ? { router } : {}), infra, nodes };
  if (opts.etcd) {
    const tls = typeof opts.etcd === 'object' && opts.etcd.tls;
    const certs = tls ? await makeCertificates(await h.tempDir('certs'), [INFRA_IP]) : undefined;
    const server = await startEtcd(h, infraNs, { ips: [INFRA_IP], ...(certs ? { tls: certs } : {}) });
    cluster.etcd = { ...server, ...(certs ? { certs } : {}) };
  }
  return cluster;
}
