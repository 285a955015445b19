// portmap's view of the node's own addresses, from the kernel's local
// routing table: what decides which stale UDP flows an ADD deletes.
import { describe, expect, it } from 'vitest';
import { localAddressTest } from '../../plugins/portmap/portmap';

// Table local as `ip route show table local` lists it on a node with a pod
// bridge (10.244.1.1), a link to the external host (198.51.100.2) and IPv6.
const LOCAL_V4 = [
  { dst: '10.244.1.1/32', type: 'local' },
  { dst: '10.244.1.255/32', type: 'broadcast' },
  { dst: '127.0.0.0/8', type: 'local' },
  { dst: '127.0.0.1/32', type: 'local' },
  { dst: '127.255.255.255/32', type: 'broadcast' },
  { dst: '198.51.100.2/32', type: 'local' },
  { dst: '198.51.100.255/32', type: 'broadcast' },
] as const;
const LOCAL_V6 = [
  { dst: '::1/128', type: 'local' },
  { dst: '2001:db8:100::2/128', type: 'local' },
] as const;

describe('localAddressTest', () => {
  const local = localAddressTest([...LOCAL_V4, ...LOCAL_V6]);

  it('knows the local routes of IPv4, 127.0.0.0/8 whole, and the IPv6 addresses', () => {
    for (const a of ['10.244.1.1', '198.51.100.2', '127.0.0.1', '127.3.4.5', '::1', '2001:db8:100::2']) expect(local(a), a).toBe(true);
  });

  it('does not count subnets, broadcast addresses or other hosts as local', () => {
    for (const a of ['10.244.1.0', '10.244.1.7', '198.51.100.255', '198.51.100.1', '8.8.8.8', '2001:db8:100::1', 'not-an-ip']) {
      expect(local(a), a).toBe(false);
    }
  });

  it('has no IPv6 addresses when the node has no IPv6 local routes (IPv6 off)', () => {
    expect(localAddressTest(LOCAL_V4)('::1')).toBe(false);
  });
});
