// Self-test of the cluster harness: nodes on one segment reach each other
// over the fabric's bridge, a node on the second segment reaches them only
// through the router, etcd serves from the infra netns, and cleanup stops etcd
// by PID and leaves no namespace of the run.
import { describe, expect, it } from 'vitest';
import { createCluster, Harness, ipJson, listNetns, sysctl, useHarness, type Cluster } from './harness';

const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

describe('cluster harness', () => {
  const h = useHarness();
  let cluster: Cluster;

  it('three nodes on segment 0 ping each other over the fabric', async () => {
    cluster = await createCluster(h, { nodesPerSegment: [3, 1] });
    const seg0 = cluster.nodes.filter((n) => n.segment === 0);
    expect(seg0.map((n) => n.ip)).toEqual(['10.250.0.11', '10.250.0.12', '10.250.0.13']);
    for (const a of seg0) {
      for (const b of seg0) if (a !== b) expect((await h.ping(a, b.ip, 1)).ok, `${a.ip} -> ${b.ip}`).toBe(true);
    }
    // One veth per node, in the fabric bridge of its segment.
    const ports = await ipJson(cluster.fabric, ['link', 'show', 'master', 'br0']);
    expect(ports.map((l: any) => l.ifname).sort()).toEqual(['infra', 'n1', 'n2', 'n3', 'rt0']);
  });

  it('a node on segment 1 reaches segment 0 through the router, and only through it', async () => {
    const far = cluster.nodes.find((n) => n.segment === 1)!;
    const near = cluster.nodes[0]!;
    expect(far.ip).toBe('10.250.1.11');
    // Not on one L2 segment: the far node's only way to 10.250.0.0/24 is its route via the router.
    const routes = await ipJson(far, ['route', 'show']);
    expect(routes.map((r: any) => [r.dst, r.gateway])).toContainEqual(['10.250.0.0/16', '10.250.1.1']);
    expect((await h.ping(far, near.ip, 2)).ok).toBe(true);
    expect((await h.ping(far, cluster.infra.ip, 1)).ok).toBe(true);
    await sysctl(cluster.router!, 'net.ipv4.ip_forward', 0);
    expect((await h.ping(far, near.ip, 1)).ok).toBe(false);
    await sysctl(cluster.router!, 'net.ipv4.ip_forward', 1);
    expect((await h.ping(far, near.ip, 1)).ok).toBe(true);
  });

  it('starts etcd in the infra netns, reachable from both segments, and cleanup stops it by PID', async () => {
    const other = new Harness();
    try {
      const c = await createCluster(other, { nodesPerSegment: [1, 1], etcd: true });
      expect(c.etcd!.endpoints).toEqual(['http://10.250.0.2:2379']);
      for (const node of c.nodes) {
        const r = await other.execIn(node, process.execPath, ['-e', `
          require('http').get('http://10.250.0.2:2379/version', (res) => { let b = ''; res.on('data', (d) => b += d); res.on('end', () => console.log(b)); })
            .on('error', (e) => { console.error(e.message); process.exit(1); });`], { timeout: 10_000 });
        expect(JSON.parse(r.stdout).etcdserver).toMatch(/^3\./);
      }
      expect(alive(c.etcd!.pid)).toBe(true);
      await other.cleanup();
      expect(alive(c.etcd!.pid)).toBe(false);
      expect((await listNetns()).filter((n) => n.startsWith(other.prefix))).toEqual([]);
    } finally {
      await other.cleanup();
    }
  });
});
