// host-local as a runtime runs it: the built executable, env -i, JSON on
// stdin, inside a node netns. Its store is shared with the reference
// host-local, so the concurrency tests mix both on one dataDir.
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  DIST_BIN, REFERENCE_BIN, expectSuccess, ipJson, useHarness, type CniOutcome, type Netns,
} from './harness';

const h = useHarness();
let node: Netns;

beforeAll(async () => {
  node = await h.createNode();
});

function netconf(dataDir: string, ipam: Record<string, unknown> = {}, extra: Record<string, unknown> = {}) {
  return {
    // The reference plugins here speak up to 1.0.0.
    cniVersion: '1.0.0', name: 'tscni-hl', type: 'host-local',
    ipam: { type: 'host-local', dataDir, ranges: [[{ subnet: '10.244.0.0/24' }]], ...ipam },
    ...extra,
  };
}

function hostLocal(impl: 'ours' | 'reference', command: 'ADD' | 'DEL', config: object, containerId: string): Promise<CniOutcome> {
  return h.runCniPlugin({
    node, command, containerId, netns: '/run/netns/unused', ifname: 'eth0', config: config as Record<string, unknown>,
    ...(impl === 'ours' ? { plugin: 'host-local' } : { pluginPath: join(REFERENCE_BIN, 'host-local') }),
  });
}

const storeFiles = (dataDir: string) => readdirSync(join(dataDir, 'tscni-hl')).sort();

describe('host-local executable', () => {
  it('answers VERSION with every supported version', async () => {
    const out = expectSuccess(await h.runCniPlugin({ node, plugin: 'host-local', command: 'VERSION', config: { cniVersion: '1.1.0' } }));
    expect(out.json.supportedVersions).toEqual(['0.3.0', '0.3.1', '0.4.0', '1.0.0', '1.1.0']);
  });

  it.each<[string, Record<string, unknown>, Record<string, unknown>, RegExp]>([
    ['unknown range syntax', { ranges: [{ subnet: '10.244.0.0/24' }] }, {}, /^ipam\.ranges\[0\]: must be an array/],
    ['a /33 subnet', { ranges: [], subnet: '10.0.0.0/33' }, {}, /^ipam\.subnet: prefix length "33" is out of range/],
    ['a dataDir with ..', { dataDir: '/tmp/../etc/tscni' }, {}, /^ipam\.dataDir: must not contain a "\.\." component/],
    ['a name with /', {}, { name: 'a/b' }, /^name: /],
    ['a name with ..', {}, { name: 'a..b' }, /^name: must not contain/],
  ])('refuses %s with code 7 and writes nothing', async (_what, ipam, extra, msg) => {
    const dataDir = await h.tempDir('hl-bad');
    const out = await hostLocal('ours', 'ADD', netconf(dataDir, ipam, extra), 'c1');
    expect(out.exitCode).not.toBe(0);
    expect(out.json.code).toBe(7);
    expect(out.json.msg).toMatch(msg);
    expect(readdirSync(dataDir)).toEqual([]);
  });
});

describe('100 concurrent ADDs on one dataDir', () => {
  async function addAll(dataDir: string, implFor: (i: number) => 'ours' | 'reference') {
    const config = netconf(dataDir);
    const started = performance.now();
    const outs = await Promise.all(Array.from({ length: 100 }, (_, i) => hostLocal(implFor(i), 'ADD', config, `c${i}`)));
    const ms = performance.now() - started;
    outs.forEach((o, i) => expectSuccess(o, `ADD c${i} (${implFor(i)})`));
    const addrs = outs.map((o) => o.json.ips[0].address as string);
    expect(new Set(addrs).size).toBe(100);
    const reservations = storeFiles(dataDir).filter((f) => f.startsWith('10.'));
    expect(reservations).toHaveLength(100);
    addrs.forEach((a, i) => expect(readFileSync(join(dataDir, 'tscni-hl', a.split('/')[0]!), 'utf8')).toBe(`c${i}\r\neth0`));
    return { config, ms };
  }

  async function delAll(config: object, implFor: (i: number) => 'ours' | 'reference') {
    const outs = await Promise.all(Array.from({ length: 100 }, (_, i) => hostLocal(implFor(i), 'DEL', config, `c${i}`)));
    outs.forEach((o, i) => expectSuccess(o, `DEL c${i} (${implFor(i)})`));
  }

  it('ours alone: 100 distinct addresses and files; 100 DELs leave lock and last_reserved_ip.0', async () => {
    const dataDir = await h.tempDir('hl-ours');
    const { config, ms } = await addAll(dataDir, () => 'ours');
    console.log(`100 concurrent ADDs (ours): ${ms.toFixed(0)} ms`);
    await delAll(config, () => 'ours');
    expect(storeFiles(dataDir)).toEqual(['last_reserved_ip.0', 'lock']);
  });

  it('50 ours and 50 reference interleaved: no duplicate; each releases what the other reserved', async () => {
    const dataDir = await h.tempDir('hl-mixed');
    const { config, ms } = await addAll(dataDir, (i) => (i % 2 === 0 ? 'ours' : 'reference'));
    console.log(`100 concurrent ADDs (50 ours + 50 reference): ${ms.toFixed(0)} ms`);
    await delAll(config, (i) => (i % 2 === 0 ? 'reference' : 'ours'));
    expect(storeFiles(dataDir)).toEqual(['last_reserved_ip.0', 'lock']);
  });
});

describe('the store lock (flock on <dataDir>/<network>/lock)', () => {
  /** /proc/locks lines about `file`: "held" by a process, or a process "waiting" for it. */
  function flocksOn(file: string): { held: number; waiting: number } {
    const { ino } = statSync(file);
    const lines = readFileSync('/proc/locks', 'utf8').split('\n').filter((l) => / FLOCK /.test(l) && l.includes(`:${ino} `));
    return { held: lines.filter((l) => !l.includes('->')).length, waiting: lines.filter((l) => l.includes('->')).length };
  }

  /** Polls `cond` until it holds; the bound only keeps a broken lock from hanging the run. */
  async function until(what: string, cond: () => boolean): Promise<void> {
    for (let i = 0; i < 200 && !cond(); i++) await new Promise((r) => setTimeout(r, 50));
    if (!cond()) throw new Error(`gave up waiting: ${what}`);
  }

  /** Another process (flock(1), in the node netns) holding the store lock until it is killed. */
  async function holdLock(lockFile: string) {
    const holder = h.startDaemon(node, 'flock', ['--exclusive', '--no-fork', lockFile, 'sleep', '60']);
    await until('flock(1) holds the lock', () => flocksOn(lockFile).held === 1);
    return holder;
  }

  async function storeWithLockFile(role: string) {
    const dataDir = await h.tempDir(role);
    const config = netconf(dataDir);
    // One ADD creates the store and its lock file; DEL leaves both.
    expectSuccess(await hostLocal('ours', 'ADD', config, 'c0'));
    expectSuccess(await hostLocal('ours', 'DEL', config, 'c0'));
    return { dataDir, config, lockFile: join(dataDir, 'tscni-hl', 'lock') };
  }

  it('ADD waits while another process holds the lock, and completes once it is released', async () => {
    const { dataDir, config, lockFile } = await storeWithLockFile('hl-lock-wait');
    const holder = await holdLock(lockFile);
    const add = hostLocal('ours', 'ADD', config, 'c1');
    await until('the ADD blocks on the lock', () => flocksOn(lockFile).waiting === 1);
    // blocked before it reserved anything
    expect(storeFiles(dataDir).filter((f) => f.startsWith('10.'))).toEqual([]);
    holder.kill('SIGKILL');
    const address = (expectSuccess(await add).json.ips[0].address as string).split('/')[0]!;
    expect(storeFiles(dataDir).filter((f) => f.startsWith('10.'))).toEqual([address]);
    expect(readFileSync(join(dataDir, 'tscni-hl', address), 'utf8')).toBe('c1\r\neth0');
  });

  it('two concurrent ADDs of one container ID and ifname: exactly one succeeds, one address reserved', async () => {
    const { dataDir, config, lockFile } = await storeWithLockFile('hl-lock-dup');
    // Both start while the lock is held, so both are past start-up and race
    // for the lock the moment it is released.
    const holder = await holdLock(lockFile);
    const adds = [hostLocal('ours', 'ADD', config, 'c-dup'), hostLocal('ours', 'ADD', config, 'c-dup')];
    await until('both ADDs block on the lock', () => flocksOn(lockFile).waiting === 2);
    holder.kill('SIGKILL');
    const outs = await Promise.all(adds);
    expect(outs.map((o) => o.exitCode).sort()).toEqual([0, 1]);
    const failed = outs.find((o) => o.exitCode !== 0)!;
    expect(failed.json.msg).toMatch(/has been allocated to c-dup, duplicate allocation is not allowed/);
    const reservations = storeFiles(dataDir).filter((f) => f.startsWith('10.'));
    expect(reservations).toHaveLength(1);
    expect(readFileSync(join(dataDir, 'tscni-hl', reservations[0]!), 'utf8')).toBe('c-dup\r\neth0');
  });
});

describe('the reference bridge delegating IPAM to our host-local', () => {
  it('gives the pod an address from ours, and the pod pings the bridge gateway', async () => {
    const dataDir = await h.tempDir('hl-bridge');
    const pod = await h.createPod();
    // rangeStart at the network address tells the implementations apart: the
    // reference would hand out 10.244.7.0 first, ours never hands out the
    // network address and starts at .2 (the gateway .1 is skipped by both).
    const config = {
      cniVersion: '1.0.0', name: 'tscni-hl-br', type: 'bridge', bridge: 'hlbr0', isGateway: true,
      ipam: { type: 'host-local', dataDir, ranges: [[{ subnet: '10.244.7.0/24', rangeStart: '10.244.7.0' }]] },
    };
    const run = (command: 'ADD' | 'DEL') => h.runCniPlugin({
      node, pluginPath: join(REFERENCE_BIN, 'bridge'), command, containerId: 'hl-bridge-pod', netns: pod, ifname: 'eth0',
      config, cniPath: [DIST_BIN, REFERENCE_BIN],
    });
    const add = expectSuccess(await run('ADD'), 'reference bridge ADD');
    expect(add.json.ips[0]).toMatchObject({ address: '10.244.7.2/24', gateway: '10.244.7.1' });
    const podAddrs = await ipJson(pod, ['-4', 'addr', 'show', 'dev', 'eth0']);
    expect(podAddrs[0].addr_info.map((a: { local: string }) => a.local)).toEqual(['10.244.7.2']);
    const ping = await h.ping(pod, '10.244.7.1', 3);
    expect(ping.ok, ping.output).toBe(true);

    expectSuccess(await run('DEL'), 'reference bridge DEL');
    expect(readdirSync(join(dataDir, 'tscni-hl-br')).sort()).toEqual(['last_reserved_ip.0', 'lock']);
    expect(existsSync(join(dataDir, 'tscni-hl-br', '10.244.7.2'))).toBe(false);
  });
});
