// What the cluster store reads from etcd, decoded: the pools and blocks that
// pass the checks, and a line for each record that does not. A record
// written by hand is skipped and named, never the end of a listing: one
// garbled block must not stop every node's IPAM. Where a block key is, no
// block is claimed, whether its value reads or not.
import type { KeyValue } from '../../datastore/etcd';
import { cidrsOverlap, formatCidr, type Cidr } from '../../ip/address';
import { blockOfKey, blocksDir, decodeBlock, type Block } from './block';
import { decodePool, type Pool } from './pool';

export interface StoredBlock extends Block {
  modRevision: number;
}

/** The records that passed the checks, and a line per record that did not. */
export interface Listing<T> {
  records: T[];
  problems: string[];
}

/** A block's pool and CIDR, as its key names them. */
export interface Taken {
  pool: string;
  cidr: Cidr;
}

export const poolsDir = (prefix: string) => `${prefix}/ipam/pools/`;

/**
 * The pools among `kvs`. A pool overlapping one before it (in key order) is
 * refused as `tscni pool create` refuses it: two pools would hand out one
 * address twice.
 */
export function decodePools(prefix: string, kvs: KeyValue[]): Listing<Pool> {
  const dir = poolsDir(prefix);
  const records: Pool[] = [];
  const problems: string[] = [];
  for (const kv of kvs.filter((x) => x.key.startsWith(dir))) {
    const p = decodePool(kv.key.slice(dir.length), kv.value);
    const under = typeof p === 'string' ? undefined : records.find((q) => cidrsOverlap(q.cidr, p.cidr));
    if (typeof p === 'string') problems.push(p);
    else if (under) problems.push(`pool ${p.name}: ${formatCidr(p.cidr)} overlaps pool ${under.name} (${formatCidr(under.cidr)})`);
    else records.push(p);
  }
  return { records, problems };
}

/** One stored block, or what is wrong with it. */
export function decodeStoredBlock(prefix: string, kv: KeyValue): StoredBlock | string {
  const id = blockOfKey(prefix, kv.key);
  if (!id) return `block key ${JSON.stringify(kv.key)}: not <pool>/<address>-<prefix length>`;
  const b = decodeBlock(id.pool, id.cidr, kv.value);
  return typeof b === 'string' ? b : { ...b, modRevision: kv.modRevision };
}

/** The blocks among `kvs`. */
export function decodeBlocks(prefix: string, kvs: KeyValue[]): Listing<StoredBlock> {
  const records: StoredBlock[] = [];
  const problems: string[] = [];
  for (const kv of kvs.filter((x) => x.key.startsWith(blocksDir(prefix)))) {
    const b = decodeStoredBlock(prefix, kv);
    if (typeof b === 'string') problems.push(b);
    else records.push(b);
  }
  return { records, problems };
}

/** Where every block key among `kvs` is, its value readable or not. */
export function takenBlocks(prefix: string, kvs: KeyValue[]): Taken[] {
  return kvs.map((kv) => blockOfKey(prefix, kv.key)).filter((t): t is Taken => t !== undefined);
}
