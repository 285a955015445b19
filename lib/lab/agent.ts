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
