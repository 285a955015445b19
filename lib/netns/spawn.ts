// Child processes inside a network namespace. spawn() forks synchronously on
// the calling (main) thread, so a child started inside withNetns inherits the
// namespace the thread is in at that moment; waiting for it happens outside.
// execa's subprocess is a thenable and cannot be returned from withNetns, so
// this uses node:child_process directly (argument arrays, never a shell).
import { spawn, type ChildProcess, type SpawnOptions } from 'node:child_process';
import { withNetns } from './netns';

/** Starts `file` with `args` inside `netns`; the caller owns the child. */
export function spawnInNetns(netns: string, file: string, args: readonly string[], options: SpawnOptions = {}): ChildProcess {
  return withNetns(netns, () => spawn(file, args, { ...options, shell: false }));
}

export interface ExecResult {
  stdout: string;
  stderr: string;
}

/**
 * Runs `file` inside `netns` to completion and returns its output; rejects
 * with the exit status and stderr when it fails or outlives `timeoutMs`.
 */
export function execFileInNetns(
  netns: string,
  file: string,
  args: readonly string[],
  options: { input?: string; timeoutMs?: number; env?: NodeJS.ProcessEnv } = {},
): Promise<ExecResult> {
  const child = spawnInNetns(netns, file, args, {
    stdio: [options.input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'],
    env: options.env ?? process.env,
    timeout: options.timeoutMs,
  });
  return new Promise((resolve, reject) => {
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout?.on('data', (b: Buffer) => out.push(b));
    child.stderr?.on('data', (b: Buffer) => err.push(b));
    child.on('error', reject);
    child.on('close', (code, signal) => {
      const stdout = Buffer.concat(out).toString('utf8');
      const stderr = Buffer.concat(err).toString('utf8');
      if (code === 0) resolve({ stdout, stderr });
      else reject(new Error(`${file} ${args.join(' ')} in ${netns}: ${signal ? `killed by ${signal}` : `exit ${code}`}: ${stderr.trim()}`));
    });
    if (child.stdin) {
      // A child that exits without reading its input must not fail the call.
      child.stdin.on('error', () => undefined);
      child.stdin.end(options.input);
    }
  });
}
