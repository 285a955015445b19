// cluster-ipam executable: the plugin lives in lib/ipam so routed can run it in-process.
import { runPlugin } from '../../lib/cni/skel';
import { clusterIpam } from '../../lib/ipam/cluster/plugin';

runPlugin(clusterIpam);
