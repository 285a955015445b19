// Failed commands leave nothing behind, also on the error paths that are hard
// to reach: a bridge ADD that runs out of file descriptors while it opens the
// pod's namespace and its netlink sockets, and a host-local reservation whose
// last_reserved_ip file cannot be written.
import { mkdirSync, readdirSync, symlinkSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { bundleFixture } from './fixture-bundle';
import { useHarness, type Netns } from './harness';

const h = useHarness();
let node: Netns;
let dir: string;

beforeAll(async () => {
  node = await h.createNode();
  dir = await h.tempDir('leaks');
});

describe('bridge ADD that fails while opening its namespace and sockets', () => {
  it('closes what it opened, whichever open fails', async () => {
    const fixture = await bundleFixture('add-fds.ts', dir);
    // With 0 to 3 descriptors free, a different open fails: the namespace's, the node socket's (or the addon's), the pod socket's.
    for (const free of [0, 1, 2, 3]) {
      const pod = await h.createPod();
      const out = await h.execIn(node, 'prlimit', ['--nofile=64:64', process.execPath, fixture, pod.path, String(free)]);
      const { leaked, error } = JSON.parse(out.stdout);
      expect(error, `${free} free`).toMatch(/EMFILE|Too many open files/);
      expect(leaked, `${free} free: ${error}`).toBe(0);
    }
  });
});

describe('host-local ADD whose last_reserved_ip write fails', () => {
  it('fails with code 5 naming the file, and keeps no reservation', async () => {
    const dataDir = join(dir, 'ipam');
    mkdirSync(join(dataDir, 'tscni-lr'), { recursive: true });
    // Reads as absent (ENOENT), but cannot be written: its target's directory does not exist.
    symlinkSync(join(dir, 'no-such-dir', 'x'), join(dataDir, 'tscni-lr', 'last_reserved_ip.0'));
    const config = {
      cniVersion: '1.0.0', name: 'tscni-lr', type: 'host-local',
      ipam: { type: 'host-local', dataDir, ranges: [[{ subnet: '10.244.50.0/24' }]] },
    };
    const out = await h.runCniPlugin({ node, plugin: 'host-local', command: 'ADD', containerId: 'lr-1', netns: '/run/netns/unused', ifname: 'eth0', config });
    expect(out.exitCode).not.toBe(0);
    expect(out.json).toMatchObject({ cniVersion: '1.0.0', code: 5 });
    expect(out.json.msg).toMatch(/cannot write .*\/tscni-lr\/last_reserved_ip\.0: ENOENT/);
    expect(readdirSync(join(dataDir, 'tscni-lr')).sort()).toEqual(['last_reserved_ip.0', 'lock']);
  });
});
