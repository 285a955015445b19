// BIRD as the agent runs it: in the agent's own network namespace (the
// node's), in the foreground as the agent's child, with its configuration,
// control socket and pidfile in the run dir. The agent never restarts a BIRD
// that runs: a new configuration is a `birdc configure`. When the agent
// stops, BIRD shuts down for a graceful restart: its peers keep its routes as
// stale and the kernel keeps the routes BIRD put there (`persist`), so no
// route of a running pod is withdrawn; the next BIRD starts in recovery mode
// (-R) and refreshes them. A BIRD left running by an agent that died is
// adopted, not replaced.
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { writeFileAtomic } from '../../lib/fs-atomic';
import { join } from 'node:path';
import { birdAnswers, gracefulShutdown, reconfigure, reloadRoutes } from '../../lib/bird/control';

export const BIRD = '/usr/sbin/bird';

export interface BirdPaths {
  config: string;
  socket: string;
  pidfile: string;
  /** present between a graceful shutdown and the next start */
  gracefulMarker: string;
}

export const birdPaths = (runDir: string): BirdPaths => ({
  config: join(runDir, 'bird.conf'),
  socket: join(runDir, 'bird.ctl'),
  pidfile: join(runDir, 'bird.pid'),
  gracefulMarker: join(runDir, 'bird.graceful-restart'),
});

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

export function runningPid(paths: BirdPaths): number | undefined {
  try {
    const pid = Number(readFileSync(paths.pidfile, 'utf8').trim());
    return Number.isInteger(pid) && pid > 1 && pidAlive(pid) ? pid : undefined;
  } catch {
    return undefined;
  }
}

export class BirdProcess {
  private child?: ChildProcess;
  private pid?: number;
  private stopping = false;

  constructor(readonly paths: BirdPaths, private readonly onExit: (why: string) => void) {}

  /** Writes the configuration BIRD reads next, atomically (BIRD may read it at any reconfigure). */
  writeConfig(text: string): void {
    writeFileAtomic(this.paths.config, text, 0o600);
  }

  /** Adopts a BIRD that answers on the socket, or starts one; resolves once it answers. */
  async start(): Promise<'adopted' | 'started' | 'recovering'> {
    const running = runningPid(this.paths);
    if (running !== undefined && (await birdAnswers(this.paths.socket))) {
      this.pid = running;
      await reconfigure(this.paths.socket);
      return 'adopted';
    }
    const recovering = existsSync(this.paths.gracefulMarker);
    const args = ['-f', '-c', this.paths.config, '-s', this.paths.socket, '-P', this.paths.pidfile, ...(recovering ? ['-R'] : [])];
    const child = spawn(BIRD, args, { stdio: ['ignore', 'inherit', 'inherit'] });
    this.child = child;
    let exited: string | undefined;
    child.on('exit', (code, signal) => {
      exited = `bird exited ${signal ?? code}`;
      this.child = undefined;
      if (!this.stopping) this.onExit(exited);
    });
    child.on('error', (e) => {
      exited = `bird: ${e.message}`;
    });
    for (let i = 0; i < 100; i++) {
      if (exited !== undefined) throw new Error(exited);
      if (await birdAnswers(this.paths.socket)) {
        this.pid = child.pid;
        rmSync(this.paths.gracefulMarker, { force: true });
        return recovering ? 'recovering' : 'started';
      }
      await sleep(100);
    }
    child.kill('SIGKILL');
    throw new Error(`bird did not answer on ${this.paths.socket} within 10 s`);
  }

  reload(): Promise<void> {
    return reconfigure(this.paths.socket);
  }

  /** Reruns filters over routes already taken or sent; resolves with the protocols that could not. */
  async refilter(reloads: Array<{ direction: 'in' | 'out'; protocols: string }>): Promise<string[]> {
    const failed: string[] = [];
    for (const r of reloads) failed.push(...(await reloadRoutes(this.paths.socket, r.direction, r.protocols)));
    return failed;
  }

  /** Graceful-restart shutdown; SIGKILL if BIRD is still there after 10 s. */
  async stop(): Promise<void> {
    this.stopping = true;
    const pid = this.pid;
    if (pid === undefined || !pidAlive(pid)) return;
    writeFileSync(this.paths.gracefulMarker, `${new Date().toISOString()}\n`);
    try {
      await gracefulShutdown(this.paths.socket);
    } catch {
      process.kill(pid, 'SIGTERM');
    }
    for (let i = 0; i < 100 && pidAlive(pid); i++) await sleep(100);
    if (pidAlive(pid)) process.kill(pid, 'SIGKILL');
    // Our child's exit is reaped by Node; wait for it so no zombie outlives the agent.
    if (this.child) await new Promise((r) => this.child?.once('exit', r) ?? r(undefined));
  }
}
