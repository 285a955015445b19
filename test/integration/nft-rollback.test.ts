// ADD's nftables rollback, with the built plugins in a virtual node: a step
// after the nftables step fails, and the elements that step wrote must be
// gone — once where the elements went through nft (the node's first pod)
// and once where they went over nfnetlink (a later pod), while another
// pod's elements stay.
import { chmodSync, existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { DIST_BIN, execIn, expectSuccess, ipJson, REFERENCE_BIN, useHarness, type Netns } from './harness';
import { bridgeConfig, elementOwners, portmapConfig, setupNode, type TestNode } from './portmap-env';

const h = useHarness();
let dir: string;

const logLines = (file: string) => (existsSync(file) ? readFileSync(file, 'utf8').trim().split('\n') : []);

/** Every element of table inet and bridge tscni, as nft lists them, one string each. */
async function tscniElements(node: Netns): Promise<string[]> {
  const out: string[] = [];
  for (const family of ['inet', 'bridge']) {
    const r = await execIn(node, 'nft', ['-j', 'list', 'table', family, 'tscni'], { reject: false });
    if (r.exitCode !== 0) continue;
    for (const o of JSON.parse(r.stdout).nftables as any[]) for (const e of (o.set ?? o.map)?.elem ?? []) out.push(JSON.stringify(e));
  }
  return out;
}

/**
 * A plugin as the runtime starts it, but with /proc/sys read-only in its own
 * mount namespace (ip netns exec gives it one): its first sysctl write on the
 * node fails, after its nftables steps.
 */
function withReadOnlySysctl(plugin: string): string {
  const path = join(dir, `${plugin}-ro-sysctl`);
  writeFileSync(path, `#!/bin/sh\nmount --bind /proc/sys /proc/sys && mount -o remount,bind,ro /proc/sys || exit 99\nexec ${DIST_BIN}/${plugin}\n`);
  chmodSync(path, 0o755);
  return path;
}

beforeAll(async () => {
  dir = await h.tempDir('nft-rollback');
});

describe('bridge ADD failing after its nftables step', () => {
  let node: Netns;
  const log = () => join(dir, 'bridge.log');
  const config = () => ({
    cniVersion: '1.0.0', name: 'rb', type: 'bridge', bridge: 'rb0', isGateway: true, ipMasq: true, macspoofchk: true,
    logLevel: 'debug', logFile: log(),
    ipam: { type: 'host-local', dataDir: join(dir, 'ipam'), ranges: [[{ subnet: '10.244.50.0/24' }]] },
  });
  const add = async (id: string, pluginPath = `${DIST_BIN}/bridge`) =>
    h.runCniPlugin({ node, pluginPath, command: 'ADD', containerId: id, netns: await h.createPod(), ifname: 'eth0', config: config() });

  // ip_forward is written in the gateway step, after the masquerade and the spoof check.
  async function expectRolledBack(id: string, via: 'nft' | 'nfnetlink'): Promise<void> {
    const before = logLines(log()).length;
    const out = await add(id, withReadOnlySysctl('bridge'));
    expect(out.exitCode).toBe(1);
    expect(out.json.msg).toMatch(/ip_forward/);
    const lines = logLines(log()).slice(before).filter((l) => l.includes(`containerID=${id} `));
    expect(lines.filter((l) => l.includes(': nftables ')).map((l) => l.match(/via=(\S+)/)?.[1])).toEqual([via, via]);
    expect(lines.find((l) => l.includes(': rolled back '))).toMatch(/failedStep="gateway addresses" error="[^"]+" undone="MAC spoof check elements, veth veth[0-9a-f]{8}, masquerade elements, IPAM host-local reservation"$/);
    expect((await tscniElements(node)).filter((e) => e.includes(`id=${id}`))).toEqual([]);
    expect(await ipJson(node, ['link', 'show', 'master', 'rb0'])).toHaveLength(via === 'nft' ? 0 : 1);
  }

  beforeAll(async () => {
    node = await h.createNode();
  });

  it('the first pod (nft wrote its elements): error, and none of its elements is left', async () => {
    await expectRolledBack('rb-first', 'nft');
  });

  it('a later pod (elements over nfnetlink): error, none of its elements left, the other pod\'s intact', async () => {
    expectSuccess(await add('rb-keep'));
    const kept = (await tscniElements(node)).filter((e) => e.includes('id=rb-keep'));
    // masq4, spoofchk_ports, spoofchk_allowed
    expect(kept).toHaveLength(3);
    await expectRolledBack('rb-later', 'nfnetlink');
    expect((await tscniElements(node)).filter((e) => e.includes('id=rb-keep'))).toEqual(kept);
  });
});

describe('portmap ADD failing after its nftables step', () => {
  let n: TestNode;
  let portmap: string;
  const log = () => join(dir, 'portmap.log');

  beforeAll(async () => {
    n = await setupNode(h, 51);
    // writing route_localnet, after the nftables step, fails
    portmap = withReadOnlySysctl('portmap');
  });

  async function attachFailing(id: string): Promise<{ exitCode: number; json: any }> {
    const base = { node: n.node, containerId: id, netns: await h.createPod(), ifname: 'eth0' };
    const br = expectSuccess(await h.runCniPlugin({ ...base, pluginPath: `${REFERENCE_BIN}/bridge`, command: 'ADD', config: bridgeConfig(n) }));
    const conf = { ...portmapConfig([{ hostPort: 8080 + Number(id.slice(-1)), containerPort: 80 }], br.json), logLevel: 'debug', logFile: log() };
    return h.runCniPlugin({ ...base, pluginPath: portmap, command: 'ADD', config: conf });
  }

  async function expectRolledBack(id: string, via: 'nft' | 'nfnetlink'): Promise<void> {
    const out = await attachFailing(id);
    expect(out.exitCode).toBe(1);
    expect(out.json.msg).toMatch(/^portmap: unable to enable route_localnet on cni0: /);
    expect(logLines(log()).filter((l) => l.includes(`containerID=${id} `)).find((l) => l.includes(': nftables '))).toMatch(new RegExp(`: nftables via=${via}( |$)`));
    expect((await elementOwners(n)).filter((e) => e.endsWith(`id=${id}`))).toEqual([]);
  }

  it('the first pod (nft wrote its elements): error, and none of its elements is left', async () => {
    await expectRolledBack('pm-1', 'nft');
  });

  it('a later pod (elements over nfnetlink): error, none of its elements left, the other pod\'s intact', async () => {
    const base = { node: n.node, containerId: 'pm-keep', netns: await h.createPod(), ifname: 'eth0' };
    const br = expectSuccess(await h.runCniPlugin({ ...base, pluginPath: `${REFERENCE_BIN}/bridge`, command: 'ADD', config: bridgeConfig(n) }));
    expectSuccess(await h.runCniPlugin({ ...base, plugin: 'portmap', command: 'ADD', config: portmapConfig([{ hostPort: 9090, containerPort: 80 }], br.json) }));
    const kept = (await elementOwners(n)).filter((e) => e.endsWith('id=pm-keep'));
    expect(kept.length).toBeGreaterThan(0);
    await expectRolledBack('pm-2', 'nfnetlink');
    expect((await elementOwners(n)).filter((e) => e.endsWith('id=pm-keep'))).toEqual(kept);
  });
});
