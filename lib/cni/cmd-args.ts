// The arguments a plugin's command is called with: the request's environment
// and config, read as that command needs them. ADD, CHECK, GC and STATUS read
// everything and refuse what is malformed; DEL reads only what it removes by.
import { parseCniArgs, parseCniArgsLoose } from './args';
import { parseResult } from './convert';
import { asCniError } from './errors';
import type { Logger } from './log';
import type { CmdArgs, Plugin } from './skel';
import type { Command, Env, Result } from './types';

export interface PluginCall {
  command: Command;
  env: Env;
  /** the stdin config, its common keys matched (request.ts) */
  raw: Record<string, unknown>;
  cniVersion: string;
  log: Logger;
}

function commonArgs(r: PluginCall) {
  const { env } = r;
  return {
    command: r.command,
    containerId: env.CNI_CONTAINERID ?? '',
    netns: env.CNI_NETNS ?? '',
    ifname: env.CNI_IFNAME ?? '',
    path: (env.CNI_PATH ?? '').split(':').filter(Boolean),
    raw: r.raw,
    cniVersion: r.cniVersion,
    log: r.log,
  };
}

function cniArgs(p: Plugin<unknown, unknown>, env: Env): Record<string, string> {
  return p.knownArgs ? parseCniArgs(env.CNI_ARGS, p.knownArgs) : parseCniArgsLoose(env.CNI_ARGS);
}

/** CNI_ARGS, then prevResult, then the plugin's own schema: the cheapest checks first. */
export function commandArgs<C, D>(p: Plugin<C, D>, r: PluginCall): CmdArgs<C> {
  const args = cniArgs(p as Plugin<unknown, unknown>, r.env);
  const prevResult = r.raw.prevResult !== undefined ? parseResult(r.raw.prevResult, r.cniVersion, 'prevResult') : undefined;
  return { ...commonArgs(r), args, config: p.parseConfig(r.raw), ...(prevResult ? { prevResult } : {}) };
}

/**
 * DEL's arguments. What DEL does not read cannot fail it: a pod whose DEL
 * fails keeps its veth, address and host ports for good. A prevResult that
 * does not parse is left out, and the config is read with the plugin's
 * parseDelConfig. CNI_ARGS stays as strict as for ADD, as the reference's:
 * the runtime sends both the same, so an ADD with them never succeeded.
 */
export function delArgs<C, D>(p: Plugin<C, D>, r: PluginCall): CmdArgs<D> {
  const args = cniArgs(p as Plugin<unknown, unknown>, r.env);
  let prevResult: Result | undefined;
  try {
    if (r.raw.prevResult !== undefined) prevResult = parseResult(r.raw.prevResult, r.cniVersion, 'prevResult');
  } catch (e) {
    r.log.warn('DEL ignores a prevResult it cannot read', { error: asCniError(e).msg });
  }
  const config = p.parseDelConfig ? p.parseDelConfig(r.raw) : (p.parseConfig(r.raw) as unknown as D);
  return { ...commonArgs(r), args, config, ...(prevResult ? { prevResult } : {}) };
}
