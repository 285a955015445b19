// cluster-ipam's configuration, under "ipam" of the network config:
//   agentSocket  the node agent's socket (default /run/tscni/agent.sock)
//   pools        pool names to take addresses from, in order of preference;
//                absent: every pool, one address per family that has one
//   routes       routes the result carries, as host-local's
import * as z from 'zod/mini';
import { invalidConfig } from '../../cni/errors';
import { absolutePath, parseOrThrow } from '../../cni/schemas';
import { LEGACY_AGENT_NETWORKS } from './block';
import type { Route } from '../../cni/types';
import { canonicalRoute, routeSchema } from '../host-local/config';
import { isPoolName } from './pool';
import { DEFAULT_AGENT_SOCKET } from './protocol';

export interface ClusterIpamConfig {
  cniVersion: string;
  name: string;
  agentSocket: string;
  pools?: string[];
  routes: Route[];
}

const schema = z.object({
  cniVersion: z.string(),
  name: z.string(),
  ipam: z.object({
    type: z.string(),
    agentSocket: z._default(absolutePath(), DEFAULT_AGENT_SOCKET),
    pools: z.optional(z.array(z.string().check(z.refine(isPoolName, 'is not a pool name')))),
    routes: z._default(z.array(routeSchema), []),
  }),
});

/** What DEL reads: whom to ask, and the network that names the handle. */
export type ClusterIpamDelConfig = Pick<ClusterIpamConfig, 'name' | 'agentSocket'>;

const delSchema = z.object({ name: z.string(), ipam: z.object({ agentSocket: z._default(absolutePath(), DEFAULT_AGENT_SOCKET) }) });

export function parseClusterIpamDelConfig(raw: Record<string, unknown>): ClusterIpamDelConfig {
  const c = parseOrThrow(delSchema, raw);
  return { name: c.name, agentSocket: c.ipam.agentSocket };
}

export function parseClusterIpamConfig(raw: Record<string, unknown>): ClusterIpamConfig {
  const c = parseOrThrow(schema, raw);
  if (LEGACY_AGENT_NETWORKS.includes(c.name)) throw invalidConfig('name', `"${c.name}" is reserved for the tscni agent's own addresses`);
  return {
    cniVersion: c.cniVersion,
    name: c.name,
    agentSocket: c.ipam.agentSocket,
    ...(c.ipam.pools && c.ipam.pools.length > 0 ? { pools: c.ipam.pools } : {}),
    routes: c.ipam.routes.map((r, i) => canonicalRoute(r, `ipam.routes[${i}]`)),
  };
}
