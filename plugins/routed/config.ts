// routed's configuration: Calico's dataplane needs little. The pool facts
// (which networks are pools, whether a pool masquerades) come from the node
// agent when it runs (nat.ts); "natOutgoing" here overrides the pool's say.
import * as z from 'zod/mini';
import { invalidConfig } from '../../lib/cni/errors';
import { absolutePath, parseOrThrow } from '../../lib/cni/schemas';
import { DEFAULT_AGENT_SOCKET } from '../../lib/ipam/cluster/protocol';

const schema = z.looseObject({
  cniVersion: z.string(),
  name: z.string(),
  mtu: z.optional(z.int().check(z.gte(68), z.lte(65535))),
  natOutgoing: z.optional(z.boolean()),
  agentSocket: z._default(absolutePath(), DEFAULT_AGENT_SOCKET),
  ipam: z._default(z.looseObject({ type: z.optional(z.string()) }), {}),
});

export interface RoutedConfig {
  network: string;
  mtu?: number;
  /** undefined: as the pod's pool says (no agent: off) */
  natOutgoing?: boolean;
  agentSocket: string;
  ipamType: string;
}

/** What DEL reads: the network and its IPAM, which gets the DEL next. */
export type RoutedDelConfig = Pick<RoutedConfig, 'network' | 'ipamType'>;

export function parseRoutedDelConfig(raw: Record<string, unknown>): RoutedDelConfig {
  const c = parseOrThrow(z.pick(schema, { name: true, ipam: true }), raw);
  if (!c.ipam.type) throw invalidConfig('ipam.type', 'is required: routed needs addresses from an IPAM plugin');
  return { network: c.name, ipamType: c.ipam.type };
}

export function parseRoutedConfig(raw: Record<string, unknown>): RoutedConfig {
  const c = parseOrThrow(schema, raw);
  // A routed pod is its addresses: without IPAM there is nothing to route.
  if (!c.ipam.type) throw invalidConfig('ipam.type', 'is required: routed needs addresses from an IPAM plugin');
  return {
    network: c.name,
    ...(c.mtu !== undefined ? { mtu: c.mtu } : {}),
    ...(c.natOutgoing !== undefined ? { natOutgoing: c.natOutgoing } : {}),
    agentSocket: c.agentSocket,
    ipamType: c.ipam.type,
  };
}
