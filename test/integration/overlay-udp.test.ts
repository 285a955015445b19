// tscni-agent overlay with the udp backend on three nodes, pods attached by
// the flannel plugin from the agent's subnet file: flanneld's layout (one
// TUN device flannel0 for the whole network, the subnet's network address
// as a /32, MTU underlay - 28, the network routed through it), pod traffic
// across nodes moved in user space as UDP to port 8285 on the fabric.
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { expectSuccess, ipJson, poll, useHarness, type Netns } from './harness';
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

  it('holds its port: no other local user binds it beside the agent, even asking for SO_REUSEADDR', async () => {
    const bind = `const s = require('dgram').createSocket({ type: 'udp4', reuseAddr: true });
      s.on('error', (e) => { console.log(e.code); process.exit(0); });
      s.bind(8285, '${c.nodes[0]!.ip}', () => { console.log('bound'); s.close(); });`;
    const r = await h.execIn(c.nodes[0]!, 'setpriv', ['--reuid=65534', '--regid=65534', '--clear-groups', process.execPath, '-e', bind]);
    expect(r.stdout.trim()).toBe('EADDRINUSE');
  });

  it('delivers a datagram from a node of the network to the pod, and drops and counts one from any other host', async () => {
    // pod1 prints what reaches its UDP port 7777
    const listener = h.startDaemon(pods[0]!, process.execPath, ['-e', `
      const s = require('dgram').createSocket('udp4');
      s.on('message', (m) => console.log(m.toString()));
      s.bind(7777, () => console.log('listening'));
      setTimeout(() => process.exit(0), 30000);`]);
    const got: string[] = [];
    await new Promise<void>((resolve) => listener.stdout!.on('data', (d: Buffer) => {
      for (const line of d.toString().trim().split('\n')) (line === 'listening' ? resolve() : got.push(line));
    }));
    // what a udp node puts on the wire: an IPv4/UDP packet from pod2 to pod1:7777 as the payload, to node1's port
    const sendTo1 = (from: Netns, text: string) => h.execIn(from, process.execPath, ['-e', `
      const data = Buffer.from(${JSON.stringify(text)});
      const p = Buffer.alloc(28 + data.length);
      p.writeUInt8(0x45, 0); p.writeUInt16BE(p.length, 2); p.writeUInt8(64, 8); p.writeUInt8(17, 9);
      ${JSON.stringify(pods[1]!.ip)}.split('.').forEach((b, i) => p.writeUInt8(Number(b), 12 + i));
      ${JSON.stringify(pods[0]!.ip)}.split('.').forEach((b, i) => p.writeUInt8(Number(b), 16 + i));
      let sum = 0;
      for (let i = 0; i < 20; i += 2) sum += p.readUInt16BE(i);
      while (sum > 0xffff) sum = (sum & 0xffff) + (sum >> 16);
      p.writeUInt16BE(~sum & 0xffff, 10);
      p.writeUInt16BE(40000, 20); p.writeUInt16BE(7777, 22); p.writeUInt16BE(8 + data.length, 24);
      data.copy(p, 28);
      const s = require('dgram').createSocket('udp4');
      s.send(p, 8285, ${JSON.stringify(c.nodes[0]!.ip)}, () => s.close());`]);

    const logFrom = agents[0]!.lines.length;
    await sendTo1(c.infra, 'from infra'); // the etcd host: on the underlay, but no node of the network
    await sendTo1(c.nodes[1]!, 'from node2'); // sent after it, on the same path
    await poll('node2\'s datagram in pod1', () => got.includes('from node2') || undefined, 5_000);
    expect(got).toEqual(['from node2']);
    await agents[0]!.waitLog(/udp-dropped why="source is no node of the network" count=1/, 10_000, logFrom);
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
