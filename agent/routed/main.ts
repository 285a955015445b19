// tscni-agent routed: calico-node's job on one node. It registers the node
// (again, when its record is deleted) and keeps its heartbeat, serves cluster
// IPAM to the node's plugins on <run-dir>/agent.sock, keeps a blackhole route
// per block the node holds, and runs BIRD with a
// configuration rendered from etcd (nodes, BGP peers, blocks), re-rendered
// and reloaded whenever they change. SIGTERM: everything stops, BIRD for a
// graceful restart, and the kernel state stays for the next start.
//
// Here: the flags, the underlay they name, and the exit code (2: bad flags,
// 1: an underlay address this node does not have, 0: stopped by a signal);
// the agent itself is agent.ts.
import { Rtnl } from '../../lib/netlink';
import { OptionsError } from '../../lib/flags';
import { createLogger } from '../log';
import { untilTerminated } from '../signals';
import { UnderlayError, type Underlay } from '../underlay';
import { RoutedAgent } from './agent';
import { parseRoutedOptions, ROUTED_USAGE, type RoutedOptions } from './options';
import { routedUnderlay, routedUnderlay6 } from './underlay';

export async function routedMain(args: string[]): Promise<number> {
  let opts: RoutedOptions;
  try {
    const parsed = parseRoutedOptions(args, process.env);
    if (parsed === 'help') {
      process.stdout.write(ROUTED_USAGE);
      return 0;
    }
    opts = parsed;
  } catch (e) {
    if (!(e instanceof OptionsError)) throw e;
    process.stderr.write(`tscni-agent routed: ${e.message}\n\n${ROUTED_USAGE}`);
    return 2;
  }

  const signals = untilTerminated();
  const logger = createLogger();
  const nl = Rtnl.open();
  let underlay: Underlay;
  let underlay6: { address: string; dev: string } | undefined;
  try {
    underlay = await routedUnderlay(nl, opts);
    underlay6 = opts.ip6 === undefined ? undefined : await routedUnderlay6(nl, opts.ip6);
  } catch (e) {
    if (!(e instanceof UnderlayError)) throw e;
    // An address this node does not have is a mistake in its flags: said, and nothing made.
    process.stderr.write(`tscni-agent routed: ${e.message}\n`);
    nl.close();
    return 1;
  }
  await new RoutedAgent(opts, nl, underlay, underlay6, logger).run(signals);
  nl.close();
  logger.event('stopped', { node: opts.node });
  return 0;
}
