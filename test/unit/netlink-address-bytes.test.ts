// lib/netlink/address-bytes: addresses as netlink attributes carry them.
import { describe, expect, it } from 'vitest';
import { ipBytesToString } from '../../lib/ip/address';
import { toCidrBytes, toIpBytes, toNetworkBytes } from '../../lib/netlink/address-bytes';

describe('lib/netlink/address-bytes', () => {
  it('a bare address: AF_INET or AF_INET6 and its bytes; IPv4-mapped addresses are 4 bytes', () => {
    expect(ipBytesToString(toIpBytes('fd00:244:0:0:0:0:0:1').bytes)).toBe('fd00:244::1');
    expect(toIpBytes('::ffff:10.1.2.3')).toEqual({ family: 2, bytes: Buffer.from([10, 1, 2, 3]) });
    expect(toIpBytes('fd00::1').family).toBe(10);
    expect(() => toIpBytes('10.0.0')).toThrow(/not an IP/);
  });

  it('an interface address keeps its host bits, a route destination loses them; a bare IP is a host prefix', () => {
    expect(toCidrBytes('10.244.1.77/26')).toEqual({ family: 2, bytes: Buffer.from([10, 244, 1, 77]), prefixLen: 26 });
    expect(ipBytesToString(toNetworkBytes('10.244.1.77/26').bytes)).toBe('10.244.1.64');
    expect(ipBytesToString(toNetworkBytes('fd00:244::1:2/112').bytes)).toBe('fd00:244::1:0');
    expect(toCidrBytes('10.0.0.1').prefixLen).toBe(32);
    expect(toNetworkBytes('fd00::1').prefixLen).toBe(128);
    expect(() => toCidrBytes('10.0.0.1/33')).toThrow(/bad prefix length/);
  });
});
