// tscni-agent overlay started while etcd does not answer (a cluster booting,
// its agents up before etcd): it waits, logging why, and takes its subnet
// lease and writes the subnet file once etcd is back, as the routed agent
// registers once it can; told to stop while it waits, it ends with exit 0
// and has changed nothing.
import { existsSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { INFRA_IP, ip, startEtcd, useHarness } from './harness';
import { Agent, createOverlayCluster, etcdGet, NETWORK, PREFIX, stopAgents, type OverlayCluster } from './overlay-cluster';

const h = useHarness();
let c: OverlayCluster;
const agents: Agent[] = [];

beforeAll(async () => {
  c = await createOverlayCluster(h, { Network: NETWORK, Backend: { Type: 'vxlan' } }, { nodesPerSegment: [2] });
});
afterAll(() => stopAgents(agents));

describe('overlay agent: etcd down at start', () => {
  it('waits for etcd, then leases its subnet and writes the subnet file', async () => {
    await c.etcd!.stop();
    const a = new Agent(h, c, c.nodes[0]!, 'node1');
    agents.push(a);
    a.start();
    await a.waitLog(/etcd-unreachable step="read the network config"/, 15_000);
    await a.waitLog(/etcd-unreachable/, 15_000, a.lines.length); // a second try: it keeps waiting
    expect(a.running).toBe(true);
    expect(existsSync(a.subnetFile)).toBe(false);

    c.etcd = await startEtcd(h, c.infra, { ips: [INFRA_IP], dataDir: c.etcd!.dataDir });
    const env = await a.ready(30_000);
    const leases = await etcdGet(h, c, `${PREFIX}/subnets/`);
    const key = `${PREFIX}/subnets/${env.FLANNEL_SUBNET!.replace('.1/24', '.0-24')}`;
    expect(Object.keys(leases)).toEqual([key]);
    expect(JSON.parse(leases[key]!).PublicIP).toBe(c.nodes[0]!.ip);
  });

  it('ends with exit 0 when stopped while it waits, having changed nothing', async () => {
    const n = c.nodes[1]!;
    const state = async () => (await Promise.all([ip(n, ['-d', 'link', 'show']), ip(n, ['-4', 'route', 'show', 'table', 'all'])])).map((r) => r.stdout).join('\n');
    const before = await state();
    const a = new Agent(h, { ...c, etcdUrl: 'http://10.250.0.99:2379' }, n, 'node2');
    agents.push(a);
    a.start();
    await a.waitLog(/etcd-unreachable .*10\.250\.0\.99:2379/, 15_000);
    expect(await a.stop()).toBe(0);
    expect(existsSync(a.subnetFile)).toBe(false);
    expect(await state()).toBe(before);
  });
});
