// The environment and stdin checks the reference skel makes before a plugin
// sees a request, in the same order, so the same bad request fails with the
// same code here as there.

import { CniError, ErrorCode } from './errors';
import { parseBoundedJson } from './input';
import { fieldOf, matchKeys } from './keys';
import { netConfBaseSchema } from './schemas';
import type { Command, Env } from './types';
import { validateContainerId, validateIfname, validateNetworkName } from './validate';

type AnyCommand = Command | 'VERSION';

interface EnvRule {
  name: string;
  requiredFor: readonly AnyCommand[];
  validate?: (value: string) => void;
}

// CNI_NETNS is optional for DEL (the namespace may be gone); GC and STATUS
// concern the whole network, not one attachment, so only CNI_PATH is needed.
const ENV_RULES: readonly EnvRule[] = [
  { name: 'CNI_CONTAINERID', requiredFor: ['ADD', 'CHECK', 'DEL'], validate: validateContainerId },
  { name: 'CNI_NETNS', requiredFor: ['ADD', 'CHECK'] },
  { name: 'CNI_IFNAME', requiredFor: ['ADD', 'CHECK', 'DEL'], validate: (v) => validateIfname(v) },
  { name: 'CNI_PATH', requiredFor: ['ADD', 'CHECK', 'DEL', 'GC', 'STATUS'] },
];

const COMMANDS: readonly string[] = ['ADD', 'DEL', 'CHECK', 'GC', 'STATUS', 'VERSION'];

export type Request =
  | { command: 'VERSION'; requestVersion?: string }
  | { command: Command; raw: Record<string, unknown> };

/** Checks the variables `command` needs; code 4 lists every missing one. */
export function checkEnv(command: string, env: Env): void {
  const missing: string[] = [];
  for (const rule of ENV_RULES) {
    if (!rule.requiredFor.includes(command as AnyCommand)) continue;
    const value = env[rule.name] ?? '';
    if (value === '') missing.push(rule.name);
    else rule.validate?.(value);
  }
  if (missing.length) {
    throw new CniError(ErrorCode.InvalidEnvironment, `required env variables [${missing.join(',')}] missing`);
  }
}

/**
 * The stdin config as a JSON object (code 6 otherwise) with a valid network
 * name (code 7), its common keys (cniVersion, name, prevResult, ...) matched
 * as Go's decoder matches them; the plugin's own schema matches the rest.
 */
export function parseStdinConfig(stdin: string): Record<string, unknown> {
  const raw = parseBoundedJson(stdin, 'error unmarshall network config');
  if (!raw || typeof raw !== 'object' || Array.isArray(raw)) {
    throw new CniError(ErrorCode.DecodeFailure, 'error unmarshall network config: stdin is not a JSON object');
  }
  const conf = matchKeys(netConfBaseSchema(), raw) as Record<string, unknown>;
  validateNetworkName(conf.name);
  return conf;
}

/** VERSION ignores a missing or malformed stdin: it must always answer. */
function requestVersionOf(stdin: string): string | undefined {
  try {
    const conf = parseBoundedJson(stdin, 'VERSION');
    const v = conf && typeof conf === 'object' && !Array.isArray(conf) ? fieldOf(conf as Record<string, unknown>, 'cniVersion') : undefined;
    return typeof v === 'string' ? v : undefined;
  } catch {
    return undefined;
  }
}

export function readRequest(command: string, env: Env, stdin: string): Request {
  checkEnv(command, env);
  if (command === 'VERSION') return { command, requestVersion: requestVersionOf(stdin) };
  const raw = parseStdinConfig(stdin);
  if (!COMMANDS.includes(command)) {
    throw new CniError(ErrorCode.InvalidEnvironment, `CNI_COMMAND: unknown command "${command}"`);
  }
  return { command: command as Command, raw };
}
