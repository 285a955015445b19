// Routed mode dual-stack: a dual-stack underlay (lib/lab's `ipv6`), two
// nodes on segment 0 and one behind the router, an IPv4 and an IPv6 pool
// with `vxlan: cross-subnet`, the agents started with --ip6. IPv6 blocks
// ride the IPv4 sessions (an ipv6 channel on each): a node holds its
// segment neighbour's IPv6 block as a `proto bird` route via that node's
// IPv6 underlay address, still one session per peer; the node across the
// router is reached through the VXLAN device, via its VTEP's link-local
// address. Pods talk IPv6 both ways.
import { join } from 'node:path';
import { linkLocalOfMac } from '../../lib/ip/address';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createCluster, DIST_BIN, ipJson, useHarness, type Cluster, type ClusterNode } from './harness';
import { eventually, POOL_CIDR, RoutedLab, type Pod } from './routed-lab';

const NAMES = ['d0', 'd1', 'e0'];
const POOL6_CIDR = 'fd00:244::/48';

describe('tscni-agent routed with an IPv6 pool beside the IPv4 one', () => {
  const h = useHarness();
  let cluster: Cluster;
  let lab: RoutedLab;
  const pods: Pod[] = [];
  const nodeOf = (name: string) => cluster.nodes[NAMES.indexOf(name)]!;
  const record = async (name: string) => JSON.parse(await lab.etcdctl(['get', '--print-value-only', `/tscni/v1/nodes/${name}`]));
  const v6Blocks = async (name: string) => (await lab.blocksOf(name)).filter((b) => b.includes(':'));
  const routes6 = async (node: ClusterNode, proto: string) => (await ipJson(node, ['-6', 'route', 'show', 'proto', proto]))
    .map((r: any) => [r.dst, r.gateway ?? r.type, r.dev]);

  beforeAll(async () => {
    cluster = await createCluster(h, { nodesPerSegment: [2, 1], etcd: true, ipv6: true });
    lab = new RoutedLab(h, cluster, await h.tempDir('run'));
    await lab.defaultRoutes();
    await lab.createPool('default', POOL_CIDR, 26, 'cross-subnet');
    await lab.createPool('default-ipv6', POOL6_CIDR, 122, 'cross-subnet');
    for (let i = 0; i < NAMES.length; i++) lab.startAgent(cluster.nodes[i]!, NAMES[i]!);
    for (const name of NAMES) pods.push(await lab.pod(name));
  }, 60_000);

  afterAll(async () => {
    for (const name of [...lab.agents.keys()]) await lab.stopAgent(name);
    lab.killBirds(NAMES);
  });

  it('each node records its IPv6 underlay address and holds a blackhole on its IPv6 block', async () => {
    for (const name of NAMES) {
      expect(await record(name)).toMatchObject({ ip: nodeOf(name).ip, ip6: nodeOf(name).ip6 });
      const own = await v6Blocks(name);
      expect(own).toHaveLength(1);
      expect(own[0]).toMatch(/^fd00:244:/);
      const blackholes = async () => (await routes6(nodeOf(name), '75')).filter(([, how]) => how === 'blackhole');
      await eventually(`${name}'s IPv6 blackhole`, async () => JSON.stringify(await blackholes()) === JSON.stringify([[own[0], 'blackhole', 'lo']]) || JSON.stringify(await blackholes()));
    }
  });

  it('refuses an --ip6 that is not one or that no interface of the node has, naming it, and creates nothing', async () => {
    const runDir = join(lab.baseDir, 'bad');
    const cases: [string, number, string][] = [
      ['10.250.0.11', 2, '--ip6: "10.250.0.11" is not an IPv6 address'],
      ['fe80::1', 2, '--ip6: fe80::1 is link-local: BGP next hops need a global or ULA address'],
      ['fd00:250::99', 1, '--ip6 fd00:250::99: no interface of this node has that address'],
    ];
    for (const [ip6, code, message] of cases) {
      const r = await h.execIn(nodeOf('d0'), join(DIST_BIN, 'tscni-agent'), [
        'routed', '--node-name', 'bad', '--ip', nodeOf('d0').ip, '--ip6', ip6, ...lab.etcdFlags(), '--run-dir', runDir,
      ], { reject: false });
      expect([r.exitCode, r.stderr.split('\n')[0]], ip6).toEqual([code, `tscni-agent routed: ${message}`]);
    }
    expect((await h.execIn(nodeOf('d0'), 'ls', [lab.baseDir], { reject: false })).stdout).not.toContain('bad');
    expect(await lab.etcdctl(['get', '--print-value-only', '/tscni/v1/nodes/bad'])).toBe('');
  });

  it('the node on the same segment holds the IPv6 block as proto bird via the owner\'s IPv6 address, over the one IPv4 session', async () => {
    for (const [name, other] of [['d0', 'd1'], ['d1', 'd0']] as const) {
      const [block] = await v6Blocks(name);
      await eventually(`${other} learns ${block}`, async () => {
        const have = await routes6(nodeOf(other), 'bird');
        return JSON.stringify(have) === JSON.stringify([[block, nodeOf(name).ip6, 'eth0']]) || JSON.stringify(have);
      });
      // The IPv4 blocks still arrive as before, via the IPv4 address.
      const [block4] = (await lab.blocksOf(name)).filter((b) => !b.includes(':'));
      await eventually(`${other} learns ${block4}`, async () => {
        const have = await lab.routes(nodeOf(other), 'bird');
        return JSON.stringify(have) === JSON.stringify([[block4, nodeOf(name).ip]]) || JSON.stringify(have);
      });
      // One session per peer (this one and the node across the router), both families on it.
      const session = `mesh_${nodeOf(name).ip.replace(/\./g, '_')}`;
      await eventually(`${other}'s sessions`, async () => {
        const sessions = (await lab.protocols(other)).filter((p) => p.proto === 'BGP').map((p) => [p.name, p.info]);
        return JSON.stringify(sessions.map(([, info]) => info)) === JSON.stringify(['Established', 'Established']) && sessions.some(([n]) => n === session) || JSON.stringify(sessions);
      });
      const detail = await h.execIn(nodeOf(other), 'birdc', ['-s', join(lab.agents.get(other)!.runDir, 'bird.ctl'), 'show', 'protocols', 'all', session]);
      expect(detail.stdout).toMatch(/Channel ipv4\n\s+State:\s+UP/);
      expect(detail.stdout).toMatch(/Channel ipv6\n\s+State:\s+UP/);
    }
  });

  it('the node across the router is reached through VXLAN: its IPv6 block via its VTEP\'s link-local, onlink, with a neighbour', async () => {
    const far = await record('e0');
    const [farBlock] = await v6Blocks('e0');
    const farLinkLocal = linkLocalOfMac(far.vtepMAC);
    for (const name of ['d0', 'd1']) {
      await eventually(`${name} routes ${farBlock} through VXLAN`, async () => {
        const have = (await ipJson(nodeOf(name), ['-6', 'route', 'show', 'proto', '75'])).filter((r: any) => r.type !== 'blackhole');
        return JSON.stringify(have.map((r: any) => [r.dst, r.gateway, r.dev, r.flags])) === JSON.stringify([[farBlock, farLinkLocal, 'vxlan.tscni', ['onlink']]]) || JSON.stringify(have);
      });
      expect((await routes6(nodeOf(name), 'bird')).map(([dst]) => dst)).not.toContain(farBlock);
      const neigh = await ipJson(nodeOf(name), ['-6', 'neigh', 'show', 'dev', 'vxlan.tscni']);
      expect(neigh).toContainEqual(expect.objectContaining({ dst: farLinkLocal, lladdr: far.vtepMAC, state: ['PERMANENT'] }));
    }
    // And back: e0 reaches both blocks of segment 0 the same way.
    for (const name of ['d0', 'd1']) {
      const [block] = await v6Blocks(name);
      const near = await record(name);
      await eventually(`e0 routes ${block} through VXLAN`, async () => {
        const have = await routes6(nodeOf('e0'), '75');
        return have.some(([dst, gw, dev]) => dst === block && gw === linkLocalOfMac(near.vtepMAC) && dev === 'vxlan.tscni') || JSON.stringify(have);
      });
    }
  });

  it('pods reach each other over IPv6, on one segment in plain IPv6 and across the router in VXLAN, keeping their source address', async () => {
    const [a, b, c] = pods as [Pod, Pod, Pod];
    for (const p of pods) expect(p.ip6).toMatch(/^fd00:244:/);
    for (const from of pods) {
      for (const to of pods) if (from !== to) expect((await h.ping(from, to.ip6!, 1)).ok, `${from.ip6} -> ${to.ip6}`).toBe(true);
    }
    for (const to of [b, c]) {
      const server = await h.startTcpServer(to);
      try {
        expect(await h.tcpRequest(a, to.ip6!, server.port)).toBe(a.ip6);
        expect(await h.tcpRequest(a, to.ip, server.port)).toBe(a.ip);
      } finally {
        server.stop();
      }
    }
    const fabric = (filter: string) => h.execIn(cluster.fabric, 'timeout', ['4', 'tcpdump', '-n', '-l', '-i', 'br0', '-c', '1', filter], { reject: false, timeout: 10_000 });
    const tunnelled = fabric('udp dst port 4789');
    await new Promise((r) => setTimeout(r, 700));
    await h.ping(a, c.ip6!, 2);
    const esc = (s: string) => s.replace(/[.:]/g, (x) => `\\${x}`);
    expect((await tunnelled).stdout).toMatch(new RegExp(`${esc(cluster.nodes[0]!.ip)}\\.\\d+ > ${esc(cluster.nodes[2]!.ip)}\\.4789: VXLAN, flags \\[I\\] \\(0x08\\), vni 4096\\n.*IP6 ${esc(a.ip6!)} > ${esc(c.ip6!)}: ICMP6, echo request`));
    const plain = fabric('icmp6 and ip6[40] == 128');
    await new Promise((r) => setTimeout(r, 700));
    await h.ping(a, b.ip6!, 1);
    expect((await plain).stdout).toContain(`IP6 ${a.ip6} > ${b.ip6}: ICMP6, echo request`);
  }, 30_000);

  it('tscni node status: the IPv6 address, both blocks, the IPv6 blackhole, pod route and learned route', async () => {
    const runDir = lab.agents.get('d0')!.runDir;
    const r = await h.execIn(nodeOf('d0'), join(DIST_BIN, 'tscni'), ['node', 'status', '--run-dir', runDir], { reject: false });
    expect(r.stderr).toBe('');
    expect(r.exitCode).toBe(0);
    const out = r.stdout;
    const esc = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
    expect(out).toMatch(new RegExp(`^node d0, ${esc(nodeOf('d0').ip)}, ${esc(nodeOf('d0').ip6!)}, AS 64512 `));
    const [own6] = await v6Blocks('d0');
    expect(out).toMatch(new RegExp(`\\n${esc(own6!)} +default-ipv6 +1 of 63 \\(2%\\)\\n`));
    expect(out).toContain(`  blackhole ${own6}  (this node's block)`);
    expect(out).toMatch(new RegExp(`\\n  ${esc(pods[0]!.ip6!)}/128 dev tsr[0-9a-f]+  \\(pod on this node\\)\\n`));
    const [near6] = await v6Blocks('d1');
    expect(out).toContain(`  ${near6} via ${nodeOf('d1').ip6} dev eth0  (learned by BGP)`);
    const [far6] = await v6Blocks('e0');
    expect(out).toContain(`  ${far6} via ${linkLocalOfMac((await record('e0')).vtepMAC)} dev vxlan.tscni onlink  (through VXLAN)`);
  });

  it('keeps each IPv6 blackhole across syncs: neither the metric the kernel gives IPv6 routes nor their dev lo is a difference', async () => {
    // A node appearing behind the router with an IPv6 block makes every agent
    // sync; d0 and d1 route that block through VXLAN in the same comparison
    // of their IPv6 routes that keeps, or replaces, their own blackhole.
    const ghost = { ip: '10.250.1.99', ip6: 'fd00:250:1::99', asn: 64512, routeReflector: false, clusterId: null, tunnelAddress: '10.244.250.0', vtepMAC: '66:0a:0b:0c:0d:99' };
    const nodeKey = '/tscni/v1/nodes/ghost';
    const blockKey = '/tscni/v1/ipam/blocks/default-ipv6/fd00:244:ff::-122';
    await lab.etcdctl(['put', nodeKey, JSON.stringify(ghost)]);
    await lab.etcdctl(['put', blockKey, JSON.stringify({ node: 'ghost', allocations: {} })]);
    try {
      for (const name of ['d0', 'd1']) {
        await eventually(`${name} routes the new node's IPv6 block`, async () => lab.agents.get(name)!.log.some((l) => l.includes(`route added fd00:244:ff::/122 via ${linkLocalOfMac(ghost.vtepMAC)} dev `)));
      }
    } finally {
      await lab.etcdctl(['del', blockKey]);
      await lab.etcdctl(['del', nodeKey]);
    }
    for (const name of ['d0', 'd1']) {
      const log = lab.agents.get(name)!.log;
      expect(log.filter((l) => /route deleted blackhole/.test(l)), name).toEqual([]);
      expect(log.filter((l) => /route added blackhole fd00:244:/.test(l)), name).toHaveLength(1);
    }
  });
});
