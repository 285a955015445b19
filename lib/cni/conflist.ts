// Running a network configuration list as a runtime does (libcni's
// AddNetworkList/DelNetworkList/CheckNetworkList/GCNetworkList/
// GetStatusNetworkList), for the tscni CLI and the demo. Plugins never load
// this file: it is the runtime's side of the protocol.

import { formatCniArgs } from './args';
import { resultToVersion } from './convert';
import { CniError, ErrorCode, invalidConfig } from './errors';
import { invokePlugin } from './delegate';
import { parseBoundedJson, readFileBounded } from './input';
import { confListSchema, parseOrThrow } from './schemas';
import type { Command, Env } from './skel';
import type { Attachment, ConfList, Result } from './types';
import { validateContainerId, validateIfname, validateNetworkName, validatePluginType } from './validate';
import { checkVersion, compareVersions, selectConfListVersion } from './version';

/** What the runtime knows about one attachment (libcni's RuntimeConf). */
export interface RuntimeConf {
  containerId: string;
  netns: string;
  ifname: string;
  /** CNI_ARGS, in order. */
  args?: readonly (readonly [string, string])[];
  /** Values for the plugins' `capabilities`, e.g. { portMappings: [...] }. */
  capabilityArgs?: Record<string, unknown>;
  cniPath: readonly string[];
  /** The environment the plugins inherit; process.env when absent. */
  env?: Env;
}

/** Validates a conflist (or a single plugin config, wrapped as libcni does) and picks its version. */
export function parseConfList(input: unknown): ConfList {
  let raw = typeof input === 'string' ? parseBoundedJson(input, 'error parsing configuration list') : input;
  if (raw && typeof raw === 'object' && !('plugins' in raw) && 'type' in raw) {
    const single = raw as Record<string, unknown>;
    raw = { name: single.name, cniVersion: single.cniVersion, plugins: [single] };
  }
  const list = parseOrThrow(confListSchema(), raw);
  validateNetworkName(list.name);
  let cniVersion: string | undefined;
  try {
    cniVersion = selectConfListVersion(list.cniVersion, list.cniVersions);
  } catch (e) {
    throw invalidConfig('cniVersions', (e as Error).message);
  }
  if (!cniVersion) throw invalidConfig('cniVersion', 'is required (or cniVersions)');
  checkVersion(cniVersion);
  list.plugins.forEach((p, i) => validatePluginType(p.type, `plugins[${i}].type`));
  return {
    cniVersion,
    name: list.name,
    disableCheck: String(list.disableCheck ?? false).toLowerCase() === 'true',
    disableGC: String(list.disableGC ?? false).toLowerCase() === 'true',
    plugins: list.plugins,
  };
}

export function loadConfList(file: string): ConfList {
  return parseConfList(readFileBounded(file).toString('utf8'));
}

/**
 * The config one plugin of the list receives: the list's name and version,
 * the previous result (in the list's version), and `runtimeConfig` holding
 * exactly those capability args the plugin declares `capabilities: {x: true}` for.
 */
export function pluginConfig(list: ConfList, index: number, prevResult?: Result, capabilityArgs?: Record<string, unknown>): Record<string, unknown> {
  const conf: Record<string, unknown> = { ...list.plugins[index]!, name: list.name, cniVersion: list.cniVersion };
  if (prevResult) conf.prevResult = resultToVersion(prevResult, list.cniVersion);
  const runtimeConfig: Record<string, unknown> = {};
  const caps = conf.capabilities as Record<string, unknown> | undefined;
  for (const [cap, enabled] of Object.entries(caps ?? {})) {
    if (enabled === true && capabilityArgs && cap in capabilityArgs) runtimeConfig[cap] = capabilityArgs[cap];
  }
  // libcni replaces any runtimeConfig written in the file, and only when it has something to inject.
  if (Object.keys(runtimeConfig).length) conf.runtimeConfig = runtimeConfig;
  return conf;
}

function runtimeEnv(rt: Pick<RuntimeConf, 'cniPath' | 'env'> & Partial<RuntimeConf>): Env {
  return {
    ...(rt.env ?? process.env),
    CNI_CONTAINERID: rt.containerId ?? '',
    CNI_NETNS: rt.netns ?? '',
    CNI_IFNAME: rt.ifname ?? '',
    CNI_ARGS: rt.args ? formatCniArgs(rt.args) : '',
    CNI_PATH: rt.cniPath.join(':'),
  };
}

async function runOne(command: Command, list: ConfList, i: number, conf: Record<string, unknown>, env: Env): Promise<Result | undefined> {
  const type = list.plugins[i]!.type;
  try {
    return await invokePlugin(command, type, conf, env, `plugins[${i}].type`);
  } catch (e) {
    const err = e instanceof CniError ? e : new CniError(999, String(e));
    throw new CniError(err.code, `plugin type="${type}" failed (${command.toLowerCase()}): ${err.msg}`, err.details);
  }
}

/** ADD through the chain; each plugin sees the previous one's result. Returns the last result (1.1.0 form). */
export async function addConfList(list: ConfList, rt: RuntimeConf): Promise<Result> {
  validateContainerId(rt.containerId);
  validateIfname(rt.ifname);
  const env = runtimeEnv(rt);
  let result: Result | undefined;
  for (let i = 0; i < list.plugins.length; i++) {
    result = await runOne('ADD', list, i, pluginConfig(list, i, result, rt.capabilityArgs), env);
  }
  return result!;
}

/** DEL in reverse order. `prevResult` is the ADD's result if the caller kept it (passed from 0.4.0 on). */
export async function delConfList(list: ConfList, rt: RuntimeConf, prevResult?: Result): Promise<void> {
  const env = runtimeEnv(rt);
  const prev = compareVersions(list.cniVersion, '0.4.0') >= 0 ? prevResult : undefined;
  for (let i = list.plugins.length - 1; i >= 0; i--) {
    await runOne('DEL', list, i, pluginConfig(list, i, prev, rt.capabilityArgs), env);
  }
}

/** CHECK every plugin against the ADD's result; a no-op when the list sets disableCheck. */
export async function checkConfList(list: ConfList, rt: RuntimeConf, prevResult?: Result): Promise<void> {
  if (compareVersions(list.cniVersion, '0.4.0') < 0) {
    throw new CniError(ErrorCode.IncompatibleVersion, `configuration version "${list.cniVersion}" does not support the CHECK command`);
  }
  if (list.disableCheck) return;
  const env = runtimeEnv(rt);
  for (let i = 0; i < list.plugins.length; i++) {
    await runOne('CHECK', list, i, pluginConfig(list, i, prevResult, rt.capabilityArgs), env);
  }
}

/**
 * GC (1.1.0): every plugin is told which attachments are still valid and
 * cleans up the rest; errors are collected so one plugin cannot block the others.
 * libcni first DELs the stale attachments of its result cache; tscni's gc does
 * that in cli/cnitool/commands.ts, where the cache is kept.
 */
export async function gcConfList(list: ConfList, validAttachments: Attachment[], rt: Pick<RuntimeConf, 'cniPath' | 'env'>): Promise<void> {
  if (list.disableGC || compareVersions(list.cniVersion, '1.1.0') < 0) return;
  const env = runtimeEnv(rt);
  const errors: CniError[] = [];
  for (let i = 0; i < list.plugins.length; i++) {
    // "cni.dev/attachments" too: libcni still sends the spec's original spelling.
    const conf = { ...pluginConfig(list, i), 'cni.dev/valid-attachments': validAttachments, 'cni.dev/attachments': validAttachments };
    await runOne('GC', list, i, conf, env).catch((e: CniError) => errors.push(e));
  }
  if (errors.length === 1) throw errors[0];
  if (errors.length > 1) throw new CniError(errors[0]!.code, errors.map((e) => e.msg).join('; '));
}

/** STATUS (1.1.0): the first plugin that is not ready answers for the network. */
export async function statusConfList(list: ConfList, rt: Pick<RuntimeConf, 'cniPath' | 'env'>): Promise<void> {
  if (compareVersions(list.cniVersion, '1.1.0') < 0) return;
  const env = runtimeEnv(rt);
  for (let i = 0; i < list.plugins.length; i++) await runOne('STATUS', list, i, pluginConfig(list, i), env);
}
