// flannel's subnet file and the delegate configuration built from it, as
// flannel-io/cni-plugin builds it (IPv6 keys included).
import { describe, expect, it } from 'vitest';
import { formatSubnetEnv, parseSubnetEnv } from '../../lib/flannel/subnet-env';
import { parseFlannelConfig } from '../../plugins/flannel/config';
import { buildDelegate } from '../../plugins/flannel/delegate-config';

const DUAL = [
  'FLANNEL_NETWORK=10.244.0.0/16',
  'FLANNEL_SUBNET=10.244.3.1/24',
  'FLANNEL_IPV6_NETWORK=fd00:244::/48',
  'FLANNEL_IPV6_SUBNET=fd00:244:0:3::1/64',
  'FLANNEL_MTU=1450',
  'FLANNEL_IPMASQ=true',
  '',
].join('\n');

const conf = (extra: Record<string, unknown> = {}) => parseFlannelConfig({ cniVersion: '1.0.0', name: 'cbr0', type: 'flannel', ...extra });

describe('subnet file', () => {
  it('reads flanneld\'s dual-stack file and writes it back byte for byte', () => {
    const env = parseSubnetEnv(DUAL, 'subnet.env');
    expect(env.mtu).toBe(1450);
    expect(env.ipMasq).toBe(true);
    expect(formatSubnetEnv(env)).toBe(DUAL);
  });

  it.each([
    ['FLANNEL_NETWORK=10.244.0.0/16\nFLANNEL_NETWORK=10.245.0.0/16\n', /line 2: FLANNEL_NETWORK is set again \(first on line 1\)/],
    ['FLANNEL_SUBNET=fd00::1/64\n', /line 1: FLANNEL_SUBNET: "fd00::1\/64" is not an IPv4 CIDR/],
    ['FLANNEL_IPMASQ=yes\n', /line 1: FLANNEL_IPMASQ: "yes" is not true or false/],
    ['FLANNEL_MTU=70000\n', /line 1: FLANNEL_MTU: "70000" is not an MTU/],
    ['FLANNEL_MTU=1450\n', /subnet.env is missing FLANNEL_NETWORK or FLANNEL_IPV6_NETWORK, FLANNEL_SUBNET or FLANNEL_IPV6_SUBNET, FLANNEL_IPMASQ/],
  ])('refuses %j naming the problem', (text, problem) => {
    expect(() => parseSubnetEnv(text, 'subnet.env')).toThrow(problem);
  });
});

describe('delegate config', () => {
  it('is a bridge gateway with host-local ranges per family and routes to each cluster network', () => {
    expect(buildDelegate(conf(), parseSubnetEnv(DUAL, 'f'))).toEqual({
      cniVersion: '1.0.0', name: 'cbr0', type: 'bridge', isGateway: true, ipMasq: false, mtu: 1450,
      ipam: {
        type: 'host-local',
        ranges: [[{ subnet: '10.244.3.0/24' }], [{ subnet: 'fd00:244:0:3::/64' }]],
        routes: [{ dst: '10.244.0.0/16' }, { dst: 'fd00:244::/48' }],
      },
    });
  });

  it('keeps what the delegate sets, the ipam\'s own routes first, and passes runtimeConfig', () => {
    const c = conf({
      delegate: { type: 'ipvlan', ipMasq: true, mtu: 1400, master: 'eth0' },
      ipam: { type: 'other-ipam', routes: [{ dst: '10.96.0.0/12' }] },
      runtimeConfig: { portMappings: [] },
    });
    const d = buildDelegate(c, parseSubnetEnv(DUAL, 'f'));
    expect(d).toMatchObject({ type: 'ipvlan', ipMasq: true, mtu: 1400, master: 'eth0', runtimeConfig: { portMappings: [] } });
    expect(d.isGateway).toBeUndefined();
    expect(d.ipam).toMatchObject({ type: 'other-ipam', routes: [{ dst: '10.96.0.0/12' }, { dst: '10.244.0.0/16' }, { dst: 'fd00:244::/48' }] });
  });

  it.each([
    [{ delegate: { name: 'x' } }, 'delegate.name: must not be set'],
    [{ delegate: { ipam: {} } }, 'delegate.ipam: must not be set'],
    [{ delegate: { type: '../bridge' } }, 'delegate.type: invalid plugin name'],
    [{ subnetFile: 'run/subnet.env' }, 'subnetFile: must be an absolute path'],
    [{ dataDir: '/var/lib/../x' }, 'dataDir: must not contain a ".." component'],
  ])('refuses %j with code 7', (extra, message) => {
    expect(() => conf(extra)).toThrow(expect.objectContaining({ code: 7, message: expect.stringContaining(message) }));
  });
});
