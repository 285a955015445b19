// A tscni-agent run as a node runs it: started in the node's netns by the
// harness (so it is stopped with the run), its stderr kept one event per
// line, and stopped with SIGTERM as systemd stops it. The overlay and routed
// labs each add what their mode's agent is ready on.
import type { ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import type { Harness } from './harness';
import type { Netns } from './netns';

export class AgentDaemon {
  /** its stderr, one event per line */
  readonly lines: string[] = [];
  protected child?: ChildProcess;
  protected exited?: Promise<number | null>;

  constructor(protected readonly h: Harness) {}

  /** `exe args...` in `node`; `label` goes before each line it logs (the node's name, when agents share a log). */
  protected launch(node: Netns, exe: string, args: string[], label = ''): void {
    const child = this.h.startDaemon(node, exe, args);
    this.child = child;
    this.exited = new Promise((r) => child.once('exit', (code) => r(code)));
    createInterface({ input: child.stderr! }).on('line', (l) => this.lines.push(label + l));
    child.stdout!.resume();
  }

  get running(): boolean {
    return this.child !== undefined && this.child.exitCode === null && this.child.signalCode === null;
  }

  /**
   * Until each of `events` has matched a line of its log (bounded). An agent
   * that exits first fails it with `exitError` of its last lines.
   */
  protected async untilLogged(events: RegExp[], timeoutMs: number, exitError: (lastLines: string) => Error): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!events.every((re) => this.lines.some((l) => re.test(l)))) {
      if (!this.running) {
        await this.exited;
        throw exitError(this.lines.slice(-3).join('\n'));
      }
      if (Date.now() > deadline) throw new Error(`tscni-agent not ready after ${timeoutMs} ms:\n${this.lines.slice(-10).join('\n')}`);
      await new Promise((r) => setTimeout(r, 20));
    }
  }

  /** SIGTERM (SIGKILL if it lingers); the exit code. */
  protected async terminate(): Promise<number | null> {
    if (!this.running) return this.child?.exitCode ?? null;
    this.child!.kill('SIGTERM');
    const late = setTimeout(() => this.child?.kill('SIGKILL'), 5_000);
    const code = await this.exited!;
    clearTimeout(late);
    return code;
  }
}
