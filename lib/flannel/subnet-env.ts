// flannel's subnet file (/run/flannel/subnet.env): what flanneld (or
// tscni-agent overlay) tells the CNI plugin about this node's lease, as
// NAME=value lines:
//   FLANNEL_NETWORK=10.244.0.0/16        the cluster network(s), comma-separated
//   FLANNEL_SUBNET=10.244.3.1/24         this node's subnet, as its first address
//   FLANNEL_IPV6_NETWORK, FLANNEL_IPV6_SUBNET   the same for IPv6
//   FLANNEL_MTU=1450                     the pods' MTU
//   FLANNEL_IPMASQ=true                  the node masquerades, so the pods' bridge must not
// flannel's plugin needs a network and a subnet of either family, the MTU and
// IPMASQ, as here. It reads the file loosely (a bad line can even crash
// it); here every known key's value is checked, a line that is not NAME=value
// or a key given twice is an error naming the line, and unknown keys are
// ignored (a newer flanneld may add some).
import { formatCidr, parseCidr, type Cidr, type Family } from '../ip/address';

export interface SubnetEnv {
  /** FLANNEL_NETWORK, without repeats */
  networks: Cidr[];
  /** FLANNEL_SUBNET as written: the first address with the subnet's prefix length */
  subnet?: Cidr;
  ipv6Networks: Cidr[];
  ipv6Subnet?: Cidr;
  mtu: number;
  ipMasq: boolean;
}

/** Raised with `where` naming the file and line, `problem` what is wrong there. */
export class SubnetEnvError extends Error {}

const NAME_RE = /^[A-Za-z_][A-Za-z0-9_]*$/;
const MIN_MTU = 68;
const MAX_MTU = 65535;

function cidrOf(key: string, text: string, family: Family): Cidr {
  const c = parseCidr(text);
  if (typeof c === 'string') throw new Error(`${key}: ${c}`);
  if (c.ip.family !== family) throw new Error(`${key}: "${text}" is not an IPv${family} CIDR`);
  return c;
}

function cidrList(key: string, text: string, family: Family): Cidr[] {
  const out: Cidr[] = [];
  for (const part of text.split(',')) {
    const c = cidrOf(key, part, family);
    if (!out.some((o) => formatCidr(o) === formatCidr(c))) out.push(c);
  }
  return out;
}

/** Parses the file's text; `file` only names it in errors. */
export function parseSubnetEnv(text: string, file: string): SubnetEnv {
  const seen = new Map<string, number>();
  const env: Partial<SubnetEnv> = { networks: [], ipv6Networks: [] };
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!.replace(/\r$/, '');
    if (line.trim() === '' || line.startsWith('#')) continue;
    const eq = line.indexOf('=');
    const key = eq < 0 ? '' : line.slice(0, eq);
    const at = `${file}: line ${i + 1}`;
    if (!NAME_RE.test(key)) throw new SubnetEnvError(`${at}: ${JSON.stringify(line.slice(0, 80))} is not NAME=value`);
    if (seen.has(key)) throw new SubnetEnvError(`${at}: ${key} is set again (first on line ${seen.get(key)})`);
    seen.set(key, i + 1);
    const value = line.slice(eq + 1);
    try {
      assign(env, key, value);
    } catch (e) {
      throw new SubnetEnvError(`${at}: ${(e as Error).message}`);
    }
  }
  const missing: string[] = [];
  if (!env.networks!.length && !env.ipv6Networks!.length) missing.push('FLANNEL_NETWORK or FLANNEL_IPV6_NETWORK');
  if (!env.subnet && !env.ipv6Subnet) missing.push('FLANNEL_SUBNET or FLANNEL_IPV6_SUBNET');
  if (env.mtu === undefined) missing.push('FLANNEL_MTU');
  if (env.ipMasq === undefined) missing.push('FLANNEL_IPMASQ');
  if (missing.length) throw new SubnetEnvError(`${file} is missing ${missing.join(', ')}`);
  return env as SubnetEnv;
}

function assign(env: Partial<SubnetEnv>, key: string, value: string): void {
  switch (key) {
    case 'FLANNEL_NETWORK':
      env.networks = cidrList(key, value, 4);
      break;
    case 'FLANNEL_SUBNET':
      env.subnet = cidrOf(key, value, 4);
      break;
    case 'FLANNEL_IPV6_NETWORK':
      env.ipv6Networks = cidrList(key, value, 6);
      break;
    case 'FLANNEL_IPV6_SUBNET':
      env.ipv6Subnet = cidrOf(key, value, 6);
      break;
    case 'FLANNEL_MTU': {
      const mtu = /^\d{1,5}$/.test(value) ? Number(value) : NaN;
      if (!(mtu >= MIN_MTU && mtu <= MAX_MTU)) throw new Error(`${key}: "${value}" is not an MTU (${MIN_MTU}-${MAX_MTU})`);
      env.mtu = mtu;
      break;
    }
    case 'FLANNEL_IPMASQ':
      if (value !== 'true' && value !== 'false') throw new Error(`${key}: "${value}" is not true or false`);
      env.ipMasq = value === 'true';
      break;
  }
}

/** The file's text as flanneld writes it: the keys in its order, IPv6 ones only when set. */
export function formatSubnetEnv(env: SubnetEnv): string {
  const lines: string[] = [];
  if (env.networks.length) lines.push(`FLANNEL_NETWORK=${env.networks.map(formatCidr).join(',')}`);
  if (env.subnet) lines.push(`FLANNEL_SUBNET=${formatCidr(env.subnet)}`);
  if (env.ipv6Networks.length) lines.push(`FLANNEL_IPV6_NETWORK=${env.ipv6Networks.map(formatCidr).join(',')}`);
  if (env.ipv6Subnet) lines.push(`FLANNEL_IPV6_SUBNET=${formatCidr(env.ipv6Subnet)}`);
  lines.push(`FLANNEL_MTU=${env.mtu}`, `FLANNEL_IPMASQ=${env.ipMasq}`);
  return lines.join('\n') + '\n';
}
