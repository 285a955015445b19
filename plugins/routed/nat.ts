// How routed learns about NAT: a pool's natOutgoing decides, as in Calico,
// and the pool list lives with the agent. routed takes it from the agent
// when its socket exists (from the assign answer when cluster-ipam ran in
// this process, else it asks: "pools"), and masquerades a pod of a
// natOutgoing pool for every destination outside all pools. With no agent on the node (routed with
// host-local), only an explicit "natOutgoing": true masquerades, for
// destinations outside the pod's own subnet. An agent socket that exists but
// does not answer is error 11: guessing would make NAT depend on timing.
import { existsSync } from 'node:fs';
import { cidrsOverlap, parseCidr, type Cidr } from '../../lib/ip/address';
import { agentPools, type PoolInfo } from '../../lib/ipam/cluster/protocol';
import type { RoutedConfig } from './config';
import { hostCidr } from './dataplane';

export interface NatPlan {
  masquerade: boolean;
  /** networks that keep the pod's address; undefined: the address's own subnet */
  keepTo?: string[];
}

const inPool = (pool: PoolInfo, address: string) => cidrsOverlap(parseCidr(pool.cidr) as Cidr, hostCidr(address));

export function planNat(c: RoutedConfig, addresses: string[]): NatPlan {
  if (!existsSync(c.agentSocket)) return { masquerade: c.natOutgoing === true };
  const pools = agentPools(c.agentSocket);
  const own = pools.filter((p) => addresses.some((a) => inPool(p, a)));
  const masquerade = c.natOutgoing ?? own.some((p) => p.natOutgoing);
  return pools.length > 0 ? { masquerade, keepTo: pools.map((p) => p.cidr) } : { masquerade };
}
