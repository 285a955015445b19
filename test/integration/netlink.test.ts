// lib/netlink against the kernel. Everything is built in namespaces this file
// creates: "host" (a node) and "pod". Each object is read back twice: through
// our own dump parsing and through `ip -j` / `bridge -j` as an independent
// oracle; a ping across the veth proves the plumbing carries packets.
import { execFile } from 'node:child_process';
import { pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openNetns, type NetnsHandle } from '../../lib/netns';
import { Rtnl, NetlinkError, isNetlinkErrno } from '../../lib/netlink';

const run = promisify(execFile);
const PREFIX = `tscni-nl${process.pid}-${Date.now().toString(36)}`;
const hostNs = `${PREFIX}-host`;
const podNs = `${PREFIX}-pod`;
const path = (name: string): string => `/run/netns/${name}`;

async function ipJson(ns: string, args: string[]): Promise<any[]> {
  const { stdout } = await run('ip', ['-n', ns, '-j', ...args], { timeout: 10_000 });
  return stdout.trim() ? JSON.parse(stdout) : [];
}
async function inNs(ns: string, cmd: string, args: string[]): Promise<string> {
  return (await run('ip', ['netns', 'exec', ns, cmd, ...args], { timeout: 20_000 })).stdout;
}

let host: Rtnl;
let pod: Rtnl;
let podHandle: NetnsHandle;

beforeAll(async () => {
  await run('ip', ['netns', 'add', hostNs]);
  await run('ip', ['netns', 'add', podNs]);
  host = Rtnl.open(path(hostNs));
  pod = Rtnl.open(path(podNs));
  podHandle = openNetns(path(podNs));
});

afterAll(async () => {
  host?.close();
  pod?.close();
  podHandle?.close();
  for (const ns of [podNs, hostNs]) await run('ip', ['netns', 'del', ns]).catch(() => undefined);
});

describe('links', () => {
  it('creates a veth whose peer lands in the pod namespace with its name, MTU and MAC', async () => {
    await host.links.createVeth({ name: 'vethh0', mtu: 1400, peer: { name: 'eth0', netnsFd: podHandle.fd, mtu: 1400, mac: '02:42:0a:f4:00:02' } });
    const h = await host.links.require('vethh0');
    const p = await pod.links.require('eth0');
    expect(h).toMatchObject({ kind: 'veth', mtu: 1400, peerIndex: p.index });
    expect(h.linkNetnsId).toBeTypeOf('number');
    expect(p).toMatchObject({ kind: 'veth', mtu: 1400, mac: '02:42:0a:f4:00:02', peerIndex: h.index });
    expect(await host.links.get('eth0')).toBeNull();
    const [oracle] = await ipJson(podNs, ['-d', 'link', 'show', 'eth0']);
    expect(oracle).toMatchObject({ ifname: 'eth0', mtu: 1400, address: '02:42:0a:f4:00:02', link_index: h.index, linkinfo: { info_kind: 'veth' } });
  });

  it('names operation, object and errno when the kernel refuses', async () => {
    const err = await host.links
      .createVeth({ name: 'vethh0', peer: { name: 'eth0', netnsFd: podHandle.fd } })
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(NetlinkError);
    expect((err as NetlinkError).message).toBe('create veth vethh0 (peer eth0): EEXIST');
    expect((err as NetlinkError).errno).toBe(17);
  });

  it('creates a bridge, enslaves the veth, sets hairpin and reads it all back', async () => {
    await host.links.createBridge({ name: 'br0', mtu: 1400, mac: '02:00:00:00:0b:01' });
    await host.links.setMaster('vethh0', 'br0');
    await host.links.setHairpin('vethh0', true);
    const br = await host.links.require('br0');
    expect(br).toMatchObject({ kind: 'bridge', mac: '02:00:00:00:0b:01', bridgeVlanFiltering: false });
    expect(await host.links.require('vethh0')).toMatchObject({ master: br.index, slaveKind: 'bridge', hairpin: true });
    const [oracle] = await ipJson(hostNs, ['-d', 'link', 'show', 'vethh0']);
    expect(oracle.master).toBe('br0');
    expect(oracle.linkinfo.info_slave_data.hairpin).toBe(true);
    expect((await host.links.list({ kind: 'bridge' })).map((l) => l.name)).toEqual(['br0']);
  });

  it('sets up/down, MTU, MAC, promisc and name; detaches from the master', async () => {
    await host.links.createVeth({ name: 'tmpa', peer: { name: 'tmpb' } });
    await host.links.setMaster('tmpa', 'br0');
    await host.links.setMaster('tmpa', null);
    await host.links.setMtu('tmpa', 1300);
    await host.links.setMac('tmpa', '02:00:00:00:00:aa');
    await host.links.setPromisc('tmpa', true);
    await host.links.rename('tmpa', 'tmpc');
    await host.links.setUp('tmpc');
    const l = await host.links.require('tmpc');
    expect(l).toMatchObject({ name: 'tmpc', mtu: 1300, mac: '02:00:00:00:00:aa', promisc: true, up: true });
    expect(l.master).toBeUndefined();
    const [oracle] = await ipJson(hostNs, ['link', 'show', 'tmpc']);
    expect(oracle.flags).toEqual(expect.arrayContaining(['PROMISC', 'UP']));
    await host.links.setDown(l.index);
    expect((await host.links.require(l.index)).up).toBe(false);
  });

  it('moves a link into another namespace by fd and deletes links (missing is ok when asked)', async () => {
    await host.links.setNetns('tmpb', podHandle.fd);
    expect(await host.links.get('tmpb')).toBeNull();
    expect((await pod.links.require('tmpb')).kind).toBe('veth');
    await pod.links.delete('tmpb'); // takes its peer tmpc in the host with it
    expect(await host.links.get('tmpc')).toBeNull();
    await host.links.delete('tmpc', { ignoreMissing: true });
    await expect(host.links.delete('tmpc')).rejects.toThrow('delete link tmpc: ENODEV');
  });

  it('creates a VXLAN device with VNI, local IP, port, underlay and learning off', async () => {
    await host.links.createVeth({ name: 'ul0', peer: { name: 'ul1' } });
    const ul = await host.links.require('ul0');
    await host.links.createVxlan({ name: 'vx0', vni: 4242, local: '10.250.0.1', port: 4789, underlayIndex: ul.index, learning: false, mtu: 1350 });
    const vx = await host.links.require('vx0');
    expect(vx).toMatchObject({ kind: 'vxlan', mtu: 1350, vxlan: { vni: 4242, local: '10.250.0.1', port: 4789, underlayIndex: ul.index, learning: false } });
    const [oracle] = await ipJson(hostNs, ['-d', 'link', 'show', 'vx0']);
    expect(oracle.linkinfo).toMatchObject({ info_kind: 'vxlan', info_data: { id: 4242, local: '10.250.0.1', link: 'ul0', port: 4789, learning: false } });
  });

  it('creates a macvlan on a parent straight into the pod namespace', async () => {
    await host.links.createMacvlan({ name: 'mv0', parent: 'ul1', mode: 'bridge', netnsFd: podHandle.fd, mtu: 1400 });
    expect(await pod.links.require('mv0')).toMatchObject({ kind: 'macvlan', macvlanMode: 'bridge', mtu: 1400 });
    const [oracle] = await ipJson(podNs, ['-d', 'link', 'show', 'mv0']);
    expect(oracle.linkinfo).toMatchObject({ info_kind: 'macvlan', info_data: { mode: 'bridge' } });
    await pod.links.delete('mv0');
  });

  it('dummy and ipip, where the kernel has them', async (ctx) => {
    for (const [kind, create] of [
      ['dummy', () => host.links.createDummy({ name: 'dm0' })],
      ['ipip', () => host.links.createIpip({ name: 'tun0', local: '10.250.0.1', remote: '10.250.0.2', ttl: 64 })],
    ] as const) {
      const err = await create().catch((e: unknown) => e);
      if (isNetlinkErrno(err, 'EOPNOTSUPP')) {
        console.warn(`skip ${kind}: kernel lacks it (${(err as Error).message})`);
        continue;
      }
      if (err) throw err;
      expect((await host.links.list({ kind })).length).toBe(1);
    }
    if ((await host.links.list()).every((l) => l.kind !== 'dummy' && l.kind !== 'ipip')) ctx.skip();
  });
});

describe('addresses', () => {
  it('adds IPv4 and IPv6 (nodad) addresses, tolerates EEXIST only when asked, deletes', async () => {
    await host.links.setUp('br0');
    await host.links.setUp('vethh0');
    await host.addrs.add('br0', '10.244.0.1/24');
    await host.addrs.add('br0', 'fd00:244::1/64', { nodad: true });
    await pod.addrs.add('eth0', '10.244.0.2/24');
    await pod.addrs.add('eth0', 'fd00:244::2/64', { nodad: true });
    await pod.links.setUp('eth0');
    await pod.links.setUp('lo');
    await pod.addrs.add('eth0', '10.244.0.2/24', { ignoreExisting: true });
    await expect(pod.addrs.add('eth0', '10.244.0.2/24')).rejects.toThrow('add address 10.244.0.2/24 to eth0: EEXIST');

    const mine = await pod.addrs.list({ link: 'eth0' });
    expect(mine.find((a) => a.cidr === '10.244.0.2/24')).toMatchObject({ family: 4, prefixLen: 24 });
    expect(mine.find((a) => a.cidr === 'fd00:244::2/64')).toMatchObject({ family: 6, nodad: true, tentative: false });
    const [oracle] = await ipJson(podNs, ['addr', 'show', 'eth0']);
    const infos = oracle.addr_info.map((a: any) => `${a.local}/${a.prefixlen}`);
    expect(infos).toEqual(expect.arrayContaining(['10.244.0.2/24', 'fd00:244::2/64']));
    expect(oracle.addr_info.find((a: any) => a.local === '10.244.0.2').broadcast).toBe('10.244.0.255');

    await pod.addrs.add('eth0', '10.244.9.9/32');
    await pod.addrs.del('eth0', '10.244.9.9/32');
    await pod.addrs.del('eth0', '10.244.9.9/32', { ignoreMissing: true });
    expect((await pod.addrs.list({ family: 4 })).map((a) => a.cidr)).not.toContain('10.244.9.9/32');
  });

  it('carries packets: ping over the veth and the bridge, IPv4 and IPv6', async () => {
    const v4 = await inNs(podNs, 'ping', ['-c', '2', '-i', '0.2', '-W', '2', '10.244.0.1']);
    expect(v4).toMatch(/2 received/);
    const v6 = await inNs(podNs, 'ping', ['-6', '-c', '2', '-i', '0.2', '-W', '2', 'fd00:244::1']);
    expect(v6).toMatch(/2 received/);
  });
});

describe('routes', () => {
  it('adds default, on-link, scope link, blackhole, unreachable, metric and table routes', async () => {
    await pod.routes.add({ dst: '0.0.0.0/0', gw: '10.244.0.1', dev: 'eth0' });
    await pod.routes.add({ dst: '::/0', gw: 'fd00:244::1', dev: 'eth0' });
    await pod.routes.add({ dst: '10.99.0.0/16', gw: '169.254.1.1', dev: 'eth0', onlink: true });
    await pod.routes.add({ dst: '10.98.0.5/32', dev: 'eth0', scope: 'link' });
    await pod.routes.add({ dst: '10.97.0.0/16', type: 'blackhole' });
    await pod.routes.add({ dst: 'fd00:97::/64', type: 'unreachable' });
    await pod.routes.add({ dst: '10.96.0.0/16', gw: '10.244.0.1', metric: 100, protocol: 201 });
    await pod.routes.add({ dst: '10.95.0.0/16', gw: '10.244.0.1', table: 100 });
    await pod.routes.add({ dst: '10.94.0.0/16', gw: '10.244.0.1', table: 1000 });

    const eth0 = (await pod.links.require('eth0')).index;
    const v4 = await pod.routes.list({ family: 4 });
    const find = (dst: string) => v4.find((r) => r.dst === dst);
    expect(find('0.0.0.0/0')).toMatchObject({ gw: '10.244.0.1', dev: eth0, table: 254, protocol: 3 });
    expect(find('10.99.0.0/16')).toMatchObject({ gw: '169.254.1.1', onlink: true });
    expect(find('10.98.0.5/32')).toMatchObject({ dev: eth0, scope: 253 });
    expect(find('10.97.0.0/16')).toMatchObject({ type: 'blackhole' });
    expect(find('10.96.0.0/16')).toMatchObject({ metric: 100, protocol: 201 });
    expect(find('10.95.0.0/16')).toBeUndefined();
    expect((await pod.routes.list({ table: 100 })).map((r) => r.dst)).toEqual(['10.95.0.0/16']);
    expect((await pod.routes.list({ table: 1000 })).map((r) => r.dst)).toEqual(['10.94.0.0/16']);
    const v6 = await pod.routes.list({ family: 6 });
    expect(v6.find((r) => r.dst === '::/0')).toMatchObject({ gw: 'fd00:244::1', dev: eth0 });
    expect(v6.find((r) => r.dst === 'fd00:97::/64')).toMatchObject({ type: 'unreachable' });

    const oracle = await ipJson(podNs, ['route', 'show']);
    const o = (dst: string) => oracle.find((r: any) => r.dst === dst);
    expect(o('default')).toMatchObject({ gateway: '10.244.0.1', dev: 'eth0' });
    expect(o('10.99.0.0/16')).toMatchObject({ gateway: '169.254.1.1', flags: ['onlink'] });
    expect(o('10.98.0.5')).toMatchObject({ dev: 'eth0', scope: 'link' });
    expect(o('10.97.0.0/16')).toMatchObject({ type: 'blackhole' });
    expect(o('10.96.0.0/16')).toMatchObject({ metric: 100, protocol: '201' });
    expect(await ipJson(podNs, ['route', 'show', 'table', '1000'])).toEqual([expect.objectContaining({ dst: '10.94.0.0/16', gateway: '10.244.0.1' })]);
    expect((await ipJson(podNs, ['-6', 'route', 'show'])).find((r: any) => r.dst === 'fd00:97::/64')).toMatchObject({ type: 'unreachable' });
  });

  it('replaces and deletes routes; EEXIST, ESRCH and ignoreMissing behave', async () => {
    await expect(pod.routes.add({ dst: '10.97.0.0/16', type: 'blackhole' })).rejects.toThrow(/^add blackhole route 10.97.0.0\/16: EEXIST$/);
    await pod.routes.replace({ dst: '10.97.0.0/16', gw: '10.244.0.1', dev: 'eth0' });
    expect((await pod.routes.list({ family: 4 })).find((r) => r.dst === '10.97.0.0/16')).toMatchObject({ type: 'unicast', gw: '10.244.0.1' });
    await pod.routes.del({ dst: '10.97.0.0/16' });
    await pod.routes.del({ dst: '10.95.0.0/16', table: 100 });
    await expect(pod.routes.del({ dst: '10.97.0.0/16' })).rejects.toThrow(/ESRCH/);
    await pod.routes.del({ dst: '10.97.0.0/16' }, { ignoreMissing: true });
    const left = (await ipJson(podNs, ['route', 'show', 'table', 'all'])).map((r: any) => r.dst);
    expect(left).not.toContain('10.97.0.0/16');
    expect(left).not.toContain('10.95.0.0/16');
  });
});

describe('neighbors and FDB', () => {
  it('adds, replaces, lists and deletes permanent ARP and NDP entries', async () => {
    await pod.neighbors.add({ dev: 'eth0', ip: '10.244.0.50', mac: '02:00:00:00:00:50' });
    await pod.neighbors.add({ dev: 'eth0', ip: 'fd00:244::50', mac: '02:00:00:00:00:51' });
    await pod.neighbors.replace({ dev: 'eth0', ip: '10.244.0.50', mac: '02:00:00:00:00:52' });
    await expect(pod.neighbors.add({ dev: 'eth0', ip: '10.244.0.50', mac: '02:00:00:00:00:50' })).rejects.toThrow(/EEXIST/);
    const mine = await pod.neighbors.list({ dev: 'eth0' });
    expect(mine.find((n) => n.ip === '10.244.0.50')).toMatchObject({ mac: '02:00:00:00:00:52', permanent: true });
    expect(mine.find((n) => n.ip === 'fd00:244::50')).toMatchObject({ mac: '02:00:00:00:00:51', permanent: true });
    const oracle = await ipJson(podNs, ['neigh', 'show', 'dev', 'eth0']);
    expect(oracle).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ dst: '10.244.0.50', lladdr: '02:00:00:00:00:52', state: ['PERMANENT'] }),
        expect.objectContaining({ dst: 'fd00:244::50', lladdr: '02:00:00:00:00:51', state: ['PERMANENT'] }),
      ]),
    );
    await pod.neighbors.del({ dev: 'eth0', ip: '10.244.0.50' });
    await pod.neighbors.del({ dev: 'eth0', ip: '10.244.0.50' }, { ignoreMissing: true });
    expect((await pod.neighbors.list({ family: 4 })).map((n) => n.ip)).not.toContain('10.244.0.50');
  });

  it('programs VXLAN FDB entries with a remote VTEP (unicast MAC and appended flood entries)', async () => {
    await host.fdb.add({ dev: 'vx0', mac: '0e:00:00:00:00:02', dst: '10.250.0.2' });
    await host.fdb.add({ dev: 'vx0', mac: '00:00:00:00:00:00', dst: '10.250.0.3', append: true });
    await host.fdb.add({ dev: 'vx0', mac: '00:00:00:00:00:00', dst: '10.250.0.4', append: true });
    const mine = await host.fdb.list({ dev: 'vx0' });
    expect(mine).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ mac: '0e:00:00:00:00:02', dst: '10.250.0.2', permanent: true, self: true }),
        expect.objectContaining({ mac: '00:00:00:00:00:00', dst: '10.250.0.3' }),
        expect.objectContaining({ mac: '00:00:00:00:00:00', dst: '10.250.0.4' }),
      ]),
    );
    const oracle = JSON.parse(await inNs(hostNs, 'bridge', ['-j', 'fdb', 'show', 'dev', 'vx0']));
    expect(oracle).toEqual(expect.arrayContaining([expect.objectContaining({ mac: '0e:00:00:00:00:02', dst: '10.250.0.2', state: 'permanent' })]));

    await host.fdb.replace({ dev: 'vx0', mac: '0e:00:00:00:00:02', dst: '10.250.0.9' });
    expect((await host.fdb.list({ dev: 'vx0' })).find((e) => e.mac === '0e:00:00:00:00:02')?.dst).toBe('10.250.0.9');
    await host.fdb.del({ dev: 'vx0', mac: '0e:00:00:00:00:02', dst: '10.250.0.9' });
    await host.fdb.del({ dev: 'vx0', mac: '00:00:00:00:00:00', dst: '10.250.0.3' });
    await host.fdb.del({ dev: 'vx0', mac: '0e:00:00:00:00:02' }, { ignoreMissing: true });
    const rest = (await host.fdb.list({ dev: 'vx0' })).filter((e) => e.dst);
    expect(rest.map((e) => `${e.mac} ${e.dst}`)).toEqual(['00:00:00:00:00:00 10.250.0.4']);
  });
});

describe('dumps of one device', () => {
  it('asks the kernel for one device\'s FDB entries, not every device\'s', async () => {
    await host.fdb.add({ dev: 'vx0', mac: '0e:00:00:00:00:07', dst: '10.250.0.7' });
    const vx = await host.links.require('vx0');
    // The unfiltered dump has other devices' entries (their multicast addresses, at least).
    expect((await host.fdb.list()).some((e) => e.dev !== vx.index)).toBe(true);
    const dump = host.fdb as unknown as { dumpPort(dev: number): Promise<{ data: { ifindex?: number } }[]> };
    const answers = await dump.dumpPort(vx.index);
    expect(answers.length).toBeGreaterThan(0);
    expect(answers.every((m) => m.data.ifindex === vx.index)).toBe(true);
    await host.fdb.del({ dev: 'vx0', mac: '0e:00:00:00:00:07', dst: '10.250.0.7' });
  });
});

describe('socket lifetime', () => {
  it('an open, idle Rtnl does not keep a process alive', async () => {
    // A real Node process (not vitest's worker): bundle a tiny script that
    // opens a socket in the pod, lists links and never calls close().
    const { build } = await import('esbuild');
    const script = `import { Rtnl } from './lib/netlink';
      const nl = Rtnl.open(${JSON.stringify(path(podNs))});
      nl.links.list().then((l) => console.log(l.map((x) => x.name).sort().join(',')));`;
    const out = await build({
      stdin: { contents: script, resolveDir: process.cwd(), loader: 'ts' },
      bundle: true,
      platform: 'node',
      format: 'cjs',
      write: false,
      external: ['netlink'],
      // native() finds the setns addon relative to its own source file.
      define: { 'import.meta.url': JSON.stringify(pathToFileURL(`${process.cwd()}/lib/native/index.ts`).href) },
      logLevel: 'silent',
    });
    const code = out.outputFiles[0]!.text;
    const started = Date.now();
    const { stdout } = await run(process.execPath, ['-e', code], { timeout: 10_000, cwd: process.cwd() });
    expect(stdout.trim()).toBe('eth0,lo');
    expect(Date.now() - started).toBeLessThan(5_000);
  });
});
