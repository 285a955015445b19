// cluster-ipam: addresses from routed mode's pools, as Calico's IPAM plugin
// hands them out, but the etcd work is the node agent's: this process only
// asks over the agent's socket (no datastore client, no credential in the
// network config). Usable by any plugin that delegates IPAM, ours or the
// reference ones (ptp puts the result's gateway on the node's veth end).
// It lives in lib/ipam so that routed can run it in its own process.
import { CniError, UNKNOWN_ERROR_CODE } from '../../cni/errors';
import type { CmdArgs, GcArgs, Plugin } from '../../cni/skel';
import type { Result } from '../../cni/types';
import { handleOf } from './block';
import { askAgent, assignFromAgent } from './protocol';
import { parseClusterIpamConfig, parseClusterIpamDelConfig, type ClusterIpamConfig, type ClusterIpamDelConfig } from './config';

type Args = CmdArgs<ClusterIpamConfig>;

const handle = (a: CmdArgs<ClusterIpamDelConfig>) => handleOf({ network: a.config.name, containerId: a.containerId, ifname: a.ifname });

async function add(a: Args): Promise<Result> {
  const { ips } = assignFromAgent(a.config.agentSocket, {
    op: 'assign', handle: handle(a), ...(a.config.pools ? { pools: a.config.pools } : {}), ...(a.netns.startsWith('/') ? { netns: a.netns } : {}),
  });
  return {
    cniVersion: a.cniVersion,
    ips: ips.map((ip) => ({ address: ip.address, gateway: ip.gateway })),
    routes: a.config.routes,
  };
}

/** Releasing nothing is success; an agent that cannot be asked is 11, so the runtime retries rather than leaks. */
async function del(a: CmdArgs<ClusterIpamDelConfig>): Promise<void> {
  await askAgent(a.config.agentSocket, { op: 'release', handle: handle(a) });
}

async function check(a: Args): Promise<void> {
  const { ips } = await askAgent(a.config.agentSocket, { op: 'held', handle: handle(a) });
  if (ips.length === 0) {
    throw new CniError(UNKNOWN_ERROR_CODE, `cluster-ipam: no address is allocated to container ${a.containerId}, interface ${a.ifname} in network ${a.config.name}`);
  }
  // By address alone: the main plugin may give the pod another prefix length (routed: /32).
  const held = new Set(ips.map((ip) => ip.address.split('/')[0]!));
  for (const ip of a.prevResult?.ips ?? []) {
    if (!held.has(ip.address.split('/')[0]!)) {
      throw new CniError(UNKNOWN_ERROR_CODE, `cluster-ipam: prevResult address ${ip.address} is not allocated to container ${a.containerId}, interface ${a.ifname} (it holds ${ips.map((ip) => ip.address).join(', ')})`);
    }
  }
}

async function gc(a: GcArgs<ClusterIpamConfig>): Promise<void> {
  const keep = a.validAttachments.map((v) => handleOf({ network: a.config.name, containerId: v.containerID, ifname: v.ifname }));
  await askAgent(a.config.agentSocket, { op: 'gc', network: a.config.name, keep });
}

/** Ready when the agent answers and this node can still get an address of every family it serves. */
async function status(a: Args): Promise<void> {
  await askAgent(a.config.agentSocket, { op: 'status', ...(a.config.pools ? { pools: a.config.pools } : {}) });
}

export const clusterIpam: Plugin<ClusterIpamConfig, ClusterIpamDelConfig> = {
  name: 'cluster-ipam',
  parseConfig: parseClusterIpamConfig,
  parseDelConfig: parseClusterIpamDelConfig,
  add,
  del,
  check,
  gc,
  status,
};

