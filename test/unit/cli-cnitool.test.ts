// tscni's cnitool side: container ID from the netns path, conflist discovery
// in libcni's order, the cache file in libcni's exact bytes, Go's JSON.
// Expected values were produced by the Go tools (sha512sum for the IDs, Go
// 1.19's encoding/json for the JSON vectors), not by this code.
import { mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import {
  cacheFile, cachedAttachments, deleteCacheEntry, encodeCacheEntry, readCachedResult, writeCacheEntry,
} from '../../cli/cnitool/cache';
import { parseCnitoolArgs, settingsFromEnv } from '../../cli/cnitool/commands';
import { confFiles, loadConfList } from '../../cli/cnitool/confdir';
import { absoluteNetnsPath, cnitoolContainerId } from '../../cli/cnitool/container-id';
import { goMarshal, goString } from '../../cli/cnitool/gojson';
import type { CniError } from '../../lib/cni/errors';
import { MAX_JSON_DEPTH } from '../../lib/cni/input';
import type { Result } from '../../lib/cni/types';

const deep = '['.repeat(10_000) + ']'.repeat(10_000);
const root = mkdtempSync(join(tmpdir(), 'tscni-cnitool-unit-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));
let n = 0;
const freshDir = () => {
  const d = join(root, `d${++n}`);
  mkdirSync(d);
  return d;
};

function thrown(f: () => unknown): CniError {
  try {
    f();
  } catch (e) {
    return e as CniError;
  }
  throw new Error('did not throw');
}

describe('container ID', () => {
  it('is "cnitool-" and the first 10 bytes of the SHA-512 of the absolute path', () => {
    // printf '/var/run/netns/pod1' | sha512sum | cut -c1-20
    expect(cnitoolContainerId('/var/run/netns/pod1')).toBe('cnitool-bea13e247008fe5f4a37');
    expect(cnitoolContainerId('/run/netns/a b')).toBe('cnitool-633007b8f8de04ee4f36');
  });

  it('cleans the path first, as filepath.Abs does', () => {
    expect(absoluteNetnsPath('/var/run/netns/./x/../pod1/')).toBe('/var/run/netns/pod1');
    expect(cnitoolContainerId('/var/run//netns/pod1')).toBe('cnitool-bea13e247008fe5f4a37');
    expect(absoluteNetnsPath('pod1')).toBe(join(process.cwd(), 'pod1'));
  });
});

describe('Go JSON', () => {
  it('sorts map keys, escapes HTML and control characters, prints float64 as Go does', () => {
    const v = JSON.parse('{"b":"<a&b>\\u2028\\u0007\\b\\f","a":[1,1.5,1e21,1e-7,12345678901234567890],"é":{"z":true,"y":null},"Z":{}}');
    expect(goMarshal(v)).toBe('{"Z":{},"a":[1,1.5,1e+21,1e-7,12345678901234567000],"b":"\\u003ca\\u0026b\\u003e\\u2028\\u0007\\u0008\\u000c","é":{"y":null,"z":true}}');
  });

  it('indents as MarshalIndent, empty containers compact', () => {
    expect(goMarshal({ x: [], y: { k: [1, '2'] } }, { indent: '    ' })).toBe('{\n    "x": [],\n    "y": {\n        "k": [\n            1,\n            "2"\n        ]\n    }\n}');
  });

  it('keeps struct order when asked to', () => {
    expect(goMarshal({ b: 1, a: { d: 1, c: 2 } }, { maps: false })).toBe('{"b":1,"a":{"d":1,"c":2}}');
    expect(goString('a"b\\c\n')).toBe('"a\\"b\\\\c\\n"');
  });
});

describe('conflist discovery (libcni LoadConfList)', () => {
  const list = (name: string, type = 'bridge') => JSON.stringify({ cniVersion: '1.0.0', name, plugins: [{ type }] });

  it('lists files by extension in byte order, skipping directories, with ".conf" itself counted', () => {
    const d = freshDir();
    for (const f of ['b.conflist', 'a.conflist', 'Z.conflist', '.conf', 'x.conf.bak', 'c.json']) writeFileSync(join(d, f), '{}');
    mkdirSync(join(d, 'dir.conflist'));
    expect(confFiles(d, ['.conflist']).map((f) => f.slice(d.length + 1))).toEqual(['Z.conflist', 'a.conflist', 'b.conflist']);
    expect(confFiles(d, ['.conf', '.json']).map((f) => f.slice(d.length + 1))).toEqual(['.conf', 'c.json']);
    expect(confFiles(join(d, 'missing'), ['.conf'])).toEqual([]);
  });

  it('takes the first .conflist with the name, keeping its bytes', () => {
    const d = freshDir();
    writeFileSync(join(d, '20-net.conflist'), list('net', 'second'));
    writeFileSync(join(d, '10-other.conflist'), list('other'));
    writeFileSync(join(d, '15-net.conflist'), list('net', 'first') + '\n');
    const got = loadConfList(d, 'net');
    expect(got.file).toBe(join(d, '15-net.conflist'));
    expect(got.list.plugins[0]!.type).toBe('first');
    expect(got.bytes.toString()).toBe(list('net', 'first') + '\n');
  });

  it('prefers any .conflist over a .conf, and wraps a .conf as Go re-encodes it', () => {
    const d = freshDir();
    writeFileSync(join(d, '00-net.conf'), JSON.stringify({ type: 'bridge', name: 'net', cniVersion: '1.0.0', mtu: 1400, note: '<x>' }));
    writeFileSync(join(d, '99-net.conflist'), list('net', 'from-list'));
    expect(loadConfList(d, 'net').list.plugins[0]!.type).toBe('from-list');
    rmSync(join(d, '99-net.conflist'));
    const got = loadConfList(d, 'net');
    expect(got.list).toMatchObject({ name: 'net', cniVersion: '1.0.0', plugins: [{ type: 'bridge', mtu: 1400 }] });
    expect(got.bytes.toString()).toBe('{"cniVersion":"1.0.0","name":"net","plugins":[{"cniVersion":"1.0.0","mtu":1400,"name":"net","note":"\\u003cx\\u003e","type":"bridge"}]}');
  });

  it('fails with libcni\'s messages', () => {
    const d = freshDir();
    expect(thrown(() => loadConfList(d, 'net')).msg).toBe(`no net configurations found in ${d}`);
    writeFileSync(join(d, '10-a.conflist'), list('a'));
    expect(thrown(() => loadConfList(d, 'net')).msg).toBe(`no net configuration with name "net" in ${d}`);
    writeFileSync(join(d, '05-bad.conflist'), JSON.stringify({ name: 'bad', plugins: [] }));
    expect(thrown(() => loadConfList(d, 'a')).msg).toBe('error parsing configuration list: no plugins in list');
    writeFileSync(join(d, '05-bad.conflist'), JSON.stringify({ name: 'bad', plugins: [{ kind: 'x' }] }));
    expect(thrown(() => loadConfList(d, 'a')).msg).toBe("failed to parse plugin config 0: error parsing configuration: missing 'type'");
  });

  it('refuses a conflist nested past the depth limit with code 6 naming the limit', () => {
    const d = freshDir();
    writeFileSync(join(d, '10-deep.conflist'), `{"deep":${deep},"name":"net","cniVersion":"1.0.0","plugins":[{"type":"loopback"}]}`);
    expect(thrown(() => loadConfList(d, 'net'))).toMatchObject({
      code: 6, msg: `error parsing configuration list: nested deeper than the limit of ${MAX_JSON_DEPTH} levels (at offset 71)`,
    });
  });
});

describe('cnitool settings from the environment', () => {
  it('has cnitool\'s defaults, and /opt/cni/bin and /var/lib/cni', () => {
    expect(settingsFromEnv({})).toEqual({ netconfPath: '/etc/cni/net.d', cniPath: ['/opt/cni/bin'], ifname: 'eth0', cacheDir: '/var/lib/cni' });
  });

  it('reads every variable', () => {
    const s = settingsFromEnv({
      NETCONFPATH: '/n', CNI_PATH: '/a:/b', CNI_IFNAME: 'net1', CNI_ARGS: 'A=1;B=2', CAP_ARGS: '{"portMappings":[]}', CNI_CACHE_DIR: '/c',
    });
    expect(s).toEqual({ netconfPath: '/n', cniPath: ['/a', '/b'], ifname: 'net1', cniArgs: [['A', '1'], ['B', '2']], capabilityArgs: { portMappings: [] }, cacheDir: '/c' });
  });

  it('refuses malformed CNI_ARGS and CAP_ARGS', () => {
    expect(thrown(() => parseCnitoolArgs('A=1;B')).msg).toBe('invalid CNI_ARGS pair "B"');
    expect(thrown(() => parseCnitoolArgs('A=')).msg).toBe('invalid CNI_ARGS pair "A="');
    expect(thrown(() => settingsFromEnv({ CAP_ARGS: '[1]' })).msg).toBe('CAP_ARGS: must be a JSON object');
    expect(thrown(() => settingsFromEnv({ CAP_ARGS: `{"a":${deep}}` }))).toMatchObject({ code: 6, msg: expect.stringMatching(/^CAP_ARGS: nested deeper than the limit/) });
  });
});

describe('result cache (libcni layout)', () => {
  const result: Result = {
    cniVersion: '1.1.0',
    interfaces: [{ name: 'cni0', mac: '0a:00:00:00:00:01' }, { name: 'eth0', mac: '0a:00:00:00:00:02', sandbox: '/run/netns/p', mtu: 1400 }],
    ips: [{ interface: 1, address: '10.244.1.2/24', gateway: '10.244.1.1' }],
    routes: [{ dst: '0.0.0.0/0', gw: '10.244.1.1', mtu: 1400 }],
  };
  const key = { network: 'net', containerId: 'cnitool-bea13e247008fe5f4a37', ifname: 'eth0' };

  it('encodes the entry as libcni\'s cacheAdd: struct order, base64 config, sorted result in the list\'s version', () => {
    const text = encodeCacheEntry({ ...key, config: Buffer.from('{"x":1}\n'), cniArgs: [['K8S_POD_NAME', 'web']], capabilityArgs: { portMappings: [{ hostPort: 80, containerPort: 8080 }] }, result, resultVersion: '1.0.0' });
    expect(text).toBe(
      '{"kind":"cniCacheV1","containerId":"cnitool-bea13e247008fe5f4a37","config":"eyJ4IjoxfQo=","ifName":"eth0","networkName":"net",'
      + '"cniArgs":[["K8S_POD_NAME","web"]],"capabilityArgs":{"portMappings":[{"containerPort":8080,"hostPort":80}]},'
      + '"result":{"cniVersion":"1.0.0","dns":{},"interfaces":[{"mac":"0a:00:00:00:00:01","name":"cni0"},{"mac":"0a:00:00:00:00:02","name":"eth0","sandbox":"/run/netns/p"}],'
      + '"ips":[{"address":"10.244.1.2/24","gateway":"10.244.1.1","interface":1}],"routes":[{"dst":"0.0.0.0/0","gw":"10.244.1.1"}]}}',
    );
  });

  it('leaves out empty cniArgs and capabilityArgs', () => {
    const text = encodeCacheEntry({ ...key, config: Buffer.from('{}'), cniArgs: [], capabilityArgs: {}, result: { cniVersion: '1.1.0' }, resultVersion: '0.4.0' });
    expect(text).toBe('{"kind":"cniCacheV1","containerId":"cnitool-bea13e247008fe5f4a37","config":"e30=","ifName":"eth0","networkName":"net","result":{"cniVersion":"0.4.0","dns":{}}}');
  });

  it('writes <dir>/results/<net>-<id>-<ifname> 0600 in a 0700 dir, reads it back, deletes it', () => {
    const dir = join(freshDir(), 'cache');
    writeCacheEntry(dir, { ...key, config: Buffer.from('{}'), result, resultVersion: '1.0.0' });
    const file = cacheFile(dir, key);
    expect(file).toBe(join(dir, 'results/net-cnitool-bea13e247008fe5f4a37-eth0'));
    expect(statSync(file).mode & 0o777).toBe(0o600);
    expect(statSync(join(dir, 'results')).mode & 0o777).toBe(0o700);
    const back = readCachedResult(dir, key, '1.0.0')!;
    expect(back.ips).toEqual(result.ips);
    expect(back.interfaces![1]).toEqual({ name: 'eth0', mac: '0a:00:00:00:00:02', sandbox: '/run/netns/p' });
    expect(cachedAttachments(dir)).toEqual([{ ...key }]);
    deleteCacheEntry(dir, key);
    expect(readCachedResult(dir, key, '1.0.0')).toBeUndefined();
  });

  it('reads libcni\'s older layout (a bare result), and refuses garbage', () => {
    const dir = freshDir();
    mkdirSync(join(dir, 'results'));
    writeFileSync(cacheFile(dir, key), JSON.stringify({ cniVersion: '0.4.0', ips: [{ version: '4', address: '10.1.1.2/24' }] }));
    expect(readCachedResult(dir, key, '1.0.0')!.ips).toEqual([{ address: '10.1.1.2/24' }]);
    writeFileSync(cacheFile(dir, key), 'not json');
    expect(thrown(() => readCachedResult(dir, key, '1.0.0')).msg).toMatch(/^failed to get network "net" cached result: /);
    expect(readFileSync(cacheFile(dir, key), 'utf8')).toBe('not json');
  });

  it('needs network, container ID and ifname for a path', () => {
    expect(thrown(() => cacheFile('/c', { ...key, ifname: '' })).msg).toMatch(/^cache file path requires network name/);
  });

  it('refuses an entry nested past the depth limit with code 6 naming the limit', () => {
    const dir = freshDir();
    mkdirSync(join(dir, 'results'));
    writeFileSync(cacheFile(dir, key), `{"kind":"cniCacheV1","result":{"deep":${deep}}}`);
    expect(thrown(() => readCachedResult(dir, key, '1.0.0'))).toMatchObject({
      code: 6, msg: expect.stringMatching(/^failed to get network "net" cached result: nested deeper than the limit of 64 levels/),
    });
  });

  it('checks a key as a request\'s: no container ID or ifname read back from a file names a path outside results/', () => {
    expect(thrown(() => cacheFile('/c', { ...key, containerId: '../../etc/x' })).code).toBe(4);
    expect(thrown(() => cacheFile('/c', { ...key, ifname: 'a/../../x' })).code).toBe(4);
    expect(thrown(() => cacheFile('/c', { ...key, network: '../x' })).code).toBe(7);
    const dir = join(freshDir(), 'cache');
    writeCacheEntry(dir, { ...key, config: Buffer.from('{}'), result, resultVersion: '1.0.0' });
    const climbing = [
      { containerId: 'x/../../../victim', ifName: 'eth0' },
      { containerId: 'c1', ifName: '../../../victim' },
      { containerId: 'c1', ifName: 'eth0 ' },
    ];
    climbing.forEach((k, i) => writeFileSync(join(dir, 'results', `net-evil${i}`), JSON.stringify({ kind: 'cniCacheV1', networkName: 'net', ...k, result: {} })));
    expect(cachedAttachments(dir)).toEqual([{ ...key }]);
  });
});
