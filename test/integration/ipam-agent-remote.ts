// Starts test/integration/ipam-agent.ts in a node: the cluster IPAM service a
// node's agent runs, for tests of the plugins that ask it.
import { createInterface } from 'node:readline';
import { join } from 'node:path';
import type { Harness, Netns } from './harness';
import { bundleFixture } from './fixture-bundle';

export interface IpamAgent {
  socket: string;
  stop(): Promise<void>;
}

let bundle: Promise<string> | undefined;

/** The service for `nodeName` in `node`, its socket in a temp dir; the prefix is routed mode's unless given; `group` is let in besides root. */
export async function startIpamAgent(h: Harness, node: Netns, nodeName: string, etcd: Record<string, string>, o: { group?: number; resendFirstWrite?: boolean } = {}): Promise<IpamAgent> {
  bundle ??= h.tempDir('ipam-agent').then((dir) => bundleFixture('ipam-agent.ts', dir));
  const socket = join(await h.tempDir('agent-run'), 'agent.sock');
  const child = h.startDaemon(node, process.execPath, [await bundle, JSON.stringify({ etcd, node: nodeName, socket, ...o })], { stdin: true });
  let stderr = '';
  child.stderr!.on('data', (b: Buffer) => (stderr += b.toString()));
  await new Promise<void>((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(`ipam agent for ${nodeName} not ready in 15 s: ${stderr}`)), 15_000);
    createInterface({ input: child.stdout! }).once('line', () => {
      clearTimeout(t);
      resolve();
    });
    child.once('exit', (code) => {
      clearTimeout(t);
      reject(new Error(`ipam agent for ${nodeName} exited ${code}: ${stderr}`));
    });
  });
  return {
    socket,
    async stop() {
      if (child.exitCode !== null) return;
      const exited = new Promise((r) => child.once('exit', r));
      child.stdin!.end();
      const t = setTimeout(() => child.kill('SIGKILL'), 5_000);
      await exited;
      clearTimeout(t);
    },
  };
}
