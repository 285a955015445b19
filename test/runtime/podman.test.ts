// podman (Debian's 4.3, CNI network backend) runs conf-examples/10-bridge.conflist
// with our plugins only: two busybox containers in a virtual node, the first
// publishing a host port through our portmap. podman validates a conflist by
// asking every plugin for VERSION and, when that fails, quietly falls back to
// its own default network, so the test checks that our bridge is the one used.
import { readFile } from 'node:fs/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createHarness, type External } from '../integration/harness';
import { cniState, expectNoPodState, foreignPlugins, GATEWAY, NETWORK, SUBNET_PREFIX, traceOf } from './cni-state';
import { BRIDGE_CONFLIST, installTree } from './install';
import { RuntimeNode } from './node';

const h = createHarness();
const CGROUP_PARENT = `/${h.prefix}podman`;
const HOST_PORT = 8080;

// default_ulimits: podman's default NOFILE limit is above this machine's hard limit.
const CONTAINERS_CONF = `[containers]
default_ulimits = []
[network]
network_backend = "cni"
cni_plugin_dirs = ["/opt/cni/bin"]
network_config_dir = "/etc/cni/net.d"
[engine]
cgroup_manager = "cgroupfs"
events_logger = "file"
runtime = "runc"
`;
// vfs: the node's /var/lib is an overlay, where overlay storage cannot stack.
const STORAGE_CONF = `[storage]
driver = "vfs"
graphroot = "/var/lib/containers/storage"
runroot = "/run/containers/storage"
`;

let node: RuntimeNode;
let ext: External;

const podman = (args: string[], reject = true) => node.exec('podman', args, { reject, timeout: 60_000 });

async function runContainer(name: string, extra: string[], argv: string[]): Promise<{ id: string; ip: string }> {
  // NET_RAW: busybox ping needs a raw socket (podman's default capabilities leave it out, ctr's keep it).
  const started = await podman(['run', '-d', '--name', name, '--network', NETWORK, '--cgroup-parent', CGROUP_PARENT,
    '--cap-add', 'NET_RAW', ...extra, '--rootfs', node.rootfs, ...argv]);
  const id = started.stdout.trim();
  const networks = JSON.parse((await podman(['inspect', '--format', '{{json .NetworkSettings.Networks}}', name])).stdout);
  return { id, ip: networks[NETWORK]?.IPAddress ?? `(not on ${NETWORK}: ${JSON.stringify(networks)})` };
}

/** busybox nc from `where`; the server in p1 answers every connection with one line. */
async function tcpAnswer(where: (argv: string[]) => Promise<{ stdout: string }>, host: string): Promise<string> {
  return (await where(['nc', '-w', '2', host, String(HOST_PORT)])).stdout.trim();
}

describe('podman (CNI backend) with our plugins', () => {
  const c = new Map<string, { id: string; ip: string }>();

  beforeAll(async () => {
    node = await RuntimeNode.start(h, await installTree(await h.tempDir('install')), [CGROUP_PARENT]);
    ext = await h.createExternal(node.netns);
    await node.writeFile('/etc/containers/containers.conf', CONTAINERS_CONF);
    await node.writeFile('/etc/containers/storage.conf', STORAGE_CONF);
    await node.writeFile('/etc/cni/net.d/10-bridge.conflist', await readFile(BRIDGE_CONFLIST, 'utf8'));
    expect(await foreignPlugins(node)).toEqual([]);
  });

  afterAll(async () => {
    try {
      if (node !== undefined) await podman(['rm', '--force', '--time', '0', '--all'], false);
    } finally {
      await node?.stop();
      await h.cleanup();
    }
  });

  it('accepts the conflist (every plugin answered VERSION) and uses our bridge, not its default network', async () => {
    const names = (await podman(['network', 'ls', '--format', '{{.Name}}'])).stdout.split('\n');
    expect(names).toContain(NETWORK);

    c.set('p1', await runContainer('p1', ['--publish', `${HOST_PORT}:${HOST_PORT}`],
      ['/bin/nc', '-ll', '-p', String(HOST_PORT), '-e', '/bin/echo', 'hello-from-p1']));
    c.set('p2', await runContainer('p2', [], ['/bin/sleep', '600']));
    for (const { ip } of c.values()) expect(ip.startsWith(SUBNET_PREFIX) && ip !== GATEWAY, ip).toBe(true);

    const state = await cniState(node);
    expect(state.bridgePorts).toHaveLength(2);
    expect((await node.exec('ip', ['-o', 'link', 'show', 'cni-podman0'], { reject: false })).exitCode).not.toBe(0);
    for (const [name, { id, ip }] of c) {
      const trace = traceOf(state, id);
      expect(trace.reservations, name).toEqual([ip]);
      expect(trace.cache, name).toHaveLength(1);
    }
    // p1 has a host port: its DNAT elements join the masquerade one.
    expect(traceOf(state, c.get('p1')!.id).nftElements.length).toBeGreaterThan(traceOf(state, c.get('p2')!.id).nftElements.length);
  });

  it('lets the containers reach each other and the gateway', async () => {
    const inP = (name: string) => (argv: string[]) => podman(['exec', name, ...argv], false);
    for (const [from, to] of [['p1', c.get('p2')!.ip], ['p2', c.get('p1')!.ip], ['p1', GATEWAY], ['p2', GATEWAY]] as const) {
      const ping = await inP(from)(['/bin/ping', '-c', '1', '-W', '2', to]);
      expect(ping.stdout, `${from} → ${to}: ${ping.stdout}${ping.stderr}`).toContain('1 packets received');
    }
    expect(await tcpAnswer(inP('p2'), c.get('p1')!.ip)).toBe('hello-from-p1');
  });

  it('reaches p1 through the host port from the node, from p2 and from outside', async () => {
    const fromNode = (argv: string[]) => node.exec('busybox', argv, { reject: false });
    const fromP2 = (argv: string[]) => podman(['exec', 'p2', ...argv.map((a) => (a === 'nc' ? '/bin/nc' : a))], false);
    const fromExt = (argv: string[]) => h.execIn(ext, 'busybox', argv, { reject: false });
    expect(await tcpAnswer(fromNode, ext.nodeIp)).toBe('hello-from-p1');
    expect(await tcpAnswer(fromNode, '127.0.0.1')).toBe('hello-from-p1');
    expect(await tcpAnswer(fromNode, GATEWAY)).toBe('hello-from-p1');
    expect(await tcpAnswer(fromP2, ext.nodeIp)).toBe('hello-from-p1');
    expect(await tcpAnswer(fromExt, ext.nodeIp)).toBe('hello-from-p1');
  });

  it('leaves no veth, reservation, nft element or cache entry once both are stopped and removed', async () => {
    await podman(['stop', '--time', '0', 'p1', 'p2']);
    await podman(['rm', 'p1', 'p2']);

    await expectNoPodState(node);
  });
});
