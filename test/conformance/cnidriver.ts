// Runs conflists through the libcni driver (driver/main.go) inside a node
// netns, the way containerd or CRI-O would run them on that node.
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { execIn, REFERENCE_BIN, type Netns } from '../integration/harness';

const HERE = import.meta.dirname ?? __dirname;
export const DRIVER = join(HERE, 'driver/cnidriver');
const RUNTIME_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

let built = false;

/** Builds the driver when missing or stale (a no-op after the first call). */
export function ensureDriver(): string {
  if (!built) {
    execFileSync(join(HERE, 'build-driver.sh'), { stdio: ['ignore', 'inherit', 'inherit'] });
    built = true;
  }
  return DRIVER;
}

export type DriverCommand = 'add' | 'check' | 'del' | 'gc' | 'status';

export interface DriverRun {
  node: Netns;
  conflist: string;
  command: DriverCommand;
  containerId?: string;
  netns?: Netns | string;
  ifname?: string;
  cniPath?: string[];
  /** runtimeConfig capabilities, e.g. { portMappings: [...] } */
  capabilityArgs?: Record<string, unknown>;
  /** libcni's result cache; keep it in a test temp dir, not /var/lib/cni */
  cacheDir: string;
  args?: Record<string, string>;
  validAttachments?: { containerID: string; ifname: string }[];
  timeout?: number;
}

export interface DriverOutcome {
  exitCode: number;
  stdout: string;
  stderr: string;
  /** the ADD result, {} for other successes, {code,msg,details} on failure */
  json: any;
}

export async function runDriver(r: DriverRun): Promise<DriverOutcome> {
  const flags: string[] = [
    '-conflist', r.conflist,
    '-command', r.command,
    '-container-id', r.containerId ?? '',
    '-netns', typeof r.netns === 'string' ? r.netns : (r.netns?.path ?? ''),
    '-ifname', r.ifname ?? 'eth0',
    '-cni-path', (r.cniPath ?? [REFERENCE_BIN]).join(':'),
    '-cache-dir', r.cacheDir,
  ];
  if (r.capabilityArgs) flags.push('-cap-args', JSON.stringify(r.capabilityArgs));
  if (r.args) flags.push('-args', Object.entries(r.args).map(([k, v]) => `${k}=${v}`).join(';'));
  if (r.validAttachments) flags.push('-valid-attachments', JSON.stringify(r.validAttachments));
  // libcni hands its own environment to every plugin; a runtime's is small,
  // and this machine's NODE_EXTRA_CA_CERTS must not reach our plugins.
  const result = await execIn(r.node, 'env', ['-i', `PATH=${RUNTIME_PATH}`, ensureDriver(), ...flags], {
    timeout: r.timeout ?? 60_000,
    reject: false,
  });
  let json: any;
  try {
    json = JSON.parse(result.stdout);
  } catch {
    json = undefined;
  }
  return { exitCode: result.exitCode, stdout: result.stdout, stderr: result.stderr, json };
}
