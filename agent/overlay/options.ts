// tscni-agent overlay's flags, named as flanneld's, checked before anything
// connects or touches the kernel: a bad flag is a message naming it and exit 2.
import { hostname } from 'node:os';
import { ETCD_FLAGS, ETCD_USAGE, etcdFlagsOf, etcdSettings, EtcdSettingsError, type EtcdSettings } from '../../lib/datastore/etcd-options';
import { parseIp } from '../../lib/ip/address';
import { integerFlag, OptionsError, parseFlags, type FlagKind } from '../../lib/flags';

export const OVERLAY_AGENT_USAGE = `usage: tscni-agent overlay [flags]
  leases a subnet of the cluster network from etcd (flannel's data), writes
  the subnet file for the CNI plugin, and carries pod traffic to the other
  nodes with the backend the network config names (vxlan, host-gw, udp)

  --iface NAME           underlay interface (default: the default route's)
  --public-ip IP         this node's underlay address (default: --iface's first IPv4)
  --subnet-file PATH     (default /run/flannel/subnet.env)
  --ip-masq              masquerade pod traffic that leaves the cluster network
  --subnet-lease-ttl S   lease time to live in seconds (default 86400)
  --node-name NAME       (default: the host name); the VTEP MAC derives from it

${ETCD_USAGE}`;

export const DEFAULT_SUBNET_FILE = '/run/flannel/subnet.env';
/** flannel's lease lifetime: a day */
export const DEFAULT_LEASE_TTL = 24 * 60 * 60;

export interface OverlayOptions {
  etcd: EtcdSettings;
  iface?: string;
  publicIp?: string;
  subnetFile: string;
  ipMasq: boolean;
  leaseTtl: number;
  nodeName: string;
}

const SPEC: Record<string, FlagKind> = {
  ...Object.fromEntries(ETCD_FLAGS.map((f) => [f, 'string' as const])),
  iface: 'string', 'public-ip': 'string', 'subnet-file': 'string', 'ip-masq': 'boolean',
  'subnet-lease-ttl': 'string', 'node-name': 'string',
};

export function parseOverlayOptions(args: string[], env: NodeJS.ProcessEnv): OverlayOptions {
  try {
    const { values, positional } = parseFlags(args, SPEC);
    if (positional.length > 0) throw new OptionsError(`unexpected argument ${JSON.stringify(positional[0])}`);
    const etcd = etcdSettings(etcdFlagsOf(values), env);

    const str = (name: string) => (typeof values[name] === 'string' ? (values[name] as string) : undefined);
    const iface = str('iface');
    if (iface !== undefined && !/^[^/\s\0]{1,15}$/.test(iface)) throw new OptionsError(`--iface: "${iface}" is not an interface name`);
    const publicIp = str('public-ip');
    if (publicIp !== undefined && parseIp(publicIp)?.family !== 4) throw new OptionsError(`--public-ip: "${publicIp}" is not an IPv4 address`);
    const subnetFile = str('subnet-file') ?? DEFAULT_SUBNET_FILE;
    if (!subnetFile.startsWith('/') || subnetFile.endsWith('/')) throw new OptionsError(`--subnet-file: "${subnetFile}" must be an absolute file path`);
    const leaseTtl = integerFlag(values, 'subnet-lease-ttl') ?? DEFAULT_LEASE_TTL;
    if (leaseTtl < 2) throw new OptionsError(`--subnet-lease-ttl: ${leaseTtl} is too short (at least 2 seconds)`);
    const nodeName = str('node-name') ?? hostname();
    if (nodeName === '' || nodeName.length > 253) throw new OptionsError('--node-name: must be 1 to 253 characters');
    return {
      etcd, subnetFile, leaseTtl, nodeName, ipMasq: values['ip-masq'] === true,
      ...(iface !== undefined ? { iface } : {}), ...(publicIp !== undefined ? { publicIp } : {}),
    };
  } catch (e) {
    if (e instanceof EtcdSettingsError) throw new OptionsError(e.message);
    throw e;
  }
}
