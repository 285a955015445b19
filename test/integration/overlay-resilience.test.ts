// tscni-agent overlay (vxlan) when things go wrong or change: bad input, a
// node that runs no tscni (built by hand as flanneld builds one), kernel
// state someone deleted or rewrote, an etcd outage, an agent that stops
// until its lease expires, restarts and a node that joins. One cluster of
// five nodes for the whole file: node1-3 run agents from the start, node4
// stays untouched (the bad-input cases run there) until it joins, node5 is
// the hand-built flanneld-style node. Times are logged, never asserted
// tightly.
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DIST_BIN, INFRA_IP, ip, ipJson, poll, startEtcd, useHarness, type ClusterNode, type External } from './harness';
import {
  Agent, attachPod, attachPods, createOverlayCluster, etcdctl, etcdGet, holdTcp, NETWORK, PREFIX, startAgents, stopAgents, timed, type OverlayCluster, type Pod,
} from './overlay-cluster';

const h = useHarness();
let c: OverlayCluster;
let agents: Agent[];
let env: Record<string, string>[];
let pods: Pod[];
let external: External;

const CONFIG = { Network: NETWORK, Backend: { Type: 'vxlan' } };
const HAND = { subnet: '10.244.200.0/24', net: '10.244.200.0', mac: '0e:00:00:00:c8:05' };
const netOf = (e: Record<string, string>) => e.FLANNEL_SUBNET!.replace('.1/24', '.0');
const pingOk = async (from: Pod, to: Pod) => (await h.ping(from, to.ip, 1)).ok;

beforeAll(async () => {
  c = await createOverlayCluster(h, CONFIG, { nodesPerSegment: [5] });
  external = await h.createExternal(c.nodes[0]!);
  agents = c.nodes.slice(0, 3).map((n, i) => new Agent(h, c, n, `node${i + 1}`, ['--ip-masq', '--subnet-lease-ttl', '3']));
  env = await startAgents(agents);
  pods = await attachPods(h, c, env);
});

afterAll(() => stopAgents(agents));

/** Everything of a node's kernel networking an agent could touch (IPv4: the kernel's own IPv6 DAD changes state by itself). */
async function kernelState(n: ClusterNode): Promise<string> {
  const parts = await Promise.all([
    ip(n, ['-d', 'link', 'show']), ip(n, ['-4', 'addr', 'show']), ip(n, ['-4', 'route', 'show', 'table', 'all']), ip(n, ['neigh', 'show', 'nud', 'permanent']),
    h.execIn(n, 'nft', ['list', 'ruleset']),
  ]);
  return parts.map((p) => p.stdout).join('\n');
}

describe('overlay agent: bad input changes nothing', () => {
  const node4 = () => c.nodes[3]!;
  const run = (args: string[]) => h.execIn(node4(), join(DIST_BIN, 'tscni-agent'), ['overlay', '--iface', 'eth0', '--node-name', 'bad',
    '--subnet-file', join(c.dir, 'bad', 'subnet.env'), '--subnet-lease-ttl', '3', ...args], { reject: false, timeout: 20_000 });

  it.each([
    ['a Network smaller than one subnet', { Network: '10.244.0.0/30', Backend: { Type: 'vxlan' } }, /Network: .*too small/],
    ['a SubnetLen not longer than the Network\'s prefix', { Network: '10.244.0.0/16', SubnetLen: 16, Backend: { Type: 'vxlan' } }, /SubnetLen: \/16 must be at least \/18/],
    ['a SubnetLen longer than 30', { Network: '10.244.0.0/16', SubnetLen: 31, Backend: { Type: 'vxlan' } }, /SubnetLen: \/31 is longer than 30/],
    ['an unknown backend type', { Network: '10.244.0.0/16', Backend: { Type: 'geneve' } }, /Backend.Type: unknown backend type "geneve"/],
    ['a VNI out of range', { Network: '10.244.0.0/16', Backend: { Type: 'vxlan', VNI: 1 << 24 } }, /Backend.VNI: 16777216 is out of range/],
    ['no config at all', undefined, /no network config at \/bad\/none\/config/],
  ])('%s: exit 1 naming it', async (_what, config, message) => {
    const before = await kernelState(node4());
    const prefix = config ? `/bad/${Math.random().toString(16).slice(2, 8)}` : '/bad/none';
    if (config) await etcdctl(h, c, ['put', `${prefix}/config`, JSON.stringify(config)]);
    const r = await run(['--etcd-endpoints', c.etcdUrl, '--etcd-prefix', prefix]);
    expect(r.exitCode, r.stderr).toBe(1);
    expect(r.stderr).toMatch(message);
    expect(await kernelState(node4())).toBe(before);
    expect(await etcdGet(h, c, `${prefix}/subnets/`)).toEqual({});
  });

  it('garbled flags: exit 2 naming the flag; an underlay that is not there: exit 1', async () => {
    for (const [args, message] of [
      [['--subnet-lease-ttl', 'soon'], /--subnet-lease-ttl: "soon" is not a whole number/],
      [['--etcd-endpoints', '10.250.0.2:2379'], /--etcd-endpoints: .*not a URL|--etcd-endpoints: .*http/],
      [['--ipmasq'], /unknown flag --ipmasq/],
    ] as const) {
      const r = await h.execIn(node4(), join(DIST_BIN, 'tscni-agent'), ['overlay', ...args], { reject: false });
      expect(r.exitCode, r.stderr).toBe(2);
      expect(r.stderr).toMatch(message);
    }
    // No --iface and no default route to take the interface from; then an --iface that is not there.
    const before = await kernelState(node4());
    for (const [args, message] of [
      [[], /--iface: not given, and there is no IPv4 default route/],
      [['--iface', 'eth9'], /--iface: there is no interface "eth9"/],
    ] as const) {
      const r = await h.execIn(node4(), join(DIST_BIN, 'tscni-agent'), ['overlay', '--etcd-endpoints', c.etcdUrl, '--subnet-file', join(c.dir, 'bad', 'subnet.env'), ...args], { reject: false });
      expect(r.exitCode, r.stderr).toBe(1);
      expect(r.stderr).toMatch(message);
    }
    expect(await kernelState(node4())).toBe(before);
    const unknown = await h.execIn(node4(), join(DIST_BIN, 'tscni-agent'), ['overlya'], { reject: false });
    expect(unknown.exitCode).toBe(2);
    expect(unknown.stderr).toMatch(/unknown mode "overlya"/);
  });
});

describe('overlay agent: a flanneld-style node built by hand', () => {
  let handPod: Pod;

  it('exchanges pod traffic with the tscni nodes', async () => {
    const hand = c.nodes[4]!;
    // Its lease, as flanneld writes it, bound to an etcd lease of its own.
    const granted = await etcdctl(h, c, ['lease', 'grant', '600']);
    const leaseId = /lease ([0-9a-f]+) granted/.exec(granted)![1]!;
    const value = JSON.stringify({ PublicIP: hand.ip, PublicIPv6: null, BackendType: 'vxlan', BackendData: { VNI: 1, VtepMAC: HAND.mac } });
    await etcdctl(h, c, ['put', `--lease=${leaseId}`, `${PREFIX}/subnets/${HAND.net}-24`, value]);
    // Its VTEP and the entries for every tscni node, as flanneld builds them.
    await ip(hand, ['link', 'add', 'flannel.1', 'type', 'vxlan', 'id', '1', 'local', hand.ip, 'dev', 'eth0', 'dstport', '8472', 'nolearning']);
    await ip(hand, ['link', 'set', 'flannel.1', 'address', HAND.mac, 'mtu', '1450', 'up']);
    await ip(hand, ['addr', 'add', `${HAND.net}/32`, 'dev', 'flannel.1']);
    const leases = await etcdGet(h, c, `${PREFIX}/subnets/`);
    for (const [key, v] of Object.entries(leases)) {
      const lease = JSON.parse(v);
      if (lease.PublicIP === hand.ip) continue;
      const net = key.slice(`${PREFIX}/subnets/`.length).replace('-24', '');
      await h.execIn(hand, 'bridge', ['fdb', 'append', lease.BackendData.VtepMAC, 'dev', 'flannel.1', 'dst', lease.PublicIP, 'self', 'permanent']);
      await ip(hand, ['neigh', 'replace', net, 'lladdr', lease.BackendData.VtepMAC, 'dev', 'flannel.1', 'nud', 'permanent']);
      await ip(hand, ['route', 'add', `${net}/24`, 'via', net, 'dev', 'flannel.1', 'onlink']);
    }
    handPod = await attachPod(h, c, hand, { FLANNEL_SUBNET: `${HAND.net.replace(/0$/, '1')}/24`, FLANNEL_MTU: '1450' }, 'handpod');
    for (const p of pods) {
      await timed(`pod ${p.ip} reaches the hand-built node's pod`, () => pingOk(p, handPod));
      expect(await pingOk(handPod, p)).toBe(true);
    }
    const [route] = await ipJson(c.nodes[0]!, ['route', 'show', `${HAND.subnet}`, 'proto', '74']);
    expect(route).toMatchObject({ dst: HAND.subnet, gateway: HAND.net, dev: 'flannel.1', flags: ['onlink'] });
  });
});

describe('overlay agent: leases no node could have written', () => {
  it('are ignored and named, take no traffic, and the nodes\' own leases stay routed', async () => {
    const mark = agents.map((a) => a.lines.length);
    const value = JSON.stringify({ PublicIP: c.nodes[3]!.ip, PublicIPv6: null, BackendType: 'vxlan', BackendData: { VNI: 1, VtepMAC: '0e:00:00:00:63:01' } });
    // a subnet outside the network, and the whole network: neither is any node's share of it
    const outside = `${PREFIX}/subnets/10.99.0.0-24`;
    const whole = `${PREFIX}/subnets/10.244.0.0-16`;
    try {
      await etcdctl(h, c, ['put', outside, value]);
      await etcdctl(h, c, ['put', whole, value]);
      for (let i = 0; i < 3; i++) {
        await agents[i]!.waitLog(/ignored-record key=\/coreos\.com\/network\/subnets\/10\.99\.0\.0-24 problem="10\.99\.0\.0\/24 is not a subnet of the network 10\.244\.0\.0\/16"/, 10_000, mark[i]);
        await agents[i]!.waitLog(/ignored-record key=\/coreos\.com\/network\/subnets\/10\.244\.0\.0-16 problem="10\.244\.0\.0\/16 is not a subnet/, 10_000, mark[i]);
      }
      // a reconcile runs every second: two of them
      await new Promise((r) => setTimeout(r, 2_500));
      for (const n of c.nodes.slice(0, 3)) {
        const routed = (await ipJson(n, ['route', 'show', 'proto', '74'])).map((r: { dst: string }) => r.dst);
        expect(routed).not.toContain('10.99.0.0/24');
        expect(routed).not.toContain('10.244.0.0/16');
      }
      expect(await pingOk(pods[0]!, pods[1]!)).toBe(true);
    } finally {
      await etcdctl(h, c, ['del', outside]);
      await etcdctl(h, c, ['del', whole]);
    }
  });
});

describe('overlay agent: healing', () => {
  const n1 = () => c.nodes[0]!;
  const peerNet = () => netOf(env[1]!);

  it('puts back a deleted VTEP with its address and entries, and traffic flows again', async () => {
    await ip(n1(), ['link', 'del', 'flannel.1']);
    await timed('flannel.1 deleted -> pod traffic flows again', () => pingOk(pods[0]!, pods[1]!), 5_000);
    const [link] = await ipJson(n1(), ['-d', 'link', 'show', 'flannel.1']);
    expect(link.linkinfo.info_data).toMatchObject({ id: 1, port: 8472, learning: false });
    expect((await ipJson(n1(), ['route', 'show', 'proto', '74'])).length).toBe(3);
  });

  it('puts back a deleted route to a peer', async () => {
    await ip(n1(), ['route', 'del', `${peerNet()}/24`]);
    await timed('route deleted -> back', async () => (await ipJson(n1(), ['route', 'show', `${peerNet()}/24`, 'proto', '74'])).length === 1, 5_000);
    expect(await pingOk(pods[0]!, pods[1]!)).toBe(true);
  });

  it('sets a rewritten VTEP MAC back', async () => {
    const [before] = await ipJson(n1(), ['link', 'show', 'flannel.1']);
    await ip(n1(), ['link', 'set', 'flannel.1', 'address', '0e:11:22:33:44:55']);
    await timed('VTEP MAC changed -> set back', async () => (await ipJson(n1(), ['link', 'show', 'flannel.1']))[0].address === before.address, 5_000);
    await poll('pod traffic after the MAC change', () => pingOk(pods[1]!, pods[0]!), 5_000);
  });

  it('writes a flushed masquerade chain again, and pods reach the external host as the node', async () => {
    await h.execIn(n1(), 'nft', ['flush', 'chain', 'inet', 'tscni', 'overlay_postrouting']);
    await timed('masquerade chain flushed -> back', async () => {
      const { stdout } = await h.execIn(n1(), 'nft', ['list', 'chain', 'inet', 'tscni', 'overlay_postrouting']);
      return (stdout.match(/masquerade/g) ?? []).length === 2;
    }, 5_000);
    const server = await h.startTcpServer(external, { host: external.ip, lifetimeMs: 20_000 });
    expect(await h.tcpRequest(pods[0]!, external.ip, server.port)).toBe(external.nodeIp);
    server.stop();
  });
});

describe('overlay agent: restart', () => {
  it('keeps a pod\'s connection to the external host while its node\'s agent restarts', async () => {
    const held = await holdTcp(h, pods[0]!, external, 3_000, 7002);
    expect(await agents[0]!.stop()).toBe(0);
    expect((await h.execIn(c.nodes[0]!, 'nft', ['list', 'chain', 'inet', 'tscni', 'overlay_postrouting'])).stdout).toMatch(/masquerade/);
    await agents[0]!.start().ready();
    const r = await held.result;
    expect(r.error).toBeUndefined();
    expect(r.peer).toBe(external.nodeIp);
    expect(r.echoed).toBe(r.sent);
  });
});

describe('overlay agent: etcd outage', () => {
  it('keeps pod traffic going while etcd is down for 10 s, and renews the lease when it is back', async () => {
    const leasesBefore = Object.keys(await etcdGet(h, c, `${PREFIX}/subnets/`)).sort();
    const held = await holdTcp(h, pods[0]!, pods[2]!, 13_000);
    // Taken before the stop: a renewal may already fail while etcd shuts down.
    const mark = agents.map((a) => a.lines.length);
    await c.etcd!.stop();
    await new Promise((r) => setTimeout(r, 10_000));
    expect(await pingOk(pods[1]!, pods[0]!)).toBe(true);
    const etcd = await startEtcd(h, c.infra, { ips: [INFRA_IP], dataDir: c.etcd!.dataDir });
    c.etcd = etcd;
    for (let i = 0; i < 3; i++) {
      await agents[i]!.waitLog(/ lease-renewal-failed .*keeping="the kernel state"/, 1_000, mark[i]);
      await agents[i]!.waitLog(/ lease-renewed .*why="etcd reachable again"/, 15_000, mark[i]);
    }
    const r = await held.result;
    expect(r.error).toBeUndefined();
    expect(r.echoed).toBe(r.sent);
    expect(r.peer).toBe(pods[0]!.ip);
    expect(Object.keys(await etcdGet(h, c, `${PREFIX}/subnets/`)).sort()).toEqual(leasesBefore);
  });
});

describe('overlay agent: a node cut off from etcd beyond its lease', () => {
  it('keeps its kernel state, and takes its subnet again when etcd is reachable', async () => {
    const n2 = c.nodes[1]!;
    const key = `${PREFIX}/subnets/${netOf(env[1]!)}-24`;
    const routes = await ipJson(n2, ['route', 'show', 'proto', '74']);
    const mark = agents[1]!.lines.length;
    // Packets to etcd vanish (no refusal): requests hang until their timeout.
    await h.execIn(n2, 'nft', ['-f', '-'], {
      input: `table ip cutoff {\n  chain out {\n    type filter hook output priority 0;\n    ip daddr ${INFRA_IP} tcp dport 2379 drop\n  }\n}\n`,
    });
    try {
      await poll('the cut-off node\'s lease expires', async () => !(key in (await etcdGet(h, c, key))), 10_000);
      expect(await ipJson(n2, ['route', 'show', 'proto', '74'])).toEqual(routes);
    } finally {
      await h.execIn(n2, 'nft', ['delete', 'table', 'ip', 'cutoff']);
    }
    await agents[1]!.waitLog(/ subnet-lease-expired /, 15_000, mark);
    await agents[1]!.waitLog(new RegExp(`subnet-lease-acquired subnet=${netOf(env[1]!).replace(/\./g, '\\.')}/24`), 15_000, mark);
    const mine = Object.values(await etcdGet(h, c, `${PREFIX}/subnets/`)).filter((v) => JSON.parse(v).PublicIP === n2.ip);
    expect(mine).toHaveLength(1);
    await timed('cut-off node reachable again', () => pingOk(pods[0]!, pods[1]!), 5_000);
  });
});

describe('overlay agent: churn', () => {
  it('writes its lease key again when someone deletes it while the lease lives', async () => {
    const key = `${PREFIX}/subnets/${netOf(env[1]!)}-24`;
    const before = (await etcdGet(h, c, key))[key];
    expect(before).toBeDefined();
    await etcdctl(h, c, ['del', key]);
    await timed('deleted lease key -> written again', async () => (await etcdGet(h, c, key))[key] === before, 5_000);
    await agents[1]!.waitLog(/ subnet-lease-key-restored /);
    // The others saw it go and come back: their route to it is there again.
    for (const n of [c.nodes[0]!, c.nodes[2]!]) {
      await poll(`${n.name}: route to the restored lease`, async () => (await ipJson(n, ['route', 'show', `${netOf(env[1]!)}/24`, 'proto', '74'])).length === 1, 5_000);
    }
  });

  it('removes a stopped node\'s entries from the others when its lease expires', async () => {
    const gone = netOf(env[2]!);
    const mac = (await ipJson(c.nodes[2]!, ['link', 'show', 'flannel.1']))[0].address;
    const routes = await ipJson(c.nodes[2]!, ['route', 'show', 'proto', '74']);
    expect(await agents[2]!.stop()).toBe(0);
    // Its routes stay on its own node while it is down (pods keep egress), and its lease lives its TTL.
    expect(await ipJson(c.nodes[2]!, ['route', 'show', 'proto', '74'])).toEqual(routes);
    await poll('the stopped node\'s lease expires', async () => !(`${PREFIX}/subnets/${gone}-24` in (await etcdGet(h, c, `${PREFIX}/subnets/`))), 10_000);
    for (const n of c.nodes.slice(0, 2)) {
      await timed(`${n.name}: entries of the expired lease gone`, async () => {
        const routes = await ipJson(n, ['route', 'show', `${gone}/24`]);
        const neigh = (await ipJson(n, ['neigh', 'show', 'dev', 'flannel.1'])).filter((e: any) => e.dst === gone);
        const fdb = (JSON.parse((await h.execIn(n, 'bridge', ['-j', 'fdb', 'show', 'dev', 'flannel.1'])).stdout) as any[]).filter((e) => e.mac === mac);
        return routes.length === 0 && neigh.length === 0 && fdb.length === 0;
      }, 5_000);
    }
  });

  it('takes the same subnet and MAC when started again after the expiry', async () => {
    const mac = (await ipJson(c.nodes[2]!, ['link', 'show', 'flannel.1']))[0].address;
    const again = await agents[2]!.start().ready();
    expect(again.FLANNEL_SUBNET).toBe(env[2]!.FLANNEL_SUBNET);
    expect((await ipJson(c.nodes[2]!, ['link', 'show', 'flannel.1']))[0].address).toBe(mac);
    await timed('restarted node reachable again', () => pingOk(pods[0]!, pods[2]!), 5_000);
  });

  it('programs a joining node on every node: its pods are reachable from all of them', async () => {
    const joiner = new Agent(h, c, c.nodes[3]!, 'node4', ['--subnet-lease-ttl', '3']);
    agents.push(joiner);
    const e4 = await joiner.start().ready();
    const key = `${PREFIX}/subnets/${netOf(e4)}-24`;
    expect(await etcdGet(h, c, key)).toHaveProperty([key]);
    const pod4 = await attachPod(h, c, c.nodes[3]!, e4, 'pod4');
    for (const p of pods) await timed(`pod ${p.ip} reaches the joined node's pod`, () => pingOk(p, pod4), 5_000);
    expect(await pingOk(pod4, pods[0]!)).toBe(true);
  });
});
