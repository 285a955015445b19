// GC and STATUS (spec 1.1): masquerade elements of this network whose
// attachment the runtime no longer lists, then IPAM's GC; STATUS is IPAM's
// readiness (with cluster-ipam: the agent answers and the pool has room).
import { delegateGc, delegateStatus } from '../../lib/cni/delegate';
import type { CmdArgs, GcArgs } from '../../lib/cni/skel';
import { ErrorCollector } from '../../lib/cni/transaction';
import { gcMasquerade } from '../../lib/nft/masquerade';
import type { RoutedConfig } from './config';

export async function cmdGc(a: GcArgs<RoutedConfig>): Promise<void> {
  const c = a.config;
  const errors = new ErrorCollector(a.log);
  const valid = a.validAttachments.map((v) => ({ containerId: v.containerID, ifname: v.ifname }));
  if (await errors.attempt('masquerade GC', () => gcMasquerade(c.network, valid))) {
    await errors.attempt(`IPAM ${c.ipamType} GC`, () => delegateGc(c.ipamType, a.raw));
  }
  errors.throwIfAny();
}

export async function cmdStatus(a: CmdArgs<RoutedConfig>): Promise<void> {
  await delegateStatus(a.config.ipamType, a.raw);
}
