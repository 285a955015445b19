// Oracles that are not this code: node:net for what is an address, the
// ip-address package for the RFC 5952 printed form (Go's net.IP.String()).
import { Address6 } from 'ip-address';
import { isIP } from 'node:net';
import { describe, expect, it } from 'vitest';
import {
  formatCidr, formatIp, ipBytesToString, ipFamily, ipFromBytes, ipToBytes, isMac, linkLocalOfMac, macBytesToString, networkOf, parseCidr,
  parseIp, toMacBytes, type Cidr,
} from '../../lib/ip/address';

describe('lib/ip/address: the one address parser', () => {
  it.each([
    '10.0.0.1', '0.0.0.0', '255.255.255.255', '256.0.0.1', '01.2.3.4', '1.2.3', '::', '::1', 'fd00::1', '1::2::3',
    '1:2:3:4:5:6:7:8', '1:2:3:4:5:6:7:8:9', '::ffff:10.0.0.1', '1:2:3:4:5:6:1.2.3.4', '1:2:3:4:5:6:7:1.2.3.4',
    '1:2:3:4:5:6:7::', '12345::1', ':1', '1:', ':::', 'FD00::AB', '1.2.3.4::', '::1.2.3', '',
  ])('%j is an address exactly when node:net says so', (text) => expect(parseIp(text) !== undefined).toBe(isIP(text) !== 0));

  it.each([
    ['FD00:0244:0000:0000:0000:0000:0000:0001', 'fd00:244::1'],
    ['1:0:0:2:0:0:0:3', '1:0:0:2::3'],
    ['1:0:0:2:3:0:0:4', '1::2:3:0:0:4'],
    ['1:0:2:3:4:5:6:7', '1:0:2:3:4:5:6:7'],
    ['::', '::'],
    ['::ffff:10.1.2.3', '10.1.2.3'],
    ['::10.1.2.3', '::a01:203'],
  ])('%s prints as Go prints it: %s', (text, printed) => expect(formatIp(parseIp(text)!)).toBe(printed));

  it('kernel byte form round-trips, mapped bytes read as IPv4', () => {
    for (const text of ['10.244.1.7', 'fd00:244::7', '::']) {
      expect(formatIp(ipFromBytes(ipToBytes(parseIp(text)!)))).toBe(text);
    }
    expect(ipToBytes(parseIp('10.0.0.1')!)).toEqual(Buffer.from([10, 0, 0, 1]));
    expect(ipFromBytes(Buffer.from('00000000000000000000ffff0a000001', 'hex'))).toEqual({ family: 4, value: 0x0a000001n });
  });

  it('CIDRs: prefix fits the family; mapped prefixes count from the IPv4 part', () => {
    expect(formatCidr(networkOf(parseCidr('10.244.1.77/26') as Cidr))).toBe('10.244.1.64/26');
    expect(formatCidr(networkOf(parseCidr('::ffff:10.0.0.1/120') as Cidr))).toBe('10.0.0.0/24');
    expect(parseCidr('::ffff:10.0.0.1/64')).toMatch(/IPv4-mapped address \(96-128\)/);
    expect(parseCidr('10.0.0.0/33')).toMatch(/out of range for IPv4 \(0-32\)/);
    expect(parseCidr('10.0.0.0')).toMatch(/not in CIDR notation/);
    expect(parseCidr('x/8')).toMatch(/"x" is not an IP address/);
  });

  it('prints 5,000 random IPv6 addresses with zero runs as ip-address prints RFC 5952', () => {
    let seed = 7;
    const random = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
    for (let n = 0; n < 5000; n++) {
      const groups = Array.from({ length: 8 }, () => (random() < 0.5 ? 0 : Math.floor(random() * 0x10000)));
      // ::ffff:a.b.c.d is IPv4 to Go (and to us)
      if (groups.slice(0, 5).every((g) => g === 0) && groups[5] === 0xffff) continue;
      const text = groups.map((g) => g.toString(16)).join(':');
      expect(formatIp(parseIp(text)!), text).toBe(new Address6(text).correctForm());
    }
  });

  it('family of an address or a CIDR, and no guess for anything else', () => {
    expect([ipFamily('10.0.0.1'), ipFamily('10.0.0.0/8'), ipFamily('fd00::1/64'), ipFamily('::ffff:10.0.0.1')]).toEqual([4, 4, 6, 4]);
    for (const garbage of ['', 'nope', '10.0.0', '10.0.0.256/24', 'fd00::1::2']) {
      expect(() => ipFamily(garbage), garbage).toThrow(/is not an IP address or CIDR/);
    }
  });
});

describe('lib/ip/address: the kernel byte forms', () => {
  it('prints bytes canonically; IPv4-mapped addresses read as IPv4', () => {
    expect(ipBytesToString(Buffer.from('fd000244000000000000000000000001', 'hex'))).toBe('fd00:244::1');
    expect(ipBytesToString(Buffer.from('00000000000000000000ffff0a010203', 'hex'))).toBe('10.1.2.3');
  });

  it('MACs: six hex pairs, either case, to bytes and back in lower case', () => {
    expect(isMac('0A:58:0a:f4:01:02')).toBe(true);
    expect(['0a:58:0a:f4:01', '0a-58-0a-f4-01-02', '0a:58:0a:f4:01:0g', '0a:58:0a:f4:01:02:03', ''].some(isMac)).toBe(false);
    expect(macBytesToString(toMacBytes('0A:58:0a:f4:01:02'))).toBe('0a:58:0a:f4:01:02');
    expect(() => toMacBytes('0a:58')).toThrow(/not a MAC address/);
  });

  it('a MAC\'s link-local address, as the kernel derives it (EUI-64)', () => {
    expect(linkLocalOfMac('ee:ee:ee:ee:ee:ee')).toBe('fe80::ecee:eeff:feee:eeee');
    expect(linkLocalOfMac('66:0A:0b:0c:0d:0e')).toBe('fe80::640a:bff:fe0c:d0e');
    expect(linkLocalOfMac('00:00:00:00:00:01')).toBe('fe80::200:ff:fe00:1');
  });
});
