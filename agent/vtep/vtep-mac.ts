// The VTEP's MAC, derived from the node name (as Calico derives its VXLAN
// MACs), so it is the same after every restart and reboot and the peers'
// neighbour and FDB entries stay right; flanneld's random MAC per start is a
// long-standing complaint. Locally administered, unicast.
import { sha256Hex } from '../../lib/hash';
import { macBytesToString } from '../../lib/ip/address';

export function vtepMac(nodeName: string): string {
  const bytes = Buffer.from(sha256Hex(`tscni vtep ${nodeName}`).slice(0, 12), 'hex');
  bytes[0] = (bytes[0]! & 0xfe) | 0x02;
  return macBytesToString(bytes);
}
