import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { createLogger, formatLine } from '../../agent/log';
import { OptionsError } from '../../lib/flags';
import { parseOverlayOptions } from '../../agent/overlay/options';
import { formatSubnetFile, previousSubnet, writeSubnetFile } from '../../agent/overlay/subnet-file';
import { vtepMac } from '../../agent/vtep/vtep-mac';
import { formatCidr, parseCidr, type Cidr } from '../../lib/ip/address';

const cidr = (s: string) => parseCidr(s) as Cidr;

describe('VTEP MAC', () => {
  it('is the same for the same node name, different for another, locally administered and unicast', () => {
    expect(vtepMac('node1')).toBe(vtepMac('node1'));
    expect(vtepMac('node1')).not.toBe(vtepMac('node2'));
    for (const name of ['node1', 'node2', 'worker-17.example.com']) {
      const first = parseInt(vtepMac(name).slice(0, 2), 16);
      expect(first & 0x01, name).toBe(0);
      expect(first & 0x02, name).toBe(2);
      expect(vtepMac(name)).toMatch(/^([0-9a-f]{2}:){5}[0-9a-f]{2}$/);
    }
  });
});

describe('subnet file', () => {
  it('has flannel\'s four keys, FLANNEL_SUBNET the first address', () => {
    expect(formatSubnetFile({ network: cidr('10.244.0.0/16'), subnet: cidr('10.244.3.0/24'), mtu: 1450, ipMasq: true }))
      .toBe('FLANNEL_NETWORK=10.244.0.0/16\nFLANNEL_SUBNET=10.244.3.1/24\nFLANNEL_MTU=1450\nFLANNEL_IPMASQ=true\n');
  });

  it('is written by rename into a directory it creates, and read back as the subnet', () => {
    const dir = mkdtempSync(join(tmpdir(), 'tscni-unit-'));
    try {
      const path = join(dir, 'run/flannel/subnet.env');
      expect(previousSubnet(path)).toBeUndefined();
      writeSubnetFile(path, { network: cidr('10.244.0.0/16'), subnet: cidr('10.244.7.0/24'), mtu: 1500, ipMasq: false });
      expect(readFileSync(path, 'utf8')).toContain('FLANNEL_SUBNET=10.244.7.1/24');
      expect(formatCidr(previousSubnet(path)!)).toBe('10.244.7.0/24');
      writeFileSync(path, 'FLANNEL_SUBNET=garbage\n');
      expect(previousSubnet(path)).toBeUndefined();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('overlay agent flags', () => {
  const base = ['--etcd-endpoints', 'http://10.250.0.2:2379'];
  it('takes flanneld\'s names with defaults', () => {
    const o = parseOverlayOptions([...base, '--iface', 'eth0', '--ip-masq', '--subnet-lease-ttl', '5', '--node-name', 'n1'], {});
    expect(o).toMatchObject({ iface: 'eth0', ipMasq: true, leaseTtl: 5, nodeName: 'n1', subnetFile: '/run/flannel/subnet.env' });
    expect(o.etcd.prefix).toBe('/coreos.com/network');
  });

  it.each([
    [['--bogus'], /unknown flag --bogus/],
    [['--subnet-lease-ttl', 'soon'], /--subnet-lease-ttl: "soon" is not a whole number/],
    [['--subnet-lease-ttl', '1'], /--subnet-lease-ttl: 1 is too short/],
    [['--public-ip', '10.250.0.300'], /--public-ip: "10.250.0.300" is not an IPv4 address/],
    [['--subnet-file', 'relative/subnet.env'], /--subnet-file: .* must be an absolute file path/],
    [['--iface', 'a/b'], /--iface: "a\/b" is not an interface name/],
    [['--etcd-endpoints', 'ftp://x'], /--etcd-endpoints: .*http/],
    [['stray'], /unexpected argument "stray"/],
  ])('rejects %j naming the flag', (args, message) => {
    expect(() => parseOverlayOptions(args as string[], {})).toThrow(OptionsError);
    expect(() => parseOverlayOptions(args as string[], {})).toThrow(message);
  });
});

describe('agent log', () => {
  it('writes one line per event, quoting values with spaces, and once() skips repeats until cleared', () => {
    expect(formatLine('lease-added', { subnet: '10.244.1.0/24', why: 'a b' }, new Date(0))).toBe('1970-01-01T00:00:00.000Z lease-added subnet=10.244.1.0/24 why="a b"');
    const lines: string[] = [];
    const log = createLogger((l) => lines.push(l));
    log.once('k', 'failed', { error: 'x' });
    log.once('k', 'failed', { error: 'x' });
    log.once('k', 'failed', { error: 'y' });
    log.clear('k');
    log.once('k', 'failed', { error: 'y' });
    expect(lines.map((l) => l.split(' ').slice(1).join(' '))).toEqual(['failed error=x', 'failed error=y', 'failed error=y']);
  });
});
