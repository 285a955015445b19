// The delegate's configuration, built from the plugin's and the subnet file
// exactly as flannel's plugin builds it, so that a node moving from flannel to
// tscni gets the same bridge: the delegate's own keys win; then type bridge,
// the network's name and cniVersion, ipMasq = not FLANNEL_IPMASQ (the node
// masquerades, or the bridge must), mtu = FLANNEL_MTU, isGateway for a
// bridge, and IPAM (host-local unless the top-level ipam names another) with
// one range set per family from the subnet and a route to each cluster
// network after the ipam's own routes.
import type { SubnetEnv } from '../../lib/flannel/subnet-env';
import { formatCidr, networkOf, type Cidr } from '../../lib/ip/address';
import type { FlannelConfig } from './config';

export type DelegateConfig = Record<string, unknown> & { type: string; name: string };

export function buildDelegate(c: FlannelConfig, env: SubnetEnv): DelegateConfig {
  const d: Record<string, unknown> = { ...c.delegate };
  if (c.runtimeConfig) d.runtimeConfig = c.runtimeConfig;
  d.name = c.network;
  d.type ??= 'bridge';
  d.ipMasq ??= !env.ipMasq;
  d.mtu ??= env.mtu;
  if (d.type === 'bridge') d.isGateway ??= true;
  if (c.cniVersion) d.cniVersion = c.cniVersion;
  d.ipam = delegateIpam(c, env);
  return d as DelegateConfig;
}

function delegateIpam(c: FlannelConfig, env: SubnetEnv): Record<string, unknown> {
  const ipam: Record<string, unknown> = { ...c.ipam };
  ipam.type ??= 'host-local';
  // flannel's ranges name the subnet itself, host bits cleared
  const subnets = [env.subnet, env.ipv6Subnet].filter((s): s is Cidr => s !== undefined);
  ipam.ranges = subnets.map((s) => [{ subnet: formatCidr(networkOf(s)) }]);
  const own = Array.isArray(c.ipam.routes) ? c.ipam.routes : [];
  ipam.routes = [...own, ...[...env.networks, ...env.ipv6Networks].map((n) => ({ dst: formatCidr(networkOf(n)) }))];
  return ipam;
}
