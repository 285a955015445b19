// The installed executables need nothing else on a node. `make install` puts
// them into a DESTDIR; the plugin files alone are copied from there into an
// empty directory, and every plugin call below runs from that copy with a
// runtime's bare environment, in its own mount namespace where every `node`
// on the machine is covered by an empty, non-executable file: VERSION, and a
// loopback + bridge + portmap ADD, CHECK and DEL that carry real packets.
import { existsSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  cniEnv, execIn, expectSuccess, ipJson, REPO_ROOT, run, type CniCommand, type CniOutcome, type External, type Netns,
} from './harness';
import { useHarness } from './harness/vitest';

const h = useHarness();
// every plugins/<name>/main.ts is an executable make install puts in place
const PLUGINS = readdirSync(join(REPO_ROOT, 'plugins')).filter((p) => existsSync(join(REPO_ROOT, 'plugins', p, 'main.ts'))).sort();
const RUNTIME_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

let bin: string;
let noNode: string;
let node: Netns;

// Covers every `node` (and `nodejs`) in the runtime's PATH, the target of a
// symlink included, then proves none runs. `ip netns exec` has given the
// shell a mount namespace of its own: the machine's files stay as they are.
const HIDE_NODE = `set -e
for d in $(echo "${RUNTIME_PATH}" | tr : ' '); do
  for n in node nodejs; do
    [ -e "$d/$n" ] && mount --bind "$NO_NODE" "$(readlink -f "$d/$n")"
  done
done
for n in node nodejs; do
  if PATH="${RUNTIME_PATH}" command -v $n >/dev/null && PATH="${RUNTIME_PATH}" $n -e 0 2>/dev/null; then
    echo "$n still runs" >&2; exit 99
  fi
done
exec "$@"`;

/** One plugin call as a runtime makes it, from the copied directory, where no node runs. */
async function callWithoutNode(plugin: string, command: CniCommand, config: object, pod?: Netns, ifname = 'eth0'): Promise<CniOutcome> {
  const exe = join(bin, plugin);
  const env = cniEnv({ node, command, config: {}, containerId: pod && 'exe-1', netns: pod, ifname: pod && ifname, cniPath: [bin] }, exe);
  const assignments = Object.entries(env).map(([k, v]) => `${k}=${v}`);
  const r = await execIn(node, 'env', [`NO_NODE=${noNode}`, 'sh', '-c', HIDE_NODE, 'sh', 'env', '-i', ...assignments, exe], {
    input: JSON.stringify(config), timeout: 30_000, reject: false,
  });
  let json: any;
  try {
    json = r.stdout.trim() === '' ? undefined : JSON.parse(r.stdout);
  } catch {
    json = undefined;
  }
  return { ...r, json };
}

beforeAll(async () => {
  const work = await h.tempDir('exe');
  const destdir = join(work, 'root');
  await run('make', ['-s', '-C', REPO_ROOT, 'install', `DESTDIR=${destdir}`], { timeout: 120_000 });
  bin = join(work, 'bin');
  await run('mkdir', [bin]);
  // the installed files alone, hard links kept
  await run('sh', ['-c', 'cp -a "$0"/. "$1"/', join(destdir, 'opt/cni/bin'), bin]);
  noNode = join(work, 'no-node');
  await run('sh', ['-c', ': > "$0" && chmod 0 "$0"', noNode]);
  node = await h.createNode();
}, 180_000);

describe('installed executables, copied alone where no node runs', () => {
  it('are the plugins, one file and hard links to it', () => {
    expect(readdirSync(bin).sort()).toEqual(PLUGINS);
    expect(new Set(PLUGINS.map((p) => statSync(join(bin, p)).ino)).size).toBe(1);
  });

  it.each(PLUGINS)('%s answers VERSION under env -i', async (plugin) => {
    const r = await callWithoutNode(plugin, 'VERSION', { cniVersion: '1.0.0' });
    expect(r.exitCode, r.stderr).toBe(0);
    expect(r.json).toMatchObject({ cniVersion: '1.0.0', supportedVersions: expect.arrayContaining(['0.3.1', '1.0.0', '1.1.0']) });
  });

  it('read neither .env nor bunfig.toml from the directory they are started in', async () => {
    const cwd = await h.tempDir('cwd');
    const marker = join(cwd, 'preloaded');
    writeFileSync(join(cwd, '.env'), 'CNI_COMMAND=VERSION\n');
    writeFileSync(join(cwd, 'bunfig.toml'), 'preload = ["./preload.js"]\n');
    writeFileSync(join(cwd, 'preload.js'), `require("fs").writeFileSync(${JSON.stringify(marker)}, "ran")\n`);
    const r = await execIn(node, 'sh', ['-c', 'cd "$0" && exec env -i "$1"', cwd, join(bin, 'bridge')], { input: '{"cniVersion":"1.0.0"}' });
    // without CNI_COMMAND a plugin prints its "about" text, as the reference plugins do
    expect(`${r.stdout}${r.stderr}`).toMatch(/^CNI plugin bridge/);
    expect(r.stdout).not.toContain('supportedVersions');
    expect(existsSync(marker)).toBe(false);
  });

  it('a hidden node really does not run there', async () => {
    const r = await execIn(node, 'env', [`NO_NODE=${noNode}`, 'sh', '-c', HIDE_NODE, 'sh', 'node', '-e', '0'], { reject: false });
    expect(r.exitCode).not.toBe(0);
  });

  it('bridge + portmap ADD, CHECK and DEL with real packets', async () => {
    const pod = await h.createPod();
    const ext: External = await h.createExternal(node);
    const dataDir = await h.tempDir('ipam');
    const list = { cniVersion: '1.0.0', name: 'exe' };
    const bridge = {
      ...list, type: 'bridge', bridge: 'exe0', isGateway: true, ipMasq: true,
      ipam: { type: 'host-local', dataDir, ranges: [[{ subnet: '10.244.31.0/24' }]], routes: [{ dst: '0.0.0.0/0' }] },
    };
    const portMappings = [{ hostPort: 8080, containerPort: 80, protocol: 'tcp' }];
    expectSuccess(await callWithoutNode('loopback', 'ADD', { ...list, type: 'loopback' }, pod, 'lo'), 'loopback ADD');
    const add = expectSuccess(await callWithoutNode('bridge', 'ADD', bridge, pod), 'bridge ADD');
    const portmap = { ...list, type: 'portmap', runtimeConfig: { portMappings }, prevResult: add.json };
    const pm = expectSuccess(await callWithoutNode('portmap', 'ADD', portmap, pod), 'portmap ADD');
    const podIp = add.json.ips[0].address.split('/')[0];

    expect((await h.ping(pod, '10.244.31.1', 2)).received).toBe(2);
    const server = await h.startTcpServer(pod, { port: 80 });
    try {
      // through the host port (DNAT), and out to the external host (masquerade)
      expect(await h.tcpRequest(ext, ext.nodeIp, 8080)).toBe(ext.ip);
      const outside = await h.startTcpServer(ext, { port: 9000 });
      try {
        expect(await h.tcpRequest(pod, ext.ip, 9000)).toBe(ext.nodeIp);
      } finally {
        outside.stop();
      }
    } finally {
      server.stop();
    }

    expectSuccess(await callWithoutNode('bridge', 'CHECK', { ...bridge, prevResult: add.json }, pod), 'bridge CHECK');
    expectSuccess(await callWithoutNode('portmap', 'CHECK', { ...portmap, prevResult: pm.json }, pod), 'portmap CHECK');
    expectSuccess(await callWithoutNode('portmap', 'DEL', { ...portmap, prevResult: pm.json }, pod), 'portmap DEL');
    expectSuccess(await callWithoutNode('bridge', 'DEL', { ...bridge, prevResult: add.json }, pod), 'bridge DEL');
    expectSuccess(await callWithoutNode('loopback', 'DEL', { ...list, type: 'loopback' }, pod, 'lo'), 'loopback DEL');
    const veths = await ipJson(node, ['link', 'show', 'type', 'veth']);
    expect(veths.map((l) => l.ifname)).toEqual([ext.nodeDev]);
    expect((await h.ping(node, podIp, 1)).received).toBe(0);
    const nft = await execIn(node, 'nft', ['-j', 'list', 'ruleset']);
    expect(nft.stdout).not.toContain(podIp);
  });
});
