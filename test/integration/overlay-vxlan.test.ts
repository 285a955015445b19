// tscni-agent overlay with the vxlan backend on three nodes: leases in
// flannel's format, the subnet file, flanneld's kernel layout (checked with
// `ip -d`, `ip neigh`, `bridge fdb`), pod traffic across nodes in UDP 8472 on
// the fabric, and restarts that keep the subnet and the VTEP MAC.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ipJson, useHarness, type External, type Netns } from './harness';
import { Agent, attachPod, attachPods, createOverlayCluster, etcdGet, expectPodsConnected, NETWORK, PREFIX, startAgents, stopAgents, type OverlayCluster, type Pod } from './overlay-cluster';

const h = useHarness();
let c: OverlayCluster;
let agents: Agent[];
let env: Record<string, string>[];
let pods: Pod[];
let external: External;
const FOREIGN_TABLE = 'table ip other {\n\tchain post {\n\t\ttype nat hook postrouting priority srcnat; policy accept;\n\t\tip saddr 10.99.0.0/16 return\n\t}\n}\n';

const CONFIG = { Network: NETWORK, Backend: { Type: 'vxlan', VNI: 1, Port: 8472 } };

beforeAll(async () => {
  c = await createOverlayCluster(h, CONFIG);
  external = await h.createExternal(c.nodes[0]!);
  // Someone else's NAT rules on node1: the agent must leave them as they are.
  await h.execIn(c.nodes[0]!, 'nft', ['-f', '-'], { input: FOREIGN_TABLE });
  agents = c.nodes.map((n, i) => new Agent(h, c, n, `node${i + 1}`, ['--ip-masq']));
  env = await startAgents(agents);
  pods = await attachPods(h, c, env);
});

afterAll(() => stopAgents(agents));

const leases = async () => {
  const all = await etcdGet(h, c, `${PREFIX}/subnets/`);
  return Object.fromEntries(Object.entries(all).map(([k, v]) => [k.slice(`${PREFIX}/subnets/`.length), JSON.parse(v)]));
};

/** Routes, neighbours and FDB entries of node `n`'s VTEP, as ip/bridge print them. */
async function vtepState(n: Netns) {
  const routes = (await ipJson(n, ['route', 'show', 'proto', '74'])).map((r: any) => `${r.dst} via ${r.gateway} dev ${r.dev}${r.flags?.includes('onlink') ? ' onlink' : ''}`);
  const neigh = (await ipJson(n, ['neigh', 'show', 'dev', 'flannel.1'])).map((e: any) => `${e.dst} ${e.lladdr} ${e.state.join(',')}`);
  const { stdout } = await h.execIn(n, 'bridge', ['-j', 'fdb', 'show', 'dev', 'flannel.1']);
  const fdbLines = (JSON.parse(stdout) as any[]).map((e) => `${e.mac} dst ${e.dst} ${e.flags?.join(',') ?? ''} ${e.state ?? ''}`.trim());
  return { routes: routes.sort(), neigh: neigh.sort(), fdb: fdbLines.sort() };
}

describe('overlay agent, vxlan backend', () => {
  it('leases one subnet per node in flannel\'s format and writes the subnet file', async () => {
    const l = await leases();
    expect(Object.keys(l)).toHaveLength(3);
    const subnets = env.map((e) => e.FLANNEL_SUBNET);
    expect(new Set(subnets).size).toBe(3);
    for (let i = 0; i < 3; i++) {
      const e = env[i]!;
      expect(e).toEqual({ FLANNEL_NETWORK: NETWORK, FLANNEL_SUBNET: expect.stringMatching(/^10\.244\.\d+\.1\/24$/), FLANNEL_MTU: '1450', FLANNEL_IPMASQ: 'true' });
      const key = e.FLANNEL_SUBNET!.replace('.1/24', '.0-24');
      const mac = (await ipJson(c.nodes[i]!, ['link', 'show', 'flannel.1']))[0].address;
      expect(l[key]).toEqual({ PublicIP: c.nodes[i]!.ip, PublicIPv6: null, BackendType: 'vxlan', BackendData: { VNI: 1, VtepMAC: mac } });
    }
  });

  it('builds flanneld\'s kernel layout: the VTEP, onlink routes with protocol 74, permanent neighbours, FDB', async () => {
    const n = c.nodes[0]!;
    const [link] = await ipJson(n, ['-d', 'link', 'show', 'flannel.1']);
    expect(link.mtu).toBe(1450);
    expect(link.flags).toContain('UP');
    const data = link.linkinfo.info_data;
    expect({ kind: link.linkinfo.info_kind, id: data.id, port: data.port, learning: data.learning, local: data.local, link: data.link })
      .toEqual({ kind: 'vxlan', id: 1, port: 8472, learning: false, local: n.ip, link: 'eth0' });
    expect(link.address).toMatch(/^[0-9a-f][26ae](:[0-9a-f]{2}){5}$/); // locally administered, unicast
    const addrs = (await ipJson(n, ['-4', 'addr', 'show', 'dev', 'flannel.1']))[0].addr_info.map((a: any) => `${a.local}/${a.prefixlen}`);
    expect(addrs).toEqual([env[0]!.FLANNEL_SUBNET!.replace('.1/24', '.0/32')]);

    const peerMacs = await Promise.all([1, 2].map(async (i) => (await ipJson(c.nodes[i]!, ['link', 'show', 'flannel.1']))[0].address));
    const expected = [1, 2].map((i, k) => {
      const net = env[i]!.FLANNEL_SUBNET!.replace('.1/24', '.0');
      return { route: `${net}/24 via ${net} dev flannel.1 onlink`, neigh: `${net} ${peerMacs[k]} PERMANENT`, fdb: `${peerMacs[k]} dst ${c.nodes[i]!.ip} self permanent` };
    });
    const state = await vtepState(n);
    expect(state.routes).toEqual(expected.map((e) => e.route).sort());
    expect(state.neigh).toEqual(expected.map((e) => e.neigh).sort());
    expect(state.fdb).toEqual(expected.map((e) => e.fdb).sort());
  });

  it('pods on different nodes ping each other and hold a TCP connection, with their own source addresses', async () => {
    await expectPodsConnected(h, pods);
  });

  it('masquerades pod traffic to the outside as the node, in its own chain, and leaves other tables alone', async () => {
    const server = await h.startTcpServer(external, { host: external.ip, lifetimeMs: 20_000 });
    expect(await h.tcpRequest(pods[0]!, external.ip, server.port)).toBe(external.nodeIp);
    server.stop();
    const { stdout } = await h.execIn(c.nodes[0]!, 'nft', ['list', 'table', 'ip', 'other']);
    expect(stdout).toBe(FOREIGN_TABLE);
    const chain = (await h.execIn(c.nodes[0]!, 'nft', ['list', 'chain', 'inet', 'tscni', 'overlay_postrouting'])).stdout;
    expect(chain).toMatch(/ip saddr 10\.244\.0\.0\/16 ip daddr 10\.244\.0\.0\/16 return/);
    expect(chain).toMatch(/ip saddr 10\.244\.0\.0\/16 ip daddr != 224\.0\.0\.0\/4 masquerade/);
  });

  // tcpdump decodes port 8472 as OTV, whose header VXLAN's is; "instance" is the VNI.
  it('carries pod traffic in UDP to port 8472 on the fabric', async () => {
    const capture = h.execIn(c.fabric, 'timeout', ['4', 'tcpdump', '-n', '-l', '-i', 'br0', '-c', '2', 'udp dst port 8472'], { reject: false, timeout: 10_000 });
    await new Promise((r) => setTimeout(r, 700));
    await h.ping(pods[1]!, pods[2]!.ip, 2);
    const out = (await capture).stdout;
    expect(out).toMatch(new RegExp(`${c.nodes[1]!.ip.replace(/\./g, '\\.')}\\.\\d+ > ${c.nodes[2]!.ip.replace(/\./g, '\\.')}\\.8472: (OTV|VXLAN).*instance 1`));
  });

  it('takes the same subnet and VTEP MAC again after restarts, with no duplicate kernel entry', async () => {
    const before = await vtepState(c.nodes[1]!);
    const mac = (await ipJson(c.nodes[0]!, ['link', 'show', 'flannel.1']))[0].address;
    for (let round = 0; round < 3; round++) {
      expect(await agents[0]!.stop()).toBe(0);
      expect((await agents[0]!.start().ready()).FLANNEL_SUBNET).toBe(env[0]!.FLANNEL_SUBNET);
      expect((await ipJson(c.nodes[0]!, ['link', 'show', 'flannel.1']))[0].address).toBe(mac);
    }
    expect(Object.keys(await leases())).toHaveLength(3);
    expect(await vtepState(c.nodes[1]!)).toEqual(before);
    expect((await h.ping(pods[1]!, pods[0]!.ip, 2)).ok).toBe(true);
  });
});

describe('overlay agent, vxlan with DirectRouting', () => {
  let d: OverlayCluster;
  let dAgents: Agent[];
  let dEnv: Record<string, string>[];
  let dPods: Pod[];

  beforeAll(async () => {
    // Two nodes on segment 0, one behind the router on segment 1.
    d = await createOverlayCluster(h, { Network: NETWORK, Backend: { Type: 'vxlan', DirectRouting: true } }, { nodesPerSegment: [2, 1] });
    dAgents = d.nodes.map((n, i) => new Agent(h, d, n, `direct${i + 1}`));
    dEnv = await startAgents(dAgents);
    dPods = [];
    for (let i = 0; i < 3; i++) dPods.push(await attachPod(h, d, d.nodes[i]!, dEnv[i]!, `dpod${i + 1}`));
  });

  afterAll(() => stopAgents(dAgents));

  it('routes a peer on the same segment via its PublicIP, and one behind the router through the VTEP', async () => {
    const net = (i: number) => dEnv[i]!.FLANNEL_SUBNET!.replace('.1/24', '.0');
    const state = await vtepState(d.nodes[0]!);
    const mac3 = (await ipJson(d.nodes[2]!, ['link', 'show', 'flannel.1']))[0].address;
    const direct = (await ipJson(d.nodes[0]!, ['route', 'show', 'proto', '74', 'dev', 'eth0'])).map((r: any) => `${r.dst} via ${r.gateway}`);
    expect(direct).toEqual([`${net(1)}/24 via ${d.nodes[1]!.ip}`]);
    expect(state.routes).toEqual([`${net(1)}/24 via ${d.nodes[1]!.ip} dev eth0`, `${net(2)}/24 via ${net(2)} dev flannel.1 onlink`].sort());
    expect(state.neigh).toEqual([`${net(2)} ${mac3} PERMANENT`]);
    expect(state.fdb).toEqual([`${mac3} dst ${d.nodes[2]!.ip} self permanent`]);
  });

  it('pods reach each other both ways, plain on the segment and encapsulated across the router', async () => {
    for (const a of dPods) {
      for (const b of dPods) if (a !== b) expect((await h.ping(a, b.ip, 2)).ok, `${a.ip} -> ${b.ip}`).toBe(true);
    }
    const capture = h.execIn(d.fabric, 'timeout', ['4', 'tcpdump', '-n', '-l', '-i', 'br0', '-c', '1', 'icmp'], { reject: false, timeout: 10_000 });
    await new Promise((r) => setTimeout(r, 700));
    await h.ping(dPods[0]!, dPods[1]!.ip, 1);
    expect((await capture).stdout).toContain(`IP ${dPods[0]!.ip} > ${dPods[1]!.ip}: ICMP echo request`);
  });
});
