// BIRD as the agent runs it: in the agent's own network namespace (the
// node's), in the foreground as the agent's child, with its configuration,
// control socket and pidfile in the run dir. The agent never restarts a BIRD
// that runs: a new configuration is a `birdc configure`, and only one that
// `bird -p` accepts replaces bird.conf, so the file on disk is always one
// BIRD can start from. When the agent stops, BIRD shuts down for a graceful
// restart: its peers keep its routes as stale and the kernel keeps the routes
// BIRD put there (`persist`), so no route of a running pod is withdrawn; the
// next BIRD starts in recovery mode (-R) and refreshes them. A BIRD left
// running by an agent that died is adopted, not replaced.
//
// The agent watches the BIRD it runs, started or adopted (that one is not
// its child: its pid is polled). One that dies is started again at once, in
// recovery mode, from bird.conf as it is: the last good configuration, so
// neither etcd nor a sync is needed to bring it back.
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { writeFileAtomic } from '../../lib/fs-atomic';
import { BIRD, configError } from '../../lib/bird/check';
import { birdAnswers, gracefulShutdown, reconfigure, reloadRoutes } from '../../lib/bird/control';
import type { LogFields } from '../log';
import type { BirdStatus } from '../../lib/routed/status-file';
import { isBird, runningPid, type BirdPaths } from '../../lib/routed/run-dir';

/** How often an adopted BIRD's pid is looked at; a restart follows within this. */
const ADOPTED_POLL_MS = 500;
/** Restarts that fail are retried, each wait twice the last, up to this. */
const MAX_RESTART_DELAY_MS = 10_000;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export class BirdProcess {
  private child?: ChildProcess;
  private pid?: number;
  private stopping = false;
  private watch?: NodeJS.Timeout;
  private restartTimer?: NodeJS.Timeout;
  readonly status: BirdStatus = { state: 'stopped', restarts: 0 };

  /** `changed` is called whenever `status` changes. */
  constructor(readonly paths: BirdPaths, private readonly log: (event: string, fields: LogFields) => void, private readonly changed: () => void) {}

  /** Whether the agent has a BIRD: started or adopted, running or being restarted. */
  get started(): boolean {
    return this.status.state !== 'stopped';
  }

  /**
   * Makes `text` the configuration BIRD reads next, if BIRD accepts it
   * (`bird -p`); atomically, since BIRD may read it at any reconfigure.
   * Resolves with BIRD's complaint when it does not: bird.conf stays as it was.
   */
  async install(text: string): Promise<string | undefined> {
    const candidate = `${this.paths.config}.candidate`;
    writeFileAtomic(candidate, text, 0o600);
    const error = await configError(candidate);
    if (error !== undefined) {
      rmSync(candidate, { force: true });
      this.status.rejectedConfig = { at: new Date().toISOString(), error };
      this.changed();
      return error;
    }
    renameSync(candidate, this.paths.config);
    if (this.status.rejectedConfig) {
      delete this.status.rejectedConfig;
      this.changed();
    }
    return undefined;
  }

  /** Adopts a BIRD that answers on the socket, or starts one; resolves once it answers. */
  async start(): Promise<'adopted' | 'started' | 'recovering'> {
    this.stopping = false;
    const running = runningPid(this.paths);
    if (running !== undefined && (await birdAnswers(this.paths.socket))) {
      await reconfigure(this.paths.socket);
      this.running(running, 'adopted');
      this.watch = setInterval(() => {
        if (!isBird(running)) this.lost(`adopted bird (pid ${running}) is gone`);
      }, ADOPTED_POLL_MS);
      return 'adopted';
    }
    const how = existsSync(this.paths.gracefulMarker) ? 'recovering' : 'started';
    await this.launch(how);
    rmSync(this.paths.gracefulMarker, { force: true });
    return how;
  }

  /** Starts BIRD as our child from bird.conf; resolves with its pid once it answers on the socket. */
  private async launch(how: 'started' | 'recovering'): Promise<number> {
    const args = ['-f', '-c', this.paths.config, '-s', this.paths.socket, '-P', this.paths.pidfile, ...(how === 'recovering' ? ['-R'] : [])];
    const child = spawn(BIRD, args, { stdio: ['ignore', 'inherit', 'inherit'] });
    this.child = child;
    let exited: string | undefined;
    let answered = false;
    child.on('exit', (code, signal) => {
      exited = `bird exited ${signal ?? code}`;
      if (this.child === child) this.child = undefined;
      if (answered) this.lost(exited);
    });
    child.on('error', (e) => {
      exited = `bird: ${e.message}`;
    });
    for (let i = 0; i < 100; i++) {
      if (exited !== undefined) throw new Error(exited);
      if (this.stopping) break;
      if (await birdAnswers(this.paths.socket)) {
        answered = true;
        this.running(child.pid!, how);
        return child.pid!;
      }
      await sleep(100);
    }
    child.kill('SIGKILL');
    throw new Error(this.stopping ? 'stopping' : `bird did not answer on ${this.paths.socket} within 10 s`);
  }

  private running(pid: number, how: BirdStatus['how']): void {
    this.pid = pid;
    Object.assign(this.status, { state: 'running', pid, how });
    this.changed();
  }

  /** BIRD died without being asked to: it is started again, from the last good configuration. */
  private lost(why: string): void {
    if (this.stopping || this.status.state !== 'running') return;
    clearInterval(this.watch);
    this.pid = undefined;
    Object.assign(this.status, { state: 'restarting', pid: undefined });
    this.log('bird-exited', { why, next: 'restarting it from the last good configuration' });
    this.changed();
    this.restartAfter(why, 0);
  }

  private restartAfter(why: string, delayMs: number): void {
    this.restartTimer = setTimeout(() => {
      if (this.stopping) return;
      this.launch('recovering').then((pid) => {
        this.status.restarts++;
        this.status.lastRestart = { at: new Date().toISOString(), reason: why };
        this.log('bird-restarted', { pid, why, config: this.paths.config });
        this.changed();
      }, (e: Error) => {
        if (this.stopping) return;
        const next = Math.min(Math.max(2 * delayMs, 1_000), MAX_RESTART_DELAY_MS);
        this.log('bird-restart-failed', { error: e.message, retry_ms: next });
        this.restartAfter(why, next);
      });
    }, delayMs);
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
    clearInterval(this.watch);
    clearTimeout(this.restartTimer);
    const pid = this.pid ?? this.child?.pid;
    this.status.state = 'stopped';
    if (pid === undefined || !isBird(pid)) return;
    writeFileSync(this.paths.gracefulMarker, `${new Date().toISOString()}\n`);
    try {
      await gracefulShutdown(this.paths.socket);
    } catch {
      process.kill(pid, 'SIGTERM');
    }
    for (let i = 0; i < 100 && isBird(pid); i++) await sleep(100);
    if (isBird(pid)) process.kill(pid, 'SIGKILL');
    // Our child's exit is reaped by Node; wait for it so no zombie outlives the agent.
    const child = this.child;
    if (child && child.exitCode === null && child.signalCode === null) await new Promise((r) => child.once('exit', r));
  }
}
