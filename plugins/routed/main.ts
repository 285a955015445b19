// routed: Calico's dataplane as a CNI plugin. A veth pair and no bridge; the
// pod's addresses are /32 and /128 behind one on-link gateway that the host
// end answers for; the node routes each address to its veth. Any IPAM works;
// with cluster-ipam the node's blocks are what the agent announces by BGP.
// Our own IPAM plugins run in this process (no second start-up); any other
// IPAM type is exec'd from CNI_PATH.
import { registerInProcess } from '../../lib/cni/delegate';
import { runPlugin, type Plugin } from '../../lib/cni/skel';
import { clusterIpam } from '../../lib/ipam/cluster/plugin';
import { hostLocal } from '../../lib/ipam/host-local/plugin';
import { cmdAdd } from './add';
import { cmdCheck } from './check';
import { parseRoutedConfig, parseRoutedDelConfig, type RoutedConfig, type RoutedDelConfig } from './config';
import { cmdDel } from './del';
import { cmdGc, cmdStatus } from './gc';

export const routed: Plugin<RoutedConfig, RoutedDelConfig> = {
  name: 'routed',
  parseConfig: parseRoutedConfig,
  parseDelConfig: parseRoutedDelConfig,
  add: cmdAdd,
  del: cmdDel,
  check: cmdCheck,
  gc: cmdGc,
  status: cmdStatus,
};

registerInProcess('host-local', hostLocal);
registerInProcess('cluster-ipam', clusterIpam);
runPlugin(routed);
