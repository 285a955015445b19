// tscni-agent overlay with the host-gw backend: three nodes on one segment
// and a fourth behind the router. Peers on the segment get a plain route via
// their PublicIP (protocol 74); the one behind the router is logged once as
// unreachable for host-gw and gets no route. Pod traffic crosses the fabric
// as plain pod-addressed IP.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ipJson, poll, useHarness, type External } from './harness';
import { Agent, attachPods, createOverlayCluster, holdTcp, NETWORK, startAgents, stopAgents, type OverlayCluster, type Pod } from './overlay-cluster';

const h = useHarness();
let c: OverlayCluster;
let agents: Agent[];
let env: Record<string, string>[];
let pods: Pod[];
let external: External;

const netOf = (e: Record<string, string>) => e.FLANNEL_SUBNET!.replace('.1/24', '.0/24');

beforeAll(async () => {
  c = await createOverlayCluster(h, { Network: NETWORK, Backend: { Type: 'host-gw' } }, { nodesPerSegment: [3, 1] });
  external = await h.createExternal(c.nodes[0]!);
  agents = c.nodes.map((n, i) => new Agent(h, c, n, `node${i + 1}`, ['--ip-masq']));
  env = await startAgents(agents);
  pods = await attachPods(h, c, env.slice(0, 3));
});

afterAll(() => stopAgents(agents));

describe('overlay agent, host-gw backend', () => {
  it('routes each peer on the segment via its PublicIP with protocol 74, and nothing else', async () => {
    expect(env[0]).toEqual({ FLANNEL_NETWORK: NETWORK, FLANNEL_SUBNET: expect.stringMatching(/^10\.244\.\d+\.1\/24$/), FLANNEL_MTU: '1500', FLANNEL_IPMASQ: 'true' });
    const routes = (await ipJson(c.nodes[0]!, ['route', 'show', 'proto', '74'])).map((r: any) => `${r.dst} via ${r.gateway} dev ${r.dev}`);
    expect(routes.sort()).toEqual([1, 2].map((i) => `${netOf(env[i]!)} via ${c.nodes[i]!.ip} dev eth0`).sort());
    expect(await ipJson(c.nodes[0]!, ['link', 'show', 'type', 'vxlan'])).toEqual([]);
  });

  it('logs a peer behind the router once as unreachable and gives it no route', async () => {
    const far = netOf(env[3]!);
    await agents[0]!.waitLog(new RegExp(`peer-unreachable backend=host-gw subnet=${far.replace(/\./g, '\\.')}`));
    // Several reconciles later, still one line, and no route to it anywhere on the segment.
    await new Promise((r) => setTimeout(r, 2500));
    expect(agents[0]!.lines.filter((l) => l.includes(' peer-unreachable ') && l.includes(far))).toHaveLength(1);
    for (let i = 0; i < 3; i++) {
      expect((await ipJson(c.nodes[i]!, ['route', 'show', far])).filter((r: any) => r.dst === far)).toEqual([]);
    }
    // The far node, alone on its segment, routes to no one.
    expect(await ipJson(c.nodes[3]!, ['route', 'show', 'proto', '74'])).toEqual([]);
    expect(agents[3]!.lines.filter((l) => l.includes(' peer-unreachable '))).toHaveLength(3);
  });

  it('pods on different nodes ping each other and hold a TCP connection, with their own source addresses', async () => {
    for (const a of pods) {
      for (const b of pods) if (a !== b) expect((await h.ping(a, b.ip, 2)).ok, `${a.ip} -> ${b.ip}`).toBe(true);
    }
    const r = await (await holdTcp(h, pods[1]!, pods[0]!, 1500)).result;
    expect(r.error).toBeUndefined();
    expect(r.peer).toBe(pods[1]!.ip);
    expect(r.echoed).toBe(r.sent);
  });

  it('carries pod traffic on the fabric as plain pod-addressed IP', async () => {
    const capture = h.execIn(c.fabric, 'timeout', ['4', 'tcpdump', '-n', '-l', '-i', 'br0', '-c', '2', 'icmp'], { reject: false, timeout: 10_000 });
    await new Promise((r) => setTimeout(r, 700));
    await h.ping(pods[1]!, pods[2]!.ip, 2);
    const out = (await capture).stdout;
    expect(out).toContain(`IP ${pods[1]!.ip} > ${pods[2]!.ip}: ICMP echo request`);
    expect(out).not.toMatch(/UDP|OTV|VXLAN/);
  });

  it('masquerades pod traffic to the outside as the node', async () => {
    const server = await h.startTcpServer(external, { host: external.ip, lifetimeMs: 20_000 });
    expect(await h.tcpRequest(pods[0]!, external.ip, server.port)).toBe(external.nodeIp);
    server.stop();
  });

  it('leaves a route of another owner to a peer\'s subnet alone, logging the conflict once', async () => {
    const n3 = c.nodes[2]!;
    const dst = netOf(env[0]!);
    const mark = agents[2]!.lines.length;
    // Someone else's route for the same destination, as `ip route replace` by hand would put it.
    await h.execIn(n3, 'ip', ['route', 'replace', dst, 'via', c.nodes[0]!.ip, 'dev', 'eth0', 'proto', 'static']);
    await agents[2]!.waitLog(new RegExp(`route-conflict dst=${dst.replace(/\./g, '\\.')} why="a route of another owner holds this destination"`), 5_000, mark);
    await new Promise((r) => setTimeout(r, 2500));
    expect(agents[2]!.lines.slice(mark).filter((l) => l.includes('another owner'))).toHaveLength(1);
    expect((await ipJson(n3, ['route', 'show', dst])).map((r: any) => r.protocol)).toEqual(['static']);
    // Once it is gone, the agent's own route comes back.
    await h.execIn(n3, 'ip', ['route', 'del', dst, 'proto', 'static']);
    await poll('the agent\'s route back', async () => (await ipJson(n3, ['route', 'show', dst, 'proto', '74'])).length === 1, 5_000);
  });
});
