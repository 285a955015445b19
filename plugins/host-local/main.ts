// host-local executable: the plugin lives in lib/ipam so bridge can run it in-process.
import { runPlugin } from '../../lib/cni/skel';
import { hostLocal } from '../../lib/ipam/host-local/plugin';

runPlugin(hostLocal);
