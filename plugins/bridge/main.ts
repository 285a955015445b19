// bridge: Docker's docker0 model as a CNI plugin, configuration-compatible
// with the reference bridge. Our own IPAM runs in this process (no second
// Node start-up); any other IPAM type is exec'd from CNI_PATH.
import { registerInProcess } from '../../lib/cni/delegate';
import { runPlugin, type Plugin } from '../../lib/cni/skel';
import { hostLocal } from '../../lib/ipam/host-local/plugin';
import { cmdAdd } from './add';
import { cmdCheck } from './check';
import { parseBridgeConfig, parseBridgeDelConfig, type BridgeConfig, type BridgeDelConfig } from './config';
import { cmdDel } from './del';
import { cmdGc, cmdStatus } from './gc';

export const bridge: Plugin<BridgeConfig, BridgeDelConfig> = {
  name: 'bridge',
  knownArgs: ['MAC'],
  parseConfig: parseBridgeConfig,
  parseDelConfig: parseBridgeDelConfig,
  add: cmdAdd,
  del: cmdDel,
  check: cmdCheck,
  gc: cmdGc,
  status: cmdStatus,
};

registerInProcess('host-local', hostLocal);
runPlugin(bridge);
