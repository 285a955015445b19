// What the agent last saw of its node, in <run-dir>/status.json, so that
// `tscni node status` can show the node's blocks and how full they are
// without etcd credentials of its own: rewritten after every sync, and
// whenever its BIRD dies, comes back or refuses a configuration.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { writeFileAtomic } from '../fs-atomic';
import { blockCapacity, type Block } from '../ipam/cluster/block';
import { formatCidr } from '../ip/address';

export interface BlockUse {
  pool: string;
  cidr: string;
  allocated: number;
  capacity: number;
}

/** The BIRD the agent runs, as its watch sees it. */
export interface BirdStatus {
  /** restarting: it died and the agent is starting it again from the last good configuration */
  state: 'running' | 'restarting' | 'stopped';
  pid?: number;
  /** how the agent got the BIRD that runs: one it started, one in recovery (-R), or one left by an agent before it */
  how?: 'started' | 'recovering' | 'adopted';
  /** times the agent restarted a BIRD that died */
  restarts: number;
  lastRestart?: { at: string; reason: string };
  /** the last configuration BIRD refused (`bird -p`), not installed: the last good one stays and runs */
  rejectedConfig?: { at: string; error: string };
}

export interface AgentStatus {
  node: string;
  pid: number;
  ip: string;
  ip6?: string;
  asn: number;
  routeReflector: boolean;
  updated: string;
  blocks: BlockUse[];
  /** the records in etcd the agent left out, one line each saying why (absent in files of older agents) */
  ignored?: string[];
  bird?: BirdStatus;
}

export const statusFile = (runDir: string) => join(runDir, 'status.json');

export function blockUse(b: Block): BlockUse {
  return {
    pool: b.pool, cidr: formatCidr(b.cidr), allocated: Object.keys(b.allocations).length,
    capacity: Number(blockCapacity(b.cidr.prefix, b.cidr.ip.family)),
  };
}

export function writeStatus(runDir: string, s: AgentStatus): void {
  writeFileAtomic(statusFile(runDir), JSON.stringify(s, null, 2) + '\n');
}

export function readStatus(runDir: string): AgentStatus | undefined {
  try {
    return JSON.parse(readFileSync(statusFile(runDir), 'utf8')) as AgentStatus;
  } catch {
    return undefined;
  }
}
