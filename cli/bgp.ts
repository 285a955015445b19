// tscni bgp peer add|list|remove: routed mode's external BGP peers, which
// every node's agent (or the one named) puts in its BIRD configuration.
// Everything is checked before etcd is contacted, so bad input writes nothing;
// add then refuses an address one of the nodes has a session with already.
import { addPeer, BgpPeerConflictError, BgpPeerError, listPeers, makePeer, peerKey } from '../lib/datastore/bgp-peers';
import { parseFlags, type FlagKind } from '../lib/flags';
import { commandEtcdSettings, commandName, ETCD_SPEC, etcdCommandUsage, runEtcdCommand, UsageError, withEtcdClient } from './etcd-command';

export const BGP_USAGE = `usage:
  tscni bgp peer add --peer-ip IP --as ASN [--node NAME] [--name NAME] [etcd flags]
      a BGP peer outside the cluster; every node peers with it, or only NAME;
      refused when a node would have a session with that address already
  tscni bgp peer list [etcd flags]
  tscni bgp peer remove NAME [etcd flags]

${etcdCommandUsage('routed')}`;

const ADD_SPEC: Record<string, FlagKind> = { ...ETCD_SPEC, 'peer-ip': 'string', as: 'string', node: 'string', name: 'string' };
const FLAG_OF_FIELD = { name: '--name', peerIP: '--peer-ip', asNumber: '--as', node: '--node' } as const;

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
      if (e instanceof BgpPeerError) throw new UsageError(`${FLAG_OF_FIELD[e.field]}: ${e.message}`, false);
      throw e;
    }
    const settings = commandEtcdSettings('routed', values, env);
    await withEtcdClient(settings, (c) => addPeer(c, settings.prefix, peer));
    process.stdout.write(`${peer.name}\n`);
    return 0;
  }
  if (verb === 'list') {
    const { values, positional } = parseFlags(args, ETCD_SPEC);
    if (positional.length > 0) throw new UsageError(`unexpected argument ${JSON.stringify(positional[0])}`);
    const settings = commandEtcdSettings('routed', values, env);
    const { peers, problems } = await withEtcdClient(settings, (c) => listPeers(c, settings.prefix));
    const rows = [['NAME', 'PEER IP', 'AS', 'NODE'], ...peers.map((p) => [p.name, p.peerIP, String(p.asNumber), p.node ?? '(global)'])];
    const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
    process.stdout.write(rows.map((r) => r.map((c, i) => c.padEnd(widths[i]!)).join('  ').trimEnd()).join('\n') + '\n');
    for (const p of problems) process.stderr.write(`tscni: warning: ${p}\n`);
    return 0;
  }
  if (verb === 'remove') {
    const { values, positional } = parseFlags(args, ETCD_SPEC);
    if (positional.length !== 1) throw new UsageError('remove needs the peer\'s NAME (tscni bgp peer list)');
    const settings = commandEtcdSettings('routed', values, env);
    const deleted = await withEtcdClient(settings, (c) => c.delete(peerKey(settings.prefix, positional[0]!)));
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
  return runEtcdCommand(commandName('bgp', noun, verb), BGP_USAGE, async () => {
    if (noun !== 'peer') throw new UsageError(noun === undefined ? 'bgp needs a command' : `unknown bgp command ${JSON.stringify(noun)}`);
    return peerCommand(verb, rest, env);
  }, [BgpPeerConflictError]);
}
