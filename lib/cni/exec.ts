// Running another plugin executable: find it in CNI_PATH, spawn it with an
// argument-less command line (never a shell), feed the config on stdin, and
// read its stdout the way libcni's invoke package does.

import { statSync } from 'node:fs';
import { join } from 'node:path';
import { CniError, ErrorCode, UNKNOWN_ERROR_CODE, invalidConfig } from './errors';
import { parseBoundedJson } from './input';
import type { Env } from './skel';
import { validatePluginType } from './validate';

export interface ExecOutput {
  stdout: string;
  stderr: string;
  /** null when the plugin was killed by a signal. */
  exitCode: number | null;
  signal: NodeJS.Signals | null;
}

/** The first regular file named `type` in `paths`, as libcni's FindInPath. */
export function findInPath(type: string, paths: readonly string[], field = 'type'): string {
  validatePluginType(type, field);
  if (paths.length === 0) throw invalidConfig(field, `cannot find plugin "${type}": CNI_PATH is empty`);
  for (const dir of paths) {
    const candidate = join(dir, type);
    try {
      if (statSync(candidate).isFile()) return candidate;
    } catch {
      // not in this directory
    }
  }
  throw invalidConfig(field, `failed to find plugin "${type}" in path [${paths.join(' ')}]`);
}

// node:child_process pulls in node:net; loaded on the first exec only, so a
// plugin whose delegate runs in-process never pays for it.
async function spawnOnce(binary: string, env: Env, stdin: string): Promise<ExecOutput> {
  const { spawn } = await import('node:child_process');
  return new Promise((resolve, reject) => {
    const child = spawn(binary, [], { env: definedOnly(env), stdio: ['pipe', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on('data', (b: Buffer) => out.push(b));
    child.stderr.on('data', (b: Buffer) => err.push(b));
    child.on('error', reject);
    // A plugin that exits without reading stdin closes the pipe: not our error.
    child.stdin.on('error', () => {});
    child.on('close', (exitCode, signal) =>
      resolve({ stdout: Buffer.concat(out).toString(), stderr: Buffer.concat(err).toString(), exitCode, signal }),
    );
    child.stdin.end(stdin);
  });
}

/**
 * Runs a plugin once. As libcni, a binary that is being written right now
 * ("text file busy") is retried a few times before giving up.
 */
export async function execPlugin(binary: string, env: Env, stdin: string): Promise<ExecOutput> {
  for (let attempt = 0; ; attempt++) {
    try {
      return await spawnOnce(binary, env, stdin);
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code === 'ETXTBSY' && attempt < 5) {
        await new Promise((r) => setTimeout(r, 200));
        continue;
      }
      throw new CniError(UNKNOWN_ERROR_CODE, `failed to run plugin ${binary}: ${(e as Error).message}`);
    }
  }
}

/** A failed run as a CniError: the plugin's own error JSON when it printed one. */
export function failureToError(out: ExecOutput): CniError {
  const status = out.signal ? `signal: ${out.signal}` : `exit status ${out.exitCode}`;
  if (out.stdout.trim() === '') {
    const msg = out.stderr.trim() === ''
      ? `netplugin failed with no error message: ${status}`
      : `netplugin failed: ${JSON.stringify(out.stderr)}: ${status}`;
    return new CniError(UNKNOWN_ERROR_CODE, msg);
  }
  try {
    const e = JSON.parse(out.stdout) as { code?: unknown; msg?: unknown; details?: unknown };
    const code = typeof e.code === 'number' ? e.code : UNKNOWN_ERROR_CODE;
    const details = typeof e.details === 'string' && e.details !== '' ? e.details : undefined;
    return new CniError(code, typeof e.msg === 'string' ? e.msg : '', details);
  } catch (parseError) {
    return new CniError(
      UNKNOWN_ERROR_CODE,
      `netplugin failed but error parsing its diagnostic message ${JSON.stringify(out.stdout)}: ${(parseError as Error).message}`,
    );
  }
}

/** A successful ADD's stdout as JSON (code 6 when it is not JSON at all). */
export function parseStdoutJson(stdout: string, type: string): unknown {
  return parseBoundedJson(stdout, `failed to unmarshal the result of plugin "${type}"`);
}

function definedOnly(env: Env): NodeJS.ProcessEnv {
  const out: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(env)) if (v !== undefined) out[k] = v;
  return out;
}
