import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { CniError } from '../../lib/cni/errors';
import { formatIp, parseIp } from '../../lib/ip/address';
import { allocateFromRangeSet, iterateRangeSet } from '../../lib/ipam/allocator';
import { DiskStore } from '../../lib/ipam/disk-store';
import type { RangeInput } from '../../lib/ipam/range';
import { canonicalizeRangeSet, type RangeSet } from '../../lib/ipam/range-set';

const ip = (s: string) => parseIp(s)!;
const set = (...ranges: RangeInput[]): RangeSet => canonicalizeRangeSet(ranges, 'test');
function order(s: RangeSet, last?: string, n = 100): string[] {
  const out: string[] = [];
  for (const c of iterateRangeSet(s, last ? ip(last) : undefined)) {
    if (out.length === n) break;
    out.push(formatIp(c.ip));
  }
  return out;
}

describe('iterateRangeSet', () => {
  it('starts at rangeStart and skips the gateway', () => {
    expect(order(set({ subnet: '10.0.0.0/29' }))).toEqual(['10.0.0.2', '10.0.0.3', '10.0.0.4', '10.0.0.5', '10.0.0.6']);
  });

  it('continues after the last reserved address and wraps around to it', () => {
    expect(order(set({ subnet: '10.0.0.0/29' }), '10.0.0.4')).toEqual(['10.0.0.5', '10.0.0.6', '10.0.0.2', '10.0.0.3', '10.0.0.4']);
  });

  it('walks into the next range and back to the first', () => {
    const s = set({ subnet: '10.0.0.0/30' }, { subnet: '10.0.1.0/30' });
    expect(order(s, '10.0.0.2')).toEqual(['10.0.1.2', '10.0.0.2']);
  });

  it('ignores a last reserved address outside the set (the config changed)', () => {
    expect(order(set({ subnet: '10.0.0.0/29' }), '10.9.9.9', 2)).toEqual(['10.0.0.2', '10.0.0.3']);
  });

  it('skips a gateway in the middle of the range', () => {
    expect(order(set({ subnet: '10.0.0.0/29', gateway: '10.0.0.4' }))).toEqual(['10.0.0.1', '10.0.0.2', '10.0.0.3', '10.0.0.5', '10.0.0.6']);
  });

  it('is lazy and IPv6-aware on huge ranges, and wraps at the last address of the subnet', () => {
    expect(order(set({ subnet: 'fd00:244::/64' }), undefined, 2)).toEqual(['fd00:244::2', 'fd00:244::3']);
    expect(order(set({ subnet: 'fd00::/126' }), 'fd00::3')).toEqual(['fd00::2', 'fd00::3']);
  });
});

describe('allocateFromRangeSet on the disk store', () => {
  let dataDir: string;
  let store: DiskStore;
  const dir = () => join(dataDir, 'net1');
  const files = () => readdirSync(dir()).sort();
  const alloc = (s: RangeSet, id: string, extra: { ifname?: string; requested?: string } = {}) =>
    store.withLock(() => allocateFromRangeSet({
      store, set: s, rangeSetId: '0', containerId: id, ifname: extra.ifname ?? 'eth0',
      ...(extra.requested ? { requested: ip(extra.requested) } : {}),
    }));

  beforeEach(() => {
    dataDir = mkdtempSync(join(tmpdir(), 'tscni-ipam-unit-'));
    store = DiskStore.open(dataDir, 'net1', { create: true })!;
  });
  afterEach(async () => {
    await store.close();
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('writes the reference layout: "<id>\\r\\n<ifname>", last_reserved_ip.<set>, lock', async () => {
    expect(await alloc(set({ subnet: '10.0.0.0/24' }), 'c1')).toEqual({ address: '10.0.0.2/24', gateway: '10.0.0.1' });
    expect(files()).toEqual(['10.0.0.2', 'last_reserved_ip.0', 'lock']);
    expect(readFileSync(join(dir(), '10.0.0.2'), 'utf8')).toBe('c1\r\neth0');
    expect(readFileSync(join(dir(), 'last_reserved_ip.0'), 'utf8')).toBe('10.0.0.2');
    expect(await alloc(set({ subnet: 'fd00::/64' }), 'c1')).toEqual({ address: 'fd00::2/64', gateway: 'fd00::1' });
    expect(readFileSync(join(dir(), 'fd00::2'), 'utf8')).toBe('c1\r\neth0');
  });

  it('continues after the last reserved address even when lower ones are free', async () => {
    const s = set({ subnet: '10.0.0.0/24' });
    writeFileSync(join(dir(), 'last_reserved_ip.0'), '10.0.0.9');
    expect((await alloc(s, 'c1')).address).toBe('10.0.0.10/24');
    expect((await alloc(s, 'c2')).address).toBe('10.0.0.11/24');
  });

  it('skips addresses another process reserved and fails with code 100 naming the set when full', async () => {
    const s = set({ subnet: '10.0.0.0/29' });
    writeFileSync(join(dir(), '10.0.0.3'), 'other\r\neth0');
    const got = [];
    for (const id of ['a', 'b', 'c', 'd']) got.push((await alloc(s, id)).address);
    expect(got).toEqual(['10.0.0.2/29', '10.0.0.4/29', '10.0.0.5/29', '10.0.0.6/29']);
    const err = await alloc(s, 'e').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(CniError);
    expect(err).toMatchObject({ code: 100, msg: 'no IP addresses available in range set: 10.0.0.1-10.0.0.6' });
  });

  it('refuses a second address for the same container and ifname, not for another ifname', async () => {
    const s = set({ subnet: '10.0.0.0/24' });
    await alloc(s, 'c1');
    await expect(alloc(s, 'c1')).rejects.toThrow('10.0.0.2 has been allocated to c1, duplicate allocation is not allowed');
    expect((await alloc(s, 'c1', { ifname: 'eth1' })).address).toBe('10.0.0.3/24');
  });

  it('reserves a requested address, refusing the gateway and a taken one', async () => {
    const s = set({ subnet: '10.0.0.0/24' });
    expect((await alloc(s, 'c1', { requested: '10.0.0.77' })).address).toBe('10.0.0.77/24');
    await expect(alloc(s, 'c2', { requested: '10.0.0.77' })).rejects.toThrow('requested IP address 10.0.0.77 is not available');
    await expect(alloc(s, 'c3', { requested: '10.0.0.1' })).rejects.toThrow('is the gateway of 10.0.0.0/24');
    expect(readFileSync(join(dir(), 'last_reserved_ip.0'), 'utf8')).toBe('10.0.0.77');
  });

  it('releases by container and ifname, and old id-only files by container', async () => {
    const s = set({ subnet: '10.0.0.0/24' });
    await alloc(s, 'c1');
    await alloc(s, 'c1', { ifname: 'eth1' });
    writeFileSync(join(dir(), '10.0.0.50'), 'old\n');
    expect(await store.withLock(() => store.releaseById('c1', 'eth0'))).toEqual(['10.0.0.2']);
    expect(await store.withLock(() => store.releaseById('c1', 'eth0'))).toEqual([]);
    expect(await store.withLock(() => store.releaseById('old', 'eth0'))).toEqual(['10.0.0.50']);
    expect(files()).toEqual(['10.0.0.3', 'last_reserved_ip.0', 'lock']);
    expect(await store.list()).toEqual([{ ip: '10.0.0.3', containerId: 'c1', ifname: 'eth1' }]);
  });

  it('opens without creating: a missing network directory is no store, not an empty one', () => {
    expect(DiskStore.open(dataDir, 'absent', { create: false })).toBeUndefined();
    expect(readdirSync(dataDir)).toEqual(['net1']);
  });

  it('refuses to release a name that is not an address', async () => {
    await expect(store.release('../lock')).rejects.toThrow('not an IP address');
  });
});
