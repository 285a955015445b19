// ADD builds the delegate configuration from the subnet file, saves it under
// the container ID and runs the delegate; DEL and CHECK run the delegate with
// the saved configuration, whatever the subnet file says by then; GC and
// STATUS pass through to the delegate, STATUS answering "not available" (50)
// while the subnet file is missing or unusable.
import { delegateAdd, delegateCheck, delegateDel, delegateGc, delegateStatus } from '../../lib/cni/delegate';
import { asCniError, CniError, ErrorCode } from '../../lib/cni/errors';
import { findInPath } from '../../lib/cni/exec';
import type { CmdArgs, GcArgs } from '../../lib/cni/skel';
import { ErrorCollector, withRollback } from '../../lib/cni/transaction';
import type { Result } from '../../lib/cni/types';
import type { FlannelConfig, FlannelDelConfig } from './config';
import { buildDelegate, type DelegateConfig } from './delegate-config';
import { loadDelegate, removeDelegate, saveDelegate, savedContainers } from './saved';
import { readSubnetFile } from './subnet-file';

export async function cmdAdd(a: CmdArgs<FlannelConfig>): Promise<Result> {
  const c = a.config;
  a.log.step('subnet file');
  const delegate = buildDelegate(c, readSubnetFile(c.subnetFile));
  // A delegate that is not installed fails here, before a config is saved that no DEL could use.
  findInPath(delegate.type, a.path, 'delegate.type');
  return withRollback(async (rb) => {
    a.log.step('save delegate config');
    saveDelegate(c.dataDir, a.containerId, delegate);
    rb.push('saved delegate config', () => removeDelegate(c.dataDir, a.containerId));
    // A delegate that failed half-way is asked to delete what it made (ours
    // has rolled itself back already; another may not have).
    rb.push(`delegate ${delegate.type} DEL`, () => delegateDel(delegate.type, delegate));
    a.log.step(`delegate ${delegate.type} ADD`);
    return delegateAdd(delegate.type, delegate);
  }, a.log);
}

export async function cmdDel(a: CmdArgs<FlannelDelConfig>): Promise<void> {
  const c = a.config;
  const saved = loadDelegate(c.dataDir, a.containerId);
  if ('missing' in saved) {
    // never added, or already deleted: as flannel's plugin, nothing to do
    a.log.info('no saved delegate config: nothing to delete', { dataDir: c.dataDir });
    return;
  }
  if ('garbled' in saved) {
    // No delegate can be run from it, now or on a retry.
    a.log.warn('saved delegate config is unreadable: removed, nothing deleted', { error: saved.garbled });
    removeDelegate(c.dataDir, a.containerId);
    return;
  }
  a.log.step(`delegate ${saved.config.type} DEL`);
  await delegateDel(saved.config.type, saved.config);
  removeDelegate(c.dataDir, a.containerId);
}

export async function cmdCheck(a: CmdArgs<FlannelConfig>): Promise<void> {
  const c = a.config;
  const saved = loadDelegate(c.dataDir, a.containerId);
  if ('missing' in saved) {
    throw new CniError(ErrorCode.UnknownContainer, `no saved delegate config for container ${a.containerId} in ${c.dataDir}: it was never added, or deleted`);
  }
  if ('garbled' in saved) throw new CniError(ErrorCode.DecodeFailure, `saved delegate config: ${saved.garbled}`);
  a.log.step(`delegate ${saved.config.type} CHECK`);
  const prevResult = a.raw.prevResult;
  await delegateCheck(saved.config.type, { ...saved.config, ...(prevResult !== undefined ? { prevResult } : {}) });
}

/**
 * GC goes to the delegate built from the subnet file (or, without one, the
 * newest saved config of this network), then the saved configs of containers
 * the runtime no longer lists are removed.
 */
export async function cmdGc(a: GcArgs<FlannelConfig>): Promise<void> {
  const c = a.config;
  const saved = savedContainers(c.dataDir, c.network);
  const delegate = currentDelegate(c) ?? saved.at(-1)?.config;
  const errors = new ErrorCollector(a.log);
  if (delegate) {
    const valid = { 'cni.dev/valid-attachments': a.validAttachments };
    await errors.attempt(`delegate ${delegate.type} GC`, () => delegateGc(delegate.type, { ...delegate, ...valid }));
  }
  const live = new Set(a.validAttachments.map((v) => v.containerID));
  for (const s of saved.filter((s) => !live.has(s.containerId))) {
    await errors.attempt(`saved delegate config ${s.containerId}`, () => removeDelegate(c.dataDir, s.containerId));
  }
  errors.throwIfAny();
}

export async function cmdStatus(a: CmdArgs<FlannelConfig>): Promise<void> {
  let delegate: DelegateConfig;
  try {
    delegate = buildDelegate(a.config, readSubnetFile(a.config.subnetFile));
  } catch (e) {
    throw new CniError(ErrorCode.NotAvailable, asCniError(e).msg);
  }
  await delegateStatus(delegate.type, delegate);
}

/** The delegate config ADD would use now; undefined while the subnet file is missing. */
function currentDelegate(c: FlannelConfig): DelegateConfig | undefined {
  try {
    return buildDelegate(c, readSubnetFile(c.subnetFile));
  } catch (e) {
    if (asCniError(e).code === ErrorCode.TryAgainLater) return undefined;
    throw e;
  }
}
