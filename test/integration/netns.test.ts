// lib/netns against the kernel: entering and leaving namespaces, sockets and
// sysctls that land in the namespace they were made in, and the errors a bad
// CNI_NETNS gives. Everything happens in namespaces this file creates.
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  NetnsError,
  currentNetnsPath,
  isNetnsGone,
  isNetnsMissing,
  netnsInode,
  openNetns,
  readSysctl,
  withNetns,
  writeSysctl,
} from '../../lib/netns';
import { Rtnl } from '../../lib/netlink';
import { asCniError } from '../../lib/cni/errors';

const run = promisify(execFile);
const PREFIX = `tscni-ns${process.pid}-${Date.now().toString(36)}`;
const nodeNs = `${PREFIX}-node`;
const podNs = `${PREFIX}-pod`;
const path = (name: string): string => `/run/netns/${name}`;
const ipIn = (ns: string, args: string[]) => run('ip', ['-n', ns, ...args], { timeout: 10_000 });
const threadNs = (): number => netnsInode('/proc/thread-self/ns/net');

let tmp = '';

function catchError(fn: () => unknown): unknown {
  try {
    fn();
  } catch (e) {
    return e;
  }
  return undefined;
}

beforeAll(async () => {
  tmp = mkdtempSync(join(tmpdir(), `${PREFIX}-`));
  await run('ip', ['netns', 'add', nodeNs]);
  await run('ip', ['netns', 'add', podNs]);
  await ipIn(podNs, ['link', 'add', 'podveth0', 'type', 'veth', 'peer', 'name', 'podveth1']);
});

afterAll(async () => {
  for (const ns of [podNs, nodeNs]) await run('ip', ['netns', 'del', ns]).catch(() => undefined);
  rmSync(tmp, { recursive: true, force: true });
});

describe('withNetns', () => {
  it('runs fn inside the target and returns to the original namespace', () => {
    const before = threadNs();
    const inside = withNetns(path(podNs), () => threadNs());
    expect(inside).toBe(netnsInode(path(podNs)));
    expect(inside).not.toBe(before);
    expect(threadNs()).toBe(before);
  });

  it('returns to the original namespace when fn throws', () => {
    const before = threadNs();
    expect(() =>
      withNetns(path(podNs), () => {
        throw new Error('boom');
      }),
    ).toThrow('boom');
    expect(threadNs()).toBe(before);
  });

  it('nests: the inner call restores the outer namespace', () => {
    const before = threadNs();
    const seen = withNetns(path(nodeNs), () => {
      const inner = withNetns(path(podNs), () => threadNs());
      return [inner, threadNs()];
    });
    expect(seen).toEqual([netnsInode(path(podNs)), netnsInode(path(nodeNs))]);
    expect(threadNs()).toBe(before);
  });

  it('rejects an async fn (the rest of it would run outside) and still returns', () => {
    const before = threadNs();
    expect(() => withNetns(path(podNs), async () => 1)).toThrow(/synchronous/);
    expect(threadNs()).toBe(before);
  });

  it('currentNetnsPath names the thread namespace, also inside withNetns', () => {
    expect(netnsInode(currentNetnsPath())).toBe(threadNs());
    expect(withNetns(path(podNs), () => netnsInode(currentNetnsPath()))).toBe(netnsInode(path(podNs)));
  });
});

describe('openNetns errors, and the CNI codes a plugin answers them with', () => {
  it('a missing path: reason "missing" with its errno; code 3 for CNI_NETNS', () => {
    const absent = path(`${PREFIX}-absent`);
    const err = catchError(() => openNetns(absent));
    expect(err).toBeInstanceOf(NetnsError);
    expect(err).toMatchObject({ reason: 'missing', path: absent, errno: 'ENOENT' });
    expect(isNetnsMissing(err)).toBe(true);
    const cni = asCniError(err);
    expect(cni.code).toBe(3);
    expect(cni.msg).toBe(`CNI_NETNS: failed to open netns ${JSON.stringify(absent)}`);
    expect(cni.details).toMatch(/ENOENT/);
  });

  it('a directory or another namespace type is not a netns, and a regular file is an unmounted one, which DEL counts as gone; both code 4', () => {
    const file = join(tmp, 'not-a-netns');
    writeFileSync(file, '');
    for (const p of [tmp, '/proc/self/ns/uts']) {
      const err = catchError(() => openNetns(p));
      expect(err).toMatchObject({ reason: 'not-netns', path: p });
      expect(isNetnsGone(err)).toBe(false);
      expect(asCniError(err)).toMatchObject({ code: 4, msg: `CNI_NETNS: ${JSON.stringify(p)} is not a network namespace` });
    }
    // The bind-mount target a runtime leaves behind after unmounting the namespace.
    expect(() => openNetns(file)).toThrow(expect.objectContaining({ reason: 'unmounted' }));
    expect(isNetnsGone(catchError(() => openNetns(file)))).toBe(true);
    expect(asCniError(catchError(() => withNetns(file, () => 1)))).toMatchObject({
      code: 4, msg: `CNI_NETNS: ${JSON.stringify(file)} is not a network namespace (a plain file: its namespace was unmounted)`,
    });
  });

  it('accepts both bind-mounted and /proc paths', () => {
    const h = openNetns(path(podNs));
    expect(h.inode).toBe(netnsInode(path(podNs)));
    h.close();
    openNetns('/proc/self/ns/net').close();
  });
});

describe('things made inside a namespace belong to it', () => {
  it('a netlink socket opened for the pod lists the pod links, not the node or machine ones', async () => {
    const pod = Rtnl.open(path(podNs));
    const node = Rtnl.open(path(nodeNs));
    try {
      const podNames = (await pod.links.list()).map((l) => l.name).sort();
      const nodeNames = (await node.links.list()).map((l) => l.name).sort();
      expect(podNames).toEqual(['lo', 'podveth0', 'podveth1']);
      expect(nodeNames).toEqual(['lo']);
    } finally {
      pod.close();
      node.close();
    }
  });

  it('a sysctl written in the pod changes only the pod', async () => {
    const key = 'net/ipv4/ip_forward';
    const machine = readSysctl(undefined, key);
    expect(readSysctl(path(podNs), key)).toBe('0');
    writeSysctl(path(podNs), key, 1);
    expect(readSysctl(path(podNs), key)).toBe('1');
    expect(readSysctl(path(nodeNs), key)).toBe('0');
    expect(readSysctl(undefined, key)).toBe(machine);
    // Independent oracle: the sysctl tool run by iproute2 inside the namespace.
    const { stdout } = await run('ip', ['netns', 'exec', podNs, 'sysctl', '-n', 'net.ipv4.ip_forward']);
    expect(stdout.trim()).toBe('1');
  });

  it('per-interface sysctls use slash keys (interface names may contain dots)', () => {
    writeSysctl(path(podNs), 'net/ipv4/conf/podveth0/proxy_arp', '1');
    expect(readSysctl(path(podNs), 'net/ipv4/conf/podveth0/proxy_arp')).toBe('1');
    expect(readSysctl(path(podNs), 'net/ipv4/conf/podveth1/proxy_arp')).toBe('0');
  });

  it('refuses sysctl keys outside net/ or with ".."', () => {
    for (const key of ['kernel/hostname', 'net/../kernel/hostname', '/net/ipv4/ip_forward', 'net//x', 'net.ipv4.ip_forward']) {
      expect(() => writeSysctl(path(podNs), key, 1)).toThrow(/sysctl key/);
    }
  });
});
