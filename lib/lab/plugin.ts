// Runs a CNI executable the way a container runtime does: inside the node's
// network namespace, with an environment holding only PATH and CNI_*, and the
// network configuration as JSON on stdin.
import { existsSync } from 'node:fs';
import { dirname, isAbsolute, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { execIn, type Netns } from './netns';

export const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
export const DIST_BIN = join(REPO_ROOT, 'dist/bin');
export const REFERENCE_BIN = '/usr/lib/cni';

/** A part of tscni that the build at hand does not have yet (a mode, a backend, a plugin): said so, and skipped. */
export class NotBuiltError extends Error {}

const RUNTIME_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

export type CniCommand = 'ADD' | 'DEL' | 'CHECK' | 'VERSION' | 'GC' | 'STATUS';

export interface CniRun {
  /** the node netns the plugin process runs in */
  node: Netns;
  /** a built tscni executable, dist/bin/<plugin> */
  plugin?: string;
  /** or any executable by path, e.g. /usr/lib/cni/bridge */
  pluginPath?: string;
  command: CniCommand;
  containerId?: string;
  /** the pod netns, or a path; '' for DEL of a namespace that is already gone */
  netns?: Netns | string;
  ifname?: string;
  config: Record<string, unknown>;
  /** stdin as given, in place of the config as JSON (for input no object prints as) */
  stdin?: string;
  /** CNI_ARGS as key/value pairs */
  args?: Record<string, string>;
  /** CNI_PATH; default: the plugin's own directory, then the reference plugins */
  cniPath?: string[];
  timeout?: number;
}

export interface CniOutcome {
  exitCode: number;
  stdout: string;
  stderr: string;
  /** stdout parsed, when it is JSON */
  json: any;
  durationMs: number;
}

export function pluginExecutable(r: Pick<CniRun, 'plugin' | 'pluginPath'>): string {
  const exe = r.pluginPath ?? (r.plugin !== undefined ? join(DIST_BIN, r.plugin) : undefined);
  if (exe === undefined) throw new Error('runCniPlugin: give plugin or pluginPath');
  if (!isAbsolute(exe)) throw new Error(`runCniPlugin: pluginPath must be absolute: ${exe}`);
  if (!existsSync(exe)) {
    throw new Error(`runCniPlugin: ${exe} does not exist${r.plugin ? ' (run `npm run build`)' : ''}`);
  }
  return exe;
}

export function cniEnv(r: CniRun, exe: string): Record<string, string> {
  const netns = typeof r.netns === 'string' ? r.netns : r.netns?.path;
  const cniPath = r.cniPath ?? [...new Set([dirname(exe), REFERENCE_BIN])];
  const env: Record<string, string> = {
    PATH: RUNTIME_PATH,
    CNI_COMMAND: r.command,
    CNI_PATH: cniPath.join(':'),
  };
  // VERSION, GC and STATUS carry no attachment; a runtime leaves these unset.
  if (r.containerId !== undefined) env.CNI_CONTAINERID = r.containerId;
  if (netns !== undefined) env.CNI_NETNS = netns;
  if (r.ifname !== undefined) env.CNI_IFNAME = r.ifname;
  if (r.args !== undefined) {
    env.CNI_ARGS = Object.entries(r.args).map(([k, v]) => `${k}=${v}`).join(';');
  }
  return env;
}

export async function runCniPlugin(r: CniRun): Promise<CniOutcome> {
  const exe = pluginExecutable(r);
  const env = cniEnv(r, exe);
  const assignments = Object.entries(env).map(([k, v]) => `${k}=${v}`);
  const result = await execIn(r.node, 'env', ['-i', ...assignments, exe], {
    input: r.stdin ?? JSON.stringify(r.config),
    timeout: r.timeout ?? 30_000,
    reject: false,
  });
  let json: any;
  try {
    json = result.stdout.trim() === '' ? undefined : JSON.parse(result.stdout);
  } catch {
    json = undefined;
  }
  return { ...result, json };
}

/** Throws with the plugin's error JSON and stderr when the call failed. */
export function expectSuccess(outcome: CniOutcome, what = 'CNI call'): CniOutcome {
  if (outcome.exitCode !== 0) {
    throw new Error(`${what} failed (exit ${outcome.exitCode}): ${outcome.stdout.trim()}\n${outcome.stderr.trim()}`);
  }
  return outcome;
}
