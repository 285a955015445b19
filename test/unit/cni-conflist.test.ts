import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { addConfList, checkConfList, delConfList, gcConfList, parseConfList, pluginConfig, statusConfList, type RuntimeConf } from '../../lib/cni/conflist';
import { registerInProcess } from '../../lib/cni/delegate';
import { CniError } from '../../lib/cni/errors';
import type { CmdArgs, Plugin } from '../../lib/cni/skel';
import type { Result } from '../../lib/cni/types';
import { errorOf } from './cni-fixtures';

const REF = '/usr/lib/cni';
let tmp: string;
beforeAll(() => void (tmp = mkdtempSync(join(tmpdir(), 'tscni-cni-conflist-'))));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));


describe('loading a conflist', () => {
  const base = { name: 'pods', plugins: [{ type: 'bridge' }, { type: 'portmap' }] };
  it('picks the highest version of cniVersion/cniVersions not newer than 1.1.0', () => {
    expect(parseConfList({ ...base, cniVersion: '0.4.0', cniVersions: ['1.0.0', '0.3.1'] }).cniVersion).toBe('1.0.0');
    expect(parseConfList({ ...base, cniVersion: '1.0.0', cniVersions: ['1.1.0', '2.0.0'] }).cniVersion).toBe('1.1.0');
    expect(parseConfList({ ...base, cniVersions: ['0.4.0'] }).cniVersion).toBe('0.4.0');
    expect(parseConfList({ ...base, cniVersion: '1.0.0' }).cniVersion).toBe('1.0.0');
  });
  it('refuses a list without a usable version', () => {
    expect(errorOf(() => parseConfList(base)).msg).toBe('cniVersion: is required (or cniVersions)');
    expect(errorOf(() => parseConfList({ ...base, cniVersion: '0.2.0' })).code).toBe(1);
    expect(errorOf(() => parseConfList({ ...base, cniVersions: ['1.0'] })).msg).toMatch(/^cniVersions: invalid version "1.0"/);
  });
  it('validates name, plugins and types, naming the field', () => {
    expect(errorOf(() => parseConfList({ ...base, cniVersion: '1.0.0', name: 'a b' })).code).toBe(7);
    expect(errorOf(() => parseConfList({ ...base, cniVersion: '1.0.0', plugins: [] })).msg).toBe('plugins: must not be empty');
    expect(errorOf(() => parseConfList({ ...base, cniVersion: '1.0.0', plugins: [{ type: 'bridge' }, { type: '../sh' }] })).msg).toMatch(/^plugins\[1\]\.type: invalid plugin name/);
    expect(errorOf(() => parseConfList('{"name":')).code).toBe(6);
  });
  it('reads disableCheck/disableGC as booleans or "true"/"false" strings', () => {
    const l = parseConfList({ ...base, cniVersion: '1.1.0', disableCheck: 'True', disableGC: false });
    expect([l.disableCheck, l.disableGC]).toEqual([true, false]);
  });
  it('wraps a single plugin config into a list, as libcni does', () => {
    expect(parseConfList({ cniVersion: '1.0.0', name: 'pods', type: 'bridge' }).plugins).toEqual([{ cniVersion: '1.0.0', name: 'pods', type: 'bridge' }]);
  });
});

describe('runtimeConfig injection from capabilities', () => {
  const list = parseConfList({
    cniVersion: '1.0.0',
    name: 'pods',
    plugins: [
      { type: 'bridge', runtimeConfig: { stale: true } },
      { type: 'portmap', capabilities: { portMappings: true, bandwidth: false } },
      { type: 'bandwidth', capabilities: { bandwidth: true, ips: true }, runtimeConfig: { stale: true } },
    ],
  });
  const caps = { portMappings: [{ hostPort: 8080, containerPort: 80, protocol: 'tcp' }], bandwidth: { ingressRate: 1000 }, mac: '0a:58:0a:f4:00:05' };
  it('a plugin without capabilities gets nothing injected (and keeps its own runtimeConfig)', () => {
    expect(pluginConfig(list, 0, undefined, caps)).toEqual({ type: 'bridge', runtimeConfig: { stale: true }, name: 'pods', cniVersion: '1.0.0' });
  });
  it('only capabilities set to true and given by the caller are injected', () => {
    expect(pluginConfig(list, 1, undefined, caps).runtimeConfig).toEqual({ portMappings: caps.portMappings });
  });
  it('an injected runtimeConfig replaces the one in the file', () => {
    expect(pluginConfig(list, 2, undefined, caps).runtimeConfig).toEqual({ bandwidth: caps.bandwidth });
  });
  it('name and cniVersion of the list override the plugin entry; prevResult is in the list version', () => {
    const prev: Result = { cniVersion: '1.1.0', ips: [{ address: '10.244.0.5/24' }], routes: [{ dst: '0.0.0.0/0', mtu: 1400 }] };
    const l04 = parseConfList({ cniVersion: '0.4.0', name: 'pods', plugins: [{ type: 'portmap', name: 'other', cniVersion: '1.1.0' }] });
    expect(pluginConfig(l04, 0, prev)).toEqual({
      type: 'portmap',
      name: 'pods',
      cniVersion: '0.4.0',
      prevResult: { cniVersion: '0.4.0', ips: [{ version: '4', address: '10.244.0.5/24' }], routes: [{ dst: '0.0.0.0/0' }] },
    });
  });
});

describe('running a chain: reference host-local (exec) then an in-process chained plugin', () => {
  const seen: { command: string; a: CmdArgs<Record<string, unknown>> }[] = [];
  const chained: Plugin<Record<string, unknown>> = {
    name: 'tscni-test-chained',
    parseConfig: (raw) => raw,
    async add(a) {
      seen.push({ command: 'ADD', a });
      return { ...a.prevResult!, interfaces: [{ name: a.ifname, sandbox: a.netns }], ips: a.prevResult!.ips!.map((ip) => ({ ...ip, interface: 0 })) };
    },
    del: async (a) => void seen.push({ command: 'DEL', a }),
    check: async (a) => void seen.push({ command: 'CHECK', a }),
    gc: async (a) => void seen.push({ command: 'GC', a }),
    status: async (a) => void seen.push({ command: 'STATUS', a }),
  };
  beforeAll(() => registerInProcess('tscni-test-chained', chained));
  afterEach(() => void (seen.length = 0));

  const list = (cniVersion: string, dataDir: string) =>
    parseConfList({
      cniVersion,
      name: 'pods',
      plugins: [
        { type: 'host-local', ipam: { type: 'host-local', dataDir, ranges: [[{ subnet: '10.244.3.0/24' }]] } },
        { type: 'tscni-test-chained', capabilities: { portMappings: true } },
      ],
    });
  const rt = (): RuntimeConf => ({
    containerId: 'pod-1234',
    netns: '/var/run/netns/tscni-unit-does-not-exist',
    ifname: 'eth0',
    args: [['K8S_POD_NAME', 'web-0'], ['IgnoreUnknown', '1']],
    capabilityArgs: { portMappings: [{ hostPort: 8080, containerPort: 80, protocol: 'tcp' }] },
    cniPath: [REF],
    env: { PATH: process.env.PATH },
  });

  it.skipIf(!existsSync(join(REF, 'host-local')))('ADD passes prevResult along, CHECK and DEL (reverse order) follow', async () => {
    const dataDir = join(tmp, 'chain');
    const l = list('1.0.0', dataDir);
    const result = await addConfList(l, rt());
    expect(result).toEqual({
      cniVersion: '1.1.0',
      interfaces: [{ name: 'eth0', sandbox: '/var/run/netns/tscni-unit-does-not-exist' }],
      ips: [{ interface: 0, address: '10.244.3.2/24', gateway: '10.244.3.1' }],
    });
    const add = seen[0]!.a;
    expect(add.prevResult).toEqual({ cniVersion: '1.1.0', ips: [{ address: '10.244.3.2/24', gateway: '10.244.3.1' }] });
    expect(add.raw.runtimeConfig).toEqual({ portMappings: [{ hostPort: 8080, containerPort: 80, protocol: 'tcp' }] });
    expect(add.args).toEqual({ K8S_POD_NAME: 'web-0', IgnoreUnknown: '1' });

    await checkConfList(l, rt(), result);
    expect(seen[1]!.command).toBe('CHECK');
    expect(seen[1]!.a.prevResult).toEqual(result);

    await delConfList(l, rt(), result);
    expect(seen[2]!.command).toBe('DEL'); // the chained plugin first, then host-local
    expect(readdirSync(join(dataDir, 'pods'))).not.toContain('10.244.3.2');
  });

  it('a failing plugin stops ADD with its code, naming the plugin', async () => {
    const l = parseConfList({ cniVersion: '1.0.0', name: 'pods', plugins: [{ type: 'host-local', ipam: { type: 'host-local', ranges: [[{ subnet: '10.244.3.0/33' }]] } }] });
    const err = await addConfList(l, rt()).catch((e) => e);
    expect(err).toBeInstanceOf(CniError);
    expect(err.msg).toMatch(/^plugin type="host-local" failed \(add\): /);
    expect(seen).toHaveLength(0);
  });

  it('refuses a bad container ID or ifname before running anything', async () => {
    await expect(addConfList(list('1.0.0', tmp), { ...rt(), containerId: '-x' })).rejects.toMatchObject({ code: 4 });
    await expect(addConfList(list('1.0.0', tmp), { ...rt(), ifname: 'a'.repeat(16) })).rejects.toMatchObject({ code: 4 });
  });

  it('CHECK is refused below 0.4.0 and skipped with disableCheck', async () => {
    await expect(checkConfList(list('0.3.1', tmp), rt())).rejects.toMatchObject({ code: 1 });
    await checkConfList({ ...list('1.0.0', tmp), disableCheck: true }, rt());
    expect(seen).toHaveLength(0);
  });

  it('GC (1.1.0) hands every plugin the valid attachments; STATUS asks every plugin', async () => {
    const only = parseConfList({ cniVersion: '1.1.0', name: 'pods', plugins: [{ type: 'tscni-test-chained' }] });
    const valid = [{ containerID: 'pod-1234', ifname: 'eth0' }];
    await gcConfList(only, valid, { cniPath: [REF] });
    await statusConfList(only, { cniPath: [REF] });
    expect(seen.map((s) => s.command)).toEqual(['GC', 'STATUS']);
    expect((seen[0]!.a as any).validAttachments).toEqual(valid);
    // below 1.1.0 both are no-ops, as in libcni
    await gcConfList({ ...only, cniVersion: '1.0.0' }, valid, { cniPath: [REF] });
    await statusConfList({ ...only, cniVersion: '1.0.0' }, { cniPath: [REF] });
    expect(seen).toHaveLength(2);
  });
});
