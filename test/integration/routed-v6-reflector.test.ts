// Routed mode's IPv6 beyond a full mesh: three dual-stack nodes on one
// segment, one of them a route reflector, an IPv4 and an IPv6 pool. A
// reflected IPv6 block keeps its owner's IPv6 next hop; an external router
// (a hand-configured BIRD) learns the IPv6 blocks and its host reaches the
// pods; an agent restart withdraws no IPv6 route; a node without --ip6 stays
// in IPv4; an IPv6 pool that cannot encapsulate is named.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { addAddress, addVeth, createCluster, ip, ipJson, listBlocks, sysctl, useHarness, type Cluster } from './harness';
import { eventually, externalRouterConfig, POOL_CIDR, RoutedLab, type Pod } from './routed-lab';

const POOL6_CIDR = 'fd00:244::/48';

describe('tscni-agent routed: IPv6 blocks through a route reflector', () => {
  const h = useHarness();
  let cluster: Cluster;
  let lab: RoutedLab;
  const names = ['r0', 'c1', 'c2'];
  const nodeOf = (name: string) => cluster.nodes[names.indexOf(name)]!;
  const record = async (name: string) => JSON.parse(await lab.etcdctl(['get', '--print-value-only', `/tscni/v1/nodes/${name}`]));

  beforeAll(async () => {
    cluster = await createCluster(h, { nodesPerSegment: [3], etcd: true, ipv6: true });
    lab = new RoutedLab(h, cluster, await h.tempDir('run'));
    await lab.defaultRoutes();
    await lab.createPool('default', POOL_CIDR, 26);
    await lab.createPool('default-ipv6', POOL6_CIDR, 122);
    lab.startAgent(nodeOf('r0'), 'r0', ['--route-reflector', '--cluster-id', '224.0.0.1']);
    for (const name of ['c1', 'c2']) lab.startAgent(nodeOf(name), name);
  }, 60_000);

  afterAll(async () => {
    for (const name of [...lab.agents.keys()]) await lab.stopAgent(name);
    lab.killBirds(names);
  });

  let a: Pod;
  let b: Pod;

  it('a client holds the other client\'s IPv6 block via that client\'s IPv6 address, not the reflector\'s, and the pods talk', async () => {
    [a, b] = [await lab.pod('c1'), await lab.pod('c2')];
    for (const [name, other] of [['c1', 'c2'], ['c2', 'c1']] as const) {
      const [block] = (await lab.blocksOf(name)).filter((x) => x.includes(':'));
      await eventually(`${other} learns ${block} through the reflector`, async () => {
        const have = (await ipJson(nodeOf(other), ['-6', 'route', 'show', 'proto', 'bird'])).map((r: any) => [r.dst, r.gateway]);
        return JSON.stringify(have) === JSON.stringify([[block, nodeOf(name).ip6]]) || JSON.stringify(have);
      });
      const sessions = (await lab.protocols(other)).filter((p) => p.proto === 'BGP');
      expect(sessions.map((p) => [p.name, p.info])).toEqual([[`rr_${nodeOf('r0').ip.replace(/\./g, '_')}`, 'Established']]);
    }
    expect((await h.ping(a, b.ip6!, 2)).ok).toBe(true);
  });

  it('an external router learns every IPv6 block via its node\'s IPv6 address, and a host behind it reaches the pods without NAT', async () => {
    // A router on the segment (AS 65001, both families on one IPv4 session, as the nodes do), a host behind it; BIRD configured by hand.
    const TOR = { ip: '10.250.0.3', ip6: 'fd00:250::3', asn: 65001, gw6: 'fd00:252::1', hostIp6: 'fd00:252::2', hostNet6: 'fd00:252::/64' };
    const tor = await h.createNetns('tor');
    await addVeth(cluster.fabric, 'tor', tor, 'eth0');
    await ip(cluster.fabric, ['link', 'set', 'dev', 'tor', 'master', 'br0']);
    await addAddress(tor, 'eth0', `${TOR.ip}/24`);
    await addAddress(tor, 'eth0', `${TOR.ip6}/64`);
    await sysctl(tor, 'net.ipv6.conf.all.forwarding', 1);
    const host = await h.createNetns('host');
    await addVeth(tor, 'eth1', host, 'eth0');
    await addAddress(tor, 'eth1', `${TOR.gw6}/64`);
    await addAddress(host, 'eth0', `${TOR.hostIp6}/64`);
    await ip(host, ['-6', 'route', 'add', 'default', 'via', TOR.gw6]);
    const torDir = await h.tempDir('tor');
    writeFileSync(join(torDir, 'bird.conf'), externalRouterConfig(TOR, cluster.nodes, 6));
    const torBird = h.startDaemon(tor, '/usr/sbin/bird', ['-f', '-c', join(torDir, 'bird.conf'), '-s', join(torDir, 'bird.ctl'), '-P', join(torDir, 'bird.pid')]);
    try {
      const add = await lab.tscni(nodeOf('c1'), ['bgp', 'peer', 'add', '--peer-ip', TOR.ip, '--as', String(TOR.asn)]);
      expect([add.exitCode, add.stderr]).toEqual([0, '']);
      const pods = [await lab.pod('r0'), await lab.pod('c1')];
      await eventually('the router holds every IPv6 block via its node\'s IPv6 address', async () => {
        const have = (await ipJson(tor, ['-6', 'route', 'show', 'proto', 'bird'])).map((r: any) => [r.dst, r.gateway]);
        for (const name of names) {
          for (const b of (await lab.blocksOf(name)).filter((x) => x.includes(':'))) {
            if (!have.some(([dst, gw]) => dst === b && gw === nodeOf(name).ip6)) return `router lacks ${b} via ${nodeOf(name).ip6}: ${JSON.stringify(have)}`;
          }
        }
        return true;
      });
      for (const name of names) {
        await eventually(`${name} routes the host's network via the router`, async () => {
          const have = (await ipJson(nodeOf(name), ['-6', 'route', 'show', 'proto', 'bird'])).map((r: any) => [r.dst, r.gateway]);
          return have.some(([dst, gw]) => dst === TOR.hostNet6 && gw === TOR.ip6) || JSON.stringify(have);
        });
      }
      // The pods' replies go back by the nodes' own routes: no masquerade on the way.
      for (const pod of pods) expect((await h.ping(host, pod.ip6!, 1)).ok, `host -> ${pod.ip6}`).toBe(true);
    } finally {
      torBird.kill('SIGKILL');
    }
  }, 60_000);

  it('an agent restart withdraws no IPv6 route of a running pod from the other nodes', async () => {
    const [block] = (await lab.blocksOf('c1')).filter((x) => x.includes(':'));
    const missing: string[] = [];
    let sampling = true;
    const sample = (async () => {
      while (sampling) {
        for (const other of ['r0', 'c2']) {
          const have = (await ipJson(nodeOf(other), ['-6', 'route', 'show', 'proto', 'bird'])).map((r: any) => [r.dst, r.gateway]);
          if (!have.some(([dst, gw]) => dst === block && gw === nodeOf('c1').ip6)) missing.push(`${other} lacked ${block}: ${JSON.stringify(have)}`);
        }
        await new Promise((r) => setTimeout(r, 100));
      }
    })();
    try {
      expect(await lab.stopAgent('c1')).toBe(0);
      lab.startAgent(nodeOf('c1'), 'c1');
      await eventually('c1 back in session with the reflector', async () => {
        const s = (await lab.protocols('c1')).filter((p) => p.proto === 'BGP' && p.name.startsWith('rr_'));
        return s.length === 1 && s[0]!.info === 'Established' ? true : JSON.stringify(s);
      });
      // Past the graceful restart: the restarted BIRD has sent all it has and the stale routes are refreshed.
      await new Promise((r) => setTimeout(r, 3_000));
    } finally {
      sampling = false;
      await sample;
    }
    expect(missing).toEqual([]);
    expect((await ipJson(nodeOf('c1'), ['-6', 'route', 'show', 'proto', '75'])).map((r: any) => [r.dst, r.type])).toEqual([[block, 'blackhole']]);
    // The restarted agent's sweep found the running pod's attachment there: no leak, nothing freed.
    await eventually('c1\'s start-up leak sweep', async () => lab.agents.get('c1')!.log.some((l) => / leak-sweep /.test(l)) || 'not yet');
    expect(lab.agents.get('c1')!.log.filter((l) => / leak-sweep /.test(l))).toEqual([expect.stringContaining(' leak-sweep freed=none ')]);
    const held = (await listBlocks(cluster.infra, lab.endpoint)).filter((b) => b.node === 'c1').flatMap((b) => Object.keys(b.allocations));
    expect(held).toEqual(expect.arrayContaining([a.ip, a.ip6]));
  }, 60_000);

  it('a node started without --ip6 keeps its IPv4 session and routes with the others; only its IPv6 is left out', async () => {
    expect(await lab.stopAgent('c2')).toBe(0);
    lab.startAgent({ ...nodeOf('c2'), ip6: undefined }, 'c2');
    const rr = `rr_${nodeOf('r0').ip.replace(/\./g, '_')}`;
    await eventually('c2 in session with the reflector, IPv4 only', async () => {
      // (the router of the test before is gone; its session stays down)
      const s = (await lab.protocols('c2')).filter((p) => p.proto === 'BGP' && !p.name.startsWith('ext_'));
      if (s.length !== 1 || s[0]!.name !== rr || s[0]!.info !== 'Established') return JSON.stringify(s);
      const detail = (await h.execIn(nodeOf('c2'), 'birdc', ['-s', join(lab.agents.get('c2')!.runDir, 'bird.ctl'), 'show', 'protocols', 'all', rr])).stdout;
      return (/Channel ipv4\n\s+State:\s+UP/.test(detail) && !/Channel ipv6/.test(detail)) || detail;
    });
    expect(await record('c2')).toMatchObject({ ip: nodeOf('c2').ip, ip6: null });
    const [c1Block4] = (await lab.blocksOf('c1')).filter((x) => !x.includes(':'));
    await eventually('c2 still learns c1\'s IPv4 block', async () => (await lab.routes(nodeOf('c2'), 'bird')).some(([dst, gw]) => dst === c1Block4 && gw === nodeOf('c1').ip));
    expect((await h.ping(a, b.ip, 1)).ok).toBe(true);
  }, 60_000);

  it('says so when an IPv6 pool asks for VXLAN but no IPv4 pool builds the device it would ride', async () => {
    await lab.createPool('v6-vxlan', 'fd00:245::/48', 122, 'cross-subnet');
    try {
      for (const name of names) {
        await eventually(`${name} names the pool`, async () => lab.agents.get(name)!.log.some((l) => / vxlan-unavailable pool=v6-vxlan /.test(l)));
      }
      expect(await Promise.all(names.map(async (n) => (await ipJson(nodeOf(n), ['link', 'show', 'type', 'vxlan'])).length))).toEqual([0, 0, 0]);
    } finally {
      await lab.etcdctl(['del', '/tscni/v1/ipam/pools/v6-vxlan']);
    }
  });
});
