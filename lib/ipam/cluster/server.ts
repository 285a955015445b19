// The agent's side of protocol.ts: a unix socket that serves a node's plugins
// from its ClusterIpamStore. Each connection carries one request line; a
// request that is not one of ours is answered with an error and closed.
// Whoever may connect can take and free the node's addresses, so the socket
// is made 0600 (0660 with a group) from the start, by the umask, and each
// peer's credentials are checked again, as the kernel recorded them at
// connect: root, or the configured group. A peer that is slow to ask, asks
// too much, or opens too many connections cannot hold the agent's memory.
import { chmodSync, chownSync, lstatSync, readFileSync, unlinkSync } from 'node:fs';
import { createServer, type Socket } from 'node:net';
import { native } from '../../native';
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

export interface IpamServerOptions {
  /** a group whose members may ask besides root (the socket is then 0660, of that group) */
  group?: number;
  /** how long a connection may take to send its request line; default IDLE_TIMEOUT_MS */
  idleTimeoutMs?: number;
  /** the attachment records the leak scan reads; kept only when given */
  records?: AttachmentRecords;
}

/** A plugin writes its request as soon as it connects: a connection silent this long is closed. */
export const IDLE_TIMEOUT_MS = 5_000;
/** Connections served at once; a node's plugins run a few at a time, each with one. */
export const MAX_CONNECTIONS = 64;

class RequestRefused extends Error {}

/** Reads the one newline-terminated request line of a connection, at most MAX_MESSAGE_BYTES, then reads no more. */
function readLine(socket: Socket, idleTimeoutMs: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let bytes = 0;
    const done = (settle: () => void) => {
      socket.setTimeout(0);
      socket.removeAllListeners('data');
      socket.pause();
      settle();
    };
    socket.setTimeout(idleTimeoutMs, () => done(() => {
      socket.destroy();
      reject(new Error(`no request within ${idleTimeoutMs} ms`));
    }));
    socket.on('data', (chunk: Buffer) => {
      const nl = chunk.indexOf(0x0a);
      const part = nl < 0 ? chunk : chunk.subarray(0, nl);
      bytes += part.length;
      if (bytes > MAX_MESSAGE_BYTES) return done(() => reject(new RequestRefused(`the request is longer than ${MAX_MESSAGE_BYTES} bytes`)));
      chunks.push(part);
      if (nl >= 0) done(() => resolve(Buffer.concat(chunks).toString('utf8')));
    });
    socket.on('end', () => reject(new Error('closed in the middle of a request')));
    socket.on('error', reject);
  });
}

/** The groups of a process: its primary group as SO_PEERCRED gives it, and the supplementary ones /proc lists. */
function groupsOf(pid: number, gid: number): number[] {
  try {
    const line = readFileSync(`/proc/${pid}/status`, 'utf8').split('\n').find((l) => l.startsWith('Groups:'));
    return [gid, ...(line?.slice('Groups:'.length).trim().split(/\s+/).filter(Boolean).map(Number) ?? [])];
  } catch {
    return [gid]; // gone already: it will not read the answer either
  }
}

/** Why the peer of `socket` may not ask, or undefined when it may. */
function peerRefusal(socket: Socket, group: number | undefined): string | undefined {
  const fd = (socket as unknown as { _handle?: { fd?: number } })._handle?.fd;
  if (typeof fd !== 'number' || fd < 0) return 'its credentials cannot be read';
  const peer = native().peerCredentials(fd);
  if (peer.uid === 0) return undefined;
  if (group !== undefined && groupsOf(peer.pid, peer.gid).includes(group)) return undefined;
  return `uid ${peer.uid} (pid ${peer.pid}) is not root${group !== undefined ? ` nor in group ${group}` : ''}`;
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

async function serveConnection(store: ClusterIpamStore, socket: Socket, o: IpamServerOptions): Promise<void> {
  let reply: object;
  try {
    const refused = peerRefusal(socket, o.group);
    if (refused) {
      reply = { ok: false, code: ErrorCode.IoFailure, msg: `the tscni agent refuses this request: ${refused}` };
    } else {
      const req = parseRequest(await readLine(socket, o.idleTimeoutMs ?? IDLE_TIMEOUT_MS));
      reply = typeof req === 'string' ? { ok: false, code: ErrorCode.DecodeFailure, msg: `bad request: ${req}` } : { ok: true, ...(await answer(store, o.records, req)) };
    }
  } catch (e) {
    reply = e instanceof RequestRefused ? { ok: false, code: ErrorCode.DecodeFailure, msg: `bad request: ${e.message}` } : errorAnswer(e);
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

/** Listens on `socketPath`, made 0600 by the umask as bind(2) creates it: never, even briefly, open to others. */
async function listenPrivately(server: ReturnType<typeof createServer>, socketPath: string): Promise<void> {
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    // bind(2) runs inside listen(), synchronously: the umask covers exactly it
    const umask = process.umask(0o177);
    try {
      server.listen(socketPath, () => resolve());
    } finally {
      process.umask(umask);
    }
  });
}

/**
 * Serves `store` at `socketPath` (root's plugins, and the group's if one is
 * given) until close(); with `records`, keeps one per attachment for the leak scan.
 */
export async function serveClusterIpam(socketPath: string, store: ClusterIpamStore, o: IpamServerOptions = {}): Promise<IpamServer> {
  removeStaleSocket(socketPath);
  const open = new Set<Socket>();
  const server = createServer((socket) => {
    open.add(socket);
    socket.on('close', () => open.delete(socket));
    socket.on('error', () => undefined);
    void serveConnection(store, socket, o);
  });
  server.maxConnections = MAX_CONNECTIONS;
  await listenPrivately(server, socketPath);
  if (o.group !== undefined) {
    // from 0600 to 0660: the group is let in, no one else ever was
    chownSync(socketPath, process.getuid?.() ?? 0, o.group);
    chmodSync(socketPath, 0o660);
  }
  return {
    socketPath,
    close: () => new Promise<void>((resolve) => {
      server.close(() => resolve());
      for (const s of open) s.destroy();
    }),
  };
}
