// What the agent last saw of its node, in <run-dir>/status.json, so that
// `tscni node status` can show the node's blocks and how full they are
// without etcd credentials of its own: rewritten after every sync.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { writeFileAtomic } from '../../lib/fs-atomic';
import { blockCapacity, type Block } from '../../lib/ipam/cluster/block';
import { formatCidr } from '../../lib/ip/address';

export interface BlockUse {
  pool: string;
  cidr: string;
  allocated: number;
  capacity: number;
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
