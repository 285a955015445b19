// portmap's view of the node's own addresses, from the /proc files the
// kernel writes: what decides which stale UDP flows an ADD deletes.
import { describe, expect, it } from 'vitest';
import { localAddressTest } from '../../plugins/portmap/portmap';

const FIB_TRIE = `Main:
  +-- 0.0.0.0/0 3 0 5
     +-- 10.244.1.0/24 2 0 2
        |-- 10.244.1.0
           /24 link UNICAST
        |-- 10.244.1.1
           /32 host LOCAL
Local:
  +-- 0.0.0.0/0 3 0 5
     +-- 127.0.0.0/8 2 0 2
        +-- 127.0.0.0/31 1 0 0
           |-- 127.0.0.0
              /8 host LOCAL
           |-- 127.0.0.1
              /32 host LOCAL
        |-- 127.255.255.255
           /32 link BROADCAST
     |-- 198.51.100.2
        /32 host LOCAL
     |-- 198.51.100.255
        /32 link BROADCAST
`;

const IF_INET6 = `00000000000000000000000000000001 01 80 10 80       lo
20010db8010000000000000000000002 04 40 00 80     ext0
`;

describe('localAddressTest', () => {
  const local = localAddressTest(FIB_TRIE, IF_INET6);

  it('knows the LOCAL routes of IPv4, 127.0.0.0/8 whole, and the IPv6 interface addresses', () => {
    for (const a of ['10.244.1.1', '198.51.100.2', '127.0.0.1', '127.3.4.5', '::1', '2001:db8:100::2']) expect(local(a), a).toBe(true);
  });

  it('does not count subnets, broadcast addresses or other hosts as local', () => {
    for (const a of ['10.244.1.0', '10.244.1.7', '198.51.100.255', '198.51.100.1', '8.8.8.8', '2001:db8:100::1', 'not-an-ip']) {
      expect(local(a), a).toBe(false);
    }
  });

  it('has no IPv6 addresses when if_inet6 is absent (IPv6 off)', () => {
    expect(localAddressTest(FIB_TRIE, '')('::1')).toBe(false);
  });
});
