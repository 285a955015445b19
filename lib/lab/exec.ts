// Child processes for the lab: argument arrays only (no shell), bounded in time,
// and without NODE_EXTRA_CA_CERTS, which the machine sets and which costs a
// Node child ~70 ms of start-up.
import { spawn, type ChildProcess } from 'node:child_process';

export interface ExecOptions {
  input?: string;
  env?: Record<string, string>;
  /** milliseconds; the child gets SIGKILL when it runs longer */
  timeout?: number;
  /** false: return a non-zero exit as a result instead of throwing */
  reject?: boolean;
}

export interface ExecResult {
  exitCode: number;
  stdout: string;
  stderr: string;
  durationMs: number;
}

export class ExecError extends Error {
  constructor(readonly argv: string[], readonly result: ExecResult) {
    super(`${argv.join(' ')} exited ${result.exitCode}: ${result.stderr.trim() || result.stdout.trim()}`);
  }
}

export function childEnv(extra: Record<string, string> = {}): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (v !== undefined && k !== 'NODE_EXTRA_CA_CERTS' && k !== 'NODE_OPTIONS') env[k] = v;
  }
  return { ...env, ...extra };
}

export function run(cmd: string, args: string[], opts: ExecOptions = {}): Promise<ExecResult> {
  const started = performance.now();
  const argv = [cmd, ...args];
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { env: childEnv(opts.env), stdio: ['pipe', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill('SIGKILL');
    }, opts.timeout ?? 30_000);
    child.stdout.on('data', (b: Buffer) => out.push(b));
    child.stderr.on('data', (b: Buffer) => err.push(b));
    child.on('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      const result: ExecResult = {
        exitCode: code ?? 128,
        stdout: Buffer.concat(out).toString(),
        stderr: Buffer.concat(err).toString() + (timedOut ? `\n[killed after ${opts.timeout ?? 30_000} ms]` : signal ? `\n[${signal}]` : ''),
        durationMs: performance.now() - started,
      };
      if (result.exitCode !== 0 && opts.reject !== false) reject(new ExecError(argv, result));
      else resolve(result);
    });
    // A child that exits before reading its stdin must not crash the test with EPIPE.
    child.stdin.on('error', () => {});
    child.stdin.end(opts.input ?? '');
  });
}

/** Long-running children (servers) that cleanup() must kill. */
export class ProcessRegistry {
  private readonly children = new Set<ChildProcess>();

  track(child: ChildProcess): ChildProcess {
    this.children.add(child);
    child.on('exit', () => this.children.delete(child));
    return child;
  }

  /** SIGKILL to each child still running; resolves once they have exited (and been reaped). */
  async killAll(): Promise<void> {
    const exits: Promise<unknown>[] = [];
    for (const child of this.children) {
      if (child.pid !== undefined && child.exitCode === null && child.signalCode === null) {
        exits.push(new Promise((r) => {
          child.once('exit', r);
          setTimeout(r, 5_000).unref();
        }));
        child.kill('SIGKILL');
      }
    }
    this.children.clear();
    await Promise.all(exits);
  }
}
