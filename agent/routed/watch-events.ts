// Which changes under the routed prefix make the agent sync. Most writes
// there are allocations: each ADD and DEL on any node moves one address
// inside a block that keeps its owner, which changes no route, no BGP
// session and no BIRD filter on any node; only the owner's status file
// counts it. A full sync for each (nodes, peers, pools and blocks read anew,
// routes dumped) on every node cost each agent more CPU than the plugin
// call that caused it spent in its own process, on the same cores. Leak
// reports and heartbeats are the agents' own output, read by `tscni ipam`
// alone.
import type { WatchEvent } from '../../lib/datastore/etcd-watch';
import { blockOfKey, decodeBlock, type Block } from '../../lib/ipam/cluster/block';
import { aliveDir } from '../../lib/datastore/routed-nodes';
import { leaksDir } from '../../lib/routed/leaks-record';

export type Impact =
  | { kind: 'sync' }
  /** the block's addresses changed, nothing else: its owner and its CIDR stay */
  | { kind: 'allocations'; block: Block }
  | { kind: 'none' };

export function impactOf(prefix: string, e: WatchEvent): Impact {
  if (e.kv.key.startsWith(leaksDir(prefix)) || e.kv.key.startsWith(aliveDir(prefix))) return { kind: 'none' };
  const id = blockOfKey(prefix, e.kv.key);
  if (!id || e.type !== 'put' || !e.prevKv) return { kind: 'sync' };
  const before = decodeBlock(id.pool, id.cidr, e.prevKv.value);
  const after = decodeBlock(id.pool, id.cidr, e.kv.value);
  // a value that does not read (before or after): the sync reports it, or stops reporting it
  if (typeof before === 'string' || typeof after === 'string') return { kind: 'sync' };
  return before.node === after.node ? { kind: 'allocations', block: after } : { kind: 'sync' };
}
