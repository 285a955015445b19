import { describe, expect, it } from 'vitest';
import { CniError, ErrorCode } from '../../lib/cni/errors';
import { MAX_JSON_BYTES, MAX_JSON_DEPTH } from '../../lib/cni/input';
import { parseOrThrow } from '../../lib/cni/schemas';
import { dispatch, type CmdArgs, type Env, type GcArgs, type Plugin } from '../../lib/cni/skel';
import * as z from 'zod/mini';
import { result11 } from './cni-fixtures';

const configSchema = z.looseObject({ mtu: z.optional(z.int().check(z.minimum(576))) });
type Conf = z.infer<typeof configSchema>;

/** A plugin that records what it was called with. */
function recorder(overrides: Partial<Plugin<Conf>> = {}) {
  const calls: { command: string; a: CmdArgs<Conf> }[] = [];
  const plugin: Plugin<Conf> = {
    name: 'recorder',
    parseConfig: (raw) => parseOrThrow(configSchema, raw),
    add: async (a) => (calls.push({ command: 'ADD', a }), structuredClone(result11)),
    del: async (a) => void calls.push({ command: 'DEL', a }),
    check: async (a) => void calls.push({ command: 'CHECK', a }),
    gc: async (a) => void calls.push({ command: 'GC', a }),
    status: async (a) => void calls.push({ command: 'STATUS', a }),
    ...overrides,
  };
  return { plugin, calls };
}

const env = (command: string, extra: Env = {}): Env => ({
  CNI_COMMAND: command,
  CNI_CONTAINERID: 'c0ffee-1',
  CNI_NETNS: '/var/run/netns/pod1',
  CNI_IFNAME: 'eth0',
  CNI_PATH: '/opt/cni/bin:/usr/lib/cni',
  ...extra,
});
const conf = (extra: Record<string, unknown> = {}) => JSON.stringify({ cniVersion: '1.0.0', name: 'pods', type: 'recorder', ...extra });

async function run(e: Env, stdin: string, p = recorder().plugin) {
  const out = await dispatch(p, e, stdin);
  return { ...out, json: out.stdout ? JSON.parse(out.stdout) : undefined };
}

describe('VERSION', () => {
  it('answers every supported version, compact with a trailing newline like the reference', async () => {
    const out = await run({ CNI_COMMAND: 'VERSION' }, '');
    expect(out.exitCode).toBe(0);
    expect(out.stdout).toBe('{"cniVersion":"1.1.0","supportedVersions":["0.3.0","0.3.1","0.4.0","1.0.0","1.1.0"]}\n');
  });
  it("echoes the request's cniVersion and needs no other variable", async () => {
    const out = await run({ CNI_COMMAND: 'VERSION' }, '{"cniVersion":"0.4.0"}');
    expect(out.json.cniVersion).toBe('0.4.0');
  });
});

describe('environment variables per command', () => {
  const cases: [string, string[], string[]][] = [
    // command, variables removed, variables the error must list
    ['ADD', ['CNI_CONTAINERID', 'CNI_NETNS', 'CNI_IFNAME', 'CNI_PATH'], ['CNI_CONTAINERID', 'CNI_NETNS', 'CNI_IFNAME', 'CNI_PATH']],
    ['CHECK', ['CNI_NETNS', 'CNI_PATH'], ['CNI_NETNS', 'CNI_PATH']],
    ['DEL', ['CNI_CONTAINERID', 'CNI_NETNS', 'CNI_IFNAME', 'CNI_PATH'], ['CNI_CONTAINERID', 'CNI_IFNAME', 'CNI_PATH']],
    ['GC', ['CNI_CONTAINERID', 'CNI_NETNS', 'CNI_IFNAME', 'CNI_PATH'], ['CNI_PATH']],
    ['STATUS', ['CNI_CONTAINERID', 'CNI_NETNS', 'CNI_IFNAME', 'CNI_PATH'], ['CNI_PATH']],
  ];
  for (const [command, removed, listed] of cases) {
    it(`${command} without ${removed.join(', ')} names ${listed.join(', ')}`, async () => {
      const e = env(command);
      for (const k of removed) delete e[k];
      const out = await run(e, conf({ cniVersion: '1.1.0' }));
      expect(out.exitCode).toBe(1);
      expect(out.json).toEqual({ cniVersion: '1.1.0', code: 4, msg: `required env variables [${listed.join(',')}] missing` });
    });
  }
  it('DEL without CNI_NETNS reaches the plugin with an empty netns', async () => {
    const { plugin, calls } = recorder();
    const e = env('DEL');
    delete e.CNI_NETNS;
    expect((await run(e, conf(), plugin)).exitCode).toBe(0);
    expect(calls[0]!.a.netns).toBe('');
  });
  it('GC and STATUS need only CNI_PATH', async () => {
    for (const command of ['GC', 'STATUS']) {
      const out = await run({ CNI_COMMAND: command, CNI_PATH: '/opt/cni/bin' }, conf({ cniVersion: '1.1.0' }));
      expect(out).toMatchObject({ exitCode: 0, stdout: '' });
    }
  });
  it('an unknown command is code 4 naming CNI_COMMAND', async () => {
    const out = await run(env('UPDATE'), conf());
    expect(out.json).toMatchObject({ code: 4, msg: 'CNI_COMMAND: unknown command "UPDATE"' });
  });
  it('no CNI_COMMAND prints the about text to stderr and exits 0, like the reference', async () => {
    const out = await dispatch(recorder().plugin, {}, '');
    expect(out).toEqual({ stdout: '', exitCode: 0, stderr: 'CNI plugin recorder\nCNI protocol versions supported: 0.3.0, 0.3.1, 0.4.0, 1.0.0, 1.1.0\n' });
  });
});

describe('container ID and interface name validation', () => {
  const badIds = ['-leading-dash', '_x', 'has space', 'a/b', 'ä', 'x;rm'];
  for (const id of badIds) {
    it(`containerID ${JSON.stringify(id)} -> code 4`, async () => {
      const out = await run(env('ADD', { CNI_CONTAINERID: id }), conf());
      expect(out.json).toMatchObject({ code: 4, details: id });
      expect(out.json.msg).toMatch(/^CNI_CONTAINERID: invalid characters in containerID/);
    });
  }
  it('accepts the reference character set, any length', async () => {
    const id = 'A9_.-' + 'f'.repeat(200);
    expect((await run(env('ADD', { CNI_CONTAINERID: id }), conf())).exitCode).toBe(0);
  });
  const badNames: [string, RegExp][] = [
    ['0123456789abcdef', /too long/],
    ['ethé01234567890', /too long/], // 15 characters but 16 bytes
    ['.', /is \. or \.\./],
    ['..', /is \. or \.\./],
    ['eth/0', /contains \/ or :/],
    ['eth:0', /contains \/ or :/],
    ['eth 0', /whitespace/],
    ['eth\t0', /whitespace/],
  ];
  for (const [name, msg] of badNames) {
    it(`ifname ${JSON.stringify(name)} -> code 4 naming CNI_IFNAME`, async () => {
      const out = await run(env('ADD', { CNI_IFNAME: name }), conf());
      expect(out.json.code).toBe(4);
      expect(out.json.msg).toMatch(/^CNI_IFNAME: /);
      expect(out.json.msg).toMatch(msg);
    });
  }
  it('a 15-byte name is fine', async () => {
    expect((await run(env('ADD', { CNI_IFNAME: 'abcdefghijklmno' }), conf())).exitCode).toBe(0);
  });
});

describe('stdin config', () => {
  it('invalid JSON is code 6', async () => {
    const out = await run(env('ADD'), '{"cniVersion": "1.0.0",');
    expect(out.json.code).toBe(6);
    expect(out.json.msg).toMatch(/^error unmarshall network config: /);
  });
  it('nesting past the depth limit is code 6 naming the limit; the plugin is not called', async () => {
    const { plugin, calls } = recorder();
    const deep = '['.repeat(10_000) + ']'.repeat(10_000);
    const out = await run(env('ADD'), `{"deep":${deep},${conf().slice(1)}`, plugin);
    expect(out.exitCode).toBe(1);
    expect(out.json).toEqual({ cniVersion: '1.1.0', code: 6, msg: `error unmarshall network config: nested deeper than the limit of ${MAX_JSON_DEPTH} levels (at offset 71)` });
    expect(calls).toEqual([]);
  });
  it('nesting up to the limit passes, and brackets inside strings do not count', async () => {
    const nested = (n: number) => '['.repeat(n) + ']'.repeat(n);
    const atLimit = await run(env('ADD'), `{"deep":${nested(MAX_JSON_DEPTH - 1)},"s":"${'['.repeat(100)}",${conf().slice(1)}`);
    expect(atLimit.exitCode).toBe(0);
    expect((await run(env('ADD'), `{"deep":${nested(MAX_JSON_DEPTH)},${conf().slice(1)}`)).json.code).toBe(6);
  });
  it('stdin past the size limit is code 6 naming the limit', async () => {
    const { plugin, calls } = recorder();
    const out = await run(env('ADD'), `{"pad":"${' '.repeat(MAX_JSON_BYTES)}",${conf().slice(1)}`, plugin);
    expect(out.json).toEqual({ cniVersion: '1.1.0', code: 6, msg: `error unmarshall network config: larger than the limit of ${MAX_JSON_BYTES} bytes` });
    expect(calls).toEqual([]);
  });
  const cases: [Record<string, unknown>, number, RegExp][] = [
    [{ name: undefined }, 7, /^name: missing network name$/],
    [{ name: 'my net' }, 7, /^name: invalid characters found in network name/],
    [{ cniVersion: undefined }, 7, /^cniVersion: is required$/],
    [{ type: undefined }, 7, /^type: is required$/],
    [{ type: 3 }, 7, /^type: must be a string$/],
    [{ mtu: 100 }, 7, /^mtu: must be >= 576$/],
    [{ prevResult: { cniVersion: '1.0.0', ips: [{ address: 'nope' }] } }, 7, /^prevResult\.ips\[0\]\.address: must be a CIDR/],
  ];
  for (const [extra, code, msg] of cases) {
    it(`${JSON.stringify(extra)} -> code ${code}`, async () => {
      const out = await run(env('ADD'), conf(extra));
      expect(out.json.code).toBe(code);
      expect(out.json.msg).toMatch(msg);
    });
  }
});

describe('version negotiation', () => {
  it('an unsupported config version is code 1 in the reference wording', async () => {
    const out = await run(env('ADD'), conf({ cniVersion: '0.2.0' }));
    expect(out.json).toEqual({
      cniVersion: '1.1.0',
      code: 1,
      msg: 'incompatible CNI versions',
      details: 'config is "0.2.0", plugin supports ["0.3.0" "0.3.1" "0.4.0" "1.0.0" "1.1.0"]',
    });
  });
  it("a plugin's narrower supportedVersions is honoured", async () => {
    const p = recorder({ supportedVersions: ['1.0.0', '1.1.0'] }).plugin;
    expect((await run(env('ADD'), conf({ cniVersion: '0.4.0' }), p)).json.details).toBe('config is "0.4.0", plugin supports ["1.0.0" "1.1.0"]');
  });
  it('CHECK needs 0.4.0, GC and STATUS need 1.1.0', async () => {
    expect((await run(env('CHECK'), conf({ cniVersion: '0.3.1' }))).json).toMatchObject({ code: 1, msg: 'config version does not allow CHECK' });
    expect((await run(env('GC'), conf({ cniVersion: '1.0.0' }))).json).toMatchObject({ code: 1, msg: 'config version does not allow GC' });
    expect((await run(env('STATUS'), conf({ cniVersion: '1.0.0' }))).json).toMatchObject({ code: 1, msg: 'config version does not allow STATUS' });
  });
});

describe('ADD/DEL/CHECK/GC/STATUS reach the plugin with what it needs', () => {
  it("ADD prints the plugin's result converted to the config's version", async () => {
    for (const v of ['0.3.0', '0.3.1', '0.4.0', '1.0.0', '1.1.0']) {
      const out = await run(env('ADD'), conf({ cniVersion: v }));
      expect(out.exitCode).toBe(0);
      expect(out.json.cniVersion).toBe(v);
      expect(out.json.ips[0].version).toBe(v.startsWith('0.') ? '4' : undefined);
    }
  });
  it('passes env, CNI_ARGS, CNI_PATH, parsed config and prevResult (as 1.1.0)', async () => {
    const { plugin, calls } = recorder();
    const prev = { cniVersion: '0.4.0', ips: [{ version: '4', address: '10.244.0.5/24' }] };
    const out = await run(env('CHECK', { CNI_ARGS: 'K8S_POD_NAME=web-0;IgnoreUnknown=1' }), conf({ cniVersion: '0.4.0', mtu: 1450, prevResult: prev }), plugin);
    expect(out).toMatchObject({ exitCode: 0, stdout: '' });
    const a = calls[0]!.a;
    expect(a).toMatchObject({ command: 'CHECK', containerId: 'c0ffee-1', netns: '/var/run/netns/pod1', ifname: 'eth0', cniVersion: '0.4.0' });
    expect(a.path).toEqual(['/opt/cni/bin', '/usr/lib/cni']);
    expect(a.args).toEqual({ K8S_POD_NAME: 'web-0', IgnoreUnknown: '1' });
    expect(a.config.mtu).toBe(1450);
    expect(a.prevResult).toEqual({ cniVersion: '1.1.0', ips: [{ address: '10.244.0.5/24' }] });
  });
  it('a plugin declaring knownArgs gets unknown CNI_ARGS refused (code 4)', async () => {
    const p = recorder({ knownArgs: ['IP'] }).plugin;
    const out = await run(env('ADD', { CNI_ARGS: 'IP=10.244.0.9;K8S_POD_NAME=web-0' }), conf(), p);
    expect(out.json.code).toBe(4);
    expect(out.json.msg).toMatch(/^CNI_ARGS: unknown args "K8S_POD_NAME=web-0"/);
  });
  it('GC receives cni.dev/valid-attachments', async () => {
    const { plugin, calls } = recorder();
    const valid = [{ containerID: 'c1', ifname: 'eth0' }, { containerID: 'c2', ifname: 'net1' }];
    await run({ CNI_COMMAND: 'GC', CNI_PATH: '/opt/cni/bin' }, conf({ cniVersion: '1.1.0', 'cni.dev/valid-attachments': valid }), plugin);
    expect((calls[0]!.a as GcArgs<Conf>).validAttachments).toEqual(valid);
  });
  it('GC and STATUS succeed doing nothing for plugins without them', async () => {
    const p = recorder({ gc: undefined, status: undefined }).plugin;
    for (const c of ['GC', 'STATUS']) expect((await run(env(c), conf({ cniVersion: '1.1.0' }), p)).exitCode).toBe(0);
  });
});

describe('errors from the plugin', () => {
  it('a CniError is printed with its code, msg and details, in the config version', async () => {
    const p = recorder({ add: async () => { throw new CniError(ErrorCode.IpamExhausted, 'no IP addresses available in range set', '10.244.0.1-10.244.0.254'); } }).plugin;
    const out = await run(env('ADD'), conf({ cniVersion: '0.4.0' }), p);
    expect(out.exitCode).toBe(1);
    expect(out.stdout).toBe('{\n    "cniVersion": "0.4.0",\n    "code": 100,\n    "msg": "no IP addresses available in range set",\n    "details": "10.244.0.1-10.244.0.254"\n}');
  });
  it('details is left out when empty', async () => {
    const p = recorder({ del: async () => { throw new CniError(ErrorCode.TryAgainLater, 'datastore busy'); } }).plugin;
    expect((await run(env('DEL'), conf(), p)).json).toEqual({ cniVersion: '1.0.0', code: 11, msg: 'datastore busy' });
  });
  it('any other exception becomes code 999 with its message, as the reference skel does', async () => {
    const p = recorder({ add: async () => { throw new Error('EPERM: operation not permitted'); } }).plugin;
    expect((await run(env('ADD'), conf(), p)).json).toEqual({ cniVersion: '1.0.0', code: 999, msg: 'EPERM: operation not permitted' });
  });
  it('an invalid result from the plugin is an error, not a half-printed result', async () => {
    const p = recorder({ add: async () => ({ cniVersion: '1.1.0', ips: [{ address: '10.0.0.1' }] }) }).plugin;
    const out = await run(env('ADD'), conf(), p);
    expect(out.json).toMatchObject({ code: 999, msg: 'plugin returned an invalid result: result.ips[0].address: must be a CIDR such as "10.1.2.3/24" or "fd00::3/64"' });
  });
});
