// tscni bgp peer add|list|remove: routed mode's external BGP peers, which
// every node's agent (or the one named) puts in its BIRD configuration.
// Everything is checked before etcd is contacted, so bad input writes nothing;
// add then refuses an address one of the nodes has a session with already.
import { addPeer, BgpPeerConflictError, BgpPeerError, listPeers, makePeer, peerKey } from '../lib/datastore/bgp-peers';
import { EtcdClient } from '../lib/datastore/etcd';
import { EtcdError, EtcdUnreachableError } from '../lib/datastore/etcd-http';
import { etcdSettings, EtcdSettingsError, type EtcdFlag, type EtcdSettings } from '../lib/datastore/etcd-options';
import { DEFAULT_ROUTED_PREFIX } from '../lib/ipam/cluster/store';
import { FlagError, parseFlags, type FlagKind } from '../lib/flags';

const ETCD_FLAGS = ['etcd-endpoints', 'etcd-cafile', 'etcd-certfile', 'etcd-keyfile'] as const;

export const BGP_USAGE = `usage:
  tscni bgp peer add --peer-ip IP --as ASN [--node NAME] [--name NAME] [etcd flags]
      a BGP peer outside the cluster; every node peers with it, or only NAME;
      refused when a node would have a session with that address already
  tscni bgp peer list [etcd flags]
  tscni bgp peer remove NAME [etcd flags]

etcd (flag, or environment variable):
  --etcd-endpoints  ETCD_ENDPOINTS     comma-separated URLs  (default http://127.0.0.1:2379)
  --etcd-cafile     ETCD_CA_CERT_FILE  CA of the etcd members' certificates (PEM)
  --etcd-certfile   ETCD_CERT_FILE     client certificate (PEM)
  --etcd-keyfile    ETCD_KEY_FILE      client key (PEM)
`;

const ETCD_SPEC: Record<string, FlagKind> = Object.fromEntries(ETCD_FLAGS.map((f) => [f, 'string']));
const ADD_SPEC: Record<string, FlagKind> = { ...ETCD_SPEC, 'peer-ip': 'string', as: 'string', node: 'string', name: 'string' };
const FLAG_OF_FIELD = { name: '--name', peerIP: '--peer-ip', asNumber: '--as', node: '--node' } as const;

class UsageError extends Error {}

/** The etcd settings of routed mode's commands (no prefix flag: the keys are always under /tscni/v1). */
export function routedEtcdSettings(values: Record<string, string | boolean>, env: NodeJS.ProcessEnv): EtcdSettings {
  const flags: Partial<Record<EtcdFlag, string>> = {};
  for (const f of ETCD_FLAGS) if (typeof values[f] === 'string') flags[f] = values[f] as string;
  return etcdSettings(flags, env, DEFAULT_ROUTED_PREFIX);
}

async function withClient<T>(settings: EtcdSettings, fn: (c: EtcdClient) => Promise<T>): Promise<T> {
  const client = new EtcdClient(settings.connection);
  try {
    return await fn(client);
  } finally {
    client.close();
  }
}

async function peerCommand(verb: string | undefined, args: string[], env: NodeJS.ProcessEnv): Promise<number> {
  if (verb === 'add') {
    const { values, positional } = parseFlags(args, ADD_SPEC);
    if (positional.length > 0) throw new UsageError(`unexpected argument ${JSON.stringify(positional[0])}`);
    for (const required of ['peer-ip', 'as']) if (values[required] === undefined) throw new UsageError(`--${required} is required`);
    let peer;
    try {
      peer = makePeer({
        peerIP: values['peer-ip'] as string, asNumber: values.as as string,
        ...(typeof values.node === 'string' ? { node: values.node } : {}), ...(typeof values.name === 'string' ? { name: values.name } : {}),
      });
    } catch (e) {
      if (e instanceof BgpPeerError) throw new UsageError(`${FLAG_OF_FIELD[e.field]}: ${e.message}`);
      throw e;
    }
    const settings = routedEtcdSettings(values, env);
    await withClient(settings, (c) => addPeer(c, settings.prefix, peer));
    process.stdout.write(`${peer.name}\n`);
    return 0;
  }
  if (verb === 'list') {
    const { values, positional } = parseFlags(args, ETCD_SPEC);
    if (positional.length > 0) throw new UsageError(`unexpected argument ${JSON.stringify(positional[0])}`);
    const settings = routedEtcdSettings(values, env);
    const { peers, problems } = await withClient(settings, (c) => listPeers(c, settings.prefix));
    const rows = [['NAME', 'PEER IP', 'AS', 'NODE'], ...peers.map((p) => [p.name, p.peerIP, String(p.asNumber), p.node ?? '(global)'])];
    const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
    process.stdout.write(rows.map((r) => r.map((c, i) => c.padEnd(widths[i]!)).join('  ').trimEnd()).join('\n') + '\n');
    for (const p of problems) process.stderr.write(`tscni: warning: ${p}\n`);
    return 0;
  }
  if (verb === 'remove') {
    const { values, positional } = parseFlags(args, ETCD_SPEC);
    if (positional.length !== 1) throw new UsageError('remove needs the peer\'s NAME (tscni bgp peer list)');
    const settings = routedEtcdSettings(values, env);
    const deleted = await withClient(settings, (c) => c.delete(peerKey(settings.prefix, positional[0]!)));
    if (deleted === 0) {
      process.stderr.write(`tscni: bgp peer remove: no BGP peer named ${JSON.stringify(positional[0])}\n`);
      return 1;
    }
    return 0;
  }
  throw new UsageError(verb === undefined ? 'peer needs add, list or remove' : `unknown peer command ${JSON.stringify(verb)}`);
}

/** `tscni bgp ...`; the exit code. */
export async function runBgp(args: string[], env: NodeJS.ProcessEnv): Promise<number> {
  const [noun, verb, ...rest] = args;
  const what = `bgp ${[noun, verb].filter((x) => x !== undefined).join(' ')}`;
  try {
    if (noun !== 'peer') throw new UsageError(noun === undefined ? 'bgp needs a command' : `unknown bgp command ${JSON.stringify(noun)}`);
    return await peerCommand(verb, rest, env);
  } catch (e) {
    if (e instanceof UsageError || e instanceof FlagError || e instanceof EtcdSettingsError) {
      process.stderr.write(`tscni: ${what}: ${e.message}\n${e instanceof EtcdSettingsError ? '' : `\n${BGP_USAGE}`}`);
      return 2;
    }
    if (e instanceof EtcdUnreachableError || e instanceof EtcdError || e instanceof BgpPeerConflictError) {
      process.stderr.write(`tscni: ${what}: ${e.message}\n`);
      return 1;
    }
    throw e;
  }
}
