// Routed mode across L2 segments: two nodes on segment 0, one on segment 1
// behind the router, a pool with `vxlan: cross-subnet`. Same-segment peers
// keep their BGP routes; the node across the router is reached through the
// VXLAN device (Calico's VNI 4096, port 4789, MTU − 50), its blocks routed
// via its tunnel address onlink with a neighbour and an FDB entry, and the
// packets are seen as VXLAN on the fabric.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createCluster, ipJson, useHarness, type Cluster } from './harness';
import { eventually, POOL_CIDR, RoutedLab, type Pod } from './routed-lab';

const NAMES = ['s0a', 's0b', 's1a'];

describe('tscni-agent routed across segments (vxlan cross-subnet)', () => {
  const h = useHarness();
  let cluster: Cluster;
  let lab: RoutedLab;
  const pods: Pod[] = [];
  const record = async (name: string) => JSON.parse(await lab.etcdctl(['get', '--print-value-only', `/tscni/v1/nodes/${name}`]));

  beforeAll(async () => {
    cluster = await createCluster(h, { nodesPerSegment: [2, 1], etcd: true });
    lab = new RoutedLab(h, cluster, await h.tempDir('run'));
    await lab.defaultRoutes();
    await lab.createPool('default', POOL_CIDR, 26, 'cross-subnet');
    for (let i = 0; i < 3; i++) lab.startAgent(cluster.nodes[i]!, NAMES[i]!);
    for (const name of NAMES) pods.push(await lab.pod(name));
  }, 60_000);

  afterAll(async () => {
    for (const name of [...lab.agents.keys()]) await lab.stopAgent(name);
    lab.killBirds(NAMES);
  });

  it('each node has a VXLAN device as Calico builds it, and a tunnel address from the pool in its record', async () => {
    for (let i = 0; i < 3; i++) {
      await eventually(`${NAMES[i]} tunnel address`, async () => (await record(NAMES[i]!)).tunnelAddress !== null);
      const r = await record(NAMES[i]!);
      expect(r.tunnelAddress).toMatch(/^10\.244\./);
      await eventually(`${NAMES[i]} vxlan device`, async () => (await ipJson(cluster.nodes[i]!, ['link', 'show'])).some((l: any) => l.ifname === 'vxlan.tscni'));
      const [link] = await ipJson(cluster.nodes[i]!, ['-d', 'addr', 'show', 'dev', 'vxlan.tscni']);
      expect(link.linkinfo.info_data).toMatchObject({ id: 4096, port: 4789, local: cluster.nodes[i]!.ip, learning: false });
      expect(link.mtu).toBe(1450);
      expect(link.address).toBe(r.vtepMAC);
      expect(link.addr_info.filter((a: any) => a.family === 'inet').map((a: any) => `${a.local}/${a.prefixlen}`)).toEqual([`${r.tunnelAddress}/32`]);
    }
  });

  it('a record deleted under the agent is written again with the same tunnel address, filed under either handle form', async () => {
    const tunnelHandles = async () => {
      const values = (await lab.etcdctl(['get', '--prefix', '--print-value-only', '/tscni/v1/ipam/blocks/'])).trim().split('\n');
      return values.flatMap((v) => Object.entries(JSON.parse(v).allocations as Record<string, string>)).filter(([, hd]) => hd.endsWith('/s0b/vxlan.tscni'));
    };
    /** Files s0b's tunnel address under another handle, in place. */
    const refile = async (from: string, to: string) => {
      for (const k of (await lab.etcdctl(['get', '--prefix', '--keys-only', '/tscni/v1/ipam/blocks/'])).split('\n').filter((l) => l !== '')) {
        const value = (await lab.etcdctl(['get', '--print-value-only', k])).trim();
        if (value.includes(`"${from}"`)) await lab.etcdctl(['put', k, value.replace(`"${from}"`, `"${to}"`)]);
      }
    };
    const { tunnelAddress } = await record('s0b');
    expect(await tunnelHandles()).toEqual([[tunnelAddress, 'tscni:agent/s0b/vxlan.tscni']]);
    // As an agent before the reserved namespace filed it, then as now.
    for (const handle of ['vxlan-tunnel/s0b/vxlan.tscni', 'tscni:agent/s0b/vxlan.tscni']) {
      await refile((await tunnelHandles())[0]![1], handle);
      await lab.etcdctl(['del', '/tscni/v1/nodes/s0b']);
      await eventually(`s0b registered again with its tunnel address (${handle})`, async () => {
        const r = (await lab.etcdctl(['get', '--print-value-only', '/tscni/v1/nodes/s0b'])).trim();
        return (r !== '' && JSON.parse(r).tunnelAddress === tunnelAddress) || r || 'no record';
      });
      expect(await tunnelHandles()).toEqual([[tunnelAddress, handle]]);
    }
  }, 60_000);

  it('same-segment peers keep BGP routes; the node across the router is routed through VXLAN, onlink, with neighbour and FDB', async () => {
    const [s0a, s0b, s1a] = cluster.nodes as [typeof cluster.nodes[0], typeof cluster.nodes[0], typeof cluster.nodes[0]];
    const far = await record('s1a');
    await eventually('s0a routes s0b\'s block by BGP', async () => {
      const have = await lab.routes(s0a, 'bird');
      const want = await lab.blocksOf('s0b');
      return want.every((b) => have.some(([dst, gw]) => dst === b && gw === s0b.ip)) || JSON.stringify(have);
    });
    for (const near of [s0a, s0b]) {
      await eventually('s1a\'s blocks through VXLAN', async () => {
        const have = await ipJson(near, ['route', 'show', 'proto', '75']);
        const want = await lab.blocksOf('s1a');
        return want.every((b) => have.some((r: any) => r.dst === b && r.gateway === far.tunnelAddress && r.dev === 'vxlan.tscni' && r.flags.includes('onlink'))) || JSON.stringify(have);
      });
      // No BGP route for the far node's blocks: BIRD keeps them out of the kernel.
      const viaBgp = (await lab.routes(near, 'bird')).map(([dst]) => dst);
      for (const b of await lab.blocksOf('s1a')) expect(viaBgp).not.toContain(b);
      const neigh = await ipJson(near, ['neigh', 'show', 'dev', 'vxlan.tscni']);
      expect(neigh).toContainEqual(expect.objectContaining({ dst: far.tunnelAddress, lladdr: far.vtepMAC, state: ['PERMANENT'] }));
      const bridgeFdb = JSON.parse((await h.execIn(near, 'bridge', ['-j', 'fdb', 'show', 'dev', 'vxlan.tscni'])).stdout);
      expect(bridgeFdb).toContainEqual(expect.objectContaining({ mac: far.vtepMAC, dst: s1a.ip }));
    }
  }, 60_000);

  it('pods take the tunnel MTU the agent writes beside its socket, on both veth ends', async () => {
    for (const [i, name] of NAMES.entries()) {
      expect(readFileSync(join(lab.agents.get(name)!.runDir, 'mtu'), 'utf8')).toBe('1450\n');
      const hostVeths = (await ipJson(cluster.nodes[i]!, ['link', 'show', 'type', 'veth'])).filter((l: any) => l.ifname !== 'eth0');
      expect(hostVeths.map((l: any) => l.mtu)).toEqual([1450]);
    }
    for (const p of pods) expect((await ipJson(p, ['link', 'show', 'eth0']))[0].mtu).toBe(1450);
  });

  it('pods across segments reach each other in VXLAN (seen on the fabric), same-segment pods in plain IP', async () => {
    for (const a of pods) {
      for (const b of pods) if (a !== b) expect((await h.ping(a, b.ip, 1)).ok, `${a.ip} -> ${b.ip}`).toBe(true);
    }
    const capture = h.execIn(cluster.fabric, 'timeout', ['4', 'tcpdump', '-n', '-l', '-i', 'br0', '-c', '1', 'udp dst port 4789'], { reject: false, timeout: 10_000 });
    await new Promise((r) => setTimeout(r, 700));
    await h.ping(pods[0]!, pods[2]!.ip, 2);
    expect((await capture).stdout).toMatch(new RegExp(`${cluster.nodes[0]!.ip.replace(/\./g, '\\.')}\\.\\d+ > ${cluster.nodes[2]!.ip.replace(/\./g, '\\.')}\\.4789: VXLAN, flags \\[I\\] \\(0x08\\), vni 4096`));
    const plain = h.execIn(cluster.fabric, 'timeout', ['4', 'tcpdump', '-n', '-l', '-i', 'br0', '-c', '1', 'icmp'], { reject: false, timeout: 10_000 });
    await new Promise((r) => setTimeout(r, 700));
    await h.ping(pods[0]!, pods[1]!.ip, 1);
    expect((await plain).stdout).toContain(`IP ${pods[0]!.ip} > ${pods[1]!.ip}: ICMP echo request`);
  }, 30_000);
});
