// BIRD's control socket, through birdc (Debian bird2's client): reload the
// configuration, shut down for a graceful restart, and read the protocols
// table. birdc runs only in the agent and in `tscni node status`, never on
// a plugin's start-up path, so a child process per call costs nothing that
// matters.
import { execa } from 'execa';

export const BIRDC = '/usr/sbin/birdc';

export class BirdControlError extends Error {}

/** One birdc command; its output without the "BIRD x.y ready." banner. */
export async function birdc(socket: string, command: string[], timeoutMs = 10_000): Promise<string> {
  const r = await execa(BIRDC, ['-s', socket, ...command], { reject: false, timeout: timeoutMs, stdin: 'ignore' });
  const out = `${r.stdout}\n${r.stderr}`.trim();
  if (r.exitCode !== 0 || /Unable to connect to server/.test(out)) {
    throw new BirdControlError(`birdc ${command.join(' ')}: ${out || `exit ${r.exitCode ?? r.signal}`}`);
  }
  return r.stdout.split('\n').filter((l) => !/^BIRD [\d.]+ ready\.$/.test(l)).join('\n');
}

/** Whether a BIRD answers on `socket`. */
export async function birdAnswers(socket: string): Promise<boolean> {
  try {
    return /BIRD/.test(await birdc(socket, ['show', 'status'], 3_000));
  } catch {
    return false;
  }
}

/** `birdc configure`: BIRD rereads its file and changes only what differs; sessions of unchanged protocols stay up. */
export async function reconfigure(socket: string): Promise<void> {
  const out = await birdc(socket, ['configure']);
  if (!/Reconfigured|Reconfiguration in progress|Reconfiguration already in progress/.test(out)) {
    throw new BirdControlError(`birdc configure: ${out.trim()}`);
  }
}

/**
 * `birdc reload in|out <protocol or "pattern">`: the routes a channel already
 * took (in) or sent (out) go through its current filter again. Resolves with
 * the protocols that cannot (a BGP peer without route refresh).
 */
export async function reloadRoutes(socket: string, direction: 'in' | 'out', protocols: string): Promise<string[]> {
  const out = await birdc(socket, ['reload', direction, protocols]);
  return out.split('\n').flatMap((l) => /^(\S+): reload failed/.exec(l.trim())?.[1] ?? []);
}

/** Shuts BIRD down so that its peers keep its routes until it is back (BGP graceful restart) and the kernel keeps its routes. */
export async function gracefulShutdown(socket: string): Promise<void> {
  await birdc(socket, ['graceful', 'restart']);
}

export interface BirdProtocol {
  name: string;
  proto: string;
  table: string;
  state: string;
  since: string;
  info: string;
}

/** The table of `show protocols` ("Name Proto Table State Since Info"); Since must be one word (the agent's timeformat). */
export function parseProtocols(text: string): BirdProtocol[] {
  const out: BirdProtocol[] = [];
  for (const line of text.split('\n')) {
    const m = /^(\S+)\s+(\S+)\s+(\S+)\s+(\S+)\s+(\S+)\s*(.*)$/.exec(line.trimEnd());
    if (!m || m[1] === 'Name') continue;
    out.push({ name: m[1]!, proto: m[2]!, table: m[3]!, state: m[4]!, since: m[5]!, info: m[6]!.trim() });
  }
  return out;
}

export async function showProtocols(socket: string): Promise<BirdProtocol[]> {
  return parseProtocols(await birdc(socket, ['show', 'protocols']));
}
