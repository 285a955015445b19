// Routed mode's IPAM through agent restarts: cluster-ipam under the
// reference ptp and macvlan (a macvlan pod has no route on the node, as a
// bridge pod has none of its own) keeps its addresses through ten restarts
// and no later ADD is given them; a pod whose netns is really gone is
// reported and freed a settle time after a restart. And a node's blocks are
// never released while its agent runs: the agent's heartbeat outlives a
// deleted record, and the agent registers again.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { askAgent } from '../../lib/ipam/cluster/protocol';
import { createCluster, deleteNetns, DIST_BIN, expectSuccess, REFERENCE_BIN, useHarness, type Cluster, type Netns } from './harness';
import { eventually, POOL_CIDR, RoutedLab } from './routed-lab';

const NAMES = ['a', 'b'];

describe('routed IPAM across agent restarts', () => {
  const h = useHarness();
  let cluster: Cluster;
  let lab: RoutedLab;
  let dir: string;

  const serving = (name: string) => eventually(`agent ${name} serves IPAM`, async () => askAgent(lab.socket(name), { op: 'pools' }).ok === true, 30_000);
  /** A pod of the reference `type` plugin with cluster-ipam asking agent a. */
  const attach = async (type: 'ptp' | 'macvlan', containerId: string): Promise<{ pod: Netns; ip: string; handle: string }> => {
    const pod = await h.createPod();
    const config = {
      cniVersion: '1.0.0', name: `${type}-net`, type, ...(type === 'macvlan' ? { master: 'eth0', mode: 'bridge' } : {}),
      ipam: { type: 'cluster-ipam', agentSocket: lab.socket('a'), ...(type === 'ptp' ? { routes: [{ dst: '0.0.0.0/0' }] } : {}) },
    };
    const r = expectSuccess(await h.runCniPlugin({
      node: cluster.nodes[0]!, pluginPath: join(REFERENCE_BIN, type), command: 'ADD', containerId, netns: pod, ifname: 'eth0', config, cniPath: [DIST_BIN, REFERENCE_BIN],
    }), `${type} ADD ${containerId}`);
    return { pod, ip: (r.json.ips[0].address as string).split('/')[0]!, handle: `${type}-net/${containerId}/eth0` };
  };
  /** SIGTERM and start again; resolves once the new agent serves. */
  const restart = async (name: string, node = cluster.nodes[0]!) => {
    expect(await lab.stopAgent(name)).toBe(0);
    lab.startAgent(node, name);
    await serving(name);
  };
  /** Until the agent's start-up sweep has run; what it freed. */
  const swept = async (name: string): Promise<string> => {
    let line: string | undefined;
    await eventually(`agent ${name}'s start-up leak sweep`, async () => {
      line = lab.agents.get(name)!.log.find((l) => / leak-sweep | leaks-freed /.test(l));
      return line !== undefined || 'not yet';
    });
    return line!;
  };

  beforeAll(async () => {
    cluster = await createCluster(h, { nodesPerSegment: [2], etcd: true });
    lab = new RoutedLab(h, cluster, await h.tempDir('run'));
    dir = await h.tempDir('reports');
    await lab.defaultRoutes();
    await lab.createPool('default', POOL_CIDR, 26);
    lab.startAgent(cluster.nodes[0]!, 'a');
    await serving('a');
  }, 60_000);

  afterAll(async () => {
    for (const name of [...lab.agents.keys()]) await lab.stopAgent(name);
    lab.killBirds(NAMES);
  });

  it('a ptp pod and a macvlan pod keep their addresses through ten agent restarts; every later ADD gets another', async () => {
    const ptp = await attach('ptp', 'ptp-keep');
    const macvlan = await attach('macvlan', 'macvlan-keep');
    const given = new Set([ptp.ip, macvlan.ip]);
    for (let i = 1; i <= 10; i++) {
      await restart('a');
      // an ADD at once, in the sweep's settle time, and its sweep after
      const next = await attach('ptp', `ptp-next${i}`);
      expect(given.has(next.ip), `restart ${i}: ADD got ${next.ip}, which a pod holds`).toBe(false);
      given.add(next.ip);
      expect(await swept('a')).toMatch(/ leak-sweep freed=none /);
      const held = await lab.allocations();
      expect(held[ptp.ip], `restart ${i}`).toBe(ptp.handle);
      expect(held[macvlan.ip], `restart ${i}`).toBe(macvlan.handle);
      expect(held[next.ip], `restart ${i}`).toBe(next.handle);
    }
    expect((await h.ping(ptp.pod, cluster.nodes[0]!.ip, 1)).ok).toBe(true);
  }, 240_000);

  it('a pod whose netns is gone is reported, with the evidence, and freed a settle time after a restart', async () => {
    const gone = await attach('ptp', 'ptp-gone');
    const kept = await attach('macvlan', 'macvlan-kept');
    await deleteNetns(gone.pod);
    let report: any;
    await eventually('check reports the pod whose netns is gone', async () => {
      const r = await lab.tscni(cluster.nodes[0]!, ['ipam', 'check']);
      report = JSON.parse(r.stdout);
      return report.allocations.some((l: any) => l.handle === gone.handle) || JSON.stringify(report);
    });
    expect(report.allocations).toEqual([expect.objectContaining({
      node: 'a', handle: gone.handle, ips: [gone.ip], evidence: expect.stringContaining(`its netns ${gone.pod.path} is gone`),
    })]);
    // A running agent only reports; its restart frees it, once it has looked a settle time.
    expect((await lab.allocations())[gone.ip]).toBe(gone.handle);
    await restart('a');
    expect(await swept('a')).toContain(` leak-sweep freed=${gone.ip} `);
    const held = await lab.allocations();
    expect(held[gone.ip]).toBeUndefined();
    expect(held[kept.ip]).toBe(kept.handle);
  }, 120_000);

  it('release never takes the blocks of a node whose agent runs: its record deleted, it registers again; killed, its heartbeat holds them until it expires', async () => {
    lab.startAgent(cluster.nodes[1]!, 'b');
    await lab.assign('b', 'b-pod');
    const [block] = await lab.blocksOf('b');
    const blockKey = `/tscni/v1/ipam/blocks/default/${block!.replace('/', '-')}`;
    const reportOfB = async () => {
      const kv = JSON.parse(await lab.etcdctl(['get', blockKey, '-w', 'json'])).kvs[0];
      const report = { generated: new Date().toISOString(), allocations: [], blocks: [{ pool: 'default', block, node: 'b', modRevision: Number(kv.mod_revision), allocations: 1, evidence: 'as of the report' }] };
      const file = join(dir, `b-${Date.now()}.json`);
      writeFileSync(file, JSON.stringify(report));
      return file;
    };
    const release = async () => (await lab.tscni(cluster.nodes[0]!, ['ipam', 'release', '--from-report', await reportOfB()])).stdout.trim();
    const kept = `kept block ${block}: node b is registered or its agent runs, or the block changed since the report`;

    await lab.etcdctl(['del', '/tscni/v1/nodes/b']);
    expect(await release()).toBe(kept);
    await eventually('agent b registers again', async () => (await lab.etcdctl(['get', '/tscni/v1/nodes/b'])).includes('"ip"') || 'no record');
    expect((await lab.blocksOf('b'))).toEqual([block]);

    // Killed, it stops nothing: its heartbeat lives on until its lease expires.
    const b = lab.agents.get('b')!;
    const exited = new Promise((r) => b.child.once('exit', r));
    b.child.kill('SIGKILL');
    await exited;
    lab.agents.delete('b');
    await lab.etcdctl(['del', '/tscni/v1/nodes/b']);
    expect(await release()).toBe(kept);
    expect((await lab.blocksOf('b'))).toEqual([block]);
    expect((await lab.tscni(cluster.nodes[0]!, ['ipam', 'check'])).stdout).not.toContain(block!);
    await eventually('the heartbeat of the killed agent expires', async () => (await lab.etcdctl(['get', '/tscni/v1/nodes-alive/b'])) === '' || 'still there', 30_000);
    expect(await release()).toBe(`released block ${block} of pool default (node b is gone)`);
    expect(await lab.blocksOf('b')).toEqual([]);
  }, 120_000);
});
