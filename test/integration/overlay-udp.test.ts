// tscni-agent overlay with the udp backend on three nodes, pods attached by
// the flannel plugin from the agent's subnet file: flanneld's layout (one
// TUN device flannel0 for the whole network, the subnet's network address
// as a /32, MTU underlay - 28, the network routed through it), pod traffic
// across nodes moved in user space as UDP to port 8285 on the fabric.
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { expectSuccess, ipJson, poll, useHarness } from './harness';
import { Agent, createOverlayCluster, etcdctl, etcdGet, expectPodsConnected, NETWORK, PREFIX, startAgents, stopAgents, timed, type OverlayCluster, type Pod } from './overlay-cluster';

const h = useHarness();
let c: OverlayCluster;
let agents: Agent[];
let env: Record<string, string>[];
let pods: Pod[];

const CONFIG = { Network: NETWORK, Backend: { Type: 'udp', Port: 8285 } };

/** A pod on agent `a`'s node, attached as kubelet would, through the flannel plugin. */
async function attachWithFlannel(a: Agent, id: string): Promise<Pod> {
  const pod = await h.createPod();
  const config = {
    cniVersion: '1.0.0', name: 'cbr0', type: 'flannel', subnetFile: a.subnetFile, dataDir: join(c.dir, a.name, 'flannel'),
    ipam: { dataDir: join(c.dir, a.name, 'ipam') }, delegate: { hairpinMode: true, isDefaultGateway: true },
  };
  const r = expectSuccess(await h.runCniPlugin({ node: a.node, plugin: 'flannel', command: 'ADD', containerId: id, netns: pod, ifname: 'eth0', config }), `ADD ${id}`);
  return { ...pod, ip: (r.json.ips[0].address as string).split('/')[0]! };
}

beforeAll(async () => {
  c = await createOverlayCluster(h, CONFIG);
  agents = c.nodes.map((n, i) => new Agent(h, c, n, `node${i + 1}`, ['--ip-masq']));
  env = await startAgents(agents);
  pods = [];
  for (let i = 0; i < 3; i++) pods.push(await attachWithFlannel(agents[i]!, `pod${i + 1}`));
});

afterAll(() => stopAgents(agents));

describe('overlay agent, udp backend', () => {
  it('leases in flannel\'s format with BackendType udp, and FLANNEL_MTU is the underlay\'s minus 28', async () => {
    const all = await etcdGet(h, c, `${PREFIX}/subnets/`);
    expect(Object.keys(all)).toHaveLength(3);
    for (let i = 0; i < 3; i++) {
      const key = `${PREFIX}/subnets/${env[i]!.FLANNEL_SUBNET!.replace('.1/24', '.0-24')}`;
      expect(JSON.parse(all[key]!)).toEqual({ PublicIP: c.nodes[i]!.ip, PublicIPv6: null, BackendType: 'udp' });
      expect(env[i]!.FLANNEL_MTU).toBe('1472');
    }
  });

  it('builds flanneld\'s layout: flannel0 (tun) with the subnet\'s network address /32, MTU 1472, the network routed through it', async () => {
    const n = c.nodes[0]!;
    const [link] = await ipJson(n, ['-d', 'addr', 'show', 'dev', 'flannel0']);
    expect(link.linkinfo.info_kind).toBe('tun');
    expect(link.mtu).toBe(1472);
    expect(link.flags).toContain('UP');
    expect(link.addr_info.filter((a: any) => a.family === 'inet').map((a: any) => `${a.local}/${a.prefixlen}`))
      .toEqual([env[0]!.FLANNEL_SUBNET!.replace('.1/24', '.0/32')]);
    const routes = (await ipJson(n, ['route', 'show', 'proto', '74'])).map((r: any) => `${r.dst} dev ${r.dev}`);
    expect(routes).toEqual([`${NETWORK} dev flannel0`]);
  });

  it('pods on different nodes ping each other and hold a TCP connection, with their own source addresses', async () => {
    await expectPodsConnected(h, pods);
  });

  it('carries pod traffic as UDP to port 8285 on the fabric, the pod packet as the payload', async () => {
    const capture = h.execIn(c.fabric, 'timeout', ['4', 'tcpdump', '-n', '-l', '-i', 'br0', '-c', '2', 'udp dst port 8285'], { reject: false, timeout: 10_000 });
    await new Promise((r) => setTimeout(r, 700));
    await h.ping(pods[1]!, pods[2]!.ip, 2);
    const out = (await capture).stdout;
    const ip = (s: string) => s.replace(/\./g, '\\.');
    // an 84-byte ICMP echo (20 IP + 8 ICMP + 56 data) is the datagram's whole payload
    expect(out).toMatch(new RegExp(`IP ${ip(c.nodes[1]!.ip)}\\.8285 > ${ip(c.nodes[2]!.ip)}\\.8285: UDP, length 84`));
  });

  it('puts flannel0 back when it is deleted, and traffic flows again', async () => {
    const n = c.nodes[0]!;
    await h.execIn(n, 'ip', ['link', 'del', 'flannel0']);
    await timed('flannel0 back', async () => (await ipJson(n, ['route', 'show', 'proto', '74'])).some((r: any) => r.dev === 'flannel0'), 5_000);
    await poll('pod1 -> pod2 again', async () => (await h.ping(pods[0]!, pods[1]!.ip, 1)).ok, 5_000);
  });

  it('sends to a node whose lease flanneld\'s udp backend wrote (no BackendType)', async () => {
    // the infra host stands in for the flanneld node: the datagrams to it are what counts
    await etcdctl(h, c, ['put', `${PREFIX}/subnets/10.244.200.0-24`, JSON.stringify({ PublicIP: c.infra.ip, PublicIPv6: null })]);
    try {
      const capture = h.execIn(c.fabric, 'timeout', ['4', 'tcpdump', '-n', '-l', '-i', 'br0', '-c', '1', 'udp dst port 8285 and dst host', c.infra.ip], { reject: false, timeout: 10_000 });
      await new Promise((r) => setTimeout(r, 1_200));
      await h.ping(pods[0]!, '10.244.200.5', 2);
      expect((await capture).stdout).toMatch(new RegExp(`IP ${c.nodes[0]!.ip.replace(/\./g, '\\.')}\\.8285 > ${c.infra.ip.replace(/\./g, '\\.')}\\.8285: UDP, length 84`));
    } finally {
      await etcdctl(h, c, ['del', `${PREFIX}/subnets/10.244.200.0-24`]);
    }
  });
});
