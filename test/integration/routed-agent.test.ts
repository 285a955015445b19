// tscni-agent routed on a virtual cluster: four nodes on one segment, the
// built agent in each node's netns with its own run dir, BIRD started by it.
// One cluster is shared by the cases, in order: full mesh, aggregation, an
// external BGP router (a hand-configured BIRD with its own AS and a host
// behind it), one route reflector, an agent restart, a record deleted under a
// running agent, and a node removed.
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { addAddress, addVeth, createCluster, DIST_BIN, ip, ipJson, sysctl, useHarness, type Cluster, type Netns } from './harness';
import { eventually, externalRouterConfig, POOL_CIDR, RoutedLab, type Pod } from './routed-lab';

const NAMES = ['n0', 'n1', 'n2', 'n3'];
const TOR = { ip: '10.250.0.3', asn: 65001, hostNet: '10.252.0.0/24', hostIp: '10.252.0.2', gw: '10.252.0.1' };

describe('tscni-agent routed', () => {
  const h = useHarness();
  let cluster: Cluster;
  let lab: RoutedLab;
  const pods: Pod[] = [];
  const nodeOf = (name: string) => cluster.nodes[NAMES.indexOf(name)]!;
  /** every other node has a proto bird route per block of `name`, via its underlay address */
  const routedEverywhere = (name: string, others = NAMES) => async () => {
    const blocks = await lab.blocksOf(name);
    if (blocks.length === 0) return `${name} has no block`;
    for (const other of others.filter((o) => o !== name)) {
      const have = await lab.routes(nodeOf(other), 'bird');
      for (const b of blocks) if (!have.some(([dst, gw]) => dst === b && gw === nodeOf(name).ip)) return `${other} lacks ${b} via ${nodeOf(name).ip}: ${JSON.stringify(have)}`;
    }
    return true;
  };

  beforeAll(async () => {
    cluster = await createCluster(h, { nodesPerSegment: [4], etcd: true });
    lab = new RoutedLab(h, cluster, await h.tempDir('run'));
    await lab.defaultRoutes();
    await lab.createPool('default', POOL_CIDR, 26);
    for (let i = 0; i < 4; i++) lab.startAgent(cluster.nodes[i]!, NAMES[i]!);
  }, 60_000);

  afterAll(async () => {
    for (const name of [...lab.agents.keys()]) await lab.stopAgent(name);
    lab.killBirds(NAMES);
  });

  it('full mesh: each node holds every other node\'s blocks as proto bird routes via that node, its own as blackholes', async () => {
    for (const name of NAMES) pods.push(await lab.pod(name));
    // no pool encapsulates: the pods get the underlay's MTU, as the agent writes it
    for (const p of pods) expect((await ipJson(p, ['link', 'show', 'eth0']))[0].mtu).toBe(1500);
    expect(readFileSync(join(lab.agents.get(NAMES[0]!)!.runDir, 'mtu'), 'utf8')).toBe('1500\n');
    for (const name of NAMES) {
      const own = await lab.blocksOf(name);
      expect(own.length).toBe(1);
      expect(await lab.routes(nodeOf(name), '75')).toEqual([[own[0], 'blackhole']]);
    }
    for (const name of NAMES) await eventually(`${name}'s block on every node`, routedEverywhere(name));
    for (const name of NAMES) {
      const sessions = (await lab.protocols(name)).filter((p) => p.proto === 'BGP');
      expect(sessions.map((p) => [p.name.split('_')[0], p.info])).toEqual([['mesh', 'Established'], ['mesh', 'Established'], ['mesh', 'Established']]);
    }
    // Pods on two nodes talk over the learned route; the pod's source address arrives unchanged (ping answers it).
    expect((await h.ping(pods[0]!, pods[1]!.ip, 2)).ok).toBe(true);
    expect((await h.ping(pods[3]!, pods[2]!.ip, 2)).ok).toBe(true);
  }, 90_000);

  it('aggregation: 70 pods on one node are one route per block on every other node', async () => {
    for (let i = 0; i < 70; i++) await lab.assign('n2', `many${i}`);
    const blocks = await lab.blocksOf('n2');
    expect(blocks.length).toBe(2);
    await eventually('n2\'s blocks on every node', routedEverywhere('n2'));
    for (const other of ['n0', 'n1', 'n3']) {
      const viaN2 = (await lab.routes(nodeOf(other), 'bird')).filter(([, gw]) => gw === nodeOf('n2').ip);
      expect(viaN2.map(([dst]) => dst).sort()).toEqual([...blocks].sort());
    }
  }, 60_000);

  it('blocks claimed one after another while the agents run each reach every other node', async () => {
    // /31 blocks hold one address each: every assignment claims a new block.
    await lab.createPool('tiny', '10.246.0.0/24', 31);
    for (let i = 0; i < 5; i++) {
      const ip = await lab.assign('n1', `tiny${i}`, ['tiny']);
      const block = `${ip.replace(/\d+$/, (d) => String(Number(d) & ~1))}/31`;
      await eventually(`block ${block} of n1 on every node`, async () => {
        for (const other of ['n0', 'n2', 'n3']) {
          if (!(await lab.routes(nodeOf(other), 'bird')).some(([dst, gw]) => dst === block && gw === nodeOf('n1').ip)) return `${other} lacks ${block}`;
        }
        return true;
      }, 10_000);
    }
  }, 60_000);

  describe('with an external BGP router', () => {
    let tor: Netns;
    let host: Netns;
    let torDir: string;
    const torBirdc = (args: string[]) => h.execIn(tor, 'birdc', ['-s', join(torDir, 'bird.ctl'), ...args], { reject: false });

    beforeAll(async () => {
      // A router on the segment (AS 65001), a host behind it on 10.252.0.0/24; BIRD configured by hand, as an operator would.
      tor = await h.createNetns('tor');
      await addVeth(cluster.fabric, 'tor', tor, 'eth0');
      await ip(cluster.fabric, ['link', 'set', 'dev', 'tor', 'master', 'br0']);
      await addAddress(tor, 'eth0', `${TOR.ip}/24`);
      await sysctl(tor, 'net.ipv4.ip_forward', 1);
      host = await h.createNetns('host');
      await addVeth(tor, 'eth1', host, 'eth0');
      await addAddress(tor, 'eth1', `${TOR.gw}/24`);
      await addAddress(host, 'eth0', `${TOR.hostIp}/24`);
      await ip(host, ['route', 'add', 'default', 'via', TOR.gw]);
      torDir = await h.tempDir('tor');
      writeFileSync(join(torDir, 'bird.conf'), externalRouterConfig(TOR, cluster.nodes, 4));
      h.startDaemon(tor, '/usr/sbin/bird', ['-f', '-c', join(torDir, 'bird.conf'), '-s', join(torDir, 'bird.ctl'), '-P', join(torDir, 'bird.pid')]);
    }, 30_000);

    afterAll(() => lab.killBirds([]));

    it('bgp peer add: a bad address or AS is refused, naming it, and nothing is written', async () => {
      const badIp = await lab.tscni(cluster.nodes[0]!, ['bgp', 'peer', 'add', '--peer-ip', '10.250.0.300', '--as', '65001']);
      expect(badIp.exitCode).toBe(2);
      expect(badIp.stderr).toContain('--peer-ip: "10.250.0.300" is not an IPv4 address');
      const badAs = await lab.tscni(cluster.nodes[0]!, ['bgp', 'peer', 'add', '--peer-ip', TOR.ip, '--as', '4294967295']);
      expect(badAs.exitCode).toBe(2);
      expect(badAs.stderr).toContain('--as: 4294967295 is out of range');
      expect(await lab.etcdctl(['get', '--prefix', '/tscni/v1/bgp/'])).toBe('');
    });

    it('peers with every node after tscni bgp peer add, learns every block, and its host reaches pods without NAT', async () => {
      const add = await lab.tscni(cluster.nodes[0]!, ['bgp', 'peer', 'add', '--peer-ip', TOR.ip, '--as', String(TOR.asn)]);
      expect(add.stderr).toBe('');
      expect(add.exitCode).toBe(0);
      const list = await lab.tscni(cluster.nodes[1]!, ['bgp', 'peer', 'list']);
      expect(list.stdout).toMatch(/10-250-0-3\s+10\.250\.0\.3\s+65001\s+\(global\)/);
      await eventually('the router has a session with every node', async () => {
        const lines = (await torBirdc(['show', 'protocols'])).stdout.split('\n').filter((l) => /^node\d/.test(l));
        return lines.length === 4 && lines.every((l) => l.includes('Established')) ? true : lines.join('; ');
      });
      await eventually('the router holds every block via its node', async () => {
        const have = await lab.routes(tor, 'bird');
        for (const name of NAMES) {
          for (const b of await lab.blocksOf(name)) if (!have.some(([dst, gw]) => dst === b && gw === nodeOf(name).ip)) return `router lacks ${b}: ${JSON.stringify(have)}`;
        }
        return true;
      });
      for (const name of NAMES) {
        expect(await lab.routes(nodeOf(name), 'bird')).toContainEqual([TOR.hostNet, TOR.ip]);
      }
      // The node routes the reply back to the host itself: no masquerade anywhere on the way.
      for (const pod of pods) expect((await h.ping(host, pod.ip, 1)).ok, `host -> ${pod.ip}`).toBe(true);
      for (const name of NAMES) expect((await h.execIn(nodeOf(name), 'nft', ['list', 'ruleset'])).stdout).not.toMatch(/masquerade|snat/);
    }, 60_000);

    it('one route reflector among four: every other node has exactly one node session, and every pod reaches every other', async () => {
      expect(await lab.stopAgent('n0')).toBe(0);
      lab.startAgent(nodeOf('n0'), 'n0', ['--route-reflector', '--cluster-id', '224.0.0.1']);
      const nodeSessions = async (name: string) => (await lab.protocols(name)).filter((p) => p.proto === 'BGP' && !p.name.startsWith('ext_'));
      await eventually('clients peer with the reflector only', async () => {
        for (const name of ['n1', 'n2', 'n3']) {
          const s = await nodeSessions(name);
          if (s.length !== 1 || s[0]!.name !== 'rr_10_250_0_11' || s[0]!.info !== 'Established') return `${name}: ${JSON.stringify(s)}`;
        }
        const rr = await nodeSessions('n0');
        return rr.length === 3 && rr.every((p) => p.name.startsWith('rrclient_') && p.info === 'Established') ? true : `n0: ${JSON.stringify(rr)}`;
      });
      for (const name of NAMES) await eventually(`${name}'s blocks reflected to every node`, routedEverywhere(name));
      for (const from of pods) {
        for (const to of pods) if (from !== to) expect((await h.ping(from, to.ip, 1)).ok, `${from.ip} -> ${to.ip}`).toBe(true);
      }
    }, 60_000);

    it('tscni node status: agent and BIRD running, the peers by type, the blocks and how full, the pod routes', async () => {
      const runDir = lab.agents.get('n1')!.runDir;
      const r = await h.execIn(nodeOf('n1'), join(DIST_BIN, 'tscni'), ['node', 'status', '--run-dir', runDir], { reject: false });
      expect(r.stderr).toBe('');
      expect(r.exitCode).toBe(0);
      const out = r.stdout;
      expect(out).toMatch(/^node n1, 10\.250\.0\.12, AS 64512 /);
      expect(out).toMatch(/\nagent: running, pid \d+/);
      expect(out).toMatch(/\nBIRD: running, pid \d+, version 2\.\S+, router id 10\.250\.0\.12\n/);
      expect(out).toMatch(/\n10\.250\.0\.11 +route reflector +up +\S+ +Established\n/);
      expect(out).toMatch(/\n10\.250\.0\.3 +external +up +\S+ +Established\n/);
      expect(out).not.toMatch(/node-to-node mesh/);
      const [own] = await lab.blocksOf('n1');
      expect(out).toMatch(new RegExp(`\\n${own!.replace(/\./g, '\\.')} +default +1 of 63 \\(2%\\)\\n`));
      expect(out).toContain(`  blackhole ${own}  (this node's block)`);
      expect(out).toMatch(new RegExp(`\\n  ${pods[1]!.ip.replace(/\./g, '\\.')}/32 dev \\S+  \\(pod on this node\\)\\n`));
      for (const b of await lab.blocksOf('n2')) expect(out).toContain(`  ${b} via ${nodeOf('n2').ip} dev eth0  (learned by BGP)`);
    });

    it('an agent restart withdraws no route of a running pod, neither on the other nodes nor on the router', async () => {
      const blocks = await lab.blocksOf('n1');
      const missing: string[] = [];
      let sampling = true;
      const sample = (async () => {
        while (sampling) {
          for (const [where, ns] of [['n2', nodeOf('n2')], ['n3', nodeOf('n3')], ['router', tor]] as const) {
            const have = await lab.routes(ns, 'bird');
            for (const b of blocks) if (!have.some(([dst, gw]) => dst === b && gw === nodeOf('n1').ip)) missing.push(`${where} lacked ${b}`);
          }
          await new Promise((r) => setTimeout(r, 100));
        }
      })();
      try {
        expect(await lab.stopAgent('n1')).toBe(0);
        // While it is down: a stale route of its own protocol, and someone else's route it must leave alone.
        await ip(nodeOf('n1'), ['route', 'add', 'blackhole', '10.244.255.0/26', 'proto', '75']);
        await ip(nodeOf('n1'), ['route', 'add', 'blackhole', '10.244.254.0/26', 'proto', 'static']);
        lab.startAgent(nodeOf('n1'), 'n1');
        await eventually('n1 back in session with the reflector and the router', async () => {
          const s = (await lab.protocols('n1')).filter((p) => p.proto === 'BGP');
          return s.length === 2 && s.every((p) => p.info === 'Established') ? true : JSON.stringify(s);
        });
        // Past the graceful restart: the restarted BIRD has sent all it has and the stale routes are refreshed.
        await new Promise((r) => setTimeout(r, 3_000));
      } finally {
        sampling = false;
        await sample;
      }
      expect(missing).toEqual([]);
      expect(await lab.routes(nodeOf('n1'), '75')).toEqual(blocks.map((b) => [b, 'blackhole']));
      expect(await lab.routes(nodeOf('n1'), 'static')).toEqual([['10.244.254.0/26', 'blackhole']]);
      expect((await h.ping(pods[1]!, pods[2]!.ip, 1)).ok).toBe(true);
      expect((await h.ping(host, pods[1]!.ip, 1)).ok).toBe(true);
    }, 60_000);

    it('a record deleted under a running agent is written again: the node stays, its routes with it', async () => {
      await lab.etcdctl(['del', '/tscni/v1/nodes/n3']);
      await eventually('n3 registered again', async () => (await lab.etcdctl(['get', '--print-value-only', '/tscni/v1/nodes/n3'])).includes(nodeOf('n3').ip) || 'no record');
      expect(lab.agents.get('n3')!.log.filter((l) => / node-registered /.test(l)).length).toBeGreaterThanOrEqual(2);
      await eventually('n3\'s blocks on every node', routedEverywhere('n3'));
    }, 60_000);

    it('a node removed (its agent stopped, then its record deleted): every other node withdraws its routes', async () => {
      const blocks = await lab.blocksOf('n3');
      const runDir = lab.agents.get('n3')!.runDir;
      expect(await lab.stopAgent('n3')).toBe(0);
      await lab.etcdctl(['del', '/tscni/v1/nodes/n3']);
      // The router keeps them as stale for the graceful-restart time its operator's session to n3 allows.
      await eventually('n3\'s blocks gone from every node', async () => {
        for (const where of ['n0', 'n1', 'n2']) {
          const have = (await lab.routes(nodeOf(where), 'bird')).map(([dst]) => dst);
          const left = blocks.filter((b) => have.includes(b));
          if (left.length > 0) return `${where} still has ${left.join(', ')}`;
        }
        return true;
      });
      const status = await h.execIn(nodeOf('n3'), join(DIST_BIN, 'tscni'), ['node', 'status', '--run-dir', runDir], { reject: false });
      expect(status.exitCode).toBe(1);
      expect(status.stdout).toMatch(/\nagent: not running: no tscni agent answers at \S+agent\.sock/);
      expect(status.stdout).toMatch(/\nBIRD: not running: /);
    }, 60_000);
  });
});
