// Spec version arithmetic and the plugin-side version check.

import { CniError, ErrorCode } from './errors';
import { LATEST_VERSION, SUPPORTED_VERSIONS, type SpecVersion } from './types';

const VERSION_RE = /^(\d+)\.(\d+)\.(\d+)$/;

/** Parses "x.y.z"; throws on anything else (pre-release tags never appear in CNI versions). */
export function parseVersion(v: string): [number, number, number] {
  const m = VERSION_RE.exec(v);
  if (!m) throw new Error(`invalid version "${v}": the version is empty or not of the form x.y.z`);
  return [Number(m[1]), Number(m[2]), Number(m[3])];
}

/** Negative when a < b, zero when equal, positive when a > b. */
export function compareVersions(a: string, b: string): number {
  const pa = parseVersion(a);
  const pb = parseVersion(b);
  for (let i = 0; i < 3; i++) {
    const d = pa[i]! - pb[i]!;
    if (d !== 0) return d;
  }
  return 0;
}

export function isSupportedVersion(v: unknown): v is SpecVersion {
  return typeof v === 'string' && (SUPPORTED_VERSIONS as readonly string[]).includes(v);
}

/** Go's %q formatting of a []string, which the reference uses in its version error details. */
function goQuotedList(list: readonly string[]): string {
  return `[${list.map((s) => JSON.stringify(s)).join(' ')}]`;
}

/**
 * Code 1 unless `configVersion` is one the plugin supports. Message and details
 * are worded as libcni's reconciler words them so runtimes log the familiar text.
 */
export function checkVersion(
  configVersion: string,
  supported: readonly string[] = SUPPORTED_VERSIONS,
): asserts configVersion is SpecVersion {
  if (supported.includes(configVersion) && isSupportedVersion(configVersion)) return;
  throw new CniError(
    ErrorCode.IncompatibleVersion,
    'incompatible CNI versions',
    `config is ${JSON.stringify(configVersion)}, plugin supports ${goQuotedList(supported)}`,
  );
}

/** Code 1 when a command is newer than the config's version (CHECK needs 0.4.0, GC/STATUS 1.1.0). */
export function requireVersionFor(command: string, configVersion: string, minimum: string): void {
  if (compareVersions(configVersion, minimum) < 0) {
    throw new CniError(ErrorCode.IncompatibleVersion, `config version does not allow ${command}`);
  }
}

/**
 * The VERSION answer: compact JSON and a trailing newline, byte for byte the
 * reference skel's encoding. `cniVersion` echoes the request's version when it
 * sent one (as the spec asks) and is the newest version otherwise.
 */
export function versionInfo(requestVersion: string | undefined, supported: readonly string[] = SUPPORTED_VERSIONS): string {
  const cniVersion = requestVersion && VERSION_RE.test(requestVersion) ? requestVersion : LATEST_VERSION;
  return JSON.stringify({ cniVersion, supportedVersions: supported }) + '\n';
}

/**
 * libcni's choice for a conflist: the highest version among `cniVersion` and
 * `cniVersions`, ignoring versions newer than the newest this suite implements.
 */
export function selectConfListVersion(cniVersion: string | undefined, cniVersions: readonly string[] | undefined): string | undefined {
  if (!cniVersions) return cniVersion;
  const candidates = [...cniVersions];
  if (cniVersion) candidates.push(cniVersion);
  let best: string | undefined;
  for (const v of candidates) {
    if (compareVersions(v, LATEST_VERSION) > 0) continue;
    if (best === undefined || compareVersions(v, best) > 0) best = v;
  }
  return best ?? cniVersion;
}
