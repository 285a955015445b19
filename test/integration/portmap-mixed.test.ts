// portmap across implementations: our bridge with our portmap, and our bridge
// with the reference portmap (iptables-nft inside the node netns), each on its
// own node, reached from outside, from the node and from the pod itself.
import { readdir } from 'node:fs/promises';
import { beforeAll, describe, expect, it } from 'vitest';
import { rootNftTables, run, useHarness } from './harness';
import { attach, elementOwners, EXT_V6, NODE_V6, setupNode, type Impl } from './portmap-env';

const h = useHarness();
let rootTablesBefore: string[];
beforeAll(async () => {
  rootTablesBefore = await rootNftTables();
});

async function iptablesNat(node: string): Promise<string> {
  return (await run('ip', ['netns', 'exec', node, 'iptables-nft-save', '-t', 'nat'], { reject: false })).stdout;
}

describe.each<[Impl, number]>([['ours', 2], ['reference', 3]])('our bridge chained before %s portmap', (portmap, subnet) => {
  it('reaches the pod from outside, from the node and from itself, and DEL removes the mapping', async () => {
    const n = await setupNode(h, subnet);
    const a = await attach(h, n, `ctr-${portmap}`, [{ hostPort: 8080, containerPort: 80, protocol: 'tcp' }], { bridge: 'ours', portmap });
    const gw = `10.244.${subnet}.1`;
    await h.startTcpServer(a.pod, { port: 80 });
    expect(await h.tcpRequest(n.ext, n.ext.nodeIp, 8080)).toBe(n.ext.ip);
    expect(await h.tcpRequest(n.node, n.ext.nodeIp, 8080)).toBe(n.ext.nodeIp);
    expect(await h.tcpRequest(a.pod, n.ext.nodeIp, 8080)).toBe(gw);
    if (portmap === 'ours') {
      expect(await h.tcpRequest(n.ext, NODE_V6, 8080)).toBe(EXT_V6);
      expect((await elementOwners(n)).length).toBe(7);
    } else {
      expect(await iptablesNat(n.node.name)).toContain('CNI-HOSTPORT-DNAT');
    }
    await a.detach();
    await expect(h.tcpRequest(n.ext, n.ext.nodeIp, 8080, 1500)).rejects.toThrow();
    if (portmap === 'ours') expect(await elementOwners(n)).toEqual([]);
  });
});

it('concurrent DELs of our chain each remove their own elements, and together all of them', async () => {
  const n = await setupNode(h, 4);
  const pods = [];
  for (let i = 0; i < 12; i++) {
    pods.push(await attach(h, n, `ctr-many-${i}`, [{ hostPort: 9000 + i, containerPort: 80, protocol: 'tcp' }], { bridge: 'ours', portmap: 'ours' }));
  }
  expect((await elementOwners(n)).length).toBe(12 * 7);
  await Promise.all(pods.map((p) => p.detach()));
  expect(await elementOwners(n)).toEqual([]);
  const masq = await run('ip', ['netns', 'exec', n.node.name, 'nft', '-j', 'list', 'table', 'inet', 'tscni']);
  const masqElems = (JSON.parse(masq.stdout).nftables as any[]).filter((o) => /^masq[46]$/.test(o.map?.name ?? '')).flatMap((o) => o.map.elem ?? []);
  expect(masqElems).toEqual([]);
  const reservations = (await readdir(`${n.dataDir}/pmnet`)).filter((f) => /^[0-9a-f.:]+$/.test(f));
  expect(reservations).toEqual([]);
});

it('adds no nft table to the root network namespace', async () => {
  expect((await rootNftTables()).filter((t) => !rootTablesBefore.includes(t))).toEqual([]);
});
