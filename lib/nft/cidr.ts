// A pod's CIDR as rule building needs it: the address and its subnet, printed
// canonically, so names and set elements derived from them are stable.
import { formatCidr, formatIp, networkOf, parseCidr } from '../ip/address';

export interface PodCidr {
  family: 4 | 6;
  /** the address alone, canonical */
  address: string;
  /** the network the address sits in, e.g. "10.244.1.0/24" */
  subnet: string;
}

export function parsePodCidr(cidr: string): PodCidr {
  const c = parseCidr(cidr);
  if (typeof c === 'string') throw new Error(`"${cidr}" is not an address with a prefix length (e.g. 10.244.1.5/24)`);
  return { family: c.ip.family, address: formatIp(c.ip), subnet: formatCidr(networkOf(c)) };
}
