// Records in etcd that the CLI would never write, beside good ones, on a
// running cluster: two nodes on one segment and one across the router, a
// pool with `vxlan: cross-subnet` (BGP routes on the segment, VXLAN across).
// An operator's etcdctl adds a node re-registered under a new name (one
// address, two records), a node name with a newline, a node whose tunnel
// address is no address, a second BGP peer at one address, a garbled block
// and a garbled pool. Every agent keeps serving and routing for the good
// records, `tscni node status` lists the bad ones, and `tscni bgp peer add`
// refuses the second session the CLI would have made.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createCluster, useHarness, type Cluster, type ClusterNode } from './harness';
import { eventually, POOL_CIDR, RoutedLab, type Pod } from './routed-lab';

const NAMES = ['a0', 'a1', 'b0'];
const TOR_IP = '10.250.0.3';

describe('tscni-agent routed with bad records in etcd', () => {
  const h = useHarness();
  let cluster: Cluster;
  let lab: RoutedLab;
  const nodeOf = (name: string): ClusterNode => cluster.nodes[NAMES.indexOf(name)]!;
  const peers = () => lab.etcdctl(['get', '--prefix', '/tscni/v1/bgp/']);
  const tunnelOf = async (name: string): Promise<string | null> => JSON.parse(await lab.etcdctl(['get', '--print-value-only', `/tscni/v1/nodes/${name}`])).tunnelAddress;

  beforeAll(async () => {
    cluster = await createCluster(h, { nodesPerSegment: [2, 1], etcd: true });
    lab = new RoutedLab(h, cluster, await h.tempDir('run'));
    await lab.defaultRoutes();
    await lab.createPool('default', POOL_CIDR, 26, 'cross-subnet');
    for (const [i, name] of NAMES.entries()) lab.startAgent(cluster.nodes[i]!, name);
    for (const name of NAMES) await lab.pod(name);
    for (const name of NAMES) await eventually(`${name}'s tunnel address`, async () => (await tunnelOf(name)) !== null);
  }, 90_000);

  afterAll(async () => {
    for (const name of [...lab.agents.keys()]) await lab.stopAgent(name);
    lab.killBirds(NAMES);
  });

  it('bgp peer add refuses a second session with one address on a node, naming who has it, and writes nothing', async () => {
    const global = await lab.tscni(nodeOf('a0'), ['bgp', 'peer', 'add', '--peer-ip', TOR_IP, '--as', '65001']);
    expect(global.exitCode, global.stderr).toBe(0);
    const before = await peers();
    const again = await lab.tscni(nodeOf('a0'), ['bgp', 'peer', 'add', '--peer-ip', TOR_IP, '--as', '65001', '--node', 'a0']);
    expect(again.stderr).toBe('tscni: bgp peer add: BGP peer 10-250-0-3 has 10.250.0.3 for every node already: node a0 would have two sessions with it (tscni bgp peer remove 10-250-0-3 first)\n');
    expect(again.exitCode).toBe(1);
    const atNode = await lab.tscni(nodeOf('a0'), ['bgp', 'peer', 'add', '--peer-ip', nodeOf('a1').ip, '--as', '65001']);
    expect(atNode.stderr).toBe(`tscni: bgp peer add: ${nodeOf('a1').ip} is node a1's address: the nodes have their sessions with each other already\n`);
    expect(atNode.exitCode).toBe(1);
    expect(await peers()).toBe(before);
  });

  it('every agent keeps serving and routing for the good records; node status lists the bad ones', async () => {
    const [a0, a1, b0] = NAMES.map(nodeOf) as [ClusterNode, ClusterNode, ClusterNode];
    const node = (fields: Record<string, unknown>) => JSON.stringify({ asn: 64512, routeReflector: false, clusterId: null, tunnelAddress: null, vtepMAC: null, ...fields });
    const bad: Record<string, string> = {
      '/tscni/v1/nodes/a1-old': node({ ip: a1.ip }),
      '/tscni/v1/nodes/evil\nname': node({ ip: '10.250.0.77' }),
      '/tscni/v1/nodes/ghost': node({ ip: '10.250.1.78', tunnelAddress: '10.244.0.300', vtepMAC: '66:00:00:00:00:02' }),
      '/tscni/v1/bgp/peers/a0.dup': JSON.stringify({ peerIP: TOR_IP, asNumber: 65001, node: 'a0' }),
      '/tscni/v1/ipam/blocks/default/10.244.200.0-26': '{"node":"a0","allocations":{',
      '/tscni/v1/ipam/pools/broken': '{"cidr":"10.99.0.0/16","blockSize":8}',
    };
    for (const [key, value] of Object.entries(bad)) {
      await lab.etcdctl(['put', key, value]);
      // a1 registers after its old record was written, as a renamed node does: its record is the newer one
      if (key.endsWith('/a1-old')) await lab.etcdctl(['put', '/tscni/v1/nodes/a1', (await lab.etcdctl(['get', '--print-value-only', '/tscni/v1/nodes/a1'])).trim()]);
    }
    const expected: Record<string, string[]> = {
      a0: [
        `node a1-old: ip ${a1.ip} is node a1's too; only a1 is used`,
        'node "evil\\nname": the name must be lower-case letters, digits, "-" and ".", starting and ending with a letter or digit, at most 63 characters',
        'node ghost: tunnelAddress must be an IPv4 address',
        'BGP peer 10-250-0-3: 10.250.0.3 is BGP peer a0.dup\'s too; one session, with a0.dup',
        'pool broken: blockSize: /8 does not fit the IPv4 pool 10.99.0.0/16: it must be from /16 to /31',
        'block 10.244.200.0/26 of pool default: the stored value is not JSON',
      ],
    };
    expected.a1 = expected.a0!.filter((p) => !p.startsWith('BGP peer'));
    expected.b0 = expected.a1;

    // A pod ADD on every node gets an address, from the good pool.
    const pods: Pod[] = [];
    for (const name of NAMES) pods.push(await lab.pod(name));
    for (const p of pods) expect(p.ip).toMatch(/^10\.244\./);
    // A pool made now gets its first block routed: the sync still runs on every node.
    await lab.createPool('late', '10.246.0.0/24', 28, 'cross-subnet');
    const late = await lab.assign('a1', 'late0', ['late']);
    const lateBlock = `${late.replace(/\d+$/, (d) => String(Number(d) & ~15))}/28`;
    await eventually('the new block: a blackhole on a1, a BGP route on a0 and a VXLAN route on b0', async () => {
      if (!(await lab.routes(a1, '75')).some(([dst, gw]) => dst === lateBlock && gw === 'blackhole')) return `a1 has no blackhole for ${lateBlock}`;
      if (!(await lab.routes(a0, 'bird')).some(([dst, gw]) => dst === lateBlock && gw === a1.ip)) return `a0 has no BGP route for ${lateBlock}`;
      return (await lab.routes(b0, '75')).some(([dst]) => dst === lateBlock) || `b0 has no VXLAN route for ${lateBlock}`;
    });
    // Packets cross: on the segment by BGP, across the router through VXLAN.
    expect((await h.ping(pods[0]!, pods[1]!.ip, 2)).ok).toBe(true);
    expect((await h.ping(pods[0]!, pods[2]!.ip, 2)).ok).toBe(true);
    expect((await h.ping(pods[2]!, pods[1]!.ip, 2)).ok).toBe(true);

    for (const name of NAMES) {
      // One session per address: the other nodes (a1 once), and the one external peer (on a0 its own record, not the global one).
      const bgp = (await lab.protocols(name)).filter((p) => p.proto === 'BGP').map((p) => p.name).sort();
      const want = NAMES.filter((n) => n !== name).map((n) => `mesh_${nodeOf(n).ip.replace(/\./g, '_')}`);
      expect(bgp).toEqual([...want, 'ext_10_250_0_3'].sort());

      const status = await lab.tscni(nodeOf(name), ['node', 'status', '--run-dir', lab.agents.get(name)!.runDir]);
      expect(status.exitCode, status.stdout + status.stderr).toBe(0);
      const section = status.stdout.split('\n\n').find((s) => s.startsWith('Ignored records\n'));
      expect(section?.split('\n').slice(1).map((l) => l.trim()).sort(), status.stdout).toEqual([...expected[name]!].sort());

      const agent = lab.agents.get(name)!;
      expect(agent.child.exitCode).toBeNull();
      expect(agent.log.filter((l) => / sync-failed /.test(l))).toEqual([]);
      // each bad record is reported once, however many syncs ran since
      for (const p of expected[name]!) expect(agent.log.filter((l) => / ignored-record /.test(l) && l.includes(JSON.stringify(p)))).toHaveLength(1);
    }

    // tscni ipam check names the garbled block and never offers it for release.
    const check = await lab.tscni(a0, ['ipam', 'check']);
    expect(check.exitCode, check.stderr).toBe(0);
    const report = JSON.parse(check.stdout);
    expect(report.ignored).toEqual(['block 10.244.200.0/26 of pool default: the stored value is not JSON']);
    expect(report.blocks).toEqual([]);
    expect(await lab.etcdctl(['get', '--print-value-only', '/tscni/v1/ipam/blocks/default/10.244.200.0-26'])).toBe(`${bad['/tscni/v1/ipam/blocks/default/10.244.200.0-26']}\n`);
  }, 120_000);
});
