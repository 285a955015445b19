// Realistic results shared by the cni-* unit tests: a pod with a host-side
// veth and a container interface, dual-stack addresses, routes with gateways, DNS.

import { CniError } from '../../lib/cni/errors';
import type { Result } from '../../lib/cni/types';

/** The internal (1.1.0) form, using every 1.1 field. */
export const result11: Result = {
  cniVersion: '1.1.0',
  interfaces: [
    { name: 'veth1a2b3c4d', mac: '0a:58:0a:f4:00:01', mtu: 1450 },
    { name: 'eth0', mac: '0a:58:0a:f4:00:05', mtu: 1450, sandbox: '/var/run/netns/pod1', socketPath: '/run/vhost/pod1.sock', pciID: '0000:00:1f.6' },
  ],
  ips: [
    { interface: 1, address: '10.244.0.5/24', gateway: '10.244.0.1' },
    { interface: 1, address: 'fd00:244::5/64', gateway: 'fd00:244::1' },
  ],
  routes: [
    { dst: '0.0.0.0/0', gw: '10.244.0.1', mtu: 1400, advmss: 1360, priority: 100, table: 254, scope: 0 },
    { dst: '::/0', gw: 'fd00:244::1' },
    { dst: '10.96.0.0/12' },
  ],
  dns: { nameservers: ['10.96.0.10', 'fd00:96::a'], domain: 'cluster.local', search: ['default.svc.cluster.local', 'svc.cluster.local'], options: ['ndots:5'] },
};

/** The same result as a 1.0.0 plugin prints it: no 1.1 fields. */
export const result10 = {
  cniVersion: '1.0.0',
  interfaces: [
    { name: 'veth1a2b3c4d', mac: '0a:58:0a:f4:00:01' },
    { name: 'eth0', mac: '0a:58:0a:f4:00:05', sandbox: '/var/run/netns/pod1' },
  ],
  ips: [
    { interface: 1, address: '10.244.0.5/24', gateway: '10.244.0.1' },
    { interface: 1, address: 'fd00:244::5/64', gateway: 'fd00:244::1' },
  ],
  routes: [{ dst: '0.0.0.0/0', gw: '10.244.0.1' }, { dst: '::/0', gw: 'fd00:244::1' }, { dst: '10.96.0.0/12' }],
  dns: result11.dns,
};

/** And as a 0.3.x/0.4.0 plugin prints it: `version` on every ip. */
export function result0x(cniVersion: '0.3.0' | '0.3.1' | '0.4.0') {
  return {
    ...result10,
    cniVersion,
    ips: [
      { version: '4', interface: 1, address: '10.244.0.5/24', gateway: '10.244.0.1' },
      { version: '6', interface: 1, address: 'fd00:244::5/64', gateway: 'fd00:244::1' },
    ],
  };
}

export function resultIn(version: string): Record<string, unknown> {
  if (version === '1.1.0') return structuredClone(result11) as unknown as Record<string, unknown>;
  if (version === '1.0.0') return structuredClone(result10);
  return structuredClone(result0x(version as '0.3.0'));
}

/** The CniError `fn` throws; fails the test if it throws nothing or something else. */
export function errorOf(fn: () => unknown): CniError {
  try {
    fn();
  } catch (e) {
    if (e instanceof CniError) return e;
    throw e;
  }
  throw new Error('expected a CniError');
}
