import { isIP } from 'node:net';
import { describe, expect, it } from 'vitest';
import { formatCidr, formatIp, ipFromBytes, ipToBytes, networkOf, parseCidr, parseIp, type Cidr } from '../../lib/ip/address';

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
});
