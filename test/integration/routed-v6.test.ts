// Routed mode dual-stack: a dual-stack underlay (lib/lab's `ipv6`), an IPv4
// and an IPv6 pool, the agents started with --ip6. IPv6 blocks ride the
// IPv4 sessions (an ipv6 channel on each): a node holds the other node's
// IPv6 block as a `proto bird` route via that node's IPv6 underlay address,
// still one session per peer, and pods on two nodes talk IPv6 over it.
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createCluster, DIST_BIN, ipJson, useHarness, type Cluster, type ClusterNode } from './harness';
import { eventually, POOL_CIDR, RoutedLab, type Pod } from './routed-lab';

const NAMES = ['d0', 'd1'];
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
    cluster = await createCluster(h, { nodesPerSegment: [2], etcd: true, ipv6: true });
    lab = new RoutedLab(h, cluster, await h.tempDir('run'));
    await lab.defaultRoutes();
    await lab.createPool('default', POOL_CIDR, 26);
    await lab.createPool('default-ipv6', POOL6_CIDR, 122);
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
      await eventually(`${name}'s IPv6 blackhole`, async () => JSON.stringify(await routes6(nodeOf(name), '75')) === JSON.stringify([[own[0], 'blackhole', 'lo']]) || JSON.stringify(await routes6(nodeOf(name), '75')));
    }
  });

  it('keeps each IPv6 blackhole across syncs: neither the metric the kernel gives IPv6 routes nor their dev lo is a difference', async () => {
    // Every pod ADD wrote its block, so every agent has synced several times since.
    for (const name of NAMES) {
      const log = lab.agents.get(name)!.log;
      expect(log.filter((l) => /route deleted/.test(l)), name).toEqual([]);
      expect(log.filter((l) => /route added blackhole fd00:244:/.test(l)), name).toHaveLength(1);
    }
  });

  it('the other node holds the IPv6 block as proto bird via the owner\'s IPv6 address, over the one IPv4 session', async () => {
    for (const [name, other] of [['d0', 'd1'], ['d1', 'd0']] as const) {
      const [block] = await v6Blocks(name);
      await eventually(`${other} learns ${block}`, async () => {
        const have = await routes6(nodeOf(other), 'bird');
        return JSON.stringify(have) === JSON.stringify([[block, nodeOf(name).ip6, 'eth0']]) || JSON.stringify(have);
      });
      // The IPv4 blocks still arrive as before, via the IPv4 address.
      const [block4] = (await lab.blocksOf(name)).filter((b) => !b.includes(':'));
      expect(await lab.routes(nodeOf(other), 'bird')).toEqual([[block4, nodeOf(name).ip]]);
      const sessions = (await lab.protocols(other)).filter((p) => p.proto === 'BGP');
      expect(sessions.map((p) => [p.name, p.info])).toEqual([[`mesh_${nodeOf(name).ip.replace(/\./g, '_')}`, 'Established']]);
      const detail = await h.execIn(nodeOf(other), 'birdc', ['-s', join(lab.agents.get(other)!.runDir, 'bird.ctl'), 'show', 'protocols', 'all', sessions[0]!.name]);
      expect(detail.stdout).toMatch(/Channel ipv4\n\s+State:\s+UP/);
      expect(detail.stdout).toMatch(/Channel ipv6\n\s+State:\s+UP/);
    }
  });

  it('pods on the two nodes reach each other over IPv6 and keep their source address', async () => {
    const [a, b] = pods as [Pod, Pod];
    expect(a.ip6).toMatch(/^fd00:244:/);
    expect(b.ip6).toMatch(/^fd00:244:/);
    expect((await h.ping(a, b.ip6!, 2)).ok).toBe(true);
    const server = await h.startTcpServer(b);
    try {
      expect(await h.tcpRequest(a, b.ip6!, server.port)).toBe(a.ip6);
      expect(await h.tcpRequest(a, b.ip, server.port)).toBe(a.ip);
    } finally {
      server.stop();
    }
  });

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
    const [far6] = await v6Blocks('d1');
    expect(out).toContain(`  ${far6} via ${nodeOf('d1').ip6} dev eth0  (learned by BGP)`);
  });
});
