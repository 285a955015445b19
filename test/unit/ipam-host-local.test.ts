import { existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeEach, describe, expect, it } from 'vitest';
import { CniError } from '../../lib/cni/errors';
import { dispatch } from '../../lib/cni/skel';
import { formatRangeSet } from '../../lib/ipam/range-set';
import { parseHostLocalConfig } from '../../lib/ipam/host-local/config';
import { hostLocal } from '../../lib/ipam/host-local/plugin';
import { parseResolvConf } from '../../lib/ipam/resolv-conf';

const root = mkdtempSync(join(tmpdir(), 'tscni-host-local-unit-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

let dataDir: string;
let n = 0;
beforeEach(() => {
  dataDir = join(root, `d${++n}`);
});

function conf(ipam: Record<string, unknown> = {}, extra: Record<string, unknown> = {}) {
  return {
    cniVersion: '1.1.0', name: 'net1', type: 'bridge',
    ipam: { type: 'host-local', dataDir, ranges: [[{ subnet: '10.244.1.0/24' }], [{ subnet: 'fd00:244:1::/64' }]], ...ipam },
    ...extra,
  };
}

async function call(command: string, config: object, id = 'c1', ifname = 'eth0', cniArgs?: string) {
  const env = {
    CNI_COMMAND: command, CNI_CONTAINERID: id, CNI_NETNS: '/run/netns/x', CNI_IFNAME: ifname, CNI_PATH: '/opt/cni/bin',
    ...(cniArgs ? { CNI_ARGS: cniArgs } : {}),
  };
  const out = await dispatch(hostLocal, env, JSON.stringify(config));
  return { exitCode: out.exitCode, json: out.stdout ? JSON.parse(out.stdout) : undefined };
}

const stored = () => readdirSync(join(dataDir, 'net1')).sort();

function configError(raw: Record<string, unknown>): string {
  try {
    parseHostLocalConfig(raw);
  } catch (e) {
    expect(e).toBeInstanceOf(CniError);
    expect((e as CniError).code).toBe(7);
    return (e as CniError).msg;
  }
  throw new Error('expected a config error');
}

describe('host-local config', () => {
  it('puts range sets in the reference order: runtimeConfig.ipRanges, legacy subnet, ipam.ranges', () => {
    const c = parseHostLocalConfig(conf({ subnet: '10.1.0.0/24', ranges: [[{ subnet: '10.2.0.0/24' }]] },
      { runtimeConfig: { ipRanges: [[{ subnet: '10.3.0.0/24' }]], ips: ['10.2.0.9/24'] }, args: { cni: { ips: ['10.1.0.9'] } } }));
    expect(c.rangeSets.map(formatRangeSet)).toEqual(['10.3.0.1-10.3.0.254', '10.1.0.1-10.1.0.254', '10.2.0.1-10.2.0.254']);
    expect(c.requestedIps).toHaveLength(2);
    expect(c.dataDir).toBe(dataDir);
    expect(parseHostLocalConfig({ ...conf(), ipam: { type: 'host-local', subnet: '10.0.0.0/8' } }).dataDir).toBe('/var/lib/cni/networks');
  });

  it.each<[Record<string, unknown>, Record<string, unknown>, string]>([
    [{ ranges: [{ subnet: '10.0.0.0/24' }] }, {}, 'ipam.ranges[0]: must be an array'],
    [{ ranges: '10.0.0.0/24' }, {}, 'ipam.ranges: must be an array'],
    [{ ranges: [[{ subnet: '10.0.0.0/24' }, { subnet: '10.0.0.0/33' }]] }, {}, 'ipam.ranges[0][1].subnet: prefix length "33" is out of range for IPv4 (0-32)'],
    [{ ranges: [[{ start: '10.0.0.1' }]] }, {}, 'ipam.ranges[0][0].subnet: is required'],
    [{ ranges: [], subnet: '10.0.0.0/33' }, {}, 'ipam.subnet: prefix length "33" is out of range for IPv4 (0-32)'],
    [{ ranges: [] }, {}, 'ipam.ranges: no IP ranges given (set ipam.ranges or ipam.subnet)'],
    [{ ranges: [], rangeStart: '10.0.0.5' }, {}, 'ipam.rangeStart: is only meaningful with ipam.subnet (or inside ipam.ranges)'],
    [{ ranges: [[{ subnet: '10.0.0.0/16' }], [{ subnet: '10.0.5.0/24' }]] }, {}, 'ipam.ranges[1]: overlaps ipam.ranges[0]'],
    [{ dataDir: '/var/lib/../../etc' }, {}, 'ipam.dataDir: must not contain a ".." component or NUL'],
    [{ dataDir: 'relative/dir' }, {}, 'ipam.dataDir: must be an absolute path'],
    [{}, { name: '../etc' }, 'name: must not contain "/", ".." or NUL (it names a directory)'],
    [{}, { name: 'a/b' }, 'name: must not contain "/", ".." or NUL (it names a directory)'],
    [{ routes: [{ dst: '10.0.0.0' }] }, {}, 'ipam.routes[0].dst: "10.0.0.0" is not in CIDR notation (address/prefix)'],
    [{}, { args: { cni: { ips: ['10.0.0.300'] } } }, 'args.cni.ips[0]: "10.0.0.300" is not an IP address'],
    [{}, { runtimeConfig: { ips: ['x/24'] } }, 'runtimeConfig.ips[0]: "x" is not an IP address'],
  ])('rejects ipam %j %j', (ipam, extra, msg) => {
    expect(configError(conf(ipam, extra))).toBe(msg);
  });
});

describe('host-local commands (through dispatch, on a temp dataDir)', () => {
  it('ADD gives one address per range set with gateways, routes and dns; CHECK and DEL follow', async () => {
    const resolv = join(root, 'resolv.conf');
    writeFileSync(resolv, '# c\nnameserver 10.0.0.53\nnameserver fd00::53\nsearch a.example b.example\noptions ndots:5\ndomain example\n');
    const c = conf({ routes: [{ dst: '0.0.0.0/0' }, { dst: 'FD00::/8', gw: 'fd00:244:1::1' }], resolvConf: resolv });
    const add = await call('ADD', c);
    expect(add).toEqual({ exitCode: 0, json: {
      cniVersion: '1.1.0',
      ips: [{ address: '10.244.1.2/24', gateway: '10.244.1.1' }, { address: 'fd00:244:1::2/64', gateway: 'fd00:244:1::1' }],
      routes: [{ dst: '0.0.0.0/0' }, { dst: 'fd00::/8', gw: 'fd00:244:1::1' }],
      dns: { nameservers: ['10.0.0.53', 'fd00::53'], search: ['a.example', 'b.example'], options: ['ndots:5'], domain: 'example' },
    } });
    expect((await call('CHECK', { ...c, prevResult: add.json })).exitCode).toBe(0);
    const again = await call('ADD', c);
    expect(again.json).toMatchObject({ code: 999, msg: 'failed to allocate for range 0: 10.244.1.2 has been allocated to c1, duplicate allocation is not allowed' });
    expect(stored()).toEqual(['10.244.1.2', 'fd00:244:1::2', 'last_reserved_ip.0', 'last_reserved_ip.1', 'lock']);
    expect((await call('DEL', c)).exitCode).toBe(0);
    expect(stored()).toEqual(['last_reserved_ip.0', 'last_reserved_ip.1', 'lock']);
    expect((await call('DEL', c)).exitCode).toBe(0);
    expect((await call('CHECK', { ...c, prevResult: add.json })).json.msg).toMatch(/no address of range set 0 .* is reserved for container c1/);
  });

  it('a bad config fails with code 7 and writes nothing', async () => {
    const out = await call('ADD', conf({ ranges: [[{ subnet: '10.0.0.0/33' }]] }));
    expect(out.json).toMatchObject({ code: 7, msg: 'ipam.ranges[0][0].subnet: prefix length "33" is out of range for IPv4 (0-32)' });
    expect(existsSync(dataDir)).toBe(false);
  });

  it('a gateway outside its range\'s subnet fails with code 7 naming the field and the subnet', async () => {
    const out = await call('ADD', conf({ ranges: [[{ subnet: '10.77.0.0/24', gateway: '10.99.0.1' }]] }));
    expect(out.exitCode).toBe(1);
    expect(out.json).toEqual({ cniVersion: '1.1.0', code: 7, msg: 'ipam.ranges[0][0].gateway: 10.99.0.1 is not in subnet 10.77.0.0/24' });
    expect(existsSync(dataDir)).toBe(false);
  });

  it('DEL of an unknown network or container succeeds without creating anything', async () => {
    expect((await call('DEL', conf())).exitCode).toBe(0);
    expect(existsSync(dataDir)).toBe(false);
  });

  it('honours a requested IP from CNI_ARGS and rolls back when a second one matches no set', async () => {
    const c = conf({ ranges: [[{ subnet: '10.244.1.0/24' }]] });
    expect((await call('ADD', c, 'c1', 'eth0', 'IgnoreUnknown=1;IP=10.244.1.99')).json.ips).toEqual([{ address: '10.244.1.99/24', gateway: '10.244.1.1' }]);
    const out = await call('ADD', { ...c, args: { cni: { ips: ['10.244.1.50'] } } }, 'c2', 'eth0', 'IP=10.9.9.9');
    expect(out.json.msg).toBe('failed to allocate all requested IPs: 10.9.9.9 (not in a range set, or two for one set)');
    expect(stored()).toEqual(['10.244.1.99', 'last_reserved_ip.0', 'lock']);
  });

  it('exhaustion is code 100 naming the range; STATUS then reports code 50', async () => {
    const c = conf({ ranges: [[{ subnet: '10.0.0.0/30' }]] });
    expect((await call('STATUS', c)).exitCode).toBe(0);
    expect((await call('ADD', c, 'a')).json.ips[0].address).toBe('10.0.0.2/30');
    expect((await call('ADD', c, 'b')).json).toMatchObject({ code: 100, msg: 'failed to allocate for range 0: no IP addresses available in range set: 10.0.0.1-10.0.0.2' });
    expect((await call('STATUS', c)).json).toMatchObject({ code: 50 });
  });

  it('GC releases every reservation whose attachment is not valid', async () => {
    const c = conf();
    for (const [id, ifname] of [['a', 'eth0'], ['a', 'eth1'], ['b', 'eth0']] as const) await call('ADD', c, id, ifname);
    writeFileSync(join(dataDir, 'net1', '10.244.1.200'), 'b');
    const gc = await call('GC', { ...c, 'cni.dev/valid-attachments': [{ containerID: 'a', ifname: 'eth1' }, { containerID: 'b', ifname: 'eth9' }] });
    expect(gc.exitCode).toBe(0);
    expect(stored()).toEqual(['10.244.1.200', '10.244.1.3', 'fd00:244:1::3', 'last_reserved_ip.0', 'last_reserved_ip.1', 'lock']);
  });
});

describe('parseResolvConf', () => {
  it('reads what the reference reads and ignores the rest', () => {
    expect(parseResolvConf('; x\nnameserver 1.1.1.1 extra\nsortlist 1.0.0.0\ndomain a\ndomain b\nsearch\n')).toEqual({ nameservers: ['1.1.1.1'], domain: 'b' });
  });
});
