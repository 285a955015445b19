// flannel's data model: the config's rules and defaults, lease keys, lease
// values in flanneld's exact JSON, and which subnet a node takes.
import { describe, expect, it } from 'vitest';
import { formatCidr, formatIp, parseCidr, type Cidr } from '../../lib/ip/address';
import { flannelConfigJson, parseFlannelConfig } from '../../lib/datastore/flannel-config';
import {
  decodeSubnetLease, encodeSubnetLease, firstFreeSubnet, subnetFits, subnetKey, subnetOfKey,
} from '../../lib/datastore/flannel-subnets';

const cidr = (s: string) => parseCidr(s) as Cidr;
const P = '/coreos.com/network';

describe('flannel config', () => {
  it('fills in flannel defaults: /24, the second subnet to the last, udp', () => {
    const c = parseFlannelConfig({ Network: '10.244.0.0/16' });
    expect(c.SubnetLen).toBe(24);
    expect(formatIp(c.SubnetMin)).toBe('10.244.1.0');
    expect(formatIp(c.SubnetMax)).toBe('10.244.255.0');
    expect(c.Backend).toEqual({ Type: 'udp', Port: 8285 });
  });

  it('splits a Network too small for /24s into four', () => {
    expect(parseFlannelConfig({ Network: '10.244.0.0/24' }).SubnetLen).toBe(26);
    expect(parseFlannelConfig({ Network: '10.244.0.0/22' }).SubnetLen).toBe(24);
    expect(() => parseFlannelConfig({ Network: '10.244.0.0/29' })).toThrow(/^Network: \/29 is too small/);
  });

  it('gives vxlan its defaults and keeps what is given', () => {
    expect(parseFlannelConfig({ Network: '10.244.0.0/16', Backend: { Type: 'vxlan' } }).Backend)
      .toEqual({ Type: 'vxlan', VNI: 1, Port: 8472, DirectRouting: false });
    expect(parseFlannelConfig({ Network: '10.244.0.0/16', Backend: { Type: 'vxlan', VNI: 42, Port: 4789, DirectRouting: true } }).Backend)
      .toEqual({ Type: 'vxlan', VNI: 42, Port: 4789, DirectRouting: true });
    expect(parseFlannelConfig({ Network: '10.244.0.0/16', Backend: { Type: 'host-gw' } }).Backend).toEqual({ Type: 'host-gw' });
  });

  it('takes SubnetMin and SubnetMax inside the Network on a subnet boundary', () => {
    const c = parseFlannelConfig({ Network: '10.244.0.0/16', SubnetMin: '10.244.10.0', SubnetMax: '10.244.20.0' });
    expect([formatIp(c.SubnetMin), formatIp(c.SubnetMax)]).toEqual(['10.244.10.0', '10.244.20.0']);
    expect(() => parseFlannelConfig({ Network: '10.244.0.0/16', SubnetMin: '10.245.0.0' })).toThrow(/^SubnetMin: .*not in the Network/);
    expect(() => parseFlannelConfig({ Network: '10.244.0.0/16', SubnetMax: '10.244.3.128' })).toThrow(/^SubnetMax: .*boundary/);
    expect(() => parseFlannelConfig({ Network: '10.244.0.0/16', SubnetMin: '10.244.9.0', SubnetMax: '10.244.8.0' })).toThrow(/^SubnetMax: .*below SubnetMin/);
  });

  it.each([
    [{ Network: '10.244.0.0/26', SubnetLen: 24 }, /^Network: 10\.244\.0\.0\/26 is smaller than one \/24 subnet/],
    [{ Network: '10.244.0.0/24', SubnetLen: 24 }, /^SubnetLen: \/24 must be at least \/26/],
    [{ Network: '10.244.0.0/16', SubnetLen: 17 }, /^SubnetLen: \/17 must be at least \/18/],
    [{ Network: '10.244.0.0/16', SubnetLen: 31 }, /^SubnetLen: \/31 is longer than 30/],
    [{ Network: '10.244.0.0/16', Backend: { Type: 'ipip' } }, /^Backend\.Type: unknown backend type "ipip"/],
    [{ Network: '10.244.0.0/16', Backend: { Type: 'vxlan', VNI: 0 } }, /^Backend\.VNI: 0 is out of range: must be between 1 and 16777215/],
    [{ Network: '10.244.0.0/16', Backend: { Type: 'vxlan', VNI: 16777216 } }, /^Backend\.VNI: 16777216 is out of range/],
    [{ Network: '10.244.0.0/16', Backend: { Type: 'udp', Port: 70000 } }, /^Backend\.Port: 70000 is out of range: must be between 1 and 65535/],
    [{ Network: '10.244.0.0/16', Backend: { Type: 'host-gw', VNI: 1 } }, /^Backend\.VNI: does not apply to the host-gw backend/],
    [{ Network: '10.244.1.0/16' }, /^Network: "10\.244\.1\.0\/16" has host bits set \(the network is 10\.244\.0\.0\/16\)/],
    [{ Network: 'fd00:244::/48' }, /^Network: .*not an IPv4 network/],
    [{ Network: '10.244.0.0' }, /^Network: .*CIDR notation/],
    [{}, /^Network: is required/],
    [{ Network: '10.244.0.0/16', SubnetLen: '24' }, /^SubnetLen: must be a number/],
  ])('rejects %j naming the field', (raw, message) => {
    expect(() => parseFlannelConfig(raw)).toThrow(message);
  });

  it('writes the config with SubnetLen and the backend spelled out', () => {
    expect(JSON.parse(flannelConfigJson({ network: '10.244.0.0/16', backend: 'vxlan' }))).toEqual({
      Network: '10.244.0.0/16', SubnetLen: 24, Backend: { Type: 'vxlan', VNI: 1, Port: 8472, DirectRouting: false },
    });
    expect(flannelConfigJson({ network: '10.244.0.0/16', subnetLen: 26, backend: 'udp', port: 9000 }))
      .toBe('{"Network":"10.244.0.0/16","SubnetLen":26,"Backend":{"Type":"udp","Port":9000}}');
    expect(() => flannelConfigJson({ network: '10.244.0.0/16', backend: 'host-gw', port: 1 })).toThrow(/^Backend\.Port: does not apply/);
  });
});

describe('flannel subnet leases', () => {
  it('names a lease <net>-<len> under <prefix>/subnets and reads the name back', () => {
    expect(subnetKey(P, cidr('10.244.3.0/24'))).toBe('/coreos.com/network/subnets/10.244.3.0-24');
    expect(formatCidr(subnetOfKey(P, '/coreos.com/network/subnets/10.244.3.0-24')!)).toBe('10.244.3.0/24');
    for (const bad of ['/coreos.com/network/subnets/10.244.3.1-24', '/coreos.com/network/subnets/10.244.3.0-33',
      '/coreos.com/network/subnets/fd00::-64', '/other/subnets/10.244.3.0-24', '/coreos.com/network/subnets/10.244.3.0']) {
      expect(subnetOfKey(P, bad), bad).toBeUndefined();
    }
  });

  it('encodes a lease exactly as flanneld does and decodes it back', () => {
    const lease = { PublicIP: '10.250.0.13', BackendType: 'vxlan', BackendData: { VNI: 1, VtepMAC: '0e:3a:11:22:33:44' } };
    const text = encodeSubnetLease(lease);
    expect(text).toBe('{"PublicIP":"10.250.0.13","PublicIPv6":null,"BackendType":"vxlan","BackendData":{"VNI":1,"VtepMAC":"0e:3a:11:22:33:44"}}');
    expect(decodeSubnetLease(text)).toEqual(lease);
    expect(encodeSubnetLease({ PublicIP: '10.250.0.13', BackendType: 'host-gw' }))
      .toBe('{"PublicIP":"10.250.0.13","PublicIPv6":null,"BackendType":"host-gw"}');
  });

  it('reads leases flanneld wrote, with fields it added later, and names what is wrong', () => {
    const flanneld = '{"PublicIP":"10.250.0.14","PublicIPv6":null,"BackendType":"vxlan","BackendData":{"VNI":1,"VtepMAC":"AA:BB:CC:00:11:22"},"BackendV6Data":null}';
    expect(decodeSubnetLease(flanneld)).toEqual({ PublicIP: '10.250.0.14', BackendType: 'vxlan', BackendData: { VNI: 1, VtepMAC: 'aa:bb:cc:00:11:22' } });
    expect(decodeSubnetLease('{"PublicIP":"10.250.0.14","BackendType":"vxlan","BackendData":{"VNI":1}}')).toMatch(/^BackendData\.VtepMAC/);
    expect(decodeSubnetLease('{"PublicIP":"fd00::1","BackendType":"host-gw"}')).toMatch(/^PublicIP: must be an IPv4 address/);
    expect(decodeSubnetLease('{')).toMatch(/^not JSON/);
  });

  it('reads a lease of flanneld\'s udp backend, which has no BackendType, as one with an empty BackendType', () => {
    expect(decodeSubnetLease('{"PublicIP":"10.250.0.14","PublicIPv6":null}')).toEqual({ PublicIP: '10.250.0.14', BackendType: '' });
  });

  it('takes the first free subnet from SubnetMin on, never the first one, and none past SubnetMax', () => {
    const cfg = parseFlannelConfig({ Network: '10.244.0.0/16' });
    expect(formatCidr(firstFreeSubnet(cfg, [])!)).toBe('10.244.1.0/24');
    const taken = ['10.244.1.0/24', '10.244.2.0/24', '10.244.4.0/24', '10.244.3.0/25'].map(cidr);
    expect(formatCidr(firstFreeSubnet(cfg, taken)!)).toBe('10.244.3.0/24');
    const small = parseFlannelConfig({ Network: '10.244.0.0/24', SubnetLen: 26 });
    const all = ['10.244.0.64/26', '10.244.0.128/26', '10.244.0.192/26'].map(cidr);
    expect(firstFreeSubnet(small, all)).toBeUndefined();
    expect(formatCidr(firstFreeSubnet(small, all.slice(1))!)).toBe('10.244.0.64/26');
  });

  it('knows whether an old lease fits the current config', () => {
    const cfg = parseFlannelConfig({ Network: '10.244.0.0/16', SubnetMin: '10.244.10.0' });
    expect(subnetFits(cfg, cidr('10.244.10.0/24'))).toBe(true);
    expect(subnetFits(cfg, cidr('10.244.9.0/24'))).toBe(false);
    expect(subnetFits(cfg, cidr('10.244.10.0/25'))).toBe(false);
    expect(subnetFits(cfg, cidr('10.245.10.0/24'))).toBe(false);
  });
});
