// Routed mode's IPAM against a real etcd: `tscni pool` (the built
// executable in a node netns, etcdctl as the oracle), the agent's IPAM
// service (serveClusterIpam over a ClusterIpamStore, started in node netns)
// under concurrent load from two nodes, exhaustion and release, and the
// cluster-ipam plugin, alone and under the reference ptp.
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { askAgent } from '../../lib/ipam/cluster/protocol';
import {
  createCluster, DIST_BIN, expectSuccess, ipJson, REFERENCE_BIN, useHarness, type Cluster, type EtcdServer,
} from './harness';
import { startIpamAgent, type IpamAgent } from './ipam-agent-remote';
import { eventually, RoutedLab } from './routed-lab';

const h = useHarness();
let cluster: Cluster;
let etcd: EtcdServer;
const agents: IpamAgent[] = [];
let caseNo = 0;

/** Each case its own key prefix, so cases never see each other's pools. */
const newPrefix = () => `/tscni-test/case-${++caseNo}`;

function tscni(args: string[], env: Record<string, string> = {}) {
  return h.execIn(cluster.nodes[0]!, join(DIST_BIN, 'tscni'), args, { reject: false, env, timeout: 20_000 });
}

async function stored(prefix: string): Promise<Record<string, string>> {
  const r = await h.execIn(cluster.infra, 'etcdctl', ['--endpoints', etcd.endpoints[0]!, 'get', '--prefix', prefix, '-w', 'json'], { env: { ETCDCTL_API: '3' } });
  const kvs: { key: string; value: string }[] = JSON.parse(r.stdout).kvs ?? [];
  return Object.fromEntries(kvs.map((kv) => [Buffer.from(kv.key, 'base64').toString(), Buffer.from(kv.value, 'base64').toString()]));
}

/** A key written by hand, as an operator's etcdctl would. */
async function put(key: string, value: string): Promise<void> {
  await h.execIn(cluster.infra, 'etcdctl', ['--endpoints', etcd.endpoints[0]!, 'put', key, value], { env: { ETCDCTL_API: '3' } });
}

async function createPool(prefix: string, name: string, args: string[]): Promise<void> {
  const r = await tscni(['pool', 'create', name, ...args, '--etcd-prefix', prefix], { ETCD_ENDPOINTS: etcd.endpoints[0]! });
  expect(r.exitCode, r.stderr).toBe(0);
}

async function agent(nodeIndex: number, nodeName: string, prefix: string, faults: { resendFirstWrite?: boolean } = {}): Promise<IpamAgent> {
  const a = await startIpamAgent(h, cluster.nodes[nodeIndex]!, nodeName, { 'etcd-endpoints': etcd.endpoints[0]!, 'etcd-prefix': prefix }, faults);
  agents.push(a);
  return a;
}

beforeAll(async () => {
  cluster = await createCluster(h, { nodesPerSegment: [2], etcd: true });
  etcd = cluster.etcd!;
});
afterAll(async () => {
  for (const a of agents) await a.stop();
});

describe('tscni pool', () => {
  it('create writes Calico\'s IPPool fields, list prints them, IPv4 and IPv6', async () => {
    const prefix = newPrefix();
    await createPool(prefix, 'default-ipv4', ['--cidr', '10.244.0.0/16', '--nat-outgoing', '--vxlan', 'cross-subnet']);
    await createPool(prefix, 'default-ipv6', ['--cidr', 'fd00:244::/48', '--block-size=120']);
    expect(await stored(prefix)).toEqual({
      [`${prefix}/ipam/pools/default-ipv4`]: '{"cidr":"10.244.0.0/16","blockSize":26,"vxlan":"cross-subnet","natOutgoing":true}',
      [`${prefix}/ipam/pools/default-ipv6`]: '{"cidr":"fd00:244::/48","blockSize":120,"vxlan":"never","natOutgoing":false}',
    });
    const list = await tscni(['pool', 'list', '--etcd-prefix', prefix, '--etcd-endpoints', etcd.endpoints[0]!]);
    expect(list.exitCode, list.stderr).toBe(0);
    expect(list.stdout.split('\n').map((l) => l.split(/\s{2,}/))).toEqual([
      ['NAME', 'CIDR', 'BLOCK SIZE', 'VXLAN', 'NAT OUTGOING'],
      ['default-ipv4', '10.244.0.0/16', '26', 'cross-subnet', 'true'],
      ['default-ipv6', 'fd00:244::/48', '120', 'never', 'false'],
      [''],
    ]);
  });

  it.each([
    [['p2', '--cidr', '10.244.128.0/17'], 1, 'tscni: pool create: 10.244.128.0/17 overlaps pool existing (10.244.0.0/16)'],
    [['existing', '--cidr', '10.245.0.0/16'], 1, 'tscni: pool create: pool existing exists already (10.244.0.0/16)'],
    [['p2', '--cidr', '10.245.0.0/33'], 2, 'tscni: pool create: --cidr: prefix length "33" is out of range for IPv4 (0-32)'],
    [['p2', '--cidr', '10.245.1.0/16'], 2, 'tscni: pool create: --cidr: 10.245.1.0/16 has host bits set (the network is 10.245.0.0/16)'],
    [['p2', '--cidr', '10.245.0.0/24', '--block-size', '16'], 2, 'tscni: pool create: --block-size: /16 does not fit the IPv4 pool 10.245.0.0/24: it must be from /24 to /31'],
    [['p2', '--cidr', 'fd00:245::/64', '--block-size', '26'], 2, 'tscni: pool create: --block-size: /26 does not fit the IPv6 pool fd00:245::/64: it must be from /64 to /127'],
    [['p2', '--cidr', '10.245.0.0/16', '--vxlan', 'yes'], 2, 'tscni: pool create: --vxlan: "yes" is not one of never, cross-subnet, always'],
    [['P2', '--cidr', '10.245.0.0/16'], 2, 'tscni: pool create: NAME: "P2" must be lower-case letters'],
    [['p2'], 2, 'tscni: pool create: --cidr is required'],
  ])('create %j is refused (exit %d: %s) and writes nothing', async (args, exitCode, message) => {
    const prefix = newPrefix();
    await createPool(prefix, 'existing', ['--cidr', '10.244.0.0/16']);
    const before = await stored(prefix);
    const r = await tscni(['pool', 'create', ...args, '--etcd-prefix', prefix], { ETCD_ENDPOINTS: etcd.endpoints[0]! });
    expect(r.exitCode).toBe(exitCode);
    expect(r.stderr).toContain(message);
    expect(await stored(prefix)).toEqual(before);
  });

  it('says etcd is unreachable, and exits 1', async () => {
    const r = await tscni(['pool', 'create', 'p', '--cidr', '10.244.0.0/16', '--etcd-endpoints', 'http://10.250.0.99:2379']);
    expect(r.exitCode).toBe(1);
    expect(r.stderr).toMatch(/^tscni: pool create: etcd unreachable: http:\/\/10\.250\.0\.99:2379: /);
  });
});

describe('--etcd-prefix, one rule for the routed commands', () => {
  it('bgp and ipam work under the prefix given, as pool does, and leave the others alone', async () => {
    const prefix = newPrefix();
    const endpoint = ['--etcd-endpoints', etcd.endpoints[0]!];
    const add = await tscni(['bgp', 'peer', 'add', '--peer-ip', '10.250.0.3', '--as', '65001', '--etcd-prefix', prefix, ...endpoint]);
    expect(add.exitCode, add.stderr).toBe(0);
    expect(Object.keys(await stored(prefix))).toEqual([`${prefix}/bgp/peers/10-250-0-3`]);
    expect(await stored('/tscni/v1/bgp/')).toEqual({});
    const list = await tscni(['bgp', 'peer', 'list', '--etcd-prefix', prefix, ...endpoint]);
    expect(list.stdout).toContain('10-250-0-3');
    const check = await tscni(['ipam', 'check', '--etcd-prefix', prefix, ...endpoint]);
    expect(check.exitCode, check.stderr).toBe(0);
    expect(JSON.parse(check.stdout)).toMatchObject({ allocations: [], blocks: [], ignored: [] });
    const remove = await tscni(['bgp', 'peer', 'remove', '10-250-0-3', '--etcd-prefix', prefix, ...endpoint]);
    expect(remove.exitCode, remove.stderr).toBe(0);
    expect(await stored(prefix)).toEqual({});
  });

  it('a bad prefix is exit 2, naming the flag, for every etcd command', async () => {
    for (const args of [['pool', 'list'], ['bgp', 'peer', 'list'], ['ipam', 'check'], ['overlay', 'config', 'get']]) {
      const r = await tscni([...args, '--etcd-prefix', 'tscni', '--etcd-endpoints', etcd.endpoints[0]!]);
      expect(r.exitCode, r.stderr).toBe(2);
      expect(r.stderr).toBe(`tscni: ${args.join(' ')}: --etcd-prefix: must be a key path starting with "/"\n`);
    }
  });
});

const netconf = (socket: string, extra: Record<string, unknown> = {}) => ({
  cniVersion: '1.0.0', name: 'net', type: 'ptp', ipam: { type: 'cluster-ipam', agentSocket: socket, ...extra },
});

/** The built cluster-ipam run by `node`'s runtime, for one attachment. */
function ipam(nodeIndex: number, command: 'ADD' | 'CHECK' | 'DEL' | 'GC' | 'STATUS', config: Record<string, unknown>, containerId = 'c1') {
  const attachment = command === 'GC' || command === 'STATUS' ? {} : { containerId, netns: '/var/run/netns/none', ifname: 'eth0' };
  return h.runCniPlugin({ node: cluster.nodes[nodeIndex]!, plugin: 'cluster-ipam', command, config, ...attachment, timeout: 60_000 });
}

function thrown(fn: () => unknown): any {
  try {
    fn();
  } catch (e) {
    return e;
  }
  throw new Error('it did not throw');
}

/** Every allocation etcd holds under `prefix`, with the node of its block. */
async function allocations(prefix: string): Promise<{ ip: string; handle: string; node: string }[]> {
  return Object.values(await stored(`${prefix}/ipam/blocks/`)).map((v) => JSON.parse(v))
    .flatMap((b) => Object.entries(b.allocations as Record<string, string>).map(([ip, handle]) => ({ ip, handle, node: b.node })));
}

describe('the agent\'s IPAM service', () => {
  it('hands out no address twice: 100 ADDs at once from two nodes', async () => {
    const prefix = newPrefix();
    await createPool(prefix, 'p4', ['--cidr', '10.244.0.0/22', '--block-size', '28']);
    const [a, b] = [await agent(0, 'node-a', prefix), await agent(1, 'node-b', prefix)];
    const adds = await Promise.all(Array.from({ length: 100 }, (_, i) => ipam(i % 2, 'ADD', netconf(i % 2 ? b.socket : a.socket), `c${i}`)));
    const addresses = adds.map((r) => expectSuccess(r).json.ips[0].address);
    expect(new Set(addresses).size).toBe(100);

    // What etcd holds says the same: 100 allocations, each under its handle, in blocks of the node that asked.
    const held = await allocations(prefix);
    expect(held.map((x) => x.handle).sort()).toEqual(Array.from({ length: 100 }, (_, i) => `net/c${i}/eth0`).sort());
    for (const x of held) expect(x.node).toBe(Number(x.handle.slice(5, -5)) % 2 ? 'node-b' : 'node-a');
    // 15 addresses per /28 (its first is the gateway): each node holds 4 blocks
    const blocks = Object.values(await stored(`${prefix}/ipam/blocks/`)).map((v) => JSON.parse(v).node);
    expect(blocks.filter((n) => n === 'node-a')).toHaveLength(4);
    expect(blocks.filter((n) => n === 'node-b')).toHaveLength(4);
  });

  it('two processes serving one node share its blocks without a duplicate (compare on revision)', async () => {
    const prefix = newPrefix();
    await createPool(prefix, 'p4', ['--cidr', '10.244.4.0/24', '--block-size', '27']);
    const [a1, a2] = [await agent(0, 'node-a', prefix), await agent(0, 'node-a', prefix)];
    const adds = await Promise.all(Array.from({ length: 40 }, (_, i) => ipam(0, 'ADD', netconf(i % 2 ? a1.socket : a2.socket), `c${i}`)));
    expect(new Set(adds.map((r) => expectSuccess(r).json.ips[0].address)).size).toBe(40);
    expect(await allocations(prefix)).toHaveLength(40);
  });

  it('a full pool: the exhaustion error, nothing leaked, and DEL frees exactly the attachment\'s address', async () => {
    const prefix = newPrefix();
    // 4 blocks of 3 addresses each: 12 in all. Each node asks for more than
    // that, so whichever blocks a node wins, it fills them all.
    await createPool(prefix, 'small', ['--cidr', '10.244.8.0/28', '--block-size', '30']);
    const [a, b] = [await agent(0, 'node-a', prefix), await agent(1, 'node-b', prefix)];
    const adds = await Promise.all(Array.from({ length: 30 }, (_, i) => ipam(i % 2, 'ADD', netconf(i % 2 ? b.socket : a.socket), `c${i}`)));
    const ok = adds.flatMap((r, i) => (r.exitCode === 0 ? [`net/c${i}/eth0`] : []));
    const failed = adds.filter((r) => r.exitCode !== 0);
    expect(ok).toHaveLength(12);
    expect(failed).toHaveLength(18);
    for (const f of failed) {
      expect(f.json.code).toBe(100);
      expect(f.json.msg).toMatch(/^IP pool exhausted: small \(10\.244\.8\.0\/28, \/30 blocks\): every block is claimed and node node-[ab]'s blocks are full$/);
    }
    expect((await allocations(prefix)).map((x) => x.handle).sort()).toEqual(ok.sort());
    expect(thrown(() => askAgent(a.socket, { op: 'status' }))).toMatchObject({ code: 50 });
    expect((await ipam(0, 'STATUS', { ...netconf(a.socket), cniVersion: '1.1.0' })).json).toMatchObject({ code: 50 });

    const victim = Number(ok.find((hd) => Number(hd.slice(5, -5)) % 2 === 0)!.slice(5, -5));
    const before = await allocations(prefix);
    const freed = before.find((x) => x.handle === `net/c${victim}/eth0`)!;
    expectSuccess(await ipam(0, 'DEL', netconf(a.socket), `c${victim}`));
    expect(await allocations(prefix)).toEqual(before.filter((x) => x !== freed));
    expectSuccess(await ipam(0, 'DEL', netconf(a.socket), `c${victim}`));
    // the freed address goes to the next ADD on that node
    const again = expectSuccess(await ipam(0, 'ADD', netconf(a.socket), 'late'));
    expect(again.json.ips[0].address.split('/')[0]).toBe(freed.ip);
  });

  it('gives one address per family from dual-stack pools, and the same ones to a retried assignment', async () => {
    const prefix = newPrefix();
    await createPool(prefix, 'v4', ['--cidr', '10.244.12.0/24']);
    await createPool(prefix, 'v6', ['--cidr', 'fd00:244::/48']);
    const a = await agent(0, 'node-a', prefix);
    const first = askAgent(a.socket, { op: 'assign', handle: 'net/ds/eth0' });
    expect(first.ips).toEqual([
      { pool: 'v4', address: '10.244.12.1/26', gateway: '10.244.12.0' },
      { pool: 'v6', address: 'fd00:244::1/122', gateway: 'fd00:244::' },
    ]);
    expect(askAgent(a.socket, { op: 'assign', handle: 'net/ds/eth0' }).ips).toEqual(first.ips);
    expect(askAgent(a.socket, { op: 'assign', handle: 'net/ds/eth1', pools: ['v6'] }).ips).toEqual([
      { pool: 'v6', address: 'fd00:244::2/122', gateway: 'fd00:244::' },
    ]);
    expect(thrown(() => askAgent(a.socket, { op: 'assign', handle: 'net/x/eth0', pools: ['nope'] }))).toMatchObject({ code: 7 });
    expect(thrown(() => askAgent(a.socket, { op: 'assign', handle: 'no-handle' } as any))).toMatchObject({ code: 6, msg: 'bad request: handle: must be "<network>/<containerId>/<ifname>"' });
  });

  it('a write whose answer was lost and that reached etcd twice gives the handle one address, not two', async () => {
    const prefix = newPrefix();
    await createPool(prefix, 'p4', ['--cidr', '10.244.16.0/24']);
    const a = await agent(0, 'node-a', prefix, { resendFirstWrite: true });
    // The first claims the block (create-if-absent); the second is the compare-and-put whose answer is lost.
    expect(askAgent(a.socket, { op: 'assign', handle: 'net/c1/eth0' }).ips[0]!.address).toBe('10.244.16.1/26');
    const second = askAgent(a.socket, { op: 'assign', handle: 'net/c2/eth0' });
    expect(second.ips).toEqual([{ pool: 'p4', address: '10.244.16.2/26', gateway: '10.244.16.0' }]);
    expect((await allocations(prefix)).filter((x) => x.handle === 'net/c2/eth0').map((x) => x.ip)).toEqual(['10.244.16.2']);
  });
});

describe('records written by hand that do not read', () => {
  it('a garbled pool and garbled blocks are skipped and named: addresses come from the good ones, and none of them is written', async () => {
    const prefix = newPrefix();
    await createPool(prefix, 'p4', ['--cidr', '10.244.16.0/24', '--block-size', '28']);
    const garbled = {
      [`${prefix}/ipam/pools/broken`]: '{"cidr":"10.99.0.0/16","blockSize":8}',
      // node-a's first block, its value cut short; a block of another size over the pool's third and fourth
      [`${prefix}/ipam/blocks/p4/10.244.16.0-28`]: '{"node":"node-a","allocations":{"10.244.16.1":',
      [`${prefix}/ipam/blocks/p4/10.244.16.32-27`]: '{"node":"node-b","allocations":{"10.244.16.33":42}}',
    };
    for (const [key, value] of Object.entries(garbled)) await put(key, value);
    const a = await agent(0, 'node-a', prefix);
    expect(askAgent(a.socket, { op: 'pools' }).pools.map((p: { name: string }) => p.name)).toEqual(['p4']);
    // 15 addresses in the first free block (the second), then the one after the garbled /27
    const got = Array.from({ length: 16 }, (_, i) => askAgent(a.socket, { op: 'assign', handle: `net/g${i}/eth0` }).ips[0]!.address);
    expect(got[0]).toBe('10.244.16.17/28');
    expect(got[14]).toBe('10.244.16.31/28');
    expect(got[15]).toBe('10.244.16.65/28');
    expect(askAgent(a.socket, { op: 'release', handle: 'net/g0/eth0' }).released).toEqual(['10.244.16.17']);
    const now = await stored(prefix);
    for (const [key, value] of Object.entries(garbled)) expect(now[key]).toBe(value);

    const list = await tscni(['pool', 'list', '--etcd-prefix', prefix, '--etcd-endpoints', etcd.endpoints[0]!]);
    expect(list.exitCode, list.stderr).toBe(0);
    expect(list.stdout).toMatch(/^NAME .*\np4 +10\.244\.16\.0\/24 +28 +never +false\n$/);
    expect(list.stderr).toBe('tscni: warning: pool broken: blockSize: /8 does not fit the IPv4 pool 10.99.0.0/16: it must be from /16 to /31\n');
  });
});

describe('the cluster-ipam plugin', () => {
  it('ADD, CHECK, GC, STATUS and DEL through the agent; no agent is code 11', async () => {
    const prefix = newPrefix();
    await createPool(prefix, 'p', ['--cidr', '10.244.16.0/24']);
    const a = await agent(0, 'node-a', prefix);
    const run = (command: 'ADD' | 'CHECK' | 'DEL' | 'GC' | 'STATUS', config: Record<string, unknown>, containerId = 'c1') => ipam(0, command, config, containerId);

    const add = expectSuccess(await run('ADD', netconf(a.socket, { routes: [{ dst: '0.0.0.0/0' }] })));
    expect(add.json).toEqual({ cniVersion: '1.0.0', ips: [{ address: '10.244.16.1/26', gateway: '10.244.16.0' }], routes: [{ dst: '0.0.0.0/0' }] });
    expectSuccess(await run('CHECK', { ...netconf(a.socket), prevResult: add.json }));
    expectSuccess(await run('STATUS', { ...netconf(a.socket), cniVersion: '1.1.0' }));
    const wrongPrev = await run('CHECK', { ...netconf(a.socket), prevResult: { ...add.json, ips: [{ address: '10.244.16.9/26' }] } });
    expect(wrongPrev.json.msg).toContain('prevResult address 10.244.16.9/26 is not allocated to container c1');

    expectSuccess(await run('ADD', netconf(a.socket), 'c2'));
    expectSuccess(await run('GC', { ...netconf(a.socket), cniVersion: '1.1.0', 'cni.dev/valid-attachments': [{ containerID: 'c2', ifname: 'eth0' }] }));
    expect(askAgent(a.socket, { op: 'held', handle: 'net/c1/eth0' }).ips).toEqual([]);
    expect(askAgent(a.socket, { op: 'held', handle: 'net/c2/eth0' }).ips).toHaveLength(1);
    expect((await run('CHECK', netconf(a.socket))).json.msg).toContain('no address is allocated to container c1');

    expectSuccess(await run('DEL', netconf(a.socket), 'c2'));
    expectSuccess(await run('DEL', netconf(a.socket), 'c2'));
    expect(Object.values(await stored(`${prefix}/ipam/blocks/`)).map((v) => JSON.parse(v).allocations)).toEqual([{}]);

    const gone = join(await h.tempDir('no-agent'), 'agent.sock');
    // a socket file nobody listens on: what a crashed agent leaves
    const refusing = join(await h.tempDir('dead-agent'), 'agent.sock');
    await h.execIn(cluster.nodes[0]!, 'python3', ['-c', 'import socket,sys; socket.socket(socket.AF_UNIX).bind(sys.argv[1])', refusing]);
    for (const command of ['ADD', 'DEL'] as const) {
      const r = await run(command, netconf(gone));
      expect(r.exitCode).toBe(1);
      expect(r.json).toMatchObject({ code: 11, msg: `no tscni agent answers at ${gone}: the socket does not exist; try again later` });
      const refused = await run(command, netconf(refusing));
      expect(refused.json).toMatchObject({ code: 11, msg: `no tscni agent answers at ${refusing}: nothing listens on it; try again later` });
    }
    const bad = await run('ADD', netconf(a.socket, { pools: ['Bad Name'] }));
    expect(bad.json).toMatchObject({ code: 7 });
    expect(bad.json.msg).toContain('ipam.pools[0]');
  });

  it('under the reference ptp: the pod gets an address and pings the node', async () => {
    const prefix = newPrefix();
    await createPool(prefix, 'p', ['--cidr', '10.244.20.0/24']);
    const a = await agent(0, 'node-a', prefix);
    const node = cluster.nodes[0]!;
    const pod = await h.createPod();
    const config = { cniVersion: '1.0.0', name: 'ptp-net', type: 'ptp', ipam: { type: 'cluster-ipam', agentSocket: a.socket, routes: [{ dst: '0.0.0.0/0' }] } };
    const run = (command: 'ADD' | 'DEL') => h.runCniPlugin({
      node, pluginPath: join(REFERENCE_BIN, 'ptp'), command, containerId: 'ptp-pod', netns: pod, ifname: 'eth0', config, cniPath: [DIST_BIN, REFERENCE_BIN],
    });
    const add = expectSuccess(await run('ADD'), 'ptp ADD');
    expect(add.json.ips).toEqual([expect.objectContaining({ address: '10.244.20.1/26', gateway: '10.244.20.0' })]);
    const addrs = await ipJson(pod, ['-4', 'addr', 'show', 'dev', 'eth0']);
    expect(addrs[0].addr_info.map((x: any) => `${x.local}/${x.prefixlen}`)).toEqual(['10.244.20.1/26']);
    expect((await h.ping(pod, cluster.nodes[0]!.ip, 2)).received).toBe(2);
    expectSuccess(await run('DEL'), 'ptp DEL');
    expect(askAgent(a.socket, { op: 'held', handle: 'ptp-net/ptp-pod/eth0' }).ips).toEqual([]);
  });

  it('under the reference ptp, served by tscni-agent routed itself (under its own --etcd-prefix)', async () => {
    const prefix = newPrefix();
    const lab = new RoutedLab(h, cluster, await h.tempDir('agents'));
    await createPool(prefix, 'real', ['--cidr', '10.244.28.0/24', '--block-size', '26']);
    lab.startAgent(cluster.nodes[1]!, 'node-real', ['--etcd-prefix', prefix]);
    try {
      const socket = lab.socket('node-real');
      await eventually('the agent serves IPAM', async () => askAgent(socket, { op: 'pools' }).ok === true, 20_000);
      const pod = await h.createPod();
      const config = { cniVersion: '1.0.0', name: 'ptp-real', type: 'ptp', ipam: { type: 'cluster-ipam', agentSocket: socket, routes: [{ dst: '0.0.0.0/0' }] } };
      const run = (command: 'ADD' | 'DEL') => h.runCniPlugin({
        node: cluster.nodes[1]!, pluginPath: join(REFERENCE_BIN, 'ptp'), command, containerId: 'ptp-real', netns: pod, ifname: 'eth0', config, cniPath: [DIST_BIN, REFERENCE_BIN],
      });
      const add = expectSuccess(await run('ADD'), 'ptp ADD');
      expect(add.json.ips).toEqual([expect.objectContaining({ address: '10.244.28.1/26', gateway: '10.244.28.0' })]);
      expect((await h.ping(pod, cluster.nodes[1]!.ip, 2)).received).toBe(2);
      expectSuccess(await run('DEL'), 'ptp DEL');
      expect(askAgent(socket, { op: 'held', handle: 'ptp-real/ptp-real/eth0' }).ips).toEqual([]);
      expect(Object.keys(await stored(`${prefix}/nodes/`))).toEqual([`${prefix}/nodes/node-real`]);
      expect(await stored('/tscni/v1/nodes/node-real')).toEqual({});
    } finally {
      await lab.stopAgent('node-real');
      lab.killBirds(['node-real']);
    }
  });
});
