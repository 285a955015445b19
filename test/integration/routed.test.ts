// The routed plugin (Calico's dataplane), built, in real namespaces: pods on
// one node reach each other through host routes with no bridge, the host end
// answers the pod's ARP for 169.254.1.1 with ee:ee:ee:ee:ee:ee, sources are
// kept, IPv6 goes via the host end's link-local; CHECK names what differs,
// DEL is idempotent and leaves foreign devices alone, bad config and a
// failing ADD leave nothing; nat-outgoing from a cluster-ipam pool.
import { writeFileSync } from 'node:fs';
import { connect, createServer } from 'node:net';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { parseIp } from '../../lib/ip/address';
import { askAgent } from '../../lib/ipam/cluster/protocol';
import { routedHostVeth } from '../../plugins/routed/dataplane';
import {
  createCluster, DIST_BIN, execIn, expectSuccess, ip, ipJson, useHarness, type Netns,
} from './harness';
import { startIpamAgent } from './ipam-agent-remote';

const h = useHarness();
let ids = 0;

function routedConfig(dataDir: string, extra: Record<string, unknown> = {}) {
  return {
    cniVersion: '1.0.0', name: 'routed-test', type: 'routed', agentSocket: join(dataDir, 'no-agent.sock'),
    ipam: { type: 'host-local', dataDir, ranges: [[{ subnet: '10.244.7.0/24' }], [{ subnet: 'fd00:244:7::/64' }]] },
    ...extra,
  };
}

function run(node: Netns, command: 'ADD' | 'CHECK' | 'DEL' | 'GC' | 'STATUS', config: Record<string, unknown>, pod?: Netns | string, containerId = 'c') {
  return h.runCniPlugin({ node, plugin: 'routed', command, config, ...(pod === undefined ? {} : { containerId, netns: pod, ifname: 'eth0' }) });
}

async function nodeLinks(node: Netns): Promise<any[]> {
  return (await ipJson(node, ['-d', 'link', 'show'])).filter((l: any) => l.ifname !== 'lo');
}

describe('routed with host-local', () => {
  let node: Netns;
  let dataDir: string;
  const pods: { ns: Netns; id: string; result: any }[] = [];

  beforeAll(async () => {
    node = await h.createNode();
    // Proxy ARP answers for an address the node routes elsewhere: a node's
    // default route is what covers 169.254.1.1 (as on any Calico node).
    await h.createExternal(node);
    dataDir = await h.tempDir('routed-ipam');
    for (let i = 0; i < 2; i++) {
      const ns = await h.createPod();
      const id = `routed-${++ids}`;
      const add = expectSuccess(await run(node, 'ADD', routedConfig(dataDir), ns, id), 'ADD');
      pods.push({ ns, id, result: add.json });
    }
  });

  it('builds Calico\'s wiring: /32 and /128 in the pod, one gateway on-link, a host route per address, no bridge', async () => {
    const [a] = pods;
    const hostVeth = routedHostVeth(a!.id, 'eth0');
    expect(hostVeth).toMatch(/^tsr[0-9a-f]{12}$/);
    expect(a!.result.interfaces).toEqual([
      { name: hostVeth, mac: 'ee:ee:ee:ee:ee:ee' },
      { name: 'eth0', mac: expect.stringMatching(/^[0-9a-f:]{17}$/), sandbox: a!.ns.path },
    ]);
    expect(a!.result.ips).toEqual([
      { address: '10.244.7.2/32', gateway: '169.254.1.1', interface: 1 },
      { address: 'fd00:244:7::2/128', gateway: 'fe80::ecee:eeff:feee:eeee', interface: 1 },
    ]);

    const addrs = (await ipJson(a!.ns, ['addr', 'show', 'dev', 'eth0'])).flatMap((l: any) => l.addr_info)
      .filter((x: any) => x.scope === 'global').map((x: any) => `${x.local}/${x.prefixlen}`);
    expect(addrs).toEqual(['10.244.7.2/32', 'fd00:244:7::2/128']);
    expect((await ipJson(a!.ns, ['-4', 'route', 'show'])).map((r: any) => [r.dst, r.gateway, r.dev, r.scope])).toEqual([
      ['default', '169.254.1.1', 'eth0', undefined], ['169.254.1.1', undefined, 'eth0', 'link'],
    ]);
    expect((await ipJson(a!.ns, ['-6', 'route', 'show', 'default'])).map((r: any) => [r.gateway, r.dev])).toEqual([['fe80::ecee:eeff:feee:eeee', 'eth0']]);

    const links = await nodeLinks(node);
    expect(links.filter((l) => l.linkinfo?.info_kind === 'bridge')).toEqual([]);
    expect(links.filter((l) => l.ifname.startsWith('tsr'))).toHaveLength(2);
    const host = links.find((l) => l.ifname === hostVeth);
    expect(host).toMatchObject({ address: 'ee:ee:ee:ee:ee:ee', linkinfo: { info_kind: 'veth' } });
    expect((await ipJson(node, ['-4', 'route', 'show', 'dev', hostVeth])).map((r: any) => [r.dst, r.scope])).toEqual([['10.244.7.2', 'link']]);
    expect((await ipJson(node, ['-6', 'route', 'show', 'dev', hostVeth])).map((r: any) => r.dst)).toContain('fd00:244:7::2');
    const sysctl = async (key: string) => (await execIn(node, 'sysctl', ['-n', key])).stdout.trim();
    expect(await sysctl(`net.ipv4.conf.${hostVeth}.proxy_arp`)).toBe('1');
    expect(await sysctl(`net.ipv4.neigh.${hostVeth}.proxy_delay`)).toBe('0');
    expect(await sysctl('net.ipv4.ip_forward')).toBe('1');
  });

  it('pods reach each other through host routes, keep their source address, and learn ee:ee:ee:ee:ee:ee for 169.254.1.1', async () => {
    const [a, b] = pods;
    const server = await h.startTcpServer(b!.ns);
    expect(await h.tcpRequest(a!.ns, '10.244.7.3', server.port)).toBe('10.244.7.2');
    expect(await h.tcpRequest(a!.ns, 'fd00:244:7::3', server.port)).toBe('fd00:244:7::2');
    server.stop();
    const neigh = await ipJson(a!.ns, ['-4', 'neigh', 'show', 'dev', 'eth0']);
    expect(neigh).toEqual([expect.objectContaining({ dst: '169.254.1.1', lladdr: 'ee:ee:ee:ee:ee:ee' })]);
    const neigh6 = await ipJson(a!.ns, ['-6', 'neigh', 'show', 'dev', 'eth0']);
    expect(neigh6).toEqual(expect.arrayContaining([expect.objectContaining({ dst: 'fe80::ecee:eeff:feee:eeee', lladdr: 'ee:ee:ee:ee:ee:ee' })]));
  });

  it('CHECK passes on what ADD built and names what differs', async () => {
    const [a] = pods;
    const config = { ...routedConfig(dataDir), prevResult: a!.result };
    expectSuccess(await run(node, 'CHECK', config, a!.ns, a!.id), 'CHECK');
    const hostVeth = routedHostVeth(a!.id, 'eth0');
    await ip(node, ['route', 'del', '10.244.7.2/32', 'dev', hostVeth]);
    await execIn(node, 'sysctl', ['-w', `net.ipv4.conf.${hostVeth}.proxy_arp=0`]);
    const check = await run(node, 'CHECK', config, a!.ns, a!.id);
    expect(check.exitCode).toBe(1);
    expect(check.json.msg).toBe(`routed CHECK: net.ipv4.conf.${hostVeth}.proxy_arp is 0, not 1; host route 10.244.7.2/32 dev ${hostVeth} missing`);
  });

  it('DEL removes both ends, the routes and the reservation, and succeeds again, also with the netns gone or a plain file there', async () => {
    const [a, b] = pods;
    expectSuccess(await run(node, 'DEL', routedConfig(dataDir), a!.ns, a!.id), 'DEL');
    expectSuccess(await run(node, 'DEL', routedConfig(dataDir), a!.ns, a!.id), 'DEL again');
    expectSuccess(await run(node, 'DEL', routedConfig(dataDir), '', a!.id), 'DEL without netns');
    const plain = join(dataDir, 'not-a-netns');
    writeFileSync(plain, '');
    expectSuccess(await run(node, 'DEL', routedConfig(dataDir), plain, b!.id), 'DEL with a plain file');
    expect((await nodeLinks(node)).filter((l) => l.ifname.startsWith('tsr'))).toEqual([]);
    expect(await ipJson(node, ['-4', 'route', 'show', '10.244.7.0/24'])).toEqual([]);
    expect(await ipJson(b!.ns, ['link', 'show', 'dev', 'eth0']).catch(() => [])).toEqual([]);
    const reserved = (await execIn(node, 'ls', [join(dataDir, 'routed-test')])).stdout.split('\n').filter((f) => parseIp(f) !== undefined);
    expect(reserved).toEqual([]);
  });

  it('DEL leaves a device that only has the host veth\'s name alone', async () => {
    const id = `routed-${++ids}`;
    const name = routedHostVeth(id, 'eth0');
    await ip(node, ['link', 'add', name, 'type', 'veth', 'peer', 'name', 'other0']);
    expectSuccess(await run(node, 'DEL', routedConfig(dataDir), '', id), 'DEL');
    expect((await nodeLinks(node)).map((l) => l.ifname)).toEqual(expect.arrayContaining([name, 'other0']));
    await ip(node, ['link', 'del', name]);
  });
});

describe('routed with an mtu', () => {
  it('gives both ends of the veth the configured MTU', async () => {
    const node = await h.createNode();
    const pod = await h.createPod();
    const dataDir = await h.tempDir('routed-mtu');
    const id = `routed-${++ids}`;
    expectSuccess(await run(node, 'ADD', routedConfig(dataDir, { mtu: 1400 }), pod, id));
    expect((await ipJson(pod, ['link', 'show', 'dev', 'eth0']))[0].mtu).toBe(1400);
    expect((await ipJson(node, ['link', 'show', 'dev', routedHostVeth(id, 'eth0')]))[0].mtu).toBe(1400);
    expectSuccess(await run(node, 'DEL', routedConfig(dataDir, { mtu: 1400 }), pod, id));
  });
});

describe('routed refuses bad input and rolls back', () => {
  it.each([
    [{ mtu: 10 }, 'mtu'],
    [{ natOutgoing: 'yes' }, 'natOutgoing'],
    [{ agentSocket: 'relative.sock' }, 'agentSocket'],
    [{ ipam: {} }, 'ipam.type: is required'],
  ])('%j: code 7 naming the field, nothing created', async (extra, field) => {
    const node = await h.createNode();
    const pod = await h.createPod();
    const dataDir = await h.tempDir('routed-bad');
    const r = await run(node, 'ADD', routedConfig(dataDir, extra), pod, `routed-${++ids}`);
    expect(r.exitCode).toBe(1);
    expect(r.json.code).toBe(7);
    expect(r.json.msg).toContain(field);
    expect(await nodeLinks(node)).toEqual([]);
    expect((await ipJson(pod, ['link', 'show'])).map((l: any) => l.ifname)).toEqual(['lo']);
  });


  it('an agent socket that refuses: code 11 and nothing left, reservation included', async () => {
    const node = await h.createNode();
    const pod = await h.createPod();
    const dataDir = await h.tempDir('routed-dead-agent');
    const socket = join(dataDir, 'agent.sock');
    await h.execIn(node, 'python3', ['-c', 'import socket,sys; socket.socket(socket.AF_UNIX).bind(sys.argv[1])', socket]);
    const r = await run(node, 'ADD', routedConfig(dataDir, { agentSocket: socket }), pod, `routed-${++ids}`);
    expect(r.json).toMatchObject({ code: 11, msg: `no tscni agent answers at ${socket}: nothing listens on it; try again later` });
    expect(await nodeLinks(node)).toEqual([]);
    const files = (await execIn(node, 'ls', [join(dataDir, 'routed-test')])).stdout.split('\n');
    expect(files.filter((f) => parseIp(f) !== undefined)).toEqual([]);
  });

  it('an ADD that fails after IPAM and masquerade (the pod has an eth0 already) leaves no veth, element or reservation', async () => {
    const node = await h.createNode();
    const dataDir = await h.tempDir('routed-fail');
    const config = routedConfig(dataDir, { natOutgoing: true });
    expectSuccess(await run(node, 'ADD', config, await h.createPod(), 'kept'));
    const before = (await nodeLinks(node)).map((l) => l.ifname).sort();
    const pod = await h.createPod();
    await ip(pod, ['link', 'add', 'eth0', 'type', 'veth', 'peer', 'name', 'taken0']);
    const r = await run(node, 'ADD', config, pod, 'one-too-many');
    expect(r.exitCode).toBe(1);
    expect(r.json.msg).toContain('eth0');
    expect((await nodeLinks(node)).map((l) => l.ifname).sort()).toEqual(before);
    expect(await ipJson(node, ['-4', 'route', 'show', 'dev', routedHostVeth('one-too-many', 'eth0')]).catch(() => [])).toEqual([]);
    const nft = JSON.parse((await execIn(node, 'nft', ['-j', 'list', 'table', 'inet', 'tscni'])).stdout).nftables as any[];
    const owners = nft.flatMap((o) => o.map?.elem ?? []).map((e: any) => String(e[0].elem.comment).split(' ').pop());
    expect(owners.sort()).toEqual(['id=kept', 'id=kept']);
    const reserved = (await execIn(node, 'ls', [join(dataDir, 'routed-test')])).stdout.split('\n').filter((f) => parseIp(f) !== undefined);
    expect(reserved).toHaveLength(2);
  });
});

/** A socket in front of the agent's that passes each request on and notes its op: what the plugins asked. */
async function requestLog(agentSocket: string, path: string): Promise<{ ops: string[]; close(): Promise<void> }> {
  const ops: string[] = [];
  const server = createServer((plugin) => {
    plugin.once('data', (b: Buffer) => ops.push(String(JSON.parse(b.toString().split('\n')[0]!).op)));
    plugin.pipe(connect(agentSocket)).pipe(plugin);
  });
  await new Promise<void>((resolve) => server.listen(path, resolve));
  return { ops, close: () => new Promise((resolve) => server.close(() => resolve())) };
}

describe('routed with cluster-ipam', () => {
  it('a natOutgoing pool: the external host sees the node\'s address, a pod of the pool sees the pod\'s; ADD asks the agent once', async () => {
    const cluster = await createCluster(h, { nodesPerSegment: [1], etcd: true });
    const node = cluster.nodes[0]!;
    const prefix = '/tscni-test/routed';
    const pool = await h.execIn(node, join(DIST_BIN, 'tscni'), ['pool', 'create', 'nat', '--cidr', '10.244.64.0/20', '--nat-outgoing',
      '--etcd-endpoints', cluster.etcd!.endpoints[0]!, '--etcd-prefix', prefix]);
    expect(pool.exitCode, pool.stderr).toBe(0);
    const agent = await startIpamAgent(h, node, 'node-a', { 'etcd-endpoints': cluster.etcd!.endpoints[0]!, 'etcd-prefix': prefix });
    const ext = await h.createExternal(node);
    const socket = join(await h.tempDir('relay'), 'agent.sock');
    const requests = await requestLog(agent.socket, socket);
    const config = { cniVersion: '1.0.0', name: 'routed-nat', type: 'routed', agentSocket: socket, ipam: { type: 'cluster-ipam', agentSocket: socket } };
    const [a, b] = [await h.createPod(), await h.createPod()];
    const ra = expectSuccess(await run(node, 'ADD', config, a, 'nat-a')).json;
    // the assignment's answer names the pools: masquerade is planned without a second request
    expect(requests.ops).toEqual(['assign']);
    const rb = expectSuccess(await run(node, 'ADD', config, b, 'nat-b')).json;
    expect(ra.ips[0].address).toBe('10.244.64.1/32');

    const outside = await h.startTcpServer(ext);
    expect(await h.tcpRequest(a, ext.ip, outside.port)).toBe(ext.nodeIp);
    const inside = await h.startTcpServer(b);
    expect(await h.tcpRequest(a, rb.ips[0].address.split('/')[0], inside.port)).toBe('10.244.64.1');
    expectSuccess(await run(node, 'CHECK', { ...config, prevResult: ra }, a, 'nat-a'));
    expectSuccess(await run(node, 'STATUS', { ...config, cniVersion: '1.1.0' }));

    const masq4 = async () => {
      const nft = await execIn(node, 'nft', ['-j', 'list', 'map', 'inet', 'tscni', 'masq4']);
      return ((JSON.parse(nft.stdout).nftables.find((o: any) => o.map)?.map.elem ?? []) as any[]).map((e) => e[0].elem.val);
    };
    expect((await masq4()).sort()).toEqual(['10.244.64.1', '10.244.64.2']);
    // GC: the runtime lists only b; a's element and address go, b's stay
    expectSuccess(await run(node, 'GC', { ...config, cniVersion: '1.1.0', 'cni.dev/valid-attachments': [{ containerID: 'nat-b', ifname: 'eth0' }] }));
    expect(await masq4()).toEqual(['10.244.64.2']);
    expect(askAgent(agent.socket, { op: 'held', handle: 'routed-nat/nat-a/eth0' }).ips).toEqual([]);
    expect(askAgent(agent.socket, { op: 'held', handle: 'routed-nat/nat-b/eth0' }).ips).toHaveLength(1);

    for (const [ns, id] of [[a, 'nat-a'], [b, 'nat-b']] as const) expectSuccess(await run(node, 'DEL', config, ns, id));
    expect(await masq4()).toEqual([]);
    expect(askAgent(agent.socket, { op: 'held', handle: 'routed-nat/nat-b/eth0' }).ips).toEqual([]);
    await requests.close();
    await agent.stop();
  });
});
