// One plugin call, timed as the plugin process alone: the child is forked
// inside the node netns (setns on the main thread, then spawn), through the
// timed-exec helper, which reports wall time from fork to exit and the
// child's peak RSS on fd 3. Environment: PATH and CNI_* only, as a runtime
// passes it (the machine's NODE_EXTRA_CA_CERTS alone costs Node ~70 ms).
import { spawn } from 'node:child_process';
import type { Readable } from 'node:stream';
import type { NetnsHandle } from '../lib/netns/netns';
import { withNetns } from '../lib/netns/netns';

export interface PluginCall {
  exe: string;
  env: Record<string, string>;
  stdin: string;
}

export interface TimedResult {
  /** wall time of the plugin process, fork to exit, in milliseconds */
  ms: number;
  /** its user + system CPU time: less sensitive than wall time to a busy machine */
  cpuMs: number;
  /** peak resident set size of the plugin process, KiB */
  rssKb: number;
  exitCode: number;
  stdout: string;
  stderr: string;
}

const HELPER = process.env.TSCNI_BENCH_HELPER ?? '';
const TIMEOUT_MS = 30_000;

export function timedCall(node: NetnsHandle, call: PluginCall): Promise<TimedResult> {
  if (!HELPER) throw new Error('TSCNI_BENCH_HELPER is not set: run the bench through bench/run.mjs');
  const child = withNetns(node, () =>
    spawn(HELPER, [call.exe], { env: call.env, stdio: ['pipe', 'pipe', 'pipe', 'pipe'], timeout: TIMEOUT_MS }),
  );
  const streams = [child.stdout!, child.stderr!, child.stdio[3] as Readable];
  const chunks: Buffer[][] = [[], [], []];
  streams.forEach((s, i) => s.on('data', (b: Buffer) => chunks[i]!.push(b)));
  child.stdin!.on('error', () => undefined);
  child.stdin!.end(call.stdin);
  return new Promise((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code, signal) => {
      const [stdout, stderr, report] = chunks.map((c) => Buffer.concat(c).toString('utf8'));
      const [us, rss, status, cpuUs] = (report ?? '').trim().split(' ').map(Number);
      if (us === undefined || Number.isNaN(us) || rss === undefined || status === undefined) {
        reject(new Error(`${call.exe}: no timing report (helper ${signal ?? `exit ${code}`}): ${stderr}`));
        return;
      }
      resolve({ ms: us / 1000, cpuMs: (cpuUs ?? 0) / 1000, rssKb: rss, exitCode: status, stdout: stdout ?? '', stderr: stderr ?? '' });
    });
  });
}
