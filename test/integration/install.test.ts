// make install, proven the way a node uses it: the committed tree is copied
// to a temp dir, built and installed there into a DESTDIR, and the copy (with
// its node_modules) is deleted. The installed plugins must then still answer
// VERSION with a runtime's bare environment and run a bridge ADD/DEL with real
// traffic. The README's "Install on a node" commands are run as written, in a
// node netns, with DESTDIR, NETCONFPATH, CNI_PATH and CNI_CACHE_DIR pointing
// into the temp dir and /var/lib and /run/netns replaced by empty tmpfs in
// that command's private mount namespace: nothing reaches the machine's own
// /opt/cni/bin, /etc/cni or /var/lib/cni.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  execIn, expectSuccess, ipJson, REPO_ROOT, run, runCniPlugin, type Netns,
} from './harness';
import { useHarness } from './harness/vitest';

const h = useHarness();
const PLUGINS = readdirSync(join(REPO_ROOT, 'plugins')).filter((p) => existsSync(join(REPO_ROOT, 'plugins', p, 'main.ts'))).sort();
// The programs make install puts in $(PREFIX)/bin: the CLI, and the agent once it is built.
const PROGRAMS = ['tscni', 'tscni-agent'].filter((p) => existsSync(join(REPO_ROOT, p === 'tscni' ? 'cli/main.ts' : 'agent/main.ts')));
const RUNTIME_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

let work: string;
let checkout: string;
let destdir: string;
let node: Netns;
const binDir = () => join(destdir, 'opt/cni/bin');

/** The README section's first sh block, one command per line, without `sudo` and comments. */
function readmeCommands(): string[] {
  const readme = readFileSync(join(REPO_ROOT, 'README.md'), 'utf8');
  const section = readme.split(/^## Install on a node$/m)[1]?.split(/^## /m)[0];
  const block = section?.match(/```sh\n([\s\S]*?)```/)?.[1];
  if (!block) throw new Error('README.md: no sh block under "## Install on a node"');
  return block.split('\n').map((l) => l.replace(/\s+#.*$/, '').replace(/^sudo /, '').trim()).filter(Boolean);
}

beforeAll(async () => {
  work = await h.tempDir('install');
  checkout = join(work, 'checkout');
  destdir = join(work, 'root');
  mkdirSync(checkout);
  // The committed tree, plus what `npm ci` would have made (node_modules, the native addon build).
  execFileSync('sh', ['-c', `git -C "$0" archive HEAD | tar -x -C "$1"`, REPO_ROOT, checkout]);
  await run('cp', ['-a', join(REPO_ROOT, 'node_modules'), join(REPO_ROOT, 'lib/native/build'), checkout], { timeout: 120_000 });
  await run('mv', [join(checkout, 'build'), join(checkout, 'lib/native/build')]);
  // git archive dates files at the commit; node_modules is what `npm ci` made for them.
  await run('touch', [join(checkout, 'node_modules/.package-lock.json')]);
  node = await h.createNode();
}, 180_000);

describe('README "Install on a node", followed literally', () => {
  it('builds, installs into DESTDIR, adds a pod, pings its gateway, checks and deletes it', async () => {
    const commands = readmeCommands();
    expect(commands[0]).toBe('make build');
    const env = {
      PATH: `${join(destdir, 'usr/local/bin')}:${RUNTIME_PATH}`,
      DESTDIR: destdir,
      NETCONFPATH: join(destdir, 'etc/cni/net.d'),
      CNI_PATH: binDir(),
      CNI_CACHE_DIR: join(work, 'cache'),
    };
    // ip netns exec gives the shell its own mount namespace (a slave of the
    // machine's): the tmpfs mounts below are seen by nothing else.
    const script = [
      'set -e',
      'mount -t tmpfs tmpfs /run/netns',
      'mount -t tmpfs tmpfs /var/lib',
      `cd "${checkout}"`,
      ...commands.map((c) => `echo "+ ${c.replaceAll('"', '\\"')}"; ${c}`),
    ].join('\n');
    const r = await execIn(node, 'env', ['-i', ...Object.entries(env).map(([k, v]) => `${k}=${v}`), 'sh', '-c', script], {
      reject: false, timeout: 240_000,
    });
    expect(r.exitCode, `${r.stdout}\n${r.stderr}`).toBe(0);
    expect(r.stdout).toMatch(/"address": "10\.244\.1\.2\/24"/);
    expect(r.stdout).toMatch(/1 packets transmitted, 1 received/);
    expect(readdirSync(join(destdir, 'etc/cni/net.d'))).toEqual(['10-bridge.conflist']);
    expect(readdirSync(join(work, 'cache/results'))).toEqual([]);
    expect(await ipJson(node, ['link', 'show', 'type', 'veth'])).toEqual([]);
  }, 300_000);
});

describe('installed, with the checkout and its node_modules deleted', () => {
  beforeAll(() => {
    rmSync(checkout, { recursive: true, force: true });
  });

  it('the plugin dir holds the plugins and nothing else: one executable, a hard link per plugin', () => {
    expect(readdirSync(binDir()).sort()).toEqual(PLUGINS);
    const files = [...PLUGINS.map((p) => join(binDir(), p)), ...PROGRAMS.map((p) => join(destdir, 'usr/local/bin', p))];
    const inodes = new Set(files.map((f) => statSync(f).ino));
    expect(inodes.size).toBe(1);
    for (const file of files) {
      expect(statSync(file).mode & 0o777).toBe(0o755);
      // an ELF executable itself, not a script for an interpreter on the node
      expect(readFileSync(file).subarray(0, 4)).toEqual(Buffer.from([0x7f, 0x45, 0x4c, 0x46]));
    }
    expect(readdirSync(join(destdir, 'usr/local/bin')).sort()).toEqual(PROGRAMS);
    // no support directory beside the executables, and never a node_modules
    expect(readdirSync(join(destdir, 'usr/local'))).toEqual(['bin']);
    expect(readdirSync(join(destdir, 'opt/cni'))).toEqual(['bin']);
  });

  it('every plugin answers VERSION with only CNI_COMMAND and a short PATH', async () => {
    for (const p of PLUGINS) {
      const r = await run('env', ['-i', 'CNI_COMMAND=VERSION', 'PATH=/usr/bin:/bin', join(binDir(), p)], { reject: false });
      expect(r.exitCode, `${p}: ${r.stdout}${r.stderr}`).toBe(0);
      expect(JSON.parse(r.stdout).supportedVersions).toContain('1.0.0');
      expect(r.stderr).toBe('');
    }
  });

  it('the installed bridge (with host-local, loopback and portmap) gives a pod that pings and is pinged; DEL removes it', async () => {
    const pod = await h.createPod();
    const dataDir = await h.tempDir('ipam');
    const list = { cniVersion: '1.0.0', name: 'inst' };
    const bridge = {
      ...list, type: 'bridge', bridge: 'inst0', isGateway: true, ipMasq: true,
      ipam: { type: 'host-local', dataDir, ranges: [[{ subnet: '10.244.30.0/24' }]], routes: [{ dst: '0.0.0.0/0' }] },
    };
    const base = { node, containerId: 'inst-1', netns: pod, ifname: 'eth0', cniPath: [binDir()] };
    const lo = expectSuccess(await runCniPlugin({ ...base, pluginPath: join(binDir(), 'loopback'), command: 'ADD', ifname: 'lo', config: { ...list, type: 'loopback' } }));
    expect(lo.json.interfaces[0].name).toBe('lo');
    const add = expectSuccess(await runCniPlugin({ ...base, pluginPath: join(binDir(), 'bridge'), command: 'ADD', config: bridge }), 'bridge ADD');
    const portmap = { ...list, type: 'portmap', runtimeConfig: { portMappings: [{ hostPort: 8080, containerPort: 80, protocol: 'tcp' }] }, prevResult: add.json };
    expectSuccess(await runCniPlugin({ ...base, pluginPath: join(binDir(), 'portmap'), command: 'ADD', config: portmap }), 'portmap ADD');
    const podIp = add.json.ips[0].address.split('/')[0];
    expect((await h.ping(pod, '10.244.30.1', 2)).received).toBe(2);
    expect((await h.ping(node, podIp, 2)).received).toBe(2);

    expectSuccess(await runCniPlugin({ ...base, pluginPath: join(binDir(), 'portmap'), command: 'DEL', config: portmap }), 'portmap DEL');
    expectSuccess(await runCniPlugin({ ...base, pluginPath: join(binDir(), 'bridge'), command: 'DEL', config: { ...bridge, prevResult: add.json } }), 'bridge DEL');
    expect(await ipJson(pod, ['link', 'show', 'eth0']).catch(() => [])).toEqual([]);
    expect(await ipJson(node, ['link', 'show', 'type', 'veth'])).toEqual([]);
  });

  it('tscni version lists the installed plugins', async () => {
    const r = await run('env', ['-i', 'PATH=/usr/bin:/bin', `CNI_PATH=${binDir()}`, join(destdir, 'usr/local/bin/tscni'), 'version']);
    for (const p of PLUGINS) expect(r.stdout).toMatch(new RegExp(`^  ${p} +0\\.3\\.0, 0\\.3\\.1, 0\\.4\\.0, 1\\.0\\.0, 1\\.1\\.0 `, 'm'));
  });

  it('make uninstall removes what install put there, and leaves a reference plugin and the conflist alone', async () => {
    // the reference loopback installed over ours, as a package manager would
    await run('cp', ['/usr/lib/cni/loopback', join(binDir(), 'loopback.new')]);
    await run('mv', ['-f', join(binDir(), 'loopback.new'), join(binDir(), 'loopback')]);
    await run('make', ['-s', '-C', REPO_ROOT, 'uninstall', `DESTDIR=${destdir}`]);
    expect(readdirSync(binDir())).toEqual(['loopback']);
    expect(readFileSync(join(binDir(), 'loopback'))).toEqual(readFileSync('/usr/lib/cni/loopback'));
    expect(readdirSync(join(destdir, 'usr/local/bin'))).toEqual([]);
    expect(readdirSync(join(destdir, 'etc/cni/net.d'))).toEqual(['10-bridge.conflist']);
  });
});
