// portmap: host ports for pods, chained after the plugin that created the
// interface (bridge, routed), configuration-compatible with the reference
// portmap's nftables backend. Imports nothing beyond nft and the skel: every
// call is a fresh Node process.
import { runPlugin, type Plugin } from '../../lib/cni/skel';
import { parsePortmapConfig, parsePortmapDelConfig, type PortmapConfig, type PortmapDelConfig } from './config';
import { cmdAdd, cmdCheck, cmdDel, cmdGc } from './portmap';

export const portmap: Plugin<PortmapConfig, PortmapDelConfig> = {
  name: 'portmap',
  parseConfig: parsePortmapConfig,
  parseDelConfig: parsePortmapDelConfig,
  add: cmdAdd,
  del: cmdDel,
  check: cmdCheck,
  gc: cmdGc,
};

runPlugin(portmap);
