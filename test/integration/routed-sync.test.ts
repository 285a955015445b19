// An allocation moves one address inside a block that keeps its owner: no
// node's routes, sessions or BIRD filters change, so no agent reads etcd
// again for it; only the owner's status file counts the address. Observed in
// etcd's own request counter, so the test sees reads, not timings.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { askAgent } from '../../lib/ipam/cluster/protocol';
import type { AgentStatus } from '../../lib/routed/status-file';
import { createCluster, useHarness, type Cluster } from './harness';
import { eventually, RoutedLab } from './routed-lab';

const NAMES = ['n0', 'n1', 'n2'];
const ALLOCATIONS = 20;

describe('tscni-agent routed: allocations inside a block', () => {
  const h = useHarness();
  let cluster: Cluster;
  let lab: RoutedLab;

  /** etcd's count of range reads it has served, from its metrics. */
  const rangesServed = async (): Promise<number> => {
    const r = await h.execIn(cluster.infra, 'curl', ['-s', `${lab.endpoint}/metrics`]);
    const m = /^etcd_mvcc_range_total (\d+)$/m.exec(r.stdout);
    if (!m) throw new Error(`no etcd_mvcc_range_total in etcd's metrics: ${r.stdout.slice(0, 200)}`);
    return Number(m[1]);
  };
  const statusOf = (name: string) => JSON.parse(readFileSync(join(lab.agents.get(name)!.runDir, 'status.json'), 'utf8')) as AgentStatus;

  beforeAll(async () => {
    cluster = await createCluster(h, { nodesPerSegment: [3], etcd: true });
    lab = new RoutedLab(h, cluster, await h.tempDir('run'));
    await lab.defaultRoutes();
    await lab.createPool('pool', '10.244.0.0/16', 26);
    for (let i = 0; i < NAMES.length; i++) lab.startAgent(cluster.nodes[i]!, NAMES[i]!);
  }, 60_000);

  afterAll(async () => {
    for (const name of [...lab.agents.keys()]) await lab.stopAgent(name);
    lab.killBirds(NAMES);
  });

  it('make no agent read etcd beyond the requests themselves, and the owner counts them', async () => {
    await lab.assign('n0', 'first');
    const [block] = await lab.blocksOf('n0');
    for (const n of cluster.nodes.slice(1)) {
      await eventually(`${n.name} routes n0's block ${block}`, async () => (await lab.routes(n, 'bird')).some(([dst]) => dst === block), 20_000);
    }
    const allocated = () => statusOf('n0').blocks.find((b) => b.cidr === block)?.allocated;
    await eventually('n0 counts its first address', async () => allocated() === 1 || `allocated ${allocated()}`, 10_000);

    const before = await rangesServed();
    for (let i = 0; i < ALLOCATIONS; i++) await lab.assign('n0', `c${i}`);
    await eventually(`n0 counts ${1 + ALLOCATIONS} addresses`, async () => allocated() === 1 + ALLOCATIONS || `allocated ${allocated()}`, 10_000);
    for (let i = 0; i < ALLOCATIONS; i++) askAgent(lab.socket('n0'), { op: 'release', handle: `net/c${i}/eth0` });
    await eventually('n0 counts its first address again', async () => allocated() === 1 || `allocated ${allocated()}`, 10_000);
    const served = (await rangesServed()) - before;

    // The requests' own reads: an assign reads the pools and the blocks in
    // one request, lab.assign's readiness probe the pools, a release the
    // blocks. etcd reads on their behalf too: each write's compare, and the
    // previous value for each agent's watch. The leak scan reads a node's
    // blocks every few seconds. A sync on each change, on three nodes, would
    // be four reads more per agent and change.
    const etcdOwn = 1 + NAMES.length;
    const own = ALLOCATIONS * (2 + etcdOwn) + ALLOCATIONS * (1 + etcdOwn);
    expect(served, `etcd range reads during ${2 * ALLOCATIONS} allocation changes`).toBeLessThanOrEqual(own + 12);
    for (const name of NAMES) expect(lab.agents.get(name)!.log.filter((l) => /sync-failed/.test(l))).toEqual([]);
  }, 120_000);
});
