// tscni pool create|list: routed mode's IP pools in etcd
// (<prefix>/ipam/pools/<name>, prefix /tscni/v1 by default), with Calico
// IPPool's fields. `create` checks the pool completely before it connects,
// and refuses a name or a CIDR another pool has, so bad input writes nothing.
import type { EtcdSettings } from '../lib/datastore/etcd-options';
import { formatCidr } from '../lib/ip/address';
import { makePool, PoolError, VXLAN_MODES, type Pool } from '../lib/ipam/cluster/pool';
import { ClusterIpamStore } from '../lib/ipam/cluster/store';
import { integerFlag, parseFlags, type FlagKind } from '../lib/flags';
import { commandEtcdSettings, commandName, ETCD_SPEC, etcdCommandUsage, runEtcdCommand, UsageError, withEtcdClient } from './etcd-command';

export const POOL_USAGE = `usage:
  tscni pool create NAME --cidr CIDR [--block-size N] [--vxlan ${VXLAN_MODES.join('|')}]
                    [--nat-outgoing] [etcd flags]
      a new IP pool; nodes claim blocks of it (/26 by default for IPv4, /122
      for IPv6); --nat-outgoing masquerades its pods' traffic to anywhere
      outside every pool
  tscni pool list [etcd flags]
      the pools, one a line

${etcdCommandUsage('routed')}`;

const CREATE_SPEC: Record<string, FlagKind> = { ...ETCD_SPEC, cidr: 'string', 'block-size': 'string', vxlan: 'string', 'nat-outgoing': 'boolean' };
const FLAG_OF_FIELD: Record<PoolError['field'], string> = {
  name: 'NAME', cidr: '--cidr', blockSize: '--block-size', vxlan: '--vxlan', natOutgoing: '--nat-outgoing',
};

function poolToCreate(positional: string[], values: Record<string, string | boolean>): Pool {
  if (positional.length !== 1) throw new UsageError(positional.length === 0 ? 'create needs the pool\'s NAME' : `unexpected argument ${JSON.stringify(positional[1])}`);
  if (typeof values.cidr !== 'string') throw new UsageError('--cidr is required');
  try {
    return makePool({
      name: positional[0]!, cidr: values.cidr, blockSize: integerFlag(values, 'block-size'),
      ...(typeof values.vxlan === 'string' ? { vxlan: values.vxlan } : {}), natOutgoing: values['nat-outgoing'] === true,
    });
  } catch (e) {
    if (e instanceof PoolError) throw new UsageError(`${FLAG_OF_FIELD[e.field]}: ${e.message}`, false);
    throw e;
  }
}

function withStore<T>(settings: EtcdSettings, fn: (s: ClusterIpamStore) => Promise<T>): Promise<T> {
  // The CLI holds no blocks: the node name only labels the store.
  return withEtcdClient(settings, (client) => fn(new ClusterIpamStore(client, settings.prefix, '')));
}

function table(pools: Pool[]): string {
  const rows = [['NAME', 'CIDR', 'BLOCK SIZE', 'VXLAN', 'NAT OUTGOING'],
    ...pools.map((p) => [p.name, formatCidr(p.cidr), String(p.blockSize), p.vxlan, String(p.natOutgoing)])];
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  return rows.map((r) => r.map((cell, i) => cell.padEnd(widths[i]!)).join('  ').trimEnd()).join('\n') + '\n';
}

/** `tscni pool ...`; the exit code. */
export async function runPool(args: string[], env: NodeJS.ProcessEnv): Promise<number> {
  const [verb, ...rest] = args;
  return runEtcdCommand(commandName('pool', verb), POOL_USAGE, async () => {
    if (verb === 'create') {
      const { values, positional } = parseFlags(rest, CREATE_SPEC);
      const pool = poolToCreate(positional, values);
      const settings = commandEtcdSettings('routed', values, env);
      await withStore(settings, (s) => s.createPool(pool));
      process.stdout.write(table([pool]));
      return 0;
    }
    if (verb === 'list') {
      const { values, positional } = parseFlags(rest, ETCD_SPEC);
      if (positional.length > 0) throw new UsageError(`unexpected argument ${JSON.stringify(positional[0])}`);
      const { records, problems } = await withStore(commandEtcdSettings('routed', values, env), (s) => s.readPools());
      process.stdout.write(table(records));
      // a pool that does not read is named, never the end of the listing
      for (const p of problems) process.stderr.write(`tscni: warning: ${p}\n`);
      return 0;
    }
    throw new UsageError(verb === undefined ? 'pool needs create or list' : `unknown pool command ${JSON.stringify(verb)}`);
  }, [PoolError]);
}
