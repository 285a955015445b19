// The cluster store: pools and per-node blocks in etcd, the way Calico's IPAM
// keeps them. A node allocates only inside blocks it holds (Calico's strict
// affinity), so the routes a node announces are its blocks, never single
// addresses; when its blocks are full it claims the pool's next unclaimed
// block with a create-if-absent transaction, which exactly one node wins.
// Inside a block every change is a compare-on-mod-revision transaction,
// retried on a fresh read, so processes sharing a node name cannot hand out
// one address twice. One store serves one node: its own calls run one at a
// time, which keeps those retries for the rare cross-process race.
import { CniError, ErrorCode } from '../../cni/errors';
import type { EtcdClient, KeyValue } from '../../datastore/etcd';
import { cidrsOverlap, formatCidr, formatIp, type Family } from '../../ip/address';
import { blockCapacity, blockGateway, blockKey, blocksDir, encodeBlock, freeAddress, heldByHandle, type Block } from './block';
import { decodeBlocks, decodePools, decodeStoredBlock, poolsDir, takenBlocks, type Listing, type StoredBlock, type Taken } from './listing';
import type { Assignment } from './protocol';
import { blockCount, decodePool, nthBlock, poolValue, type Pool } from './pool';

export type { StoredBlock } from './listing';

export { DEFAULT_ROUTED_PREFIX } from '../../datastore/etcd-options';

/** How many more addresses a node can get from a pool: free ones in its blocks, plus unclaimed blocks. */
export interface PoolRoom {
  pool: Pool;
  freeInNodeBlocks: bigint;
  unclaimedBlocks: bigint;
  /** both together */
  free: bigint;
}

const MAX_CAS_ATTEMPTS = 50;

/** Pools and blocks both (and the agents' leak reports): what an assignment reads, in one request. */
const ipamDir = (prefix: string) => `${prefix}/ipam/`;

export class ClusterIpamStore {
  private queue: Promise<unknown> = Promise.resolve();

  constructor(readonly client: EtcdClient, readonly prefix: string, readonly node: string) {}

  /** One call at a time per store; a failed call does not stop the next. */
  private serial<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.queue.then(fn, fn);
    this.queue = run.catch(() => undefined);
    return run;
  }

  /** The pools that pass the checks. */
  async listPools(): Promise<Pool[]> {
    return (await this.readPools()).records;
  }

  /** The pools, and what is wrong with the others. */
  async readPools(): Promise<Listing<Pool>> {
    return decodePools(this.prefix, (await this.client.getPrefix(poolsDir(this.prefix))).kvs);
  }

  /** Every pool and every block, as one read saw them, and where every block key is. */
  private async readPoolsAndBlocks(): Promise<{ pools: Pool[]; blocks: StoredBlock[]; taken: Taken[] }> {
    const { kvs } = await this.client.getPrefix(ipamDir(this.prefix));
    return { pools: decodePools(this.prefix, kvs).records, blocks: decodeBlocks(this.prefix, kvs).records, taken: takenBlocks(this.prefix, kvs) };
  }

  /**
   * Writes a new pool; refuses a name that exists or a CIDR that overlaps
   * another pool's. The write compares every pool it checked against, so a
   * pool changed meanwhile makes it fail rather than overlap.
   */
  async createPool(pool: Pool): Promise<void> {
    const { kvs } = await this.client.getPrefix(poolsDir(this.prefix));
    const key = `${poolsDir(this.prefix)}${pool.name}`;
    for (const kv of kvs) {
      const other = decodePool(kv.key.slice(poolsDir(this.prefix).length), kv.value);
      if (typeof other === 'string' && kv.key === key) throw new CniError(ErrorCode.InvalidNetworkConfig, `pool ${pool.name} exists already (${other})`);
      // A pool that does not read has no CIDR to compare; the write still fails if it changes meanwhile.
      if (typeof other === 'string') continue;
      if (other.name === pool.name) throw new CniError(ErrorCode.InvalidNetworkConfig, `pool ${pool.name} exists already (${formatCidr(other.cidr)})`);
      if (cidrsOverlap(other.cidr, pool.cidr)) {
        throw new CniError(ErrorCode.InvalidNetworkConfig, `${formatCidr(pool.cidr)} overlaps pool ${other.name} (${formatCidr(other.cidr)})`);
      }
    }
    const r = await this.client.txn(
      [{ key, createRevision: 0 }, ...kvs.map((kv) => ({ key: kv.key, modRevision: kv.modRevision }))],
      [{ put: { key, value: JSON.stringify(poolValue(pool)) } }],
    );
    if (!r.succeeded) throw new CniError(ErrorCode.TryAgainLater, `the pools changed while pool ${pool.name} was being created; try again`);
  }

  /** Every block of every pool, or of one node, that passes the checks. */
  async listBlocks(node?: string): Promise<StoredBlock[]> {
    return (await this.readBlocks(node)).records;
  }

  /** The blocks (of every node, or of one), and what is wrong with the others, whoever holds them. */
  async readBlocks(node?: string): Promise<Listing<StoredBlock>> {
    const { records, problems } = decodeBlocks(this.prefix, (await this.client.getPrefix(blocksDir(this.prefix))).kvs);
    return { records: node === undefined ? records : records.filter((b) => b.node === node), problems };
  }

  /** A block as a transaction found it; undefined when it does not read (it is then left alone). */
  private decode(kv: KeyValue): StoredBlock | undefined {
    const b = decodeStoredBlock(this.prefix, kv);
    return typeof b === 'string' ? undefined : b;
  }

  /**
   * One address per family for `handle`, from the first of `poolNames` (all
   * pools when none are named) of that family with room. A handle that holds
   * addresses already gets those back: a retried ADD takes nothing more.
   * When a family fails, what this call took in another family is released.
   * Also the pools as this call read them, every one: what the caller's
   * plugin needs to know of them comes with the answer.
   */
  assign(handle: string, poolNames?: string[]): Promise<{ ips: Assignment[]; pools: Pool[] }> {
    return this.serial(async () => {
      const { pools: all, blocks, taken } = await this.readPoolsAndBlocks();
      const pools = this.choose(all, poolNames);
      const held = this.held(blocks, handle);
      const out: Assignment[] = [];
      try {
        for (const family of [4, 6] as Family[]) {
          const candidates = pools.filter((p) => p.cidr.ip.family === family);
          if (candidates.length === 0) continue;
          const already = held.filter((a) => candidates.some((p) => p.name === a.pool));
          if (already.length > 0) out.push(...already);
          else out.push(await this.assignInFamily(handle, candidates, blocks, taken));
        }
      } catch (e) {
        for (const a of out) if (!held.includes(a)) await this.releaseAddress(a, handle);
        throw e;
      }
      return { ips: out, pools: all };
    });
  }

  private choose(all: Pool[], names: string[] | undefined): Pool[] {
    if (all.length === 0) throw new CniError(ErrorCode.TryAgainLater, 'no IP pool exists yet (tscni pool create)');
    if (names === undefined || names.length === 0) return all;
    return names.map((n) => {
      const p = all.find((x) => x.name === n);
      if (!p) throw new CniError(ErrorCode.InvalidNetworkConfig, `ipam.pools: no pool named "${n}" (pools: ${all.map((x) => x.name).join(', ')})`);
      return p;
    });
  }

  private async assignInFamily(handle: string, pools: Pool[], blocks: StoredBlock[], taken: Taken[]): Promise<Assignment> {
    for (const pool of pools) {
      const ofPool = blocks.filter((b) => b.pool === pool.name);
      for (const b of ofPool.filter((x) => x.node === this.node)) {
        const a = await this.allocateIn(b, handle);
        if (a) return a;
      }
      const a = await this.claimBlock(pool, ofPool, taken, handle);
      if (a) return a;
    }
    const what = pools.map((p) => `${p.name} (${formatCidr(p.cidr)}, /${p.blockSize} blocks)`).join(', ');
    throw new CniError(ErrorCode.IpamExhausted, `IP pool exhausted: ${what}: every block is claimed and node ${this.node}'s blocks are full`);
  }

  /**
   * Takes the block's lowest free address; undefined when the block is full
   * or no longer ours. An address the block already gives to `handle` is
   * the answer instead: a write whose answer was lost (a timeout, then the
   * same transaction resent to another endpoint) fails its compare on the
   * retry, and the fresh read shows the address it did take.
   */
  private async allocateIn(start: StoredBlock, handle: string): Promise<Assignment | undefined> {
    let b: StoredBlock | undefined = start;
    for (let attempt = 0; attempt < MAX_CAS_ATTEMPTS && b && b.node === this.node; attempt++) {
      const [taken] = heldByHandle(b, handle);
      if (taken) return this.assignment(b, formatIp(taken));
      const ip = freeAddress(b);
      if (!ip) return undefined;
      const allocations = { ...b.allocations, [formatIp(ip)]: handle };
      const r = await this.client.putIfModRevision(blockKey(this.prefix, b.pool, b.cidr), encodeBlock({ node: b.node, allocations }), b.modRevision);
      if (r.succeeded) {
        Object.assign(b, { allocations, modRevision: r.revision });
        return this.assignment(b, formatIp(ip));
      }
      b = r.current ? this.decode(r.current) : undefined;
    }
    if (b && b.node === this.node) throw new CniError(ErrorCode.TryAgainLater, `block ${formatCidr(b.cidr)} kept changing under ${MAX_CAS_ATTEMPTS} attempts`);
    return undefined;
  }

  /**
   * Claims the pool's first unclaimed block with the handle's address in it,
   * in one transaction. A block is unclaimed when no block key covers any of
   * it, whether its value reads or not.
   */
  private async claimBlock(pool: Pool, ofPool: StoredBlock[], taken: Taken[], handle: string): Promise<Assignment | undefined> {
    const claimed = new Set(taken.filter((t) => t.cidr.prefix === pool.blockSize && t.cidr.ip.family === pool.cidr.ip.family).map((t) => t.cidr.ip.value));
    const odd = taken.filter((t) => t.cidr.prefix !== pool.blockSize && cidrsOverlap(t.cidr, pool.cidr));
    const count = blockCount(pool);
    for (let i = 0n; i < count; i++) {
      const cidr = nthBlock(pool, i);
      if (claimed.has(cidr.ip.value) || odd.some((t) => cidrsOverlap(t.cidr, cidr))) continue;
      const first = formatIp({ family: cidr.ip.family, value: cidr.ip.value + 1n });
      const block: Block = { pool: pool.name, cidr, node: this.node, allocations: { [first]: handle } };
      const r = await this.client.createIfAbsent(blockKey(this.prefix, pool.name, cidr), encodeBlock(block));
      if (r.created) {
        ofPool.push({ ...block, modRevision: r.revision });
        return this.assignment(block, first);
      }
      // Another node was faster; if it was this node (another process), use it.
      taken.push({ pool: pool.name, cidr });
      const theirs = r.existing ? this.decode(r.existing) : undefined;
      if (!theirs) continue;
      ofPool.push(theirs);
      const a = theirs.node === this.node ? await this.allocateIn(theirs, handle) : undefined;
      if (a) return a;
    }
    return undefined;
  }

  private assignment(b: Block, ip: string): Assignment {
    return { pool: b.pool, address: `${ip}/${b.cidr.prefix}`, gateway: formatIp(blockGateway(b.cidr)) };
  }

  private held(blocks: StoredBlock[], handle: string): Assignment[] {
    return blocks.flatMap((b) => heldByHandle(b, handle).map((ip) => this.assignment(b, formatIp(ip))));
  }

  /** What `handle` holds now. */
  async heldBy(handle: string): Promise<Assignment[]> {
    return this.held(await this.listBlocks(), handle);
  }

  /** Frees every address `handle` holds, in any block; the addresses freed. Releasing nothing is not an error. */
  release(handle: string): Promise<string[]> {
    return this.serial(async () => {
      const freed: string[] = [];
      for (const b of await this.listBlocks()) {
        freed.push(...(await this.removeFromBlock(b, (h) => h === handle)));
      }
      return freed;
    });
  }

  /** GC: frees addresses in this node's blocks held by handles `isStale` picks; the addresses freed. */
  releaseWhere(isStale: (handle: string) => boolean): Promise<string[]> {
    return this.serial(async () => {
      const freed: string[] = [];
      for (const b of await this.listBlocks(this.node)) freed.push(...(await this.removeFromBlock(b, isStale)));
      return freed;
    });
  }

  private async releaseAddress(a: Assignment, handle: string): Promise<void> {
    const ip = a.address.split('/')[0]!;
    for (const b of await this.listBlocks()) {
      if (b.pool === a.pool && b.allocations[ip] === handle) await this.removeFromBlock(b, (h) => h === handle);
    }
  }

  private async removeFromBlock(start: StoredBlock, drop: (handle: string) => boolean): Promise<string[]> {
    let b: StoredBlock | undefined = start;
    for (let attempt = 0; attempt < MAX_CAS_ATTEMPTS && b; attempt++) {
      const gone = Object.keys(b.allocations).filter((ip) => drop(b!.allocations[ip]!));
      if (gone.length === 0) return [];
      const allocations = Object.fromEntries(Object.entries(b.allocations).filter(([ip]) => !gone.includes(ip)));
      const r = await this.client.putIfModRevision(blockKey(this.prefix, b.pool, b.cidr), encodeBlock({ node: b.node, allocations }), b.modRevision);
      if (r.succeeded) return gone;
      b = r.current ? this.decode(r.current) : undefined;
    }
    if (b) throw new CniError(ErrorCode.TryAgainLater, `block ${formatCidr(b.cidr)} kept changing under ${MAX_CAS_ATTEMPTS} attempts`);
    return [];
  }

  /** Room left for this node in each pool (STATUS, node status). */
  async room(poolNames?: string[]): Promise<PoolRoom[]> {
    const { pools: all, blocks, taken } = await this.readPoolsAndBlocks();
    const pools = this.choose(all, poolNames);
    return pools.map((pool) => {
      const ofPool = blocks.filter((b) => b.pool === pool.name);
      const capacity = blockCapacity(pool.blockSize, pool.cidr.ip.family);
      const freeInNodeBlocks = ofPool.filter((b) => b.node === this.node)
        .reduce((n, b) => n + capacity - BigInt(Object.keys(b.allocations).length), 0n);
      const unclaimedBlocks = blockCount(pool) - BigInt(taken.filter((t) => t.pool === pool.name).length);
      return { pool, freeInNodeBlocks, unclaimedBlocks, free: freeInNodeBlocks + unclaimedBlocks * capacity };
    });
  }
}
