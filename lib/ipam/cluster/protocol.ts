// How a plugin asks the node's agent for cluster IPAM: one request per
// connection on a unix stream socket, one JSON line each way. The plugin
// thereby needs no etcd client and no datastore credential; the agent holds
// both. An answer is {ok: true, ...} or a CNI error {ok: false, code, msg}.
import { createConnection } from 'node:net';
import { CniError, ErrorCode } from '../../cni/errors';
import type { Assignment } from './store';
import type { VxlanMode } from './pool';

export const DEFAULT_AGENT_SOCKET = '/run/tscni/agent.sock';
/** Requests and answers are small; anything longer is not ours. */
export const MAX_MESSAGE_BYTES = 1 << 20;

export type IpamRequest =
  | { op: 'assign'; handle: string; pools?: string[] }
  | { op: 'release'; handle: string }
  | { op: 'held'; handle: string }
  /** frees this node's addresses of `network` whose handle is not in `keep` */
  | { op: 'gc'; network: string; keep: string[] }
  | { op: 'pools' }
  | { op: 'status'; pools?: string[] };

export interface PoolInfo {
  name: string;
  cidr: string;
  blockSize: number;
  vxlan: VxlanMode;
  natOutgoing: boolean;
}

export interface IpamAnswers {
  assign: { ips: Assignment[] };
  release: { released: string[] };
  held: { ips: Assignment[] };
  gc: { released: string[] };
  pools: { pools: PoolInfo[] };
  status: { pools: { name: string; free: string }[] };
}

export type Answer<Op extends IpamRequest['op']> = { ok: true } & IpamAnswers[Op];
export type ErrorAnswer = { ok: false; code: number; msg: string; details?: string };

/** Reads one newline-terminated line from a socket, bounded. */
export function readLine(socket: NodeJS.ReadableStream & { destroy(): void }, limit = MAX_MESSAGE_BYTES): Promise<string> {
  return new Promise((resolve, reject) => {
    let buf = '';
    socket.setEncoding('utf8');
    socket.on('data', (chunk: string) => {
      buf += chunk;
      const nl = buf.indexOf('\n');
      if (nl >= 0) resolve(buf.slice(0, nl));
      else if (buf.length > limit) {
        socket.destroy();
        reject(new Error(`message longer than ${limit} bytes`));
      }
    });
    socket.on('end', () => reject(new Error(buf === '' ? 'closed without an answer' : 'closed in the middle of a message')));
    socket.on('error', reject);
  });
}

/**
 * One request to the agent. A socket that is missing or refuses is CNI code
 * 11 (try again later): the agent is starting, or restarting.
 */
export async function askAgent<R extends IpamRequest>(socketPath: string, request: R, timeoutMs = 15_000): Promise<Answer<R['op']>> {
  const socket = createConnection(socketPath);
  const timer = setTimeout(() => socket.destroy(new Error(`no answer within ${timeoutMs} ms`)), timeoutMs);
  try {
    await new Promise<void>((resolve, reject) => {
      socket.once('connect', resolve);
      socket.once('error', reject);
    });
    socket.write(JSON.stringify(request) + '\n');
    const answer = JSON.parse(await readLine(socket)) as Answer<R['op']> | ErrorAnswer;
    if (!answer.ok) throw new CniError(answer.code, answer.msg, answer.details);
    return answer;
  } catch (e) {
    if (e instanceof CniError) throw e;
    const code = (e as NodeJS.ErrnoException).code;
    const why = code === 'ENOENT' ? 'the socket does not exist' : code === 'ECONNREFUSED' ? 'nothing listens on it' : (e as Error).message;
    throw new CniError(ErrorCode.TryAgainLater, `no tscni agent answers at ${socketPath}: ${why}; try again later`);
  } finally {
    clearTimeout(timer);
    socket.destroy();
  }
}
