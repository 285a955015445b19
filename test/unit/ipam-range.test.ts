import { describe, expect, it } from 'vitest';
import { CniError } from '../../lib/cni/errors';
import { formatIp, parseCidr, parseIp } from '../../lib/ip/address';
import { allocatableCount, canonicalizeRange, formatRange, isAllocatable, type RangeInput } from '../../lib/ipam/range';
import { canonicalizeRangeSet, formatRangeSet, rangeFor } from '../../lib/ipam/range-set';

const ip = (s: string) => parseIp(s)!;

function configError(fn: () => unknown): CniError {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(CniError);
    expect((e as CniError).code).toBe(7);
    return e as CniError;
  }
  throw new Error('expected a config error');
}

describe('addresses print as Go prints them (reservation file names)', () => {
  it.each([
    ['10.1.2.3', '10.1.2.3'],
    ['fd00:244:0:0:0:0:0:2', 'fd00:244::2'],
    ['FD00::A', 'fd00::a'],
    ['1:0:2:3:4:5:6:7', '1:0:2:3:4:5:6:7'],
    ['1:0:0:2:0:0:3:4', '1::2:0:0:3:4'],
    ['::ffff:10.0.0.1', '10.0.0.1'],
  ])('%s -> %s', (input, printed) => {
    expect(formatIp(ip(input))).toBe(printed);
  });

  it('rejects what is not a bare address', () => {
    for (const bad of ['10.0.0.0/24', '010.1.1.1', '1.2.3', 'fe80::1%eth0', '', 'x']) expect(parseIp(bad)).toBeUndefined();
    expect(parseCidr('10.0.0.0/33')).toMatch(/out of range for IPv4/);
    expect(parseCidr('fd00::/129')).toMatch(/out of range for IPv6/);
  });
});

describe('canonicalizeRange', () => {
  it('fills the IPv4 defaults: start .1, end broadcast-1, gateway .1', () => {
    const r = canonicalizeRange({ subnet: '10.244.1.0/24' }, 'r');
    expect(formatRange(r)).toBe('10.244.1.1-10.244.1.254');
    expect(formatIp(r.gateway)).toBe('10.244.1.1');
  });

  it('fills the IPv6 defaults: the last address is usable', () => {
    const r = canonicalizeRange({ subnet: 'fd00:244::/120' }, 'r');
    expect(formatRange(r)).toBe('fd00:244::1-fd00:244::ff');
    expect(formatIp(r.gateway)).toBe('fd00:244::1');
  });

  it('keeps explicit start, end and gateway', () => {
    const r = canonicalizeRange({ subnet: '10.0.0.0/16', rangeStart: '10.0.5.10', rangeEnd: '10.0.5.20', gateway: '10.0.0.254' }, 'r');
    expect(formatRange(r)).toBe('10.0.5.10-10.0.5.20');
    expect(formatIp(r.gateway)).toBe('10.0.0.254');
  });

  it.each<[RangeInput, string]>([
    [{ subnet: '10.0.0.0/33' }, 'ipam.ranges[0][1].subnet: prefix length "33" is out of range for IPv4 (0-32)'],
    [{ subnet: '10.0.0.0' }, 'ipam.ranges[0][1].subnet: "10.0.0.0" is not in CIDR notation (address/prefix)'],
    [{ subnet: '10.0.0.0/31' }, 'ipam.ranges[0][1].subnet: network 10.0.0.0/31 is too small to allocate from'],
    [{ subnet: 'fd00::/127' }, 'ipam.ranges[0][1].subnet: network fd00::/127 is too small to allocate from'],
    [{ subnet: '10.0.0.5/24' }, 'ipam.ranges[0][1].subnet: 10.0.0.5/24 has host bits set; the network address is 10.0.0.0/24'],
    [{ subnet: '10.0.0.0/24', rangeStart: '10.0.1.1' }, 'ipam.ranges[0][1].rangeStart: 10.0.1.1 is not in subnet 10.0.0.0/24'],
    [{ subnet: '10.0.0.0/24', rangeEnd: 'fd00::1' }, 'ipam.ranges[0][1].rangeEnd: fd00::1 is not in subnet 10.0.0.0/24'],
    [{ subnet: '10.0.0.0/24', rangeStart: '10.0.0.9', rangeEnd: '10.0.0.8' }, 'ipam.ranges[0][1].rangeEnd: 10.0.0.8 is before rangeStart 10.0.0.9'],
    [{ subnet: '10.0.0.0/24', gateway: 'fd00::1' }, 'ipam.ranges[0][1].gateway: "fd00::1" is not an IPv4 address'],
    [{ subnet: '10.77.0.0/24', gateway: '10.99.0.1' }, 'ipam.ranges[0][1].gateway: 10.99.0.1 is not in subnet 10.77.0.0/24'],
    [{ subnet: 'fd00:77::/64', gateway: 'fd00:99::1' }, 'ipam.ranges[0][1].gateway: fd00:99::1 is not in subnet fd00:77::/64'],
  ])('rejects %j', (input, msg) => {
    expect(configError(() => canonicalizeRange(input, 'ipam.ranges[0][1]')).msg).toBe(msg);
  });

  it('never hands out gateway, network or IPv4 broadcast, even inside an explicit range', () => {
    const r = canonicalizeRange({ subnet: '10.0.0.0/29', rangeStart: '10.0.0.0', rangeEnd: '10.0.0.7', gateway: '10.0.0.3' }, 'r');
    const usable = [0, 1, 2, 3, 4, 5, 6, 7].filter((n) => isAllocatable(r, ip(`10.0.0.${n}`)));
    expect(usable).toEqual([1, 2, 4, 5, 6]);
    expect(allocatableCount(r)).toBe(5n);
    expect(allocatableCount(canonicalizeRange({ subnet: '10.0.0.0/24' }, 'r'))).toBe(253n);
    expect(allocatableCount(canonicalizeRange({ subnet: 'fd00::/64' }, 'r'))).toBe((1n << 64n) - 2n);
  });
});

describe('canonicalizeRangeSet', () => {
  it('accepts disjoint ranges of one family and finds the range of an address', () => {
    const set = canonicalizeRangeSet([{ subnet: '10.0.0.0/24' }, { subnet: '10.0.1.0/24' }], 'ipam.ranges[0]');
    expect(formatRangeSet(set)).toBe('10.0.0.1-10.0.0.254,10.0.1.1-10.0.1.254');
    expect(rangeFor(set, ip('10.0.1.7'))).toBe(set[1]);
    expect(rangeFor(set, ip('10.0.2.7'))).toBeUndefined();
    expect(rangeFor(set, ip('10.0.0.255'))).toBeUndefined();
  });

  it('rejects an empty set, mixed families and overlaps, naming the range', () => {
    expect(configError(() => canonicalizeRangeSet([], 'ipam.ranges[2]')).msg).toBe('ipam.ranges[2]: is an empty range set');
    expect(configError(() => canonicalizeRangeSet([{ subnet: '10.0.0.0/24' }, { subnet: 'fd00::/64' }], 'ipam.ranges[0]')).msg)
      .toBe('ipam.ranges[0][1].subnet: IPv6 in a range set of IPv4 ranges (mixed address families)');
    expect(configError(() => canonicalizeRangeSet(
      [{ subnet: '10.0.0.0/16' }, { subnet: '10.0.1.0/24', rangeStart: '10.0.1.10' }], 'ipam.ranges[0]',
    )).msg).toBe('ipam.ranges[0][1]: range 10.0.1.10-10.0.1.254 overlaps ipam.ranges[0][0] (10.0.0.1-10.0.255.254)');
  });

  it('accepts ranges of one subnet that do not overlap', () => {
    const set = canonicalizeRangeSet([
      { subnet: '10.0.0.0/24', rangeStart: '10.0.0.10', rangeEnd: '10.0.0.19' },
      { subnet: '10.0.0.0/24', rangeStart: '10.0.0.20', rangeEnd: '10.0.0.29' },
    ], 'ipam.ranges[0]');
    expect(set).toHaveLength(2);
  });
});
