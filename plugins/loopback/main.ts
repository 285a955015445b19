// loopback: brings `lo` up in the pod's namespace, as the reference plugin
// does. DEL brings it down and succeeds when the namespace is already gone.
import { CniError, UNKNOWN_ERROR_CODE } from '../../lib/cni/errors';
import { runPlugin, type CmdArgs, type Plugin } from '../../lib/cni/skel';
import type { Result } from '../../lib/cni/types';
import { Rtnl } from '../../lib/netlink';
import { isNetnsGone } from '../../lib/netns';

type LoopbackConfig = Record<string, never>;
type Args = CmdArgs<LoopbackConfig>;

async function add(a: Args): Promise<Result> {
  const addresses = await Rtnl.use(a.netns, async (nl) => {
    await nl.links.setUp('lo');
    return nl.addrs.list({ link: 'lo' });
  });
  const foreign = addresses.find((x) => !x.cidr.startsWith('127.') && x.cidr !== '::1/128');
  if (foreign) throw new CniError(UNKNOWN_ERROR_CODE, `loopback interface found with non-loopback address "${foreign.ip}"`);
  // Chained after another plugin, the result passes through unchanged, as in the reference.
  if (a.prevResult) return { ...a.prevResult, cniVersion: a.cniVersion };
  // The reference reports the first address of each family that lo carries.
  const first = (family: 4 | 6) => addresses.find((x) => x.family === family);
  const ips = [first(4), first(6)].flatMap((x) => (x ? [{ interface: 0, address: x.cidr }] : []));
  return {
    cniVersion: a.cniVersion,
    interfaces: [{ name: 'lo', mac: '00:00:00:00:00:00', sandbox: a.netns }],
    ...(ips.length ? { ips } : {}),
  };
}

async function del(a: Args): Promise<void> {
  if (a.netns === '') return;
  try {
    await Rtnl.use(a.netns, (nl) => nl.links.setDown('lo'));
  } catch (e) {
    if (!isNetnsGone(e)) throw e;
  }
}

async function check(a: Args): Promise<void> {
  const lo = await Rtnl.use(a.netns, (nl) => nl.links.require('lo'));
  if (!lo.up) throw new CniError(UNKNOWN_ERROR_CODE, 'loopback: lo is down in the container');
}

export const loopback: Plugin<LoopbackConfig> = {
  name: 'loopback',
  parseConfig: () => ({}),
  add,
  del,
  check,
};

runPlugin(loopback);
