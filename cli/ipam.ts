// tscni ipam check | release --from-report FILE: addresses and blocks that
// leaked, with the evidence for each, and freeing exactly those. check
// prints a JSON report (stdout) and a summary (stderr); release frees an
// item only if it is still a leak when it is freed: an allocation only while
// its node's agent still reports no attachment for it and the block still
// gives the address to that handle, a block only while its node is still gone
// (no record and no heartbeat: an agent whose record was deleted still
// beats, and registers again) and nobody changed the block since the report.
// Nothing in use is freed.
import { readFileSync } from 'node:fs';
import { decodeLeaks, leaksDir, leaksKey, type Leak } from '../lib/routed/leaks-record';
import type { EtcdClient } from '../lib/datastore/etcd';
import { aliveDir, aliveKey, nodeKey, nodesDir } from '../lib/datastore/routed-nodes';
import { blockKey } from '../lib/ipam/cluster/block';
import { ClusterIpamStore } from '../lib/ipam/cluster/store';
import { formatCidr, parseCidr } from '../lib/ip/address';
import { parseFlags } from '../lib/flags';
import { commandEtcdSettings, commandName, ETCD_SPEC, etcdCommandUsage, runEtcdCommand, UsageError, withEtcdClient } from './etcd-command';

export const IPAM_USAGE = `usage:
  tscni ipam check [etcd flags] > report.json
      allocations whose attachment is gone from their node (as its agent
      reports), and blocks held by nodes that are gone; with the evidence
  tscni ipam release --from-report FILE [etcd flags]
      frees exactly what the report lists, each only if it is still a leak

${etcdCommandUsage('routed')}`;

export interface LeakReport {
  generated: string;
  allocations: (Leak & { node: string })[];
  blocks: { pool: string; block: string; node: string; modRevision: number; allocations: number; evidence: string }[];
  /** blocks that do not read: never a leak (nothing says who holds them), left alone */
  ignored: string[];
}

async function check(client: EtcdClient, prefix: string): Promise<LeakReport> {
  // A node whose record does not read is still there: its key is the evidence.
  const known = new Set((await client.getPrefix(nodesDir(prefix))).kvs.map((kv) => kv.key.slice(nodesDir(prefix).length)));
  const alive = new Set((await client.getPrefix(aliveDir(prefix))).kvs.map((kv) => kv.key.slice(aliveDir(prefix).length)));
  const { records: blocks, problems } = await new ClusterIpamStore(client, prefix, '').readBlocks();
  const report: LeakReport = { generated: new Date().toISOString(), allocations: [], blocks: [], ignored: problems };
  for (const b of blocks.filter((x) => !known.has(x.node) && !alive.has(x.node))) {
    report.blocks.push({
      pool: b.pool, block: formatCidr(b.cidr), node: b.node, modRevision: b.modRevision, allocations: Object.keys(b.allocations).length,
      evidence: `node ${b.node} is not registered (no ${nodeKey(prefix, b.node)}) and its agent is not running (no ${aliveKey(prefix, b.node)})`,
    });
  }
  const { kvs } = await client.getPrefix(leaksDir(prefix));
  for (const kv of kvs) {
    const node = kv.key.slice(leaksDir(prefix).length);
    if (!known.has(node) && !alive.has(node)) continue; // its blocks are reported whole
    const held = new Map(blocks.filter((b) => b.node === node).flatMap((b) => Object.entries(b.allocations)));
    for (const leak of decodeLeaks(kv.value)) {
      // Only what the block still gives to that handle: a report older than a DEL lists nothing freed since.
      const ips = leak.ips.filter((ip) => held.get(ip) === leak.handle);
      if (ips.length > 0) report.allocations.push({ ...leak, ips, node });
    }
  }
  return report;
}

async function release(client: EtcdClient, prefix: string, report: LeakReport): Promise<string[]> {
  const lines: string[] = [];
  for (const a of report.allocations) {
    const current = await client.get(leaksKey(prefix, a.node));
    const stillLeaked = current !== undefined && decodeLeaks(current.value).some((l) => l.handle === a.handle);
    if (!stillLeaked) {
      lines.push(`kept ${a.ips.join(', ')} (${a.handle}): node ${a.node}'s agent no longer reports it unattached`);
      continue;
    }
    const store = new ClusterIpamStore(client, prefix, a.node);
    const freed = await store.releaseWhere((h) => h === a.handle);
    lines.push(freed.length > 0 ? `released ${freed.join(', ')} (${a.handle}) on node ${a.node}` : `nothing left of ${a.handle} on node ${a.node}`);
  }
  for (const b of report.blocks) {
    const cidr = parseCidr(b.block);
    if (typeof cidr === 'string') {
      lines.push(`kept block ${b.block}: ${cidr}`);
      continue;
    }
    const key = blockKey(prefix, b.pool, cidr);
    const gone = [{ key: nodeKey(prefix, b.node), createRevision: 0 }, { key: aliveKey(prefix, b.node), createRevision: 0 }];
    const r = await client.txn([...gone, { key, modRevision: b.modRevision }], [{ delete: { key } }]);
    lines.push(r.succeeded
      ? `released block ${b.block} of pool ${b.pool} (node ${b.node} is gone)`
      : `kept block ${b.block}: node ${b.node} is registered or its agent runs, or the block changed since the report`);
  }
  return lines;
}

/** `tscni ipam ...`; the exit code. */
export async function runIpam(args: string[], env: NodeJS.ProcessEnv): Promise<number> {
  const [verb, ...rest] = args;
  return runEtcdCommand(commandName('ipam', verb), IPAM_USAGE, async () => {
    if (verb !== 'check' && verb !== 'release') throw new UsageError(verb === undefined ? 'ipam needs check or release' : `unknown ipam command ${JSON.stringify(verb)}`);
    const { values, positional } = parseFlags(rest, verb === 'release' ? { ...ETCD_SPEC, 'from-report': 'string' } : ETCD_SPEC);
    if (positional.length > 0) throw new UsageError(`unexpected argument ${JSON.stringify(positional[0])}`);
    let report: LeakReport | undefined;
    if (verb === 'release') {
      if (typeof values['from-report'] !== 'string') throw new UsageError('--from-report FILE is required');
      try {
        report = JSON.parse(readFileSync(values['from-report'], 'utf8')) as LeakReport;
        if (!Array.isArray(report.allocations) || !Array.isArray(report.blocks)) throw new Error('it has no "allocations" and "blocks" lists');
      } catch (e) {
        throw new UsageError(`--from-report ${values['from-report']}: not a report of tscni ipam check: ${(e as Error).message}`);
      }
    }
    const settings = commandEtcdSettings('routed', values, env);
    await withEtcdClient(settings, async (client) => {
      if (report) {
        for (const line of await release(client, settings.prefix, report)) process.stdout.write(`${line}\n`);
        return;
      }
      const r = await check(client, settings.prefix);
      process.stdout.write(JSON.stringify(r, null, 2) + '\n');
      for (const a of r.allocations) process.stderr.write(`leaked ${a.ips.join(', ')} (${a.handle}): ${a.evidence}\n`);
      for (const b of r.blocks) process.stderr.write(`leaked block ${b.block} of pool ${b.pool} (${b.allocations} allocations): ${b.evidence}\n`);
      for (const p of r.ignored) process.stderr.write(`ignored ${p}\n`);
    });
    return 0;
  });
}
