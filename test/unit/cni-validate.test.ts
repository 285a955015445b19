import { isIP } from 'node:net';
import { describe, expect, it } from 'vitest';
import { ifnameProblem, isCidr, isIpAddress, validatePluginType } from '../../lib/cni/validate';

describe('IP address parsing (hand-written to keep node:net out of plugins)', () => {
  const cases = [
    '10.0.0.1', '0.0.0.0', '255.255.255.255', '256.0.0.1', '01.2.3.4', '1.2.3', '1.2.3.4.5', ' 10.0.0.1', '',
    '::', '::1', 'fd00::1', 'fd00:244::5', '1:2:3:4:5:6:7:8', '1:2:3:4:5:6:7:8:9', '1::2::3', '::ffff:10.0.0.1',
    '1:2:3:4:5:6:1.2.3.4', '1:2:3:4:5:6:7:1.2.3.4', 'g::1', '1:2:3:4:5:6:7::', '::2:3:4:5:6:7:8', '12345::1', ':1', '1:', ':::',
    'FD00::AB', '::ffff:256.1.1.1',
  ];
  for (const c of cases) {
    it(`${JSON.stringify(c)} agrees with node:net`, () => expect(isIpAddress(c)).toBe(isIP(c) !== 0));
  }
  it('refuses zone indexes, as Go net.ParseIP does', () => expect(isIpAddress('fe80::1%eth0')).toBe(false));
  it('CIDRs: prefix length fits the family', () => {
    expect(['10.0.0.0/8', '10.1.2.3/32', 'fd00::/48', '::/0', 'fd00::1/128'].every(isCidr)).toBe(true);
    expect(['10.0.0.0/33', '10.0.0.0', 'fd00::/129', '10.0.0.0/-1', '10.0.0.0/', 'x/8', '10.0.0.0/08a'].some(isCidr)).toBe(false);
  });
});

describe('names', () => {
  it('ifname rules are the kernel dev_valid_name rules', () => {
    expect(ifnameProblem('eth0')).toBeUndefined();
    expect(ifnameProblem('a'.repeat(15))).toBeUndefined();
    expect(ifnameProblem('a'.repeat(16))).toMatch(/too long/);
    expect(ifnameProblem('')).toMatch(/empty/);
    expect(ifnameProblem('a\0b')).toMatch(/NUL/);
  });
  it('plugin types are plain file names', () => {
    expect(validatePluginType('host-local')).toBe('host-local');
    for (const t of ['', '.', '..', 'a/b', '../x', 'a\0b']) expect(() => validatePluginType(t)).toThrow(/^type: /);
  });
});
