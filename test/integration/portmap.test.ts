// portmap with real packets: pods on the reference bridge with our portmap
// chained, as a runtime runs them, reached from an external host, from the
// node itself and from themselves; then DEL, GC and conflicts checked in the
// node's nft table. portmap-mixed.test.ts chains it with our bridge.
import type { ChildProcess } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { rootNftTables, useHarness } from './harness';
import {
  attach, EXT_V6, elementOwners, NODE_EXTRA, NODE_V6, portmapCall, portmapConfig, setupNode, startUdpEcho, udpAsk,
  type Attached, type TestNode,
} from './portmap-env';

const h = useHarness();
const children: ChildProcess[] = [];
let n: TestNode;
let a: Attached;
let b: Attached;

afterAll(() => {
  for (const c of children) c.kill('SIGKILL');
});

let rootTablesBefore: string[];
beforeAll(async () => {
  rootTablesBefore = await rootNftTables();
  n = await setupNode(h, 1);
  a = await attach(h, n, 'ctr-a', [
    { hostPort: 8080, containerPort: 80, protocol: 'tcp' },
    { hostPort: 5353, containerPort: 53, protocol: 'udp' },
  ]);
  b = await attach(h, n, 'ctr-b', [{ hostPort: 9090, containerPort: 80, protocol: 'tcp', hostIP: NODE_EXTRA }]);
  await h.startTcpServer(a.pod, { port: 80 });
  await h.startTcpServer(b.pod, { port: 80 });
  await startUdpEcho(children, a.pod, 53);
});

describe('portmap chained after the reference bridge', () => {
  it('passes the bridge result through unchanged', () => {
    expect(a.result.ips.map((i: any) => i.address)).toEqual([`${a.v4}/24`, `${a.v6}/64`]);
    expect(a.result.interfaces.map((i: any) => i.name)).toContain('cni0');
  });

  it('DNATs the external host to the pod, which sees the external address', async () => {
    expect(await h.tcpRequest(n.ext, n.ext.nodeIp, 8080)).toBe(n.ext.ip);
    expect(await h.tcpRequest(n.ext, NODE_V6, 8080)).toBe(EXT_V6);
  });

  it('DNATs traffic the node sends to its own addresses and to localhost', async () => {
    expect(await h.tcpRequest(n.node, n.ext.nodeIp, 8080)).toBe(n.ext.nodeIp);
    expect(await h.tcpRequest(n.node, NODE_V6, 8080)).toBe(NODE_V6);
    // 127.0.0.1 cannot leave the node: masqueraded to the bridge address.
    expect(await h.tcpRequest(n.node, '127.0.0.1', 8080)).toBe('10.244.1.1');
  });

  it('hairpins a pod to itself through its host port, masqueraded', async () => {
    expect(await h.tcpRequest(a.pod, n.ext.nodeIp, 8080)).toBe('10.244.1.1');
    expect(await h.tcpRequest(a.pod, NODE_V6, 8080)).toBe('fd00:244:1::1');
  });

  it('maps UDP', async () => {
    expect(await udpAsk(n.ext, n.ext.nodeIp, 5353)).toBe(n.ext.ip);
  });

  it('deletes stale UDP conntrack entries, so a flow that came before the mapping reaches the pod', async () => {
    // One flow (fixed source port) hits the host port while nothing maps it: conntrack records it un-NATed.
    expect(await udpAsk(n.ext, n.ext.nodeIp, 5454, 40123)).toBeUndefined();
    const u = await attach(h, n, 'ctr-udp', [{ hostPort: 5454, containerPort: 53, protocol: 'udp' }]);
    await startUdpEcho(children, u.pod, 53);
    // The same flow again: only if ADD deleted the stale entry does it go through the DNAT.
    expect(await udpAsk(n.ext, n.ext.nodeIp, 5454, 40123)).toBe(n.ext.ip);
    await u.detach();
  });

  it('deletes only stale UDP flows to the node\'s own addresses, not a pod\'s flows elsewhere with that port', async () => {
    const conntrack = async () => (await h.execIn(n.node, 'cat', ['/proc/net/nf_conntrack'])).stdout.split('\n');
    // A pod's flow to a server elsewhere (as its DNS flows go to a resolver), and one to the node, both to port 5656.
    await udpAsk(a.pod, n.ext.ip, 5656, 40200);
    await udpAsk(n.ext, n.ext.nodeIp, 5656, 40201);
    await udpAsk(n.ext, NODE_V6, 5656, 40202);
    const podFlow = (l: string) => l.includes(`src=${a.v4} dst=${n.ext.ip} sport=40200 dport=5656 `);
    const toNode = (l: string) => l.includes(`src=${n.ext.ip} dst=${n.ext.nodeIp} sport=40201 dport=5656 `);
    // /proc prints IPv6 addresses in full; the source port tells this flow apart.
    const toNodeV6 = (l: string) => l.startsWith('ipv6') && l.includes(' sport=40202 dport=5656 ');
    for (const flow of [podFlow, toNode, toNodeV6]) expect((await conntrack()).filter(flow)).toHaveLength(1);
    const u = await attach(h, n, 'ctr-dns', [{ hostPort: 5656, containerPort: 53, protocol: 'udp' }]);
    expect((await conntrack()).filter(podFlow)).toHaveLength(1);
    expect((await conntrack()).filter(toNode)).toEqual([]);
    expect((await conntrack()).filter(toNodeV6)).toEqual([]);
    await u.detach();
  });

  it('restricts a hostIP mapping to that address', async () => {
    expect(await h.tcpRequest(n.ext, NODE_EXTRA, 9090)).toBe(n.ext.ip);
    await expect(h.tcpRequest(n.ext, n.ext.nodeIp, 9090, 1500)).rejects.toThrow();
  });

  it('CHECK passes, and names the mapping once an element is gone', async () => {
    const conf = portmapConfig([{ hostPort: 8080, containerPort: 80, protocol: 'tcp' }], a.result);
    expect((await portmapCall(h, n, 'CHECK', 'ctr-a', conf, a.pod)).exitCode).toBe(0);
    await h.execIn(n.node, 'nft', ['delete', 'element', 'inet', 'tscni', 'pm_port4', '{ tcp . 8080 }']);
    const r = await portmapCall(h, n, 'CHECK', 'ctr-a', conf, a.pod);
    expect(r.json.msg).toBe(`portmap: host port 8080/tcp -> ${a.v4}:80: missing from pm_port4`);
    expect((await portmapCall(h, n, 'ADD', 'ctr-a', conf, a.pod)).exitCode).toBe(0);
    expect((await portmapCall(h, n, 'CHECK', 'ctr-a', conf, a.pod)).exitCode).toBe(0);
  });

  it('refuses a host port another pod holds, naming it, and changes nothing', async () => {
    const before = await elementOwners(n);
    const err = await attach(h, n, 'ctr-c', [{ hostPort: 9090, containerPort: 80, hostIP: NODE_EXTRA }]).catch((e) => e.outcome);
    expect(err.json).toMatchObject({ code: 7, msg: `runtimeConfig.portMappings: host port ${NODE_EXTRA}:9090/tcp is already mapped by net=pmnet if=eth0 id=ctr-b` });
    expect(await elementOwners(n)).toEqual(before);
  });

  it('masquerades another pod reaching a masqAll pod through the node', async () => {
    const c = await attach(h, n, 'ctr-m', [{ hostPort: 7070, containerPort: 80 }], { portmapExtra: { masqAll: true } });
    await h.startTcpServer(c.pod, { port: 80 });
    expect(await h.tcpRequest(b.pod, n.ext.nodeIp, 7070)).toBe('10.244.1.1');
    await c.detach();
  });

  it('DEL removes exactly its own elements and its traffic', async () => {
    expect((await elementOwners(n)).filter((e) => e.endsWith('id=ctr-a')).length).toBe(11);
    await a.detach();
    const left = await elementOwners(n);
    expect(left.filter((e) => e.endsWith('id=ctr-a'))).toEqual([]);
    expect(left).toContain('pm_hostip_addr4 id=ctr-b');
    await expect(h.tcpRequest(n.ext, n.ext.nodeIp, 8080, 1500)).rejects.toThrow();
    expect(await h.tcpRequest(n.ext, NODE_EXTRA, 9090)).toBe(n.ext.ip);
  });

  it('DEL without the mappings (a runtime that lost its cache) removes the attachment\'s elements and frees the host port', async () => {
    const lost = await attach(h, n, 'ctr-lost', [{ hostPort: 8181, containerPort: 80, protocol: 'tcp' }]);
    await h.startTcpServer(lost.pod, { port: 80 });
    expect(await h.tcpRequest(n.ext, n.ext.nodeIp, 8181)).toBe(n.ext.ip);
    for (const conf of [portmapConfig([]), { cniVersion: '1.0.0', name: 'pmnet', type: 'portmap' }]) {
      expect((await portmapCall(h, n, 'DEL', 'ctr-lost', conf, lost.pod)).exitCode).toBe(0);
    }
    expect((await elementOwners(n)).filter((e) => e.endsWith('id=ctr-lost'))).toEqual([]);
    await expect(h.tcpRequest(n.ext, n.ext.nodeIp, 8181, 1500)).rejects.toThrow();
    await lost.detach();
  });

  it('DEL twice, of an unknown container, and without netns or prevResult succeeds', async () => {
    const conf = portmapConfig([{ hostPort: 8080, containerPort: 80 }]);
    for (const id of ['ctr-a', 'ctr-a', 'never-added']) expect((await portmapCall(h, n, 'DEL', id, conf)).exitCode).toBe(0);
    expect((await elementOwners(n)).filter((e) => e.endsWith('id=ctr-b'))).toHaveLength(4);
  });

  it('GC removes the elements of attachments that are no longer valid', async () => {
    const prev = { cniVersion: '1.0.0', interfaces: [{ name: 'eth0', sandbox: '/x' }], ips: [{ address: '10.244.1.200/24', interface: 0 }] };
    expect((await portmapCall(h, n, 'ADD', 'leaked', portmapConfig([{ hostPort: 6060, containerPort: 80 }], prev), b.pod)).exitCode).toBe(0);
    const gc = { ...portmapConfig([]), cniVersion: '1.1.0', 'cni.dev/valid-attachments': [{ containerID: 'ctr-b', ifname: 'eth0' }] };
    expect((await portmapCall(h, n, 'GC', '', gc)).exitCode).toBe(0);
    const owners = new Set((await elementOwners(n)).map((e) => e.split(' ')[1]));
    expect([...owners]).toEqual(['id=ctr-b']);
    await b.detach();
    expect(await elementOwners(n)).toEqual([]);
  });

  it('adds no nft table to the root network namespace', async () => {
    expect((await rootNftTables()).filter((t) => !rootTablesBefore.includes(t))).toEqual([]);
  });
});
