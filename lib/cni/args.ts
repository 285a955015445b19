// CNI_ARGS: "K=V;K2=V2", with the reference's `IgnoreUnknown` convention.

import { CniError, ErrorCode } from './errors';

/** The key every plugin understands: when true, keys it does not know are skipped instead of refused. */
export const IGNORE_UNKNOWN = 'IgnoreUnknown';

function parseBool(pair: string, value: string): boolean {
  switch (value.toLowerCase()) {
    case '1':
    case 'true':
      return true;
    case '0':
    case 'false':
      return false;
    default:
      throw argsError(`invalid value in pair "${pair}": ${IGNORE_UNKNOWN} must be 1, 0, true or false`);
  }
}

function argsError(msg: string): CniError {
  return new CniError(ErrorCode.InvalidEnvironment, `CNI_ARGS: ${msg}`);
}

/**
 * Parses CNI_ARGS for a plugin that understands the keys in `known` (exact,
 * case-sensitive names, e.g. "K8S_POD_NAME"). As the reference `LoadArgs`:
 * every pair must be exactly one "K=V" (an empty value is allowed, a second "="
 * is not); unknown keys are an error unless IgnoreUnknown is 1/true, wherever it
 * appears in the string. Returns the known keys that were given.
 */
export function parseCniArgs(s: string | undefined, known: readonly string[]): Record<string, string> {
  const out: Record<string, string> = {};
  if (!s) return out;
  const unknown: string[] = [];
  let ignoreUnknown = false;
  for (const pair of s.split(';')) {
    const kv = pair.split('=');
    if (kv.length !== 2) throw argsError(`invalid pair "${pair}" (expected K=V)`);
    const [key, value] = kv as [string, string];
    if (key === IGNORE_UNKNOWN) {
      ignoreUnknown = parseBool(pair, value);
      out[key] = value;
    } else if (known.includes(key)) {
      out[key] = value;
    } else {
      unknown.push(pair);
    }
  }
  if (unknown.length && !ignoreUnknown) {
    throw argsError(`unknown args ${unknown.map((p) => JSON.stringify(p)).join(', ')} (known: ${known.join(', ') || 'none'}; set ${IGNORE_UNKNOWN}=1 to skip them)`);
  }
  return out;
}

/**
 * For plugins that declare no keys: every well-formed pair, malformed ones
 * skipped. The reference skel does not parse CNI_ARGS at all for such plugins,
 * so neither may we fail on it.
 */
export function parseCniArgsLoose(s: string | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  if (!s) return out;
  for (const pair of s.split(';')) {
    const kv = pair.split('=');
    if (kv.length === 2) out[kv[0]!] = kv[1]!;
  }
  return out;
}

/** The inverse, for callers that build CNI_ARGS (the conflist runner, tests). */
export function formatCniArgs(args: Record<string, string> | readonly (readonly [string, string])[]): string {
  const entries = Array.isArray(args) ? args : Object.entries(args);
  return entries.map(([k, v]) => `${k}=${v}`).join(';');
}
