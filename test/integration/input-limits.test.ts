// Hostile input sizes: stdin nested 10,000 deep or past the size limit is
// the spec's decode failure (code 6) naming the limit, from every plugin
// and from tscni, and nothing is created in the kernel or on disk.
import { existsSync, readdirSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { MAX_JSON_BYTES, MAX_JSON_DEPTH } from '../../lib/cni/input';
import { DIST_BIN, execIn, ipJson, useHarness, type Netns } from './harness';

const h = useHarness();
let node: Netns;
let dataDir: string;

const DEEP = '['.repeat(10_000) + ']'.repeat(10_000);
const DEPTH_MSG = new RegExp(`^error unmarshall network config: nested deeper than the limit of ${MAX_JSON_DEPTH} levels`);

/** A config each plugin would act on, had it been read. */
function configFor(plugin: string): Record<string, unknown> {
  const ipam = { type: 'host-local', dataDir, ranges: [[{ subnet: '10.244.7.0/24' }]] };
  const base = { cniVersion: '1.0.0', name: 'tscni-limits', type: plugin };
  if (plugin === 'bridge') return { ...base, bridge: 'tscni7', ipMasq: true, ipam };
  if (plugin === 'host-local') return { ...base, ...ipam, type: plugin };
  if (plugin === 'portmap') {
    return { ...base, runtimeConfig: { portMappings: [{ hostPort: 8080, containerPort: 80, protocol: 'tcp' }] },
      prevResult: { cniVersion: '1.0.0', ips: [{ address: '10.244.7.2/24' }] } };
  }
  return base;
}

const plugins = readdirSync(DIST_BIN).filter((n) => n !== 'tscni' && n !== 'tscni-agent').sort();

async function expectNothingCreated(pod: Netns): Promise<void> {
  expect((await ipJson(node, ['link', 'show'])).map((l: any) => l.ifname)).toEqual(['lo']);
  expect((await ipJson(pod, ['link', 'show'])).map((l: any) => l.ifname)).toEqual(['lo']);
  expect((await execIn(node, 'nft', ['list', 'ruleset'])).stdout).not.toMatch(/tscni/);
  expect(existsSync(join(dataDir, 'tscni-limits'))).toBe(false);
}

beforeAll(async () => {
  node = await h.createNode();
  dataDir = await h.tempDir('limits-ipam');
});

describe('every plugin refuses oversized stdin with code 6 naming the limit', () => {
  it.each(plugins)('%s: a value nested 10,000 arrays deep', async (plugin) => {
    const pod = await h.createPod();
    const stdin = `{"deep":${DEEP},${JSON.stringify(configFor(plugin)).slice(1)}`;
    const out = await h.runCniPlugin({ node, plugin, command: 'ADD', containerId: 'deep-1', netns: pod, ifname: 'eth0', config: {}, stdin });
    expect(out.exitCode).not.toBe(0);
    expect(out.json).toMatchObject({ cniVersion: '1.1.0', code: 6, msg: expect.stringMatching(DEPTH_MSG) });
    await expectNothingCreated(pod);
  });

  it.each(plugins)('%s: stdin larger than the size limit', async (plugin) => {
    const pod = await h.createPod();
    const stdin = `{"pad":"${' '.repeat(MAX_JSON_BYTES)}",${JSON.stringify(configFor(plugin)).slice(1)}`;
    const out = await h.runCniPlugin({ node, plugin, command: 'ADD', containerId: 'big-1', netns: pod, ifname: 'eth0', config: {}, stdin });
    expect(out.exitCode).not.toBe(0);
    expect(out.json).toEqual({ cniVersion: '1.1.0', code: 6, msg: `error unmarshall network config: larger than the limit of ${MAX_JSON_BYTES} bytes` });
    await expectNothingCreated(pod);
  });
});

describe('tscni refuses a conflist nested past the depth limit', () => {
  it('add: CNI error 6 naming the limit, nothing created, no cache entry', async () => {
    const dir = await h.tempDir('limits-cli');
    const confDir = join(dir, 'net.d');
    await mkdir(confDir);
    const list = { cniVersion: '1.0.0', name: 'tscni-limits', plugins: [configFor('bridge')] };
    await writeFile(join(confDir, '10-deep.conflist'), `{"deep":${DEEP},${JSON.stringify(list).slice(1)}`);
    const pod = await h.createPod();
    const env = [`NETCONFPATH=${confDir}`, `CNI_PATH=${DIST_BIN}`, `CNI_CACHE_DIR=${join(dir, 'cache')}`];
    const out = await execIn(node, 'env', ['-i', ...env, join(DIST_BIN, 'tscni'), 'add', 'tscni-limits', pod.path], { reject: false });
    expect(out.exitCode).toBe(1);
    expect(out.stderr).toMatch(new RegExp(`^tscni: add tscni-limits: CNI error 6: error parsing configuration list: nested deeper than the limit of ${MAX_JSON_DEPTH} levels`));
    await expectNothingCreated(pod);
    expect(existsSync(join(dir, 'cache'))).toBe(false);
  });
});
