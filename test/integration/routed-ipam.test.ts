// IPAM that does not leak: pods whose netns vanished without a DEL, and a
// node removed with its blocks, are what `tscni ipam check` lists, with the
// evidence; `release --from-report` frees exactly those and nothing a live
// pod holds, also when the report is edited to list a live one; an agent
// frees its own node's leaks a settle time after it starts.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createCluster, deleteNetns, useHarness, type Cluster } from './harness';
import { eventually, POOL_CIDR, RoutedLab, type Pod } from './routed-lab';

const NAMES = ['a', 'b'];

describe('routed IPAM leaks', () => {
  const h = useHarness();
  let cluster: Cluster;
  let lab: RoutedLab;
  let dir: string;
  const pods: Pod[] = [];
  const blockOwners = async (): Promise<string[]> => {
    const lines = (await lab.etcdctl(['get', '--prefix', '/tscni/v1/ipam/blocks/'])).split('\n').filter((l) => l !== '');
    return lines.filter((_, i) => i % 2 === 1).map((v) => JSON.parse(v).node).sort();
  };
  const check = async () => {
    const r = await lab.tscni(cluster.nodes[0]!, ['ipam', 'check']);
    expect(r.exitCode, r.stderr).toBe(0);
    return { report: JSON.parse(r.stdout), summary: r.stderr };
  };

  beforeAll(async () => {
    cluster = await createCluster(h, { nodesPerSegment: [2], etcd: true });
    lab = new RoutedLab(h, cluster, await h.tempDir('run'));
    dir = await h.tempDir('reports');
    await lab.defaultRoutes();
    await lab.createPool('default', POOL_CIDR, 26);
    lab.startAgent(cluster.nodes[0]!, 'a');
    lab.startAgent(cluster.nodes[1]!, 'b');
    for (const name of ['a', 'a', 'a', 'b']) pods.push(await lab.pod(name));
  }, 60_000);

  afterAll(async () => {
    for (const name of [...lab.agents.keys()]) await lab.stopAgent(name);
    lab.killBirds(NAMES);
  });

  it('check lists the vanished pod and the removed node\'s block, with evidence; release frees exactly those', async () => {
    expect((await check()).report).toMatchObject({ allocations: [], blocks: [] });
    // Pod 2 vanishes without a DEL; node b goes away with its block.
    await deleteNetns(pods[1]!);
    expect(await lab.stopAgent('b')).toBe(0);
    await lab.etcdctl(['del', '/tscni/v1/nodes/b']);
    let report: any;
    await eventually('check reports the vanished pod', async () => {
      ({ report } = await check());
      return report.allocations.length === 1 || JSON.stringify(report);
    });
    expect(report.allocations).toEqual([expect.objectContaining({ node: 'a', ips: [pods[1]!.ip], handle: 'routed/pod2/eth0', evidence: expect.stringContaining(`its netns ${pods[1]!.path} is gone`) })]);
    expect(report.blocks).toEqual([expect.objectContaining({ node: 'b', block: '10.244.0.64/26', allocations: 1, evidence: 'node b is not registered (no /tscni/v1/nodes/b) and its agent is not running (no /tscni/v1/nodes-alive/b)' })]);

    const file = join(dir, 'report.json');
    writeFileSync(file, JSON.stringify(report));
    const r = await lab.tscni(cluster.nodes[0]!, ['ipam', 'release', '--from-report', file]);
    expect(r.stderr).toBe('');
    expect(r.stdout.trim().split('\n')).toEqual([
      `released ${pods[1]!.ip} (routed/pod2/eth0) on node a`,
      'released block 10.244.0.64/26 of pool default (node b is gone)',
    ]);
    const left = await lab.allocations();
    expect(left[pods[0]!.ip]).toBe('routed/pod1/eth0');
    expect(left[pods[2]!.ip]).toBe('routed/pod3/eth0');
    expect(left[pods[1]!.ip]).toBeUndefined();
    expect(await blockOwners()).toEqual(['a']);
    expect((await h.ping(pods[0]!, pods[2]!.ip, 1)).ok).toBe(true);
  }, 60_000);

  it('release never frees an address in use: a report edited to list a live pod changes nothing', async () => {
    const forged = {
      generated: new Date().toISOString(),
      allocations: [{ node: 'a', handle: 'routed/pod1/eth0', ips: [pods[0]!.ip], block: '10.244.0.0/26', pool: 'default', since: '', evidence: 'forged' }],
      blocks: [{ pool: 'default', block: '10.244.0.0/26', node: 'a', modRevision: 1, allocations: 3, evidence: 'forged' }],
    };
    const file = join(dir, 'forged.json');
    writeFileSync(file, JSON.stringify(forged));
    const before = await lab.allocations();
    const r = await lab.tscni(cluster.nodes[0]!, ['ipam', 'release', '--from-report', file]);
    expect(r.stdout.trim().split('\n')).toEqual([
      `kept ${pods[0]!.ip} (routed/pod1/eth0): node a's agent no longer reports it unattached`,
      'kept block 10.244.0.0/26: node a is registered or its agent runs, or the block changed since the report',
    ]);
    expect(await lab.allocations()).toEqual(before);
    const bad = await lab.tscni(cluster.nodes[0]!, ['ipam', 'release', '--from-report', join(dir, 'missing.json')]);
    expect(bad.exitCode).toBe(2);
    expect(bad.stderr).toContain(`--from-report ${join(dir, 'missing.json')}: not a report of tscni ipam check`);
  });

  it('an agent frees its own node\'s leaks when it starts', async () => {
    await deleteNetns(pods[2]!);
    expect(await lab.stopAgent('a')).toBe(0);
    expect((await lab.allocations())[pods[2]!.ip]).toBe('routed/pod3/eth0');
    lab.startAgent(cluster.nodes[0]!, 'a');
    await eventually('the restarted agent freed the vanished pod\'s address', async () => (await lab.allocations())[pods[2]!.ip] === undefined || 'still held');
    expect((await lab.allocations())[pods[0]!.ip]).toBe('routed/pod1/eth0');
    expect(lab.agents.get('a')!.log.join('\n')).toMatch(new RegExp(` leak-sweep freed=${pods[2]!.ip.replace(/\./g, '\\.')} `));
  }, 60_000);
});
