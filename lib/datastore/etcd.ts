// etcd v3's key-value, transaction and lease calls, over the JSON gateway
// (etcd-http.ts). The gateway speaks protobuf's JSON mapping: bytes are
// base64 and int64 are decimal strings; both stay inside this module, so its
// callers deal in strings for keys and values, numbers for revisions (they
// stay far below 2^53) and decimal strings for lease IDs (which do not).
import { EtcdError, EtcdTransport, GrpcCode, type EtcdConnectionOptions } from './etcd-http';

export type LeaseId = string;

export interface KeyValue {
  key: string;
  value: string;
  createRevision: number;
  modRevision: number;
  version: number;
  /** '0' when the key is bound to no lease */
  lease: LeaseId;
}

/** A condition of a transaction, on one key. */
export type Compare =
  | { key: string; createRevision: number }
  | { key: string; modRevision: number }
  | { key: string; value: string };

export type TxnOp =
  | { put: { key: string; value: string; lease?: LeaseId } }
  | { delete: { key: string } }
  | { get: { key: string } };

export interface TxnResult {
  succeeded: boolean;
  revision: number;
  /** for each `get` op of the branch that ran, in order: the key's value or undefined */
  gets: (KeyValue | undefined)[];
}

const b64 = (s: string) => Buffer.from(s).toString('base64');
const unb64 = (s: string | undefined) => (s === undefined ? '' : Buffer.from(s, 'base64').toString());

/** The end of the key range that holds every key starting with `prefix` (etcd's prefix rule). */
export function prefixRangeEnd(prefix: string): string {
  const bytes = Buffer.from(prefix);
  for (let i = bytes.length - 1; i >= 0; i--) {
    if (bytes[i]! < 0xff) {
      const end = Buffer.from(bytes.subarray(0, i + 1));
      end[i]! += 1;
      return end.toString('base64');
    }
  }
  return b64('\0'); // every byte is 0xff: to the end of the key space
}

export function decodeKv(kv: any): KeyValue {
  return {
    key: unb64(kv.key),
    value: unb64(kv.value),
    createRevision: Number(kv.create_revision ?? 0),
    modRevision: Number(kv.mod_revision ?? 0),
    version: Number(kv.version ?? 0),
    lease: String(kv.lease ?? '0'),
  };
}

function encodeCompare(c: Compare): object {
  if ('createRevision' in c) return { key: b64(c.key), target: 'CREATE', result: 'EQUAL', create_revision: String(c.createRevision) };
  if ('modRevision' in c) return { key: b64(c.key), target: 'MOD', result: 'EQUAL', mod_revision: String(c.modRevision) };
  return { key: b64(c.key), target: 'VALUE', result: 'EQUAL', value: b64(c.value) };
}

function encodeOp(op: TxnOp): object {
  if ('put' in op) return { request_put: { key: b64(op.put.key), value: b64(op.put.value), lease: op.put.lease ?? '0' } };
  if ('delete' in op) return { request_delete_range: { key: b64(op.delete.key) } };
  return { request_range: { key: b64(op.get.key) } };
}

export class EtcdClient {
  readonly transport: EtcdTransport;

  constructor(opts: EtcdConnectionOptions) {
    this.transport = new EtcdTransport(opts);
  }

  async get(key: string): Promise<KeyValue | undefined> {
    const r = await this.transport.call('/v3/kv/range', { key: b64(key) });
    return r.kvs?.[0] ? decodeKv(r.kvs[0]) : undefined;
  }

  /** Every key under `prefix`, in key order, and the store's revision they were read at. */
  async getPrefix(prefix: string): Promise<{ kvs: KeyValue[]; revision: number }> {
    const r = await this.transport.call('/v3/kv/range', { key: b64(prefix), range_end: prefixRangeEnd(prefix) });
    return { kvs: (r.kvs ?? []).map(decodeKv), revision: Number(r.header.revision) };
  }

  /** Writes `value`; with a lease, the key goes away when the lease does. Returns the new revision. */
  async put(key: string, value: string, opts: { lease?: LeaseId } = {}): Promise<number> {
    const r = await this.transport.call('/v3/kv/put', { key: b64(key), value: b64(value), lease: opts.lease ?? '0' });
    return Number(r.header.revision);
  }

  /** Deletes one key, or every key under a prefix; returns how many were deleted. */
  async delete(key: string, opts: { prefix?: boolean } = {}): Promise<number> {
    const body = opts.prefix ? { key: b64(key), range_end: prefixRangeEnd(key) } : { key: b64(key) };
    const r = await this.transport.call('/v3/kv/deleterange', body);
    return Number(r.deleted ?? 0);
  }

  /** All of `compare` hold: `success` runs, else `failure`; atomically. */
  async txn(compare: Compare[], success: TxnOp[], failure: TxnOp[] = []): Promise<TxnResult> {
    const r = await this.transport.call('/v3/kv/txn', {
      compare: compare.map(encodeCompare), success: success.map(encodeOp), failure: failure.map(encodeOp),
    });
    const gets = (r.responses ?? [])
      .filter((resp: any) => 'response_range' in resp)
      .map((resp: any) => (resp.response_range.kvs?.[0] ? decodeKv(resp.response_range.kvs[0]) : undefined));
    return { succeeded: r.succeeded === true, revision: Number(r.header.revision), gets };
  }

  /**
   * Writes `key` only if it does not exist; otherwise returns what is there.
   * A member that took the write but whose answer was lost makes the retry on
   * the next endpoint see `existing` with this very value: compare it (a
   * subnet lease carries the node's own PublicIP) before taking it as a loss.
   */
  async createIfAbsent(key: string, value: string, opts: { lease?: LeaseId } = {}): Promise<{ created: boolean; existing?: KeyValue; revision: number }> {
    const r = await this.txn([{ key, createRevision: 0 }], [{ put: { key, value, lease: opts.lease } }], [{ get: { key } }]);
    return r.succeeded ? { created: true, revision: r.revision } : { created: false, existing: r.gets[0], revision: r.revision };
  }

  /** Writes `key` only if nobody changed it since `modRevision`; otherwise returns what is there now. */
  async putIfModRevision(key: string, value: string, modRevision: number, opts: { lease?: LeaseId } = {}): Promise<{ succeeded: boolean; current?: KeyValue; revision: number }> {
    const r = await this.txn([{ key, modRevision }], [{ put: { key, value, lease: opts.lease } }], [{ get: { key } }]);
    return r.succeeded ? { succeeded: true, revision: r.revision } : { succeeded: false, current: r.gets[0], revision: r.revision };
  }

  /** A lease of `ttlSeconds`; keys put with it live while it is kept alive. */
  async leaseGrant(ttlSeconds: number): Promise<{ id: LeaseId; ttl: number }> {
    const r = await this.transport.call('/v3/lease/grant', { TTL: String(ttlSeconds), ID: '0' });
    if (r.error) throw new Error(`etcd: lease grant: ${r.error}`);
    return { id: String(r.ID), ttl: Number(r.TTL) };
  }

  /** Renews the lease once; the TTL it has again, or undefined when it has expired (or never was). */
  async leaseKeepAlive(id: LeaseId): Promise<number | undefined> {
    // A streaming call in gRPC; over the gateway one request, one answer.
    const r = await this.transport.call('/v3/lease/keepalive', { ID: id });
    const ttl = Number(r.result?.TTL ?? 0);
    return ttl > 0 ? ttl : undefined;
  }

  /** What is left of the lease and the keys bound to it; undefined when it has expired. */
  async leaseTimeToLive(id: LeaseId): Promise<{ ttl: number; grantedTtl: number; keys: string[] } | undefined> {
    const r = await this.transport.call('/v3/kv/lease/timetolive', { ID: id, keys: true });
    const ttl = Number(r.TTL ?? -1);
    if (ttl < 0) return undefined;
    return { ttl, grantedTtl: Number(r.grantedTTL ?? 0), keys: (r.keys ?? []).map(unb64) };
  }

  /** Ends the lease now, deleting its keys. A lease that is already gone is not an error. */
  async leaseRevoke(id: LeaseId): Promise<void> {
    try {
      await this.transport.call('/v3/lease/revoke', { ID: id });
    } catch (e) {
      if (!(e instanceof EtcdError && e.grpcCode === GrpcCode.NotFound)) throw e;
    }
  }

  close(): void {
    this.transport.close();
  }
}
