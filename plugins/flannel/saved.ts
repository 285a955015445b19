// The delegate configuration each ADD used, kept in flannel's layout (one
// file per container ID in dataDir, the JSON the delegate got), so that DEL
// and CHECK hand the delegate what ADD did after the subnet file changed or
// vanished, and a node that ran flannel's plugin keeps deleting its pods.
import { closeSync, fsyncSync, mkdirSync, openSync, readdirSync, renameSync, rmSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { CniError, ErrorCode } from '../../lib/cni/errors';
import { parseBoundedJson, readFileBounded } from '../../lib/cni/input';
import { validateContainerId, validatePluginType } from '../../lib/cni/validate';
import type { DelegateConfig } from './delegate-config';

/** The container ID is the file name: checked again here, as the request's is, before it names a path. */
function pathOf(dataDir: string, containerId: string): string {
  validateContainerId(containerId);
  return join(dataDir, containerId);
}

/** Written whole or not at all: a temp file (a name no container ID has) renamed over the old one. */
export function saveDelegate(dataDir: string, containerId: string, config: DelegateConfig): void {
  const path = pathOf(dataDir, containerId);
  mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  const temp = join(dataDir, `.${containerId}.tmp`);
  try {
    const fd = openSync(temp, 'w', 0o600);
    try {
      const bytes = Buffer.from(JSON.stringify(config));
      for (let off = 0; off < bytes.length; ) off += writeSync(fd, bytes, off);
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(temp, path);
  } catch (e) {
    rmSync(temp, { force: true });
    throw new CniError(ErrorCode.IoFailure, `saving the delegate config ${path}: ${(e as Error).message}`);
  }
}

export type Saved = { config: DelegateConfig } | { missing: true } | { garbled: string };

export function loadDelegate(dataDir: string, containerId: string): Saved {
  const path = pathOf(dataDir, containerId);
  let text: string;
  try {
    text = readFileBounded(path).toString('utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return { missing: true };
    throw new CniError(ErrorCode.IoFailure, `reading the saved delegate config ${path}: ${(e as Error).message}`);
  }
  try {
    const config = parseBoundedJson(text, path) as DelegateConfig;
    if (!config || typeof config !== 'object' || Array.isArray(config)) throw new Error('not a JSON object');
    validatePluginType(config.type, `${path}: type`);
    return { config };
  } catch (e) {
    return { garbled: e instanceof CniError ? e.msg : `${path}: ${(e as Error).message}` };
  }
}

/** Temp files and anything else that is no container ID's file are not ours to read. */
function isContainerId(name: string): boolean {
  try {
    validateContainerId(name);
    return true;
  } catch {
    return false;
  }
}

export function removeDelegate(dataDir: string, containerId: string): void {
  rmSync(pathOf(dataDir, containerId), { force: true });
}

/** Container IDs with a saved delegate config of network `network` (dataDir may be shared by networks). */
export function savedContainers(dataDir: string, network: string): { containerId: string; config: DelegateConfig }[] {
  let names: string[];
  try {
    names = readdirSync(dataDir);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw e;
  }
  const out: { containerId: string; config: DelegateConfig }[] = [];
  for (const containerId of names.filter(isContainerId)) {
    const saved = loadDelegate(dataDir, containerId);
    if ('config' in saved && saved.config.name === network) out.push({ containerId, config: saved.config });
  }
  return out;
}
