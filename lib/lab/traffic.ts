// Real traffic between namespaces: ping, and a TCP server that answers each
// connection with the peer address it saw, which is how tests observe SNAT
// and DNAT. Every loop is bounded in count and time (TESTING.md rule 5).
import { spawn } from 'node:child_process';
import { childEnv, run, type ProcessRegistry } from './exec';
import { execIn, type Netns } from './netns';

export interface PingResult {
  ok: boolean;
  transmitted: number;
  received: number;
  output: string;
}

export async function ping(from: Netns, addr: string, count = 3): Promise<PingResult> {
  const deadline = String(Math.ceil(count * 0.2) + 1);
  const r = await execIn(from, 'ping', ['-n', '-q', '-c', String(count), '-i', '0.2', '-W', '1', '-w', deadline, addr], {
    reject: false,
    timeout: (Number(deadline) + 5) * 1000,
  });
  const m = /(\d+) packets transmitted, (\d+) received/.exec(r.stdout);
  const transmitted = Number(m?.[1] ?? 0);
  const received = Number(m?.[2] ?? 0);
  return { ok: r.exitCode === 0 && received > 0, transmitted, received, output: r.stdout + r.stderr };
}

// Answers every connection with the peer's address ("::ffff:" stripped so an
// IPv4 client reads as IPv4) and exits by itself after its lifetime.
const SERVER = `
const net = require('net');
const [port, host, lifetime] = process.argv.slice(1);
const srv = net.createServer((c) => {
  let a = c.remoteAddress || '';
  if (a.startsWith('::ffff:')) a = a.slice(7);
  c.end(a + '\\n');
});
srv.on('error', (e) => { console.error(e.message); process.exit(1); });
srv.listen({ port: Number(port), host, ipv6Only: false }, () => console.log('listening ' + srv.address().port));
setTimeout(() => process.exit(0), Number(lifetime));
`;

const CLIENT = `
const net = require('net');
const [host, port, timeout] = process.argv.slice(1);
const c = net.connect({ host, port: Number(port) });
let data = '';
c.setTimeout(Number(timeout), () => { console.error('timeout'); process.exit(2); });
c.on('data', (d) => { data += d; });
c.on('end', () => { process.stdout.write(data); process.exit(0); });
c.on('error', (e) => { console.error(e.message); process.exit(1); });
`;

export interface TcpServer {
  port: number;
  stop(): void;
}

export interface TcpServerOptions {
  port?: number;
  /** listen address; '::' takes IPv4 too */
  host?: string;
  lifetimeMs?: number;
}

// The server and client are scripts for the JavaScript runtime this process
// runs on: Node under vitest, or the compiled tscni executable (the demo),
// which runs a script as Bun itself does when BUN_BE_BUN is set.
const scriptEnv = (): Record<string, string> => ('bun' in process.versions ? { BUN_BE_BUN: '1' } : {});

export function startTcpServer(registry: ProcessRegistry, ns: Netns, opts: TcpServerOptions = {}): Promise<TcpServer> {
  const args = ['netns', 'exec', ns.name, process.execPath, '-e', SERVER,
    String(opts.port ?? 0), opts.host ?? '::', String(opts.lifetimeMs ?? 60_000)];
  const child = registry.track(spawn('ip', args, { env: childEnv(scriptEnv()), stdio: ['ignore', 'pipe', 'pipe'] }));
  return new Promise((resolve, reject) => {
    let out = '';
    let err = '';
    const fail = setTimeout(() => reject(new Error(`TCP server in ${ns.name} did not start: ${err}`)), 10_000);
    child.stderr!.on('data', (b: Buffer) => (err += b.toString()));
    child.stdout!.on('data', (b: Buffer) => {
      out += b.toString();
      const m = /listening (\d+)/.exec(out);
      if (m) {
        clearTimeout(fail);
        resolve({ port: Number(m[1]), stop: () => child.kill('SIGKILL') });
      }
    });
    child.on('exit', (code) => {
      clearTimeout(fail);
      reject(new Error(`TCP server in ${ns.name} exited ${code}: ${err}`));
    });
  });
}

/** Connects from `ns` and returns the peer address the server reported. */
export async function tcpRequest(ns: Netns, host: string, port: number, timeoutMs = 5_000): Promise<string> {
  const r = await run('ip', ['netns', 'exec', ns.name, process.execPath, '-e', CLIENT, host, String(port), String(timeoutMs)], {
    env: scriptEnv(), timeout: timeoutMs + 5_000,
  });
  return r.stdout.trim();
}
