// `bird -p`: BIRD parses a configuration file and says what is wrong with
// it, without starting. The agent checks every configuration it renders
// this way before it replaces the one BIRD runs, so a file BIRD cannot read
// is never the one a restarting BIRD would have to start from.
import { execa } from 'execa';

export const BIRD = '/usr/sbin/bird';

/** BIRD's complaint about `file` ("…/bird.conf:12:3 syntax error, …"), or undefined when it parses. */
export async function configError(file: string): Promise<string | undefined> {
  const r = await execa(BIRD, ['-p', '-c', file], { reject: false, timeout: 10_000, stdin: 'ignore' });
  if (r.exitCode === 0) return undefined;
  return `${r.stderr}\n${r.stdout}`.trim() || `bird -p exited ${r.exitCode ?? r.signal}`;
}
