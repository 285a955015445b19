// `tscni add/check/del` against the libcni driver: the same conflist, the
// same container ID (cnitool's, from the netns path), the same result JSON,
// and the same cache file, byte for byte, so that either one can CHECK and
// DEL what the other ADDed. Everything lives in a node netns and temp dirs:
// NETCONFPATH, CNI_PATH and CNI_CACHE_DIR never point at the machine's own.
import { existsSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { cnitoolContainerId } from '../../cli/cnitool/container-id';
import { DIST_BIN, execIn, ipJson, type Netns } from '../integration/harness';
import { useHarness } from '../integration/harness/vitest';
import { ensureDriver, runDriver, type DriverCommand } from './cnidriver';

const h = useHarness();
const RUNTIME_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';
const CNI_ARGS = 'IgnoreUnknown=1;K8S_POD_NAME=web;K8S_POD_NAMESPACE=default';
const CAP_ARGS = { portMappings: [{ hostPort: 8080, containerPort: 80, protocol: 'tcp' }], 'io.kubernetes.cri.pod-annotations': { note: '<a&b>' } };

let node: Netns;
let pod: Netns;
let dir: string;
let confDir: string;

/** tscni as a person runs it on the node: a small environment, settings in env vars. */
async function tscni(command: DriverCommand, network: string, cacheDir: string, extraEnv: Record<string, string> = {}) {
  const env = {
    PATH: RUNTIME_PATH, NETCONFPATH: confDir, CNI_PATH: DIST_BIN, CNI_CACHE_DIR: cacheDir,
    CNI_ARGS, CAP_ARGS: JSON.stringify(CAP_ARGS), ...extraEnv,
  };
  return execIn(node, 'env', ['-i', ...Object.entries(env).map(([k, v]) => `${k}=${v}`), join(DIST_BIN, 'tscni'), command, network, pod.path], {
    reject: false, timeout: 60_000,
  });
}

/** The libcni driver with the same settings tscni reads from its environment. */
function driver(command: DriverCommand, network: string, cacheDir: string) {
  return runDriver({
    node, command, conflist: join(confDir, `${network}.conflist`), cacheDir, netns: pod, ifname: 'eth0',
    containerId: cnitoolContainerId(pod.path), cniPath: [DIST_BIN], capabilityArgs: CAP_ARGS,
    args: Object.fromEntries(CNI_ARGS.split(';').map((kv) => kv.split('=') as [string, string])),
  });
}

const cachePath = (cacheDir: string, network: string) => join(cacheDir, 'results', `${network}-${cnitoolContainerId(pod.path)}-eth0`);

beforeAll(async () => {
  ensureDriver();
  dir = await h.tempDir('cli');
  confDir = join(dir, 'net.d');
  await mkdir(confDir);
  node = await h.createNode();
  pod = await h.createPod();
  await writeFile(join(dir, 'resolv.conf'), 'nameserver 10.96.0.10\nsearch default.svc.cluster.local\noptions ndots:5\n');
  // Deterministic: host-local with a fresh dataDir always returns the same
  // address, and loopback passes the result on, so both tools must agree on
  // every byte. Formatted by hand (trailing newline, odd spacing): the cache
  // keeps the file's bytes, not a re-encoding.
  await writeFile(join(confDir, 'det.conflist'), `{
  "cniVersion": "1.0.0", "name": "det",
  "plugins": [
    { "type": "host-local",
      "ipam": { "type": "host-local", "dataDir": "${dir}/ipam-det", "resolvConf": "${dir}/resolv.conf",
        "ranges": [[{ "subnet": "10.244.7.0/24" }], [{ "subnet": "fd00:244:7::/64" }]],
        "routes": [{ "dst": "0.0.0.0/0" }, { "dst": "10.96.0.0/12", "gw": "10.244.7.1" }] } },
    { "type": "loopback" }
  ]
}
`);
  await writeFile(join(confDir, 'br.conflist'), JSON.stringify({
    cniVersion: '1.0.0', name: 'br',
    plugins: [
      { type: 'bridge', bridge: 'tscni0', isGateway: true, isDefaultGateway: true, ipMasq: true,
        ipam: { type: 'host-local', dataDir: join(dir, 'ipam-br'), ranges: [[{ subnet: '10.244.8.0/24' }]] } },
      { type: 'portmap', capabilities: { portMappings: true } },
    ],
  }));
});

describe('tscni and libcni, deterministic chain', () => {
  it('ADD prints the same result and writes the same cache file, byte for byte', async () => {
    const libcniCache = join(dir, 'cache-libcni');
    const ours = join(dir, 'cache-tscni');
    const add = await driver('add', 'det', libcniCache);
    expect(add.exitCode, add.stdout + add.stderr).toBe(0);
    const libcniFile = readFileSync(cachePath(libcniCache, 'det'), 'utf8');
    const del = await driver('del', 'det', libcniCache);
    expect(del.exitCode, del.stdout).toBe(0);
    expect(existsSync(cachePath(libcniCache, 'det'))).toBe(false);
    rmSync(join(dir, 'ipam-det'), { recursive: true, force: true });

    const r = await tscni('add', 'det', ours);
    expect(r.exitCode, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout)).toEqual(add.json);
    expect(add.json.dns).toEqual({ nameservers: ['10.96.0.10'], search: ['default.svc.cluster.local'], options: ['ndots:5'] });
    expect(readFileSync(cachePath(ours, 'det'), 'utf8')).toBe(libcniFile);
  });

  it('libcni CHECKs and DELs from the cache tscni wrote', async () => {
    const ours = join(dir, 'cache-tscni');
    const check = await driver('check', 'det', ours);
    expect(check.exitCode, check.stdout).toBe(0);
    const del = await driver('del', 'det', ours);
    expect(del.exitCode, del.stdout).toBe(0);
    expect(existsSync(cachePath(ours, 'det'))).toBe(false);
    expect(readdirSync(join(dir, 'ipam-det/det')).filter((f) => /^[\d.:a-f]+$/.test(f))).toEqual([]);
  });
});

describe('tscni and libcni, bridge + portmap on a node', () => {
  const macs = (result: any): string[] => result.interfaces.map((i: any) => i.mac);

  it('give the same result and cache file, but for the MACs the kernel picks', async () => {
    const libcniCache = join(dir, 'cache-br-libcni');
    const ours = join(dir, 'cache-br-tscni');
    const add = await driver('add', 'br', libcniCache);
    expect(add.exitCode, add.stdout + add.stderr).toBe(0);
    const libcniFile = readFileSync(cachePath(libcniCache, 'br'), 'utf8');
    expect((await driver('del', 'br', libcniCache)).exitCode).toBe(0);
    rmSync(join(dir, 'ipam-br'), { recursive: true, force: true });

    const r = await tscni('add', 'br', ours);
    expect(r.exitCode, r.stderr).toBe(0);
    const result = JSON.parse(r.stdout);
    // The one difference allowed: the veth and bridge MACs the kernel chose for each run.
    let sameMacs = r.stdout;
    macs(result).forEach((mac, i) => (sameMacs = sameMacs.replaceAll(mac, macs(add.json)[i]!)));
    expect(JSON.parse(sameMacs)).toEqual(add.json);
    let file = readFileSync(cachePath(ours, 'br'), 'utf8');
    macs(result).forEach((mac, i) => (file = file.replaceAll(mac, macs(add.json)[i]!)));
    expect(file).toBe(libcniFile);
  });

  it('tscni CHECK passes; libcni CHECK and DEL work on tscni\'s attachment', async () => {
    const ours = join(dir, 'cache-br-tscni');
    const check = await tscni('check', 'br', ours);
    expect(check.exitCode, check.stderr).toBe(0);
    expect(check.stdout).toBe('');
    expect((await driver('check', 'br', ours)).exitCode).toBe(0);
    const del = await driver('del', 'br', ours);
    expect(del.exitCode, del.stdout).toBe(0);
    expect(await ipJson(pod, ['link', 'show'])).toHaveLength(1);
    expect(existsSync(cachePath(ours, 'br'))).toBe(false);
  });

  it('tscni CHECKs and DELs what libcni ADDed, from libcni\'s cache', async () => {
    const libcniCache = join(dir, 'cache-br-libcni');
    expect((await driver('add', 'br', libcniCache)).exitCode).toBe(0);
    const check = await tscni('check', 'br', libcniCache);
    expect(check.exitCode, check.stderr).toBe(0);
    const del = await tscni('del', 'br', libcniCache);
    expect(del.exitCode, del.stderr).toBe(0);
    expect(await ipJson(pod, ['link', 'show'])).toHaveLength(1);
    expect(existsSync(cachePath(libcniCache, 'br'))).toBe(false);
    // DEL again: nothing left, still success, as a runtime's retry needs.
    expect((await tscni('del', 'br', libcniCache)).exitCode).toBe(0);
  });

  it('CHECK after DEL fails with the plugin\'s CNI error, as libcni reports it', async () => {
    const cache = join(dir, 'cache-br-libcni');
    const libcni = await driver('check', 'br', cache);
    const ours = await tscni('check', 'br', cache);
    expect(libcni.exitCode).toBe(1);
    expect(ours.exitCode).toBe(1);
    expect(ours.stdout).toBe('');
    expect(ours.stderr).toContain(`CNI error ${libcni.json.code}: `);
    expect(ours.stderr).toContain(libcni.json.msg);
  });

  it('gc deletes every cached attachment of the network, as cnitool gc does', async () => {
    const cache = join(dir, 'cache-gc');
    expect((await tscni('add', 'br', cache)).exitCode).toBe(0);
    expect(existsSync(cachePath(cache, 'br'))).toBe(true);
    const gc = await tscni('gc', 'br', cache);
    expect(gc.exitCode, gc.stderr).toBe(0);
    expect(existsSync(cachePath(cache, 'br'))).toBe(false);
    expect(await ipJson(node, ['link', 'show', 'type', 'veth'])).toEqual([]);
    expect((await tscni('status', 'br', cache)).exitCode).toBe(0);
  });

  it('a config error comes back with the plugin\'s code and message, and a non-zero exit', async () => {
    await writeFile(join(confDir, 'bad.conflist'), JSON.stringify({ cniVersion: '1.0.0', name: 'bad', plugins: [{ type: 'bridge', mtu: -1 }] }));
    const libcni = await driver('add', 'bad', join(dir, 'cache-bad'));
    const ours = await tscni('add', 'bad', join(dir, 'cache-bad'));
    expect(ours.exitCode).toBe(1);
    expect(ours.stdout).toBe('');
    expect(libcni.json.code).toBe(7);
    expect(ours.stderr).toMatch(/^tscni: add bad: CNI error 7: plugin type="bridge" failed \(add\): mtu/);
    expect(ours.stderr).toContain(libcni.json.msg);
  });
});
