// The subnet file (/run/flannel/subnet.env): what flannel's CNI plugin reads
// to build a pod's network. flanneld's four keys, written to a temp file in
// the same directory and renamed over the old one, so a plugin never reads
// half a file. The agent reads its own previous file at start to ask for the
// same subnet again.
import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { formatCidr, formatIp, networkOf, parseCidr, withValue, type Cidr } from '../../lib/ip/address';

export interface SubnetFile {
  network: Cidr;
  subnet: Cidr;
  mtu: number;
  ipMasq: boolean;
}

export function formatSubnetFile(f: SubnetFile): string {
  // FLANNEL_SUBNET is the subnet's first address: the bridge's, as flanneld writes it.
  const first = withValue(f.subnet.ip, f.subnet.ip.value + 1n);
  return [
    `FLANNEL_NETWORK=${formatCidr(f.network)}`,
    `FLANNEL_SUBNET=${formatIp(first)}/${f.subnet.prefix}`,
    `FLANNEL_MTU=${f.mtu}`,
    `FLANNEL_IPMASQ=${f.ipMasq}`,
  ].join('\n') + '\n';
}

export function writeSubnetFile(path: string, f: SubnetFile): void {
  mkdirSync(dirname(path), { recursive: true });
  const temp = `${path}.${process.pid}.tmp`;
  writeFileSync(temp, formatSubnetFile(f), { mode: 0o644 });
  renameSync(temp, path);
}

/** The subnet a previous run wrote, or undefined when there is no readable file. */
export function previousSubnet(path: string): Cidr | undefined {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch {
    return undefined;
  }
  const m = /^FLANNEL_SUBNET=(\S+)$/m.exec(text);
  const c = m ? parseCidr(m[1]!) : undefined;
  return c === undefined || typeof c === 'string' || c.ip.family !== 4 ? undefined : networkOf(c);
}
