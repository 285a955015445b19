// A real etcd (Debian's etcd-server) for a test or the demo: one member
// inside a namespace of the run, bound to addresses there, its data dir in
// the run's temp dir, started in well under a second and stopped by PID.
import type { ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import type { Harness } from './harness';
import type { Netns } from './netns';
import type { LabCertificates } from './certs';

export const ETCD_CLIENT_PORT = 2379;

export interface EtcdServer {
  /** one client URL per listen address, e.g. http://10.250.0.2:2379 */
  endpoints: string[];
  pid: number;
  dataDir: string;
  /** SIGTERM (or `signal`), then SIGKILL if it lingers; resolves once it has exited */
  stop(signal?: NodeJS.Signals): Promise<void>;
}

export interface EtcdOptions {
  /** addresses in `ns` to serve clients on */
  ips: string[];
  port?: number;
  /** serve https only, requiring a client certificate signed by the CA */
  tls?: LabCertificates;
  /** a data dir to reuse (a restart); default: a fresh one */
  dataDir?: string;
}

function waitUntilServing(child: ChildProcess, what: string, timeoutMs = 15_000): Promise<void> {
  return new Promise((resolve, reject) => {
    let log = '';
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`${what} did not start within ${timeoutMs} ms:\n${log.slice(-2000)}`));
    }, timeoutMs);
    const onData = (b: Buffer) => {
      log += b.toString();
      if (/serving client traffic (in)?securely/.test(log)) {
        clearTimeout(timer);
        child.stderr!.off('data', onData);
        child.stderr!.resume(); // keep draining, so etcd never blocks on a full pipe
        resolve();
      }
    };
    child.stderr!.on('data', onData);
    child.stdout!.resume();
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`${what} exited ${code} before serving:\n${log.slice(-2000)}`));
    });
  });
}

export async function startEtcd(h: Harness, ns: Netns, opts: EtcdOptions): Promise<EtcdServer> {
  const dataDir = opts.dataDir ?? join(await h.tempDir('etcd'), 'data');
  const port = opts.port ?? ETCD_CLIENT_PORT;
  const scheme = opts.tls ? 'https' : 'http';
  const endpoints = opts.ips.map((ip) => `${scheme}://${ip}:${port}`);
  // The peer URL stays on the namespace's loopback: one member, no peers.
  const peer = `http://127.0.0.1:${port + 1}`;
  const args = [
    '--name', 'infra', '--data-dir', dataDir, '--logger', 'zap', '--log-outputs', 'stderr',
    '--listen-client-urls', endpoints.join(','), '--advertise-client-urls', endpoints.join(','),
    '--listen-peer-urls', peer, '--initial-advertise-peer-urls', peer, '--initial-cluster', `infra=${peer}`,
    '--initial-cluster-state', 'new',
  ];
  if (opts.tls) {
    const t = opts.tls;
    args.push('--cert-file', t.serverCert, '--key-file', t.serverKey, '--trusted-ca-file', t.caFile, '--client-cert-auth');
  }
  const child = h.startDaemon(ns, 'etcd', args);
  await waitUntilServing(child, `etcd in ${ns.name}`);
  const exited = new Promise<void>((r) => (child.exitCode !== null ? r() : child.once('exit', () => r())));
  return {
    endpoints,
    pid: child.pid!,
    dataDir,
    async stop(signal = 'SIGTERM') {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill(signal);
        const late = setTimeout(() => child.kill('SIGKILL'), 5_000);
        await exited;
        clearTimeout(late);
      }
    },
  };
}
