// flannel: a drop-in for flannel's CNI plugin. Reads the node's lease from
// flannel's subnet file, builds the delegate's configuration as flannel's
// plugin does (bridge cni0 as the pods' gateway, host-local on the node's
// subnet) and runs the delegate as its own process from CNI_PATH.
import { runPlugin, type Plugin } from '../../lib/cni/skel';
import { cmdAdd, cmdCheck, cmdDel, cmdGc, cmdStatus } from './actions';
import { parseFlannelConfig, parseFlannelDelConfig, type FlannelConfig, type FlannelDelConfig } from './config';

export const flannel: Plugin<FlannelConfig, FlannelDelConfig> = {
  name: 'flannel',
  parseConfig: parseFlannelConfig,
  parseDelConfig: parseFlannelDelConfig,
  add: cmdAdd,
  del: cmdDel,
  check: cmdCheck,
  gc: cmdGc,
  status: cmdStatus,
};

runPlugin(flannel);
