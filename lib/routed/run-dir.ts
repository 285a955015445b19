// The routed agent's run dir: its BIRD's files, and the agent's default
// place. The agent writes them; `tscni node status` reads them.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

export const DEFAULT_RUN_DIR = '/run/tscni';

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

/** Whether `pid` is a live BIRD: a zombie, or a pid reused by another program, is not. */
export function isBird(pid: number): boolean {
  try {
    const m = /^\d+ \((.*)\) (\S)/.exec(readFileSync(`/proc/${pid}/stat`, 'utf8'));
    return m !== null && m[1] === 'bird' && m[2] !== 'Z';
  } catch {
    return false;
  }
}

export function runningPid(paths: BirdPaths): number | undefined {
  try {
    const pid = Number(readFileSync(paths.pidfile, 'utf8').trim());
    return Number.isInteger(pid) && pid > 1 && isBird(pid) ? pid : undefined;
  } catch {
    return undefined;
  }
}
