// libcni's result cache, in its own layout, so that tscni and a runtime built
// on libcni (containerd, CRI-O, podman) read each other's entries:
//
//   <cacheDir>/results/<network>-<containerID>-<ifname>     (dir 0700, file 0600)
//   {"kind":"cniCacheV1","containerId":…,"config":<base64 of the list's bytes>,
//    "ifName":…,"networkName":…,"cniArgs":[[k,v],…],"capabilityArgs":{…},"result":{…}}
//
// cniArgs and capabilityArgs are left out when empty; "result" is the ADD's
// result as libcni's Go types print it (so "dns" is always there), re-encoded
// as a map, which sorts its keys. DEL and CHECK hand that result to the
// plugins as prevResult, converted to the list's version.

import { mkdirSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseResult, resultToVersion } from '../../lib/cni/convert';
import { CniError, ErrorCode } from '../../lib/cni/errors';
import { parseBoundedJson, readFileBounded } from '../../lib/cni/input';
import type { Result, SpecVersion } from '../../lib/cni/types';
import { validateContainerId, validateIfname, validateNetworkName } from '../../lib/cni/validate';
import { goMarshal, goStruct } from './gojson';

export const DEFAULT_CACHE_DIR = '/var/lib/cni';
export const CACHE_KIND = 'cniCacheV1';

/** Which attachment an entry belongs to. */
export interface CacheKey {
  network: string;
  containerId: string;
  ifname: string;
}

export interface CacheEntry extends CacheKey {
  /** the conflist's bytes as libcni holds them */
  config: Buffer;
  cniArgs?: readonly (readonly [string, string])[];
  capabilityArgs?: Record<string, unknown>;
  /** the ADD result, and the version it was returned in */
  result: Result;
  resultVersion: SpecVersion;
}

/**
 * The entry's path. Its parts are checked as a request's are, so no key, not
 * even one read back from a cache file, names a file outside results/.
 */
export function cacheFile(cacheDir: string, k: CacheKey): string {
  if (!k.network || !k.containerId || !k.ifname) {
    throw new CniError(ErrorCode.InvalidEnvironment,
      `cache file path requires network name (${JSON.stringify(k.network)}), container ID (${JSON.stringify(k.containerId)}), and interface name (${JSON.stringify(k.ifname)})`);
  }
  validateNetworkName(k.network);
  validateContainerId(k.containerId);
  validateIfname(k.ifname);
  return join(cacheDir, 'results', `${k.network}-${k.containerId}-${k.ifname}`);
}

/** The result as libcni's Go result types marshal it: struct order, "dns" always present. */
export function goResult(result: Result, version: SpecVersion): Record<string, unknown> {
  const shaped = resultToVersion(result, version);
  if (!('dns' in shaped)) shaped.dns = {};
  return shaped;
}

/** The exact bytes libcni's cacheAdd writes for `e`. */
export function encodeCacheEntry(e: CacheEntry): string {
  return goMarshal(goStruct([
    ['kind', CACHE_KIND],
    ['containerId', e.containerId],
    ['config', e.config],
    ['ifName', e.ifname],
    ['networkName', e.network],
    ['cniArgs', e.cniArgs?.length ? e.cniArgs : undefined],
    ['capabilityArgs', e.capabilityArgs && Object.keys(e.capabilityArgs).length ? e.capabilityArgs : undefined],
    ['result', goResult(e.result, e.resultVersion)],
  ]));
}

export function writeCacheEntry(cacheDir: string, e: CacheEntry): void {
  const file = cacheFile(cacheDir, e);
  try {
    mkdirSync(join(cacheDir, 'results'), { recursive: true, mode: 0o700 });
    writeFileSync(file, encodeCacheEntry(e), { mode: 0o600 });
  } catch (e2) {
    throw new CniError(ErrorCode.IoFailure, `failed to set network ${JSON.stringify(e.network)} cached result: ${(e2 as Error).message}`);
  }
}

/**
 * The cached ADD result of an attachment, undefined when there is none (as
 * libcni, a missing or unreadable file is no error). A file that is not a
 * cniCacheV1 entry is read as a bare result, libcni's older layout.
 */
export function readCachedResult(cacheDir: string, k: CacheKey, listVersion: SpecVersion): Result | undefined {
  const file = cacheFile(cacheDir, k);
  let text: string;
  try {
    text = readFileBounded(file).toString('utf8');
  } catch {
    return undefined;
  }
  const prefix = `failed to get network ${JSON.stringify(k.network)} cached result`;
  const entry = parseBoundedJson(text, prefix) as { kind?: unknown; result?: unknown } | null;
  try {
    return parseResult(entry?.kind === CACHE_KIND ? entry.result : entry, listVersion, 'cached result');
  } catch (e) {
    throw new CniError(ErrorCode.DecodeFailure, `${prefix}: ${(e as Error).message}`);
  }
}

export function deleteCacheEntry(cacheDir: string, k: CacheKey): void {
  rmSync(cacheFile(cacheDir, k), { force: true });
}

/** Every well-formed entry in the cache, in file-name order (libcni's GetCachedAttachments). */
export function cachedAttachments(cacheDir: string): (CacheKey & { cniArgs?: [string, string][]; capabilityArgs?: Record<string, unknown> })[] {
  const dir = join(cacheDir, 'results');
  let names: string[];
  try {
    names = readdirSync(dir).sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b)));
  } catch {
    return [];
  }
  const out = [];
  for (const name of names) {
    try {
      const e = parseBoundedJson(readFileBounded(join(dir, name)).toString('utf8'), name) as Record<string, any>;
      if (e.kind !== CACHE_KIND || !e.ifName || !e.networkName) continue;
      const key = { network: e.networkName, containerId: e.containerId, ifname: e.ifName };
      cacheFile(cacheDir, key); // a key that could not have been written is not an entry either
      out.push({ ...key, cniArgs: e.cniArgs, capabilityArgs: e.capabilityArgs });
    } catch {
      // not an entry: skipped, as libcni does
    }
  }
  return out;
}
