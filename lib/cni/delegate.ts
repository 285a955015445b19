// Delegation to another plugin (IPAM, or the next in a chain), by type.
//
// A type registered in-process runs through dispatch() in this process, which
// saves a whole Node start-up per call (bridge -> host-local) while keeping
// the exec path's semantics: same env checks, same version conversions, same
// error JSON turned back into a CniError. Anything else is exec'd from CNI_PATH.

import { parseResult, resultAsVersion } from './convert';
import { CniError, ErrorCode, UNKNOWN_ERROR_CODE } from './errors';
import { execPlugin, failureToError, findInPath, parseStdoutJson, type ExecOutput } from './exec';
import { dispatch, type Command, type Env, type Plugin } from './skel';
import { LATEST_VERSION, type Result, type SpecVersion } from './types';
import { validatePluginType } from './validate';

const inProcess = new Map<string, Plugin<any>>();

export function registerInProcess(type: string, p: Plugin<any>): void {
  inProcess.set(validatePluginType(type), p);
}

export type NetConfJson = Record<string, unknown>;

/**
 * Runs `command` of plugin `type` with `netconf` on stdin and the complete
 * environment `env` (CNI_COMMAND is set here). ADD returns the result in
 * 1.1.0 form; the other commands return undefined.
 */
export async function invokePlugin(command: Command, type: string, netconf: NetConfJson, env: Env, field = 'type'): Promise<Result | undefined> {
  const childEnv: Env = { ...env, CNI_COMMAND: command };
  const stdin = JSON.stringify(netconf);
  const registered = inProcess.get(type);
  const cniVersion = typeof netconf.cniVersion === 'string' ? netconf.cniVersion : undefined;
  if (registered) {
    const out = await dispatch(registered, childEnv, stdin);
    if (out.exitCode !== 0) throw errorFromJson(out.stdout);
    // Checked by the plugin's dispatch already, which also knew cniVersion
    // to be a supported one: of the exec path's work on a result, only the
    // version conversion is left.
    return command === 'ADD' ? resultAsVersion(out.result!, cniVersion as SpecVersion) : undefined;
  }
  const binary = findInPath(type, (env.CNI_PATH ?? '').split(':').filter(Boolean), field);
  const out = await execPlugin(binary, childEnv, stdin);
  if (out.exitCode !== 0) throw failureToError(out);
  if (out.stderr) process.stderr.write(out.stderr);
  if (command !== 'ADD') return undefined;
  // A result without its own cniVersion is taken to be in the config's version, as libcni does.
  return parseResult(parseStdoutJson(out.stdout, type), cniVersion, `result of plugin "${type}"`);
}

function errorFromJson(stdout: string): CniError {
  try {
    const e = JSON.parse(stdout) as { code: number; msg: string; details?: string };
    return new CniError(e.code, e.msg, e.details);
  } catch {
    return new CniError(UNKNOWN_ERROR_CODE, stdout);
  }
}

export interface VersionInfo {
  cniVersion: string;
  supportedVersions: string[];
}

/** Asks plugin `type` which spec versions it speaks (CNI_COMMAND=VERSION). */
export async function pluginVersionInfo(type: string, env: Env, requestVersion = LATEST_VERSION): Promise<VersionInfo> {
  const childEnv: Env = { ...env, CNI_COMMAND: 'VERSION' };
  const stdin = JSON.stringify({ cniVersion: requestVersion });
  const registered = inProcess.get(type);
  const out = registered
    ? await dispatch(registered, childEnv, stdin)
    : await execPlugin(findInPath(type, (env.CNI_PATH ?? '').split(':').filter(Boolean)), childEnv, stdin);
  if (out.exitCode !== 0) throw registered ? errorFromJson(out.stdout) : failureToError(out as ExecOutput);
  const info = parseStdoutJson(out.stdout, type) as Partial<VersionInfo>;
  if (typeof info.cniVersion !== 'string' || !Array.isArray(info.supportedVersions)) {
    throw new CniError(ErrorCode.DecodeFailure, `plugin "${type}" gave a malformed VERSION answer`, out.stdout);
  }
  return { cniVersion: info.cniVersion, supportedVersions: info.supportedVersions.map(String) };
}

/** The delegating plugin's own environment with `overrides` on top. */
function delegateEnv(overrides?: Env): Env {
  return { ...process.env, ...overrides };
}

export async function delegateAdd(type: string, netconf: NetConfJson, env?: Env): Promise<Result> {
  return (await invokePlugin('ADD', type, netconf, delegateEnv(env)))!;
}

export async function delegateDel(type: string, netconf: NetConfJson, env?: Env): Promise<void> {
  await invokePlugin('DEL', type, netconf, delegateEnv(env));
}

export async function delegateCheck(type: string, netconf: NetConfJson, env?: Env): Promise<void> {
  await invokePlugin('CHECK', type, netconf, delegateEnv(env));
}

/** The spec asks plugins to forward GC and STATUS to the plugins they delegate to. */
export async function delegateGc(type: string, netconf: NetConfJson, env?: Env): Promise<void> {
  await invokePlugin('GC', type, netconf, delegateEnv(env));
}

export async function delegateStatus(type: string, netconf: NetConfJson, env?: Env): Promise<void> {
  await invokePlugin('STATUS', type, netconf, delegateEnv(env));
}
