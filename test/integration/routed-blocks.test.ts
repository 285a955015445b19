// A node's later blocks reach the other nodes as its first does. BIRD has
// already seen (and, under the filter of the time, refused) the blackhole of
// a block the agent has just claimed; a reconfigure alone does not run it
// through the filter again. Small blocks (/29) make the second claim quick.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createCluster, useHarness, type Cluster } from './harness';
import { eventually, RoutedLab } from './routed-lab';

const NAMES = ['n0', 'n1'];

describe('tscni-agent routed: a node that claims more blocks', () => {
  const h = useHarness();
  let cluster: Cluster;
  let lab: RoutedLab;

  beforeAll(async () => {
    cluster = await createCluster(h, { nodesPerSegment: [2], etcd: true });
    lab = new RoutedLab(h, cluster, await h.tempDir('run'));
    await lab.defaultRoutes();
    await lab.createPool('small', '10.244.0.0/24', 29);
    for (let i = 0; i < NAMES.length; i++) lab.startAgent(cluster.nodes[i]!, NAMES[i]!);
  }, 60_000);

  afterAll(async () => {
    for (const name of [...lab.agents.keys()]) await lab.stopAgent(name);
    lab.killBirds(NAMES);
  });

  it('the other node gets a route via the owner for the second and the third block, each once it is claimed', async () => {
    const [n0, n1] = cluster.nodes as [typeof cluster.nodes[0], typeof cluster.nodes[0]];
    let pods = 0;
    for (const count of [1, 2, 3]) {
      // Allocate until n0 holds one more block; the route of each block must be on n1 before the next is claimed.
      while ((await lab.blocksOf('n0')).length < count) {
        expect(pods++, 'allocations before n0 claimed another block').toBeLessThan(30);
        await lab.assign('n0', `c${pods}`);
      }
      const blocks = await lab.blocksOf('n0');
      expect(blocks.length).toBe(count);
      // The agent installs a claimed block's blackhole on its next sync, just after the claim.
      await eventually(`n0 holds a blackhole for each of its ${count} blocks`, async () => {
        const held = (await lab.routes(n0, '75')).map(([dst]) => dst).sort();
        return JSON.stringify(held) === JSON.stringify([...blocks].sort()) ? true : `n0 has ${JSON.stringify(held)}`;
      }, 10_000);
      await eventually(`n1 routes n0's ${count} blocks via n0`, async () => {
        const have = await lab.routes(n1, 'bird');
        const missing = blocks.filter((b) => !have.some(([dst, gw]) => dst === b && gw === n0.ip));
        return missing.length === 0 ? true : `n1 lacks ${missing.join(', ')}: ${JSON.stringify(have)}`;
      }, 20_000);
    }
    expect(lab.agents.get('n0')!.log.filter((l) => /sync-failed|refilter-failed/.test(l))).toEqual([]);
  }, 120_000);
});
