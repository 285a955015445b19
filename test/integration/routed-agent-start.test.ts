// How tscni-agent routed starts: bad flags are refused naming the flag; an
// etcd it cannot reach is retried, not fatal, and SIGTERM still ends it
// cleanly; over TLS with client certificates it registers the node and
// serves IPAM.
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createCluster, DIST_BIN, useHarness, type Cluster } from './harness';
import { eventually, POOL_CIDR, RoutedLab } from './routed-lab';

describe('tscni-agent routed start-up', () => {
  const h = useHarness();
  let cluster: Cluster;
  let lab: RoutedLab;

  beforeAll(async () => {
    cluster = await createCluster(h, { nodesPerSegment: [1], etcd: { tls: true } });
    lab = new RoutedLab(h, cluster, await h.tempDir('run'));
    await lab.createPool('default', POOL_CIDR, 26);
  }, 60_000);

  afterAll(async () => {
    for (const name of [...lab.agents.keys()]) await lab.stopAgent(name);
    lab.killBirds(['tls', 'away']);
  });

  it('refuses bad flags, naming the flag, and creates nothing', async () => {
    const runDir = join(lab.baseDir, 'bad');
    const cases: [string[], string][] = [
      [['--ip', cluster.nodes[0]!.ip, '--as', '0'], '--as: 0 is out of range (1-4294967294)'],
      [['--ip', '10.250.0.999'], '--ip: "10.250.0.999" is not an IPv4 address'],
      [['--ip', cluster.nodes[0]!.ip, '--route-reflector'], '--route-reflector needs --cluster-id'],
      [['--ip', cluster.nodes[0]!.ip, '--etcd-endpoints', 'http://10.250.0.2:2379', '--etcd-cafile', '/nonexistent.pem'], 'is not https://'],
    ];
    for (const [flags, message] of cases) {
      const r = await h.execIn(cluster.nodes[0]!, join(DIST_BIN, 'tscni-agent'), ['routed', '--node-name', 'bad', '--run-dir', runDir, ...flags], { reject: false });
      expect(r.exitCode, flags.join(' ')).toBe(2);
      expect(r.stderr).toContain(message);
    }
    expect((await h.execIn(cluster.nodes[0]!, 'ls', [lab.baseDir], { reject: false })).stdout).not.toContain('bad');
  });

  it('retries an etcd it cannot reach, and SIGTERM ends it cleanly', async () => {
    const a = lab.startAgent(cluster.nodes[0]!, 'away', [], ['--etcd-endpoints', 'http://10.250.0.99:2379']);
    await eventually('the agent says etcd is unreachable', async () => a.log.some((l) => / etcd-unreachable /.test(l)) || a.log.join('\n'), 20_000);
    expect(a.child.exitCode).toBeNull();
    expect(await lab.stopAgent('away')).toBe(0);
  }, 30_000);

  it('registers the node and serves IPAM over TLS with client certificates', async () => {
    lab.startAgent(cluster.nodes[0]!, 'tls');
    await eventually('node record', async () => (await lab.etcdctl(['get', '--print-value-only', '/tscni/v1/nodes/tls'])).includes(cluster.nodes[0]!.ip));
    const record = JSON.parse(await lab.etcdctl(['get', '--print-value-only', '/tscni/v1/nodes/tls']));
    expect(record).toMatchObject({ ip: cluster.nodes[0]!.ip, asn: 64512, routeReflector: false });
    expect(await lab.assign('tls', 'c1')).toBe('10.244.0.1');
  }, 30_000);
});
