// tscni-agent routed's flags, checked completely before the agent touches
// anything: a mistake is a message naming the flag and exit 2.
import { hostname } from 'node:os';
import { join } from 'node:path';
import { DEFAULT_ROUTED_PREFIX, ETCD_FLAGS, etcdFlagsOf, etcdSettings, EtcdSettingsError, type EtcdSettings } from '../../lib/datastore/etcd-options';
import { asnProblem, nodeNameProblem } from '../../lib/datastore/routed-nodes';
import { formatIp, parseIp } from '../../lib/ip/address';
import { OptionsError, parseFlags, type FlagKind } from '../../lib/flags';
import { groupId } from '../../lib/unix-group';
import { DEFAULT_RUN_DIR } from '../../lib/routed/run-dir';

export const DEFAULT_ASN = 64512;

export const ROUTED_USAGE = `usage: tscni-agent routed [flags]
  --node-name NAME        this node's name in etcd        (default: the host name)
  --ip ADDRESS            the node's underlay IPv4 address (BGP sessions, next hops)
  --iface NAME            or: the interface whose first IPv4 address it is
  --ip6 ADDRESS           the node's underlay IPv6 address: next hop of its IPv6 blocks
                          (without it the node carries no IPv6 routes by BGP)
  --as ASN                the cluster's AS number          (default ${DEFAULT_ASN})
  --route-reflector       this node is a BGP route reflector (needs --cluster-id)
  --cluster-id ID         the reflectors' cluster ID, IPv4-formatted (e.g. 224.0.0.1)
  --run-dir DIR           agent.sock, bird.conf, bird.ctl, nodename (default ${DEFAULT_RUN_DIR})
  --socket-group NAME|GID a group whose members may use agent.sock besides root
                          (it is then 0660 of that group; default: root only, 0600)
  --etcd-endpoints URLS   ETCD_ENDPOINTS     comma-separated  (default http://127.0.0.1:2379)
  --etcd-prefix PATH                         key prefix       (default ${DEFAULT_ROUTED_PREFIX})
  --etcd-cafile FILE      ETCD_CA_CERT_FILE  CA of the etcd members' certificates
  --etcd-certfile FILE    ETCD_CERT_FILE     client certificate
  --etcd-keyfile FILE     ETCD_KEY_FILE      client key
`;

const SPEC: Record<string, FlagKind> = {
  ...Object.fromEntries(ETCD_FLAGS.map((f) => [f, 'string' as const])),
  'node-name': 'string', ip: 'string', ip6: 'string', iface: 'string', as: 'string', 'route-reflector': 'boolean', 'cluster-id': 'string', 'run-dir': 'string',
  'socket-group': 'string',
  help: 'boolean',
};

export interface RoutedOptions {
  etcd: EtcdSettings;
  node: string;
  /** one of the two */
  ip?: string;
  iface?: string;
  /** the underlay IPv6 address, when the node has one */
  ip6?: string;
  asn: number;
  routeReflector: boolean;
  clusterId?: string;
  runDir: string;
  socketPath: string;
  /** the GID whose members may use the socket besides root */
  socketGroup?: number;
  nodeNameFile: string;
}

export function parseRoutedOptions(args: string[], env: NodeJS.ProcessEnv): RoutedOptions | 'help' {
  const { values, positional } = parseFlags(args, SPEC);
  if (positional.length > 0) throw new OptionsError(`unexpected argument ${JSON.stringify(positional[0])}`);
  if (values.help === true) return 'help';
  const str = (k: string) => (typeof values[k] === 'string' ? (values[k] as string) : undefined);

  const node = str('node-name') ?? hostname().toLowerCase();
  const nameProblem = nodeNameProblem(node);
  if (nameProblem) throw new OptionsError(`--node-name: ${nameProblem}`);

  const ipText = str('ip');
  const iface = str('iface');
  if (ipText === undefined && iface === undefined) throw new OptionsError('--ip or --iface is required');
  if (ipText !== undefined && iface !== undefined) throw new OptionsError('--ip and --iface exclude each other');
  let ip: string | undefined;
  if (ipText !== undefined) {
    const parsed = parseIp(ipText);
    if (!parsed || parsed.family !== 4) throw new OptionsError(`--ip: "${ipText}" is not an IPv4 address`);
    ip = formatIp(parsed);
  }

  const ip6Text = str('ip6');
  let ip6: string | undefined;
  if (ip6Text !== undefined) {
    const parsed = parseIp(ip6Text);
    if (!parsed || parsed.family !== 6) throw new OptionsError(`--ip6: "${ip6Text}" is not an IPv6 address`);
    if (/^fe[89ab]/i.test(formatIp(parsed))) throw new OptionsError(`--ip6: ${ip6Text} is link-local: BGP next hops need a global or ULA address`);
    ip6 = formatIp(parsed);
  }

  const asText = str('as') ?? String(DEFAULT_ASN);
  const asProblem = asnProblem(asText);
  if (asProblem) throw new OptionsError(`--as: ${asProblem}`);

  const routeReflector = values['route-reflector'] === true;
  const clusterText = str('cluster-id');
  if (routeReflector && clusterText === undefined) throw new OptionsError('--route-reflector needs --cluster-id');
  if (!routeReflector && clusterText !== undefined) throw new OptionsError('--cluster-id is only for a route reflector (--route-reflector)');
  let clusterId: string | undefined;
  if (clusterText !== undefined) {
    const parsed = parseIp(clusterText);
    if (!parsed || parsed.family !== 4) throw new OptionsError(`--cluster-id: "${clusterText}" is not an IPv4-formatted ID`);
    clusterId = formatIp(parsed);
  }

  const runDir = str('run-dir') ?? DEFAULT_RUN_DIR;
  if (runDir === '' || runDir.includes('\0')) throw new OptionsError('--run-dir: must be a directory path');

  const groupText = str('socket-group');
  const socketGroup = groupText === undefined ? undefined : groupId(groupText);
  if (typeof socketGroup === 'string') throw new OptionsError(`--socket-group: ${socketGroup}`);

  let etcd: EtcdSettings;
  try {
    etcd = etcdSettings(etcdFlagsOf(values), env, DEFAULT_ROUTED_PREFIX);
  } catch (e) {
    if (e instanceof EtcdSettingsError) throw new OptionsError(e.message);
    throw e;
  }

  return {
    etcd, node, ...(ip ? { ip } : {}), ...(iface ? { iface } : {}), ...(ip6 ? { ip6 } : {}), asn: Number(asText), routeReflector,
    ...(clusterId ? { clusterId } : {}), runDir, socketPath: join(runDir, 'agent.sock'),
    ...(socketGroup !== undefined ? { socketGroup } : {}), nodeNameFile: join(runDir, 'nodename'),
  };
}
