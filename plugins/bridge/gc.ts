// GC and STATUS (spec 1.1). GC forwards to IPAM, which releases every
// reservation whose attachment the runtime no longer lists, and removes our
// masquerade and spoof-check elements of this network owned by attachments
// not in the list.
// STATUS is IPAM's readiness (e.g. an exhausted pool): the bridge itself is
// created on demand, so nothing else can be not-ready.
import { delegateGc, delegateStatus } from '../../lib/cni/delegate';
import type { CmdArgs, GcArgs } from '../../lib/cni/skel';
import { ErrorCollector } from '../../lib/cni/transaction';
import { gcMasquerade } from '../../lib/nft/masquerade';
import { gcSpoofCheck } from './spoofcheck';
import type { BridgeConfig } from './config';

export async function cmdGc(a: GcArgs<BridgeConfig>): Promise<void> {
  const c = a.config;
  const errors = new ErrorCollector(a.log);
  const valid = a.validAttachments.map((v) => ({ containerId: v.containerID, ifname: v.ifname }));
  // Elements first, addresses last and only once the elements are gone, for the reason DEL has (del.ts).
  const elementsGone = [
    !c.ipMasq || (await errors.attempt('masquerade GC', () => gcMasquerade(c.network, valid))),
    !c.macSpoofCheck || (await errors.attempt('MAC spoof check GC', () => gcSpoofCheck(c.network, valid))),
  ].every(Boolean);
  if (c.ipamType && elementsGone) await errors.attempt(`IPAM ${c.ipamType} GC`, () => delegateGc(c.ipamType!, a.raw));
  errors.throwIfAny();
}

export async function cmdStatus(a: CmdArgs<BridgeConfig>): Promise<void> {
  if (a.config.ipamType) await delegateStatus(a.config.ipamType, a.raw);
}
