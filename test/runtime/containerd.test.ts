// containerd runs conf-examples/10-bridge.conflist with our plugins only:
// `ctr run --cni` (Debian's ctr: plugins from /opt/cni/bin, then /usr/lib/cni,
// which the node keeps empty) starts two busybox containers in a virtual node.
// ctr calls ADD with /proc/<pid>/ns/net and, once the container has exited,
// DEL with an empty CNI_NETNS: that DEL must still remove everything, host
// ports included.
import { readFile } from 'node:fs/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createHarness } from '../integration/harness';
import { cniState, expectNoPodState, foreignPlugins, GATEWAY, SUBNET_PREFIX, traceOf } from './cni-state';
import { containerdConfig, startContainerd } from './containerd';
import { BRIDGE_CONFLIST, installTree } from './install';
import { RuntimeNode, type Background } from './node';

const h = createHarness();
/** containerd namespace; runc puts the containers' cgroups under /<it>/<id> */
const NS = `${h.prefix}ctr`;

let node: RuntimeNode;
const running = new Map<string, Background>();
let execCounter = 0;

const ctr = (args: string[], reject = true) => node.exec('ctr', ['-n', NS, ...args], { reject, timeout: 30_000 });
/** `ctr run` names the CNI attachment `<namespace>-<container>` */
const attachmentId = (name: string) => `${NS}-${name}`;

function inContainer(name: string, argv: string[], reject = true) {
  return ctr(['task', 'exec', '--exec-id', `x${++execCounter}`, name, ...argv], reject);
}

async function waitFor<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 20_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** `ctr run` in the foreground, as a user runs it: it calls DEL itself when the container exits. */
async function startContainer(name: string): Promise<string> {
  const run = node.spawn('ctr', ['-n', NS, 'run', '--cni', '--env', 'PATH=/bin', '--rootfs', node.rootfs, name, '/bin/sleep', '600']);
  running.set(name, run);
  await waitFor(`${name} to run`, async () => {
    if (run.child.exitCode !== null) throw new Error(`ctr run ${name} exited: ${run.output()}`);
    const tasks = await ctr(['task', 'ls'], false);
    return new RegExp(`^${name}\\s+\\d+\\s+RUNNING`, 'm').test(tasks.stdout) ? true : undefined;
  });
  const addr = await inContainer(name, ['/bin/ip', '-o', '-4', 'addr', 'show', 'dev', 'eth0']);
  const ip = /inet (\d+\.\d+\.\d+\.\d+)\/24/.exec(addr.stdout)?.[1];
  if (ip === undefined) throw new Error(`${name} has no IPv4 address on eth0: ${addr.stdout}`);
  return ip;
}

describe('containerd (ctr run --cni) with our plugins', () => {
  const ips = new Map<string, string>();

  beforeAll(async () => {
    node = await RuntimeNode.start(h, await installTree(await h.tempDir('install')), [`/${NS}`]);
    await node.writeFile('/etc/cni/net.d/10-bridge.conflist', await readFile(BRIDGE_CONFLIST, 'utf8'));
    await startContainerd(node, containerdConfig({ disabledPlugins: ['io.containerd.grpc.v1.cri'] }));
    expect(await foreignPlugins(node)).toEqual([]);
  });

  afterAll(async () => {
    try {
      for (const name of running.keys()) await ctr(['task', 'kill', '-s', 'KILL', name], false);
      await Promise.all([...running.values()].map((r) => r.exited));
      for (const name of running.keys()) await ctr(['container', 'rm', name], false);
    } finally {
      await node?.stop();
      await h.cleanup();
    }
  });

  it('gives two containers addresses on our bridge, with reservations, cache and masquerade', async () => {
    for (const name of ['c1', 'c2']) ips.set(name, await startContainer(name));
    expect([...ips.values()].every((ip) => ip.startsWith(SUBNET_PREFIX) && ip !== GATEWAY)).toBe(true);
    expect(new Set(ips.values()).size).toBe(2);

    const state = await cniState(node);
    expect(state.bridgePorts).toHaveLength(2);
    for (const [name, ip] of ips) {
      const trace = traceOf(state, attachmentId(name));
      expect(trace.reservations, name).toEqual([ip]);
      expect(trace.cache, name).toHaveLength(1);
      expect(trace.nftElements.length, name).toBeGreaterThan(0);
    }
  });

  it('lets the containers reach each other and the gateway', async () => {
    const [c1, c2] = [ips.get('c1')!, ips.get('c2')!];
    for (const [from, to] of [['c1', c2], ['c2', c1], ['c1', GATEWAY], ['c2', GATEWAY]] as const) {
      const ping = await inContainer(from, ['/bin/ping', '-c', '1', '-W', '2', to], false);
      expect(ping.exitCode, `${from} → ${to}: ${ping.stdout}${ping.stderr}`).toBe(0);
    }

    await ctr(['task', 'exec', '--detach', '--exec-id', 'server', 'c2', '/bin/nc', '-ll', '-p', '7000', '-e', '/bin/echo', 'pong-c2']);
    const reply = await waitFor('a TCP answer from c2', async () => {
      const r = await inContainer('c1', ['/bin/nc', '-w', '2', c2, '7000'], false);
      return r.stdout.includes('pong-c2') ? r.stdout : undefined;
    }, 10_000);
    expect(reply.trim()).toBe('pong-c2');
  });

  it('leaves no veth, reservation, nft element or cache entry once both are stopped and removed', async () => {
    for (const name of ['c1', 'c2']) await ctr(['task', 'kill', '-s', 'KILL', name]);
    for (const [name, run] of running) {
      await run.exited;
      // ctr prints a failed DEL ("plugin type=… failed (delete)") and nothing else.
      expect(run.output(), `ctr run ${name}`).not.toMatch(/failed/);
    }
    await ctr(['container', 'rm', 'c1', 'c2']);
    running.clear();

    await expectNoPodState(node);
  });

  it('removes host-port state as well when DEL comes without a netns', async () => {
    // ctr passes no capabilities, so libcni hands a literal runtimeConfig to portmap unchanged.
    const conflist = JSON.parse(await readFile(BRIDGE_CONFLIST, 'utf8'));
    conflist.plugins[1].runtimeConfig = { portMappings: [{ hostPort: 8081, containerPort: 7000, protocol: 'tcp' }] };
    await node.writeFile('/etc/cni/net.d/10-bridge.conflist', JSON.stringify(conflist));
    await startContainer('c3');
    await ctr(['task', 'exec', '--detach', '--exec-id', 'server', 'c3', '/bin/nc', '-ll', '-p', '7000', '-e', '/bin/echo', 'pong-c3']);
    const reply = await waitFor('an answer through host port 8081', async () => {
      const r = await node.exec('busybox', ['nc', '-w', '2', GATEWAY, '8081'], { reject: false });
      return r.stdout.includes('pong-c3') ? r.stdout : undefined;
    }, 10_000);
    expect(reply.trim()).toBe('pong-c3');
    // masquerade, DNAT and hairpin elements
    expect(traceOf(await cniState(node), attachmentId('c3')).nftElements.length).toBeGreaterThan(2);

    await ctr(['task', 'kill', '-s', 'KILL', 'c3']);
    const run = running.get('c3')!;
    await run.exited;
    expect(run.output(), 'ctr run c3').not.toMatch(/failed/);
    await ctr(['container', 'rm', 'c3']);
    running.delete('c3');

    const state = await cniState(node);
    expect(state.nftElements).toEqual([]);
    expect([...state.reservations.keys()]).toEqual([]);
    expect(state.cache).toEqual([]);
    expect(state.bridgePorts).toEqual([]);
  });
});
