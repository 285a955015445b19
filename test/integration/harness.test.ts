// Self-test of the harness: namespaces, veths, traffic, a runtime-style plugin
// call, and a cleanup that leaves nothing of this run behind.
import { describe, expect, it } from 'vitest';
import { addAddress, addVeth, Harness, listNetns, useHarness } from './harness';

describe('harness', () => {
  const h = useHarness();

  it('joins two pods by a veth and they ping each other', async () => {
    const a = await h.createPod();
    const b = await h.createPod();
    expect(a.name.startsWith(h.prefix)).toBe(true);
    expect(a.path).toBe(`/run/netns/${a.name}`);
    await addVeth(a, 'eth0', b, 'eth0');
    await addAddress(a, 'eth0', '10.244.0.1/24');
    await addAddress(b, 'eth0', '10.244.0.2/24');
    expect((await h.ping(a, '10.244.0.2', 2)).received).toBe(2);
    expect((await h.ping(b, '10.244.0.1', 2)).ok).toBe(true);
    expect((await h.ping(a, '10.244.0.99', 1)).ok).toBe(false);
  });

  it('reaches the external host from the node, and the TCP server reports the peer', async () => {
    const node = await h.createNode();
    const ext = await h.createExternal(node);
    const fwd = await h.execIn(node, 'sysctl', ['-n', 'net.ipv4.ip_forward']);
    expect(fwd.stdout.trim()).toBe('1');
    const server = await h.startTcpServer(ext);
    expect(await h.tcpRequest(node, ext.ip, server.port)).toBe(ext.nodeIp);
    server.stop();
  });

  it('runs a plugin with only PATH and CNI_* in its environment', async () => {
    const node = await h.createNode();
    const pod = await h.createPod();
    // The reference loopback plugin is the smallest real ADD.
    const add = await h.runCniPlugin({
      node, pluginPath: '/usr/lib/cni/loopback', command: 'ADD', containerId: 'c1', netns: pod, ifname: 'lo',
      config: { cniVersion: '1.0.0', name: 'lo', type: 'loopback' },
    });
    expect(add.exitCode, add.stderr).toBe(0);
    expect(add.json.cniVersion).toBe('1.0.0');
    // `env` as the "plugin" prints what a plugin would see.
    const seen = await h.runCniPlugin({
      node, pluginPath: '/usr/bin/env', command: 'VERSION', config: {},
    });
    const names = seen.stdout.trim().split('\n').map((l) => l.split('=')[0]).sort();
    expect(names).toEqual(['CNI_COMMAND', 'CNI_PATH', 'PATH']);
  });

  it('cleanup removes every namespace of its run and only those', async () => {
    const other = new Harness();
    await other.createNode();
    await other.createPod();
    const mine = await h.createPod();
    await other.cleanup();
    const left = await listNetns();
    expect(left.filter((n) => n.startsWith(other.prefix))).toEqual([]);
    expect(left).toContain(mine.name);
    await h.cleanup();
    expect((await listNetns()).filter((n) => n.startsWith(h.prefix))).toEqual([]);
  });
});
