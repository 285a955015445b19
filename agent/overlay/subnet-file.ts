// The subnet file (/run/flannel/subnet.env) the agent writes for flannel's CNI
// plugin, in lib/flannel's (flanneld's) format: written to a temp file in the
// same directory and renamed over the old one, so a plugin never reads half a
// file. The agent reads its own previous file at start to ask for the same
// subnet again.
import { mkdirSync, readFileSync } from 'node:fs';
import { writeFileAtomic } from '../../lib/fs-atomic';
import { dirname } from 'node:path';
import { formatSubnetEnv, parseSubnetEnv } from '../../lib/flannel/subnet-env';
import { networkOf, withValue, type Cidr } from '../../lib/ip/address';

export interface SubnetFile {
  network: Cidr;
  subnet: Cidr;
  mtu: number;
  ipMasq: boolean;
}

export function formatSubnetFile(f: SubnetFile): string {
  // FLANNEL_SUBNET is the subnet's first address: the bridge's, as flanneld writes it.
  const first = { ip: withValue(f.subnet.ip, f.subnet.ip.value + 1n), prefix: f.subnet.prefix };
  return formatSubnetEnv({ networks: [f.network], subnet: first, ipv6Networks: [], mtu: f.mtu, ipMasq: f.ipMasq });
}

export function writeSubnetFile(path: string, f: SubnetFile): void {
  mkdirSync(dirname(path), { recursive: true });
  writeFileAtomic(path, formatSubnetFile(f));
}

/** The subnet a previous run wrote, or undefined when there is no readable file (a garbled one is written anew). */
export function previousSubnet(path: string): Cidr | undefined {
  try {
    const subnet = parseSubnetEnv(readFileSync(path, 'utf8'), path).subnet;
    return subnet ? networkOf(subnet) : undefined;
  } catch {
    return undefined;
  }
}
