// How a plugin asks the node's agent for cluster IPAM: one request per
// connection on a unix stream socket, one JSON line each way. The plugin
// thereby needs no etcd client and no datastore credential; the agent holds
// both. An answer is {ok: true, ...} or a CNI error {ok: false, code, msg}.
import { readSync, writeSync } from 'node:fs';
import { CniError, ErrorCode } from '../../cni/errors';
import { native } from '../../native';
import type { VxlanMode } from './pool';

export const DEFAULT_AGENT_SOCKET = '/run/tscni/agent.sock';
/** Requests and answers are small; anything longer is not ours. */
export const MAX_MESSAGE_BYTES = 1 << 20;
const ENOENT = 2;
const ECONNREFUSED = 111;

export interface Assignment {
  pool: string;
  /** the address with the block's prefix length, e.g. 10.244.0.5/26 */
  address: string;
  gateway: string;
}

export type IpamRequest =
  /** `netns`: the ADD's CNI_NETNS, which the agent keeps as the attachment's evidence of life */
  | { op: 'assign'; handle: string; pools?: string[]; netns?: string }
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
  /** `pools`: every pool, as the assignment read them (an older agent sends none) */
  assign: { ips: Assignment[]; pools?: PoolInfo[] };
  release: { released: string[] };
  held: { ips: Assignment[] };
  gc: { released: string[] };
  pools: { pools: PoolInfo[] };
  status: { pools: { name: string; free: string }[] };
}

export type Answer<Op extends IpamRequest['op']> = { ok: true } & IpamAnswers[Op];
export type ErrorAnswer = { ok: false; code: number; msg: string; details?: string };

/**
 * One request to the agent, synchronously: connect, write the line, read the
 * answer line. The socket comes from the native addon and is read with fs'
 * sync calls, so a plugin loads no networking module and needs no event loop.
 * A socket that is missing or refuses is CNI code 11 (try again later): the
 * agent is starting, or restarting.
 */
export function askAgent<R extends IpamRequest>(socketPath: string, request: R, timeoutMs = 15_000): Answer<R['op']> {
  let fd: number;
  try {
    fd = native().unixConnect(socketPath, timeoutMs);
  } catch (e) {
    const errno = (e as { errno?: number }).errno;
    const why = errno === ENOENT ? 'the socket does not exist' : errno === ECONNREFUSED ? 'nothing listens on it' : (e as Error).message;
    throw new CniError(ErrorCode.TryAgainLater, `no tscni agent answers at ${socketPath}: ${why}; try again later`);
  }
  let line: string;
  try {
    writeSync(fd, JSON.stringify(request) + '\n');
    line = readAnswerLine(fd);
  } catch (e) {
    throw new CniError(ErrorCode.TryAgainLater, `the tscni agent at ${socketPath} did not answer: ${(e as Error).message}; try again later`);
  } finally {
    native().close(fd);
  }
  const answer = parseAnswer(line, request.op);
  if (answer === undefined) {
    const shown = line.length > 80 ? `${JSON.stringify(line.slice(0, 80))}...` : JSON.stringify(line);
    throw new CniError(ErrorCode.TryAgainLater, `the tscni agent at ${socketPath} answered something that is not an answer (${shown}); try again later`);
  }
  if (!answer.ok) throw new CniError(answer.code, answer.msg, answer.details);
  return answer as unknown as Answer<R['op']>;
}

/** The list every answer to an op carries. */
const ANSWER_LIST: Record<IpamRequest['op'], string> = { assign: 'ips', held: 'ips', release: 'released', gc: 'released', pools: 'pools', status: 'pools' };

/**
 * An answer line as {ok: true, ...} or a CNI error; undefined when it is
 * neither (garbled, cut, another program on the socket): like an agent that
 * does not answer, that is the agent's state, not the request's fault.
 */
function parseAnswer(line: string, op: IpamRequest['op']): ({ ok: true } & Record<string, unknown>) | ErrorAnswer | undefined {
  let answer: unknown;
  try {
    answer = JSON.parse(line);
  } catch {
    return undefined;
  }
  if (typeof answer !== 'object' || answer === null || Array.isArray(answer)) return undefined;
  const a = answer as Record<string, unknown>;
  if (a.ok === true) return Array.isArray(a[ANSWER_LIST[op]]) ? (a as { ok: true } & Record<string, unknown>) : undefined;
  if (a.ok !== false || !Number.isInteger(a.code) || typeof a.msg !== 'string') return undefined;
  return { ok: false, code: a.code as number, msg: a.msg, ...(typeof a.details === 'string' ? { details: a.details } : {}) };
}

/** The pools each agent's assign answer named in this process, by socket. */
const poolsFromAgent = new Map<string, PoolInfo[]>();

/** An address from the agent; the pools its answer names are kept for agentPools. */
export function assignFromAgent(socketPath: string, request: Extract<IpamRequest, { op: 'assign' }>): Answer<'assign'> {
  const answer = askAgent(socketPath, request);
  if (Array.isArray(answer.pools)) poolsFromAgent.set(socketPath, answer.pools);
  return answer;
}

/**
 * The agent's pools: as its assign answer in this process named them (routed
 * with cluster-ipam in its own process: one request per ADD, not two), or
 * asked for.
 */
export function agentPools(socketPath: string): PoolInfo[] {
  return poolsFromAgent.get(socketPath) ?? askAgent(socketPath, { op: 'pools' }).pools;
}

function readAnswerLine(fd: number): string {
  const chunks: Buffer[] = [];
  let total = 0;
  for (;;) {
    const chunk = Buffer.alloc(64 * 1024);
    const n = readSync(fd, chunk);
    if (n === 0) throw new Error(total === 0 ? 'it closed the connection without an answer' : 'the answer was cut short');
    const nl = chunk.subarray(0, n).indexOf(0x0a);
    chunks.push(chunk.subarray(0, nl < 0 ? n : nl));
    total += n;
    if (nl >= 0) return Buffer.concat(chunks).toString('utf8');
    if (total > MAX_MESSAGE_BYTES) throw new Error(`the answer is longer than ${MAX_MESSAGE_BYTES} bytes`);
  }
}
