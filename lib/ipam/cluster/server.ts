// The agent's side of protocol.ts: a unix socket that serves a node's plugins
// from its ClusterIpamStore. Each connection carries one request; a request
// that is not one of ours is answered with an error and closed.
import { chmodSync, lstatSync, unlinkSync } from 'node:fs';
import { createServer, type Socket } from 'node:net';
import { asCniError, CniError, ErrorCode } from '../../cni/errors';
import { EtcdError, EtcdUnreachableError } from '../../datastore/etcd-http';
import { formatCidr } from '../../ip/address';
import type { AttachmentRecords } from './attachments';
import { attachmentOfHandle, isAgentHandle, LEGACY_AGENT_NETWORKS } from './block';
import { poolValue, type Pool } from './pool';
import { MAX_MESSAGE_BYTES, type ErrorAnswer, type IpamRequest, type PoolInfo } from './protocol';
import type { ClusterIpamStore } from './store';

export interface IpamServer {
  socketPath: string;
  close(): Promise<void>;
}

/** Reads one newline-terminated line from a connection, bounded. */
function readLine(socket: Socket): Promise<string> {
  return new Promise((resolve, reject) => {
    let buf = '';
    socket.setEncoding('utf8');
    socket.on('data', (chunk: string) => {
      buf += chunk;
      const nl = buf.indexOf('\n');
      if (nl >= 0) resolve(buf.slice(0, nl));
      else if (buf.length > MAX_MESSAGE_BYTES) {
        socket.destroy();
        reject(new Error(`request longer than ${MAX_MESSAGE_BYTES} bytes`));
      }
    });
    socket.on('end', () => reject(new Error('closed in the middle of a request')));
    socket.on('error', reject);
  });
}

const isStringArray = (v: unknown): v is string[] => Array.isArray(v) && v.every((x) => typeof x === 'string');

/** The request, or a string naming what is wrong with it. */
export function parseRequest(line: string): IpamRequest | string {
  let r: any;
  try {
    r = JSON.parse(line);
  } catch {
    return 'the request is not JSON';
  }
  if (typeof r !== 'object' || r === null) return 'the request is not an object';
  const handleProblem = handleProblemOf(r.handle);
  switch (r.op) {
    case 'assign':
    case 'status':
      if (r.op === 'assign' && handleProblem) return handleProblem;
      if (r.pools !== undefined && !isStringArray(r.pools)) return 'pools: must be a list of pool names';
      if (r.op === 'status') return { op: r.op, ...(r.pools ? { pools: r.pools } : {}) };
      if (r.netns !== undefined && (typeof r.netns !== 'string' || !r.netns.startsWith('/'))) return 'netns: must be an absolute path';
      return { op: r.op, handle: r.handle, ...(r.pools ? { pools: r.pools } : {}), ...(r.netns !== undefined ? { netns: r.netns } : {}) };
    case 'release':
    case 'held':
      return handleProblem ?? { op: r.op, handle: r.handle };
    case 'gc':
      if (typeof r.network !== 'string' || r.network === '') return 'network: must be a network name';
      if (isAgentHandle(`${r.network}/`)) return `network: "${r.network}" is reserved for the agent's own addresses`;
      return isStringArray(r.keep) ? { op: 'gc', network: r.network, keep: r.keep } : 'keep: must be a list of handles';
    case 'pools':
      return { op: 'pools' };
    default:
      return `op: unknown operation ${JSON.stringify(r.op)}`;
  }
}

/** What is wrong with a plugin's handle: not one, or one of the agent's own (a plugin never names those). */
function handleProblemOf(handle: unknown): string | undefined {
  if (typeof handle !== 'string' || attachmentOfHandle(handle) === undefined) return 'handle: must be "<network>/<containerId>/<ifname>"';
  if (isAgentHandle(handle)) return `handle: the network of "${handle}" is reserved for the agent's own addresses (${LEGACY_AGENT_NETWORKS.join(', ')} included)`;
  return undefined;
}

const poolInfo = (p: Pool): PoolInfo => ({ name: p.name, ...poolValue(p) });

async function answer(store: ClusterIpamStore, records: AttachmentRecords | undefined, req: IpamRequest): Promise<object> {
  switch (req.op) {
    case 'assign': {
      try {
        records?.note(req.handle, req.netns);
      } catch {
        // Without its record the allocation is never taken for a leak: safe, so the ADD goes on.
      }
      const { ips, pools } = await store.assign(req.handle, req.pools);
      return { ips, pools: pools.map(poolInfo) };
    }
    case 'release': {
      const released = await store.release(req.handle);
      records?.forget(req.handle);
      return { released };
    }
    case 'held':
      return { ips: await store.heldBy(req.handle) };
    case 'gc': {
      const keep = new Set(req.keep);
      const released = await store.releaseWhere((h) => attachmentOfHandle(h)?.network === req.network && !keep.has(h));
      return { released };
    }
    case 'pools':
      return { pools: (await store.listPools()).map(poolInfo) };
    case 'status': {
      const room = await store.room(req.pools);
      for (const family of [4, 6]) {
        const ofFamily = room.filter((r) => r.pool.cidr.ip.family === family);
        if (ofFamily.length > 0 && ofFamily.every((r) => r.free === 0n)) {
          const names = ofFamily.map((r) => `${r.pool.name} (${formatCidr(r.pool.cidr)})`).join(', ');
          throw new CniError(ErrorCode.NotAvailable, `no IPv${family} address left for node ${store.node} in ${names}`);
        }
      }
      return { pools: room.map((r) => ({ name: r.pool.name, free: String(r.free) })) };
    }
  }
}

function errorAnswer(e: unknown): ErrorAnswer {
  // etcd down or refusing: the plugin's runtime should retry, not give up.
  if (e instanceof EtcdUnreachableError || e instanceof EtcdError) return { ok: false, code: ErrorCode.TryAgainLater, msg: `datastore: ${e.message}` };
  const c = asCniError(e);
  return { ok: false, code: c.code, msg: c.msg, ...(c.details ? { details: c.details } : {}) };
}

async function serveConnection(store: ClusterIpamStore, records: AttachmentRecords | undefined, socket: Socket): Promise<void> {
  let reply: object;
  try {
    const req = parseRequest(await readLine(socket));
    reply = typeof req === 'string' ? { ok: false, code: ErrorCode.DecodeFailure, msg: `bad request: ${req}` } : { ok: true, ...(await answer(store, records, req)) };
  } catch (e) {
    reply = errorAnswer(e);
  }
  if (!socket.destroyed) socket.end(JSON.stringify(reply) + '\n');
}

/** Removes a socket file a previous agent left; anything that is not a socket stays, and listen fails. */
function removeStaleSocket(path: string): void {
  try {
    if (lstatSync(path).isSocket()) unlinkSync(path);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
  }
}

/**
 * Serves `store` at `socketPath` (mode 0600: only root's plugins may ask)
 * until close(); with `records`, keeps one per attachment for the leak scan.
 */
export async function serveClusterIpam(socketPath: string, store: ClusterIpamStore, records?: AttachmentRecords): Promise<IpamServer> {
  removeStaleSocket(socketPath);
  const open = new Set<Socket>();
  const server = createServer((socket) => {
    open.add(socket);
    socket.on('close', () => open.delete(socket));
    socket.on('error', () => undefined);
    void serveConnection(store, records, socket);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(socketPath, () => resolve());
  });
  chmodSync(socketPath, 0o600);
  return {
    socketPath,
    close: () => new Promise<void>((resolve) => {
      server.close(() => resolve());
      for (const s of open) s.destroy();
    }),
  };
}
