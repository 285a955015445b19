// Proves the libcni driver itself with reference plugins only (bridge with
// host-local and masquerade, then portmap): ADD gives a working pod, CHECK
// passes, DEL undoes it, errors come back with their CNI code.
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { ipJson, useHarness, type External, type Netns } from '../integration/harness';
import { ensureDriver, runDriver, type DriverRun } from './cnidriver';

const h = useHarness();
let node: Netns;
let pod: Netns;
let ext: External;
let base: Omit<DriverRun, 'command'>;
const portMappings = [{ hostPort: 8080, containerPort: 80, protocol: 'tcp' }];

async function writeConflist(dir: string, name: string, plugins: object[]): Promise<string> {
  const path = join(dir, `${name}.conflist`);
  await writeFile(path, JSON.stringify({ cniVersion: '1.0.0', name, plugins }));
  return path;
}

beforeAll(async () => {
  ensureDriver();
  const dir = await h.tempDir('conf');
  node = await h.createNode();
  ext = await h.createExternal(node);
  pod = await h.createPod();
  const conflist = await writeConflist(dir, 'refnet', [
    {
      type: 'bridge', bridge: 'cni0', isGateway: true, ipMasq: true,
      ipam: { type: 'host-local', dataDir: join(dir, 'ipam'), ranges: [[{ subnet: '10.244.1.0/24' }]], routes: [{ dst: '0.0.0.0/0' }] },
    },
    { type: 'portmap', capabilities: { portMappings: true } },
  ]);
  base = { node, conflist, containerId: 'ref-1', netns: pod, ifname: 'eth0', cacheDir: join(dir, 'cache'), capabilityArgs: { portMappings } };
});

describe('libcni driver with reference plugins', () => {
  let podIp: string;

  it('ADD returns the result and builds a pod that reaches out and is reachable by host port', async () => {
    const add = await runDriver({ ...base, command: 'add' });
    expect(add.exitCode, add.stdout + add.stderr).toBe(0);
    expect(add.json.cniVersion).toBe('1.0.0');
    podIp = add.json.ips[0].address.split('/')[0];
    expect(add.json.ips[0].address).toMatch(/^10\.244\.1\.\d+\/24$/);
    const addrs = await ipJson(pod, ['addr', 'show', 'dev', 'eth0']);
    expect(addrs[0].addr_info.map((a: any) => a.local)).toContain(podIp);

    const egress = await h.startTcpServer(ext);
    expect(await h.tcpRequest(pod, ext.ip, egress.port)).toBe(ext.nodeIp);
    await h.startTcpServer(pod, { port: 80 });
    expect(await h.tcpRequest(ext, ext.nodeIp, 8080)).toBe(ext.ip);
  });

  it('CHECK passes on what ADD built', async () => {
    // Reference portmap 1.1.x checks its DNAT rules in ip6tables too, where it
    // never wrote them (containernetworking/plugins#819), so CHECK with port
    // mappings fails there; without them portmap has nothing to check.
    const withPorts = await runDriver({ ...base, command: 'check' });
    if (withPorts.exitCode !== 0) expect(withPorts.json.msg).toMatch(/could not check ipv6 dnat/);
    const check = await runDriver({ ...base, command: 'check', capabilityArgs: {} });
    expect(check.exitCode, check.stdout + check.stderr).toBe(0);
    expect(check.json).toEqual({});
  });

  it('DEL removes the pod interface and is idempotent', async () => {
    const del = await runDriver({ ...base, command: 'del' });
    expect(del.exitCode, del.stdout + del.stderr).toBe(0);
    expect(await ipJson(pod, ['link', 'show'])).toHaveLength(1);
    await expect(h.tcpRequest(ext, ext.nodeIp, 8080, 1500)).rejects.toThrow();
    const again = await runDriver({ ...base, command: 'del' });
    expect(again.exitCode, again.stdout).toBe(0);
  });

  it('CHECK after DEL fails with the plugin\'s error', async () => {
    const check = await runDriver({ ...base, command: 'check' });
    expect(check.exitCode).toBe(1);
    expect(check.json.msg).toMatch(/ref-1/);
  });

  it('reports a plugin error with its CNI code', async () => {
    // The reference plugins (1.1.x) predate GC; their skel wants CNI_CONTAINERID,
    // which a spec 1.1 GC does not carry, and answers code 3.
    const gc = await runDriver({ ...base, command: 'gc', validAttachments: [] });
    expect(gc.exitCode).toBe(1);
    expect(gc.json).toEqual({ code: 3, msg: 'missing containerID' });
    const missing = await runDriver({ ...base, command: 'add', cniPath: ['/nonexistent'] });
    expect(missing.exitCode).toBe(1);
    expect(missing.json.msg).toMatch(/failed to find plugin "bridge"/);
  });
});
