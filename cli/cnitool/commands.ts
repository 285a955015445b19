// `tscni add|check|del|gc|status <network> <netns>`: cnitool's commands, run
// through our libcni-like conflist runner, with libcni's result cache, so a
// DEL or CHECK hands the plugins exactly the prevResult a runtime would.
//
// Settings come from the environment, as cnitool's do:
//   NETCONFPATH    where the conflists are            (default /etc/cni/net.d)
//   CNI_PATH       plugin directories, ":"-separated  (default /opt/cni/bin)
//   CNI_IFNAME     interface in the namespace         (default eth0)
//   CNI_ARGS       "K=V;K2=V2" for the plugins
//   CAP_ARGS       capability arguments as a JSON object, e.g. {"portMappings":[…]}
//   CNI_CACHE_DIR  libcni's cache directory           (default /var/lib/cni; tscni's own addition)

import {
  addConfList, checkConfList, delConfList, gcConfList, statusConfList, type RuntimeConf,
} from '../../lib/cni/conflist';
import { asCniError, CniError, ErrorCode } from '../../lib/cni/errors';
import { parseBoundedJson } from '../../lib/cni/input';
import type { Env } from '../../lib/cni/skel';
import type { ConfList } from '../../lib/cni/types';
import { compareVersions } from '../../lib/cni/version';
import {
  cachedAttachments, DEFAULT_CACHE_DIR, deleteCacheEntry, goResult, readCachedResult, writeCacheEntry,
} from './cache';
import { loadConfList } from './confdir';
import { absoluteNetnsPath, cnitoolContainerId } from './container-id';
import { goMarshal } from './gojson';

export const CNITOOL_COMMANDS = ['add', 'check', 'del', 'gc', 'status'] as const;
export type CnitoolCommand = (typeof CNITOOL_COMMANDS)[number];

export const DEFAULT_NETCONF_PATH = '/etc/cni/net.d';
export const DEFAULT_CNI_PATH = '/opt/cni/bin';

export interface CnitoolSettings {
  netconfPath: string;
  cniPath: string[];
  ifname: string;
  cniArgs?: [string, string][];
  capabilityArgs?: Record<string, unknown>;
  cacheDir: string;
}

/** cnitool's parsing: every ";"-separated pair is exactly one non-empty K and V around one "=". */
export function parseCnitoolArgs(s: string): [string, string][] {
  return s.split(';').map((pair) => {
    const kv = pair.split('=');
    if (kv.length !== 2 || kv[0] === '' || kv[1] === '') {
      throw new CniError(ErrorCode.InvalidEnvironment, `invalid CNI_ARGS pair ${JSON.stringify(pair)}`);
    }
    return [kv[0]!, kv[1]!];
  });
}

function parseCapArgs(s: string): Record<string, unknown> | undefined {
  const v = parseBoundedJson(s, 'CAP_ARGS');
  if (v === null) return undefined;
  if (typeof v !== 'object' || Array.isArray(v)) throw new CniError(ErrorCode.DecodeFailure, 'CAP_ARGS: must be a JSON object');
  return v as Record<string, unknown>;
}

export function settingsFromEnv(env: Env): CnitoolSettings {
  return {
    netconfPath: env.NETCONFPATH || DEFAULT_NETCONF_PATH,
    cniPath: (env.CNI_PATH || DEFAULT_CNI_PATH).split(':').filter(Boolean),
    ifname: env.CNI_IFNAME || 'eth0',
    ...(env.CNI_ARGS ? { cniArgs: parseCnitoolArgs(env.CNI_ARGS) } : {}),
    ...(env.CAP_ARGS ? { capabilityArgs: parseCapArgs(env.CAP_ARGS) } : {}),
    cacheDir: env.CNI_CACHE_DIR || DEFAULT_CACHE_DIR,
  };
}

/**
 * Runs one command; returns what goes to stdout (ADD: the result, indented
 * as cnitool prints it; otherwise nothing). Failures throw CniError.
 */
export async function runCnitool(command: CnitoolCommand, network: string, netnsArg: string, env: Env): Promise<string> {
  const s = settingsFromEnv(env);
  const { list, bytes } = loadConfList(s.netconfPath, network);
  const rt: RuntimeConf = {
    containerId: cnitoolContainerId(netnsArg),
    netns: absoluteNetnsPath(netnsArg),
    ifname: s.ifname,
    cniPath: s.cniPath,
    env,
    ...(s.cniArgs ? { args: s.cniArgs } : {}),
    ...(s.capabilityArgs ? { capabilityArgs: s.capabilityArgs } : {}),
  };
  const key = { network: list.name, containerId: rt.containerId, ifname: rt.ifname };

  switch (command) {
    case 'add': {
      const result = await addConfList(list, rt);
      writeCacheEntry(s.cacheDir, { ...key, config: bytes, cniArgs: s.cniArgs, capabilityArgs: s.capabilityArgs, result, resultVersion: list.cniVersion });
      return goMarshal(goResult(result, list.cniVersion), { indent: '    ', maps: false });
    }
    case 'check': {
      // As libcni, the cache is read only when CHECK runs at all (0.4.0 and later, no disableCheck).
      const runs = compareVersions(list.cniVersion, '0.4.0') >= 0 && !list.disableCheck;
      await checkConfList(list, rt, runs ? readCachedResult(s.cacheDir, key, list.cniVersion) : undefined);
      return '';
    }
    case 'del': {
      // From 0.4.0 on DEL gets the ADD's result; the entry goes once DEL succeeded.
      const prev = compareVersions(list.cniVersion, '0.4.0') >= 0 ? readCachedResult(s.cacheDir, key, list.cniVersion) : undefined;
      await delConfList(list, rt, prev);
      deleteCacheEntry(s.cacheDir, key);
      return '';
    }
    case 'gc':
      await gcNetwork(list, s, env);
      return '';
    case 'status':
      await statusConfList(list, { cniPath: s.cniPath, env });
      return '';
  }
}

/**
 * cnitool's gc passes no valid attachments, so, as libcni's GCNetworkList
 * does then, every cached attachment of the network is deleted (with what
 * the cache kept of it), and then each plugin is asked to GC (1.1.0 lists).
 */
async function gcNetwork(list: ConfList, s: CnitoolSettings, env: Env): Promise<void> {
  if (list.disableGC) return;
  const errors: string[] = [];
  let code: number = ErrorCode.TryAgainLater;
  for (const a of cachedAttachments(s.cacheDir).filter((c) => c.network === list.name)) {
    const rt: RuntimeConf = {
      containerId: a.containerId, netns: '', ifname: a.ifname, cniPath: s.cniPath, env,
      ...(a.cniArgs ? { args: a.cniArgs } : {}),
      ...(a.capabilityArgs ? { capabilityArgs: a.capabilityArgs } : {}),
    };
    try {
      await delConfList(list, rt, readCachedResult(s.cacheDir, a, list.cniVersion));
      deleteCacheEntry(s.cacheDir, a);
    } catch (e) {
      code = asCniError(e).code;
      errors.push(`failed to delete stale attachment ${a.containerId} ${a.ifname}: ${asCniError(e).msg}`);
    }
  }
  try {
    await gcConfList(list, [], { cniPath: s.cniPath, env });
  } catch (e) {
    code = asCniError(e).code;
    errors.push(asCniError(e).msg);
  }
  if (errors.length) throw new CniError(code, errors.join('\n'));
}
