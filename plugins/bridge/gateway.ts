// Which addresses the bridge carries and which default routes the pod gets,
// from the IPAM result: the reference bridge's calcGateways, as a pure function.
import type { IpConfig, Result, Route } from '../../lib/cni/types';
import { formatIp, ipFamily, parseCidr, prefixBounds, withValue } from '../../lib/ip/address';
import type { BridgeConfig } from './config';

/** The pod's interface is third in the result: bridge, host veth, container. */
export const CONTAINER_INTERFACE_INDEX = 2;

const DEFAULT_ROUTE = { 4: '0.0.0.0/0', 6: '::/0' } as const;

/** The first address of the pod's subnet: the reference's gateway when IPAM names none. */
export function firstHostAddress(cidr: string): string {
  const c = parseCidr(cidr);
  if (typeof c === 'string') throw new Error(`IPAM returned a bad address ${cidr}: ${c}`);
  return formatIp(withValue(c.ip, prefixBounds(c).first + 1n));
}

export interface GatewayPlan {
  ips: IpConfig[];
  routes: Route[];
  /** CIDRs to put on the bridge, e.g. "10.244.1.1/24" */
  bridgeAddresses: string[];
  /** families for which forwarding must be on */
  forwardingFamilies: (4 | 6)[];
}

export function planGateways(ipamResult: Result, config: BridgeConfig): GatewayPlan {
  const routes = [...(ipamResult.routes ?? [])];
  const bridgeAddresses: string[] = [];
  const families = new Set<4 | 6>();
  const hasDefault = new Set<4 | 6>();
  const ips = (ipamResult.ips ?? []).map((ipc) => {
    const family = ipFamily(ipc.address);
    const out: IpConfig = { ...ipc, interface: CONTAINER_INTERFACE_INDEX };
    if (!out.gateway && config.isGateway) out.gateway = firstHostAddress(ipc.address);
    if (config.isDefaultGateway && !hasDefault.has(family)) {
      // An IPAM default route with a gateway wins; otherwise route via ours.
      if (!routes.some((r) => r.gw && r.dst === DEFAULT_ROUTE[family])) {
        routes.push({ dst: DEFAULT_ROUTE[family], ...(out.gateway ? { gw: out.gateway } : {}) });
      }
      hasDefault.add(family);
    }
    if (config.isGateway && out.gateway) {
      bridgeAddresses.push(`${out.gateway}/${ipc.address.split('/')[1]}`);
      families.add(family);
    }
    return out;
  });
  return { ips, routes, bridgeAddresses, forwardingFamilies: [...families] };
}
