import { build } from 'esbuild';
import { existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync, chmodSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { delegateAdd, delegateCheck, delegateDel, invokePlugin, pluginVersionInfo, registerInProcess } from '../../lib/cni/delegate';
import { CniError } from '../../lib/cni/errors';
import { execPlugin, failureToError, findInPath } from '../../lib/cni/exec';
import type { Env } from '../../lib/cni/skel';
import { fakeIpam } from './cni-fake-ipam';

const REF = '/usr/lib/cni';
const hasReference = existsSync(join(REF, 'host-local'));
let tmp: string;
let binDir: string;

beforeAll(async () => {
  tmp = mkdtempSync(join(tmpdir(), 'tscni-cni-delegate-'));
  binDir = join(tmp, 'bin');
  // The fake IPAM plugin as a real executable, bundled the way plugins are shipped.
  const bundle = join(tmp, 'fake-ipam.cjs');
  await build({ entryPoints: [join(__dirname, 'cni-fake-ipam.ts')], bundle: true, platform: 'node', format: 'cjs', outfile: bundle, logLevel: 'error' });
  const { mkdirSync } = await import('node:fs');
  mkdirSync(binDir);
  writeFileSync(join(binDir, 'fake-ipam'), `#!/bin/sh\nCNI_FAKE_MAIN=1 exec ${JSON.stringify(process.execPath)} ${JSON.stringify(bundle)}\n`);
  chmodSync(join(binDir, 'fake-ipam'), 0o755);
});
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

const baseEnv = (extra: Env = {}): Env => ({
  CNI_CONTAINERID: 'c0ffee-1',
  // host-local never enters the namespace, so a path that does not exist is safe here.
  CNI_NETNS: '/var/run/netns/tscni-unit-does-not-exist',
  CNI_IFNAME: 'eth0',
  CNI_PATH: `${binDir}:${REF}`,
  PATH: process.env.PATH,
  ...extra,
});

describe.skipIf(!hasReference)('delegating to the reference host-local (exec)', () => {
  const conf = (cniVersion: string, dataDir: string) => ({
    cniVersion,
    name: 'pods',
    type: 'bridge',
    ipam: {
      type: 'host-local',
      dataDir,
      ranges: [[{ subnet: '10.244.0.0/24' }], [{ subnet: 'fd00:244::/64' }]],
      routes: [{ dst: '0.0.0.0/0' }, { dst: '::/0' }],
    },
  });

  it('our executable prints VERSION in the same shape as the reference (compact JSON, newline)', async () => {
    const ref = await execPlugin(join(REF, 'host-local'), { CNI_COMMAND: 'VERSION' }, '');
    const ours = await execPlugin(join(binDir, 'fake-ipam'), { CNI_COMMAND: 'VERSION', PATH: process.env.PATH }, '');
    const shape = /^\{"cniVersion":"[0-9.]+","supportedVersions":\["[0-9.",]+"\]\}\n$/;
    expect(ref.stdout).toMatch(shape);
    expect(ours.stdout).toMatch(shape);
    expect(ours.stdout).toBe('{"cniVersion":"1.1.0","supportedVersions":["0.3.0","0.3.1","0.4.0","1.0.0","1.1.0"]}\n');
    expect(ours.exitCode).toBe(0);
  });

  it('VERSION answers as the binary does on its own', async () => {
    const direct = await execPlugin(join(REF, 'host-local'), { CNI_COMMAND: 'VERSION' }, '');
    expect(await pluginVersionInfo('host-local', baseEnv())).toEqual(JSON.parse(direct.stdout));
  });

  for (const v of ['0.3.1', '0.4.0', '1.0.0']) {
    it(`ADD, CHECK, DEL with a ${v} config; the result comes back as 1.1.0`, async () => {
      const dataDir = join(tmp, `hl-${v}`);
      // the IPAM plugin gets the whole config on stdin, as bridge passes it
      const c = conf(v, dataDir);
      const result = await delegateAdd('host-local', c, baseEnv());
      expect(result).toEqual({
        cniVersion: '1.1.0',
        ips: [
          { address: '10.244.0.2/24', gateway: '10.244.0.1' },
          { address: 'fd00:244::2/64', gateway: 'fd00:244::1' },
        ],
        routes: [{ dst: '0.0.0.0/0' }, { dst: '::/0' }],
      });
      if (v === '0.3.1') {
        // CHECK came with 0.4.0: the reference refuses it, as our skel does
        await expect(delegateCheck('host-local', c, baseEnv())).rejects.toMatchObject({ code: 1, msg: 'config version does not allow CHECK' });
      } else {
        await expect(delegateCheck('host-local', c, baseEnv())).resolves.toBeUndefined();
      }
      expect(readdirSync(join(dataDir, 'pods'))).toContain('10.244.0.2');
      await delegateDel('host-local', c, baseEnv());
      expect(readdirSync(join(dataDir, 'pods'))).not.toContain('10.244.0.2');
    });
  }

  it("a 1.1.0 config is refused by the 1.0-only reference plugin: its code 1 error comes back intact", async () => {
    const c = conf('1.1.0', join(tmp, 'hl-11'));
    const direct = await execPlugin(join(REF, 'host-local'), { ...baseEnv(), CNI_COMMAND: 'ADD' }, JSON.stringify(c));
    const expected = JSON.parse(direct.stdout);
    const err = await delegateAdd('host-local', c, baseEnv()).catch((e) => e);
    expect(err).toBeInstanceOf(CniError);
    expect({ code: err.code, msg: err.msg, details: err.details }).toEqual({ code: expected.code, msg: expected.msg, details: expected.details });
    expect(err.code).toBe(1);
  });

  it('a plugin error (bad range) keeps its code, msg and details', async () => {
    const c = { ...conf('1.0.0', join(tmp, 'hl-bad')), ipam: { type: 'host-local', ranges: [[{ subnet: '10.244.0.0/33' }]] } };
    const direct = await execPlugin(join(REF, 'host-local'), { ...baseEnv(), CNI_COMMAND: 'ADD' }, JSON.stringify(c));
    const err = await delegateAdd('host-local', c, baseEnv()).catch((e) => e);
    expect(direct.exitCode).toBe(1);
    expect(err).toMatchObject({ code: JSON.parse(direct.stdout).code, msg: JSON.parse(direct.stdout).msg });
  });
});

describe('finding and running executables', () => {
  it('refuses types that would leave CNI_PATH', () => {
    for (const t of ['../bin/sh', '/bin/sh', '..', 'a\\b']) expect(() => findInPath(t, [REF])).toThrow(/^type: invalid plugin name/);
  });
  it('names the path when the plugin is missing', () => {
    expect(() => findInPath('no-such-plugin', ['/nonexistent', tmp])).toThrow(`type: failed to find plugin "no-such-plugin" in path [/nonexistent ${tmp}]`);
  });
  it('turns output that is not error JSON into a readable error, as libcni', () => {
    expect(failureToError({ stdout: '', stderr: '', exitCode: 2, signal: null }).msg).toBe('netplugin failed with no error message: exit status 2');
    expect(failureToError({ stdout: '', stderr: 'panic: boom\n', exitCode: 2, signal: null }).msg).toBe('netplugin failed: "panic: boom\\n": exit status 2');
    expect(failureToError({ stdout: 'oops', stderr: '', exitCode: 1, signal: null }).msg).toMatch(/^netplugin failed but error parsing its diagnostic message "oops"/);
  });
});

describe('in-process delegation behaves as exec does', () => {
  const conf = (cniVersion: string, extra: Record<string, unknown> = {}) => ({
    cniVersion,
    name: 'pods',
    type: 'fake-ipam',
    ipam: { type: 'fake-ipam', address: '10.244.1.7/24', gateway: '10.244.1.1', ...extra },
  });
  // CNI_PATH points at the temp bin dir, which exists only once beforeAll ran.
  let env: Env;
  beforeAll(() => {
    env = baseEnv({ CNI_ARGS: 'K8S_POD_NAME=web-0' });
  });

  // The same plugin twice: the executable "fake-ipam" from CNI_PATH, and
  // registered in-process under another type, which no executable has.
  beforeAll(() => registerInProcess('fake-ipam-in-process', fakeIpam));
  async function both<T>(fn: (type: string) => Promise<T>): Promise<[T | CniError, T | CniError]> {
    return [await fn('fake-ipam').catch((e: CniError) => e), await fn('fake-ipam-in-process').catch((e: CniError) => e)];
  }

  for (const v of ['0.3.0', '0.4.0', '1.0.0', '1.1.0']) {
    it(`ADD with a ${v} config: same 1.1.0 result either way`, async () => {
      const [exec, inproc] = await both((type) => invokePlugin('ADD', type, conf(v), { ...env, CNI_COMMAND: 'ignored' }));
      expect(inproc).toEqual(exec);
      // the 1.1 route mtu only survives when the config is 1.1.0
      expect(exec).toEqual({
        cniVersion: '1.1.0',
        ips: [{ address: '10.244.1.7/24', gateway: '10.244.1.1' }],
        routes: [{ dst: '0.0.0.0/0', gw: '10.244.1.1', ...(v === '1.1.0' ? { mtu: 1400 } : {}) }],
        dns: { nameservers: ['web-0'] },
      });
    });
  }

  it('errors: the same code, msg and details either way', async () => {
    const [exec, inproc] = await both((type) => invokePlugin('ADD', type, conf('1.0.0', { fail: true }), env));
    expect(exec).toBeInstanceOf(CniError);
    expect(inproc).toEqual(exec);
    expect(exec).toMatchObject({ code: 100, msg: 'no IP addresses available in range set', details: '10.244.1.7/24' });
  });

  it('env checks apply in-process too (CHECK of an unknown container, unknown CNI_ARGS)', async () => {
    const [e1, i1] = await both((type) => invokePlugin('CHECK', type, conf('1.0.0'), { ...env, CNI_CONTAINERID: 'unknown' }));
    expect(i1).toEqual(e1);
    expect(e1).toMatchObject({ code: 3 });
    const [e2, i2] = await both((type) => invokePlugin('DEL', type, conf('1.0.0'), { ...env, CNI_ARGS: 'FOO=1' }));
    expect(i2).toEqual(e2);
    expect(e2).toMatchObject({ code: 4 });
  });

  it('VERSION either way', async () => {
    const [e, i] = await both((type) => pluginVersionInfo(type, env, '1.0.0'));
    expect(i).toEqual(e);
    expect(e).toEqual({ cniVersion: '1.0.0', supportedVersions: ['0.3.0', '0.3.1', '0.4.0', '1.0.0', '1.1.0'] });
  });
});
