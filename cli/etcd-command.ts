// The frame every tscni command on etcd runs in (overlay config, pool, bgp,
// ipam): one set of etcd flags, --etcd-prefix included, whose default is the
// mode's (flannel's /coreos.com/network for overlay, /tscni/v1 for routed); a
// client that is closed whatever the command does; and one rule from error
// to exit code. 2: the command line cannot run (the message names the flag or
// argument, the usage follows when its shape is wrong), nothing was touched.
// 1: etcd could not be reached, or it refused or answered what the command
// asked. Messages go to stderr as "tscni: <command>: <what>", no stack trace.
import { EtcdClient } from '../lib/datastore/etcd';
import { EtcdError, EtcdUnreachableError } from '../lib/datastore/etcd-http';
import {
  DEFAULT_ETCD_PREFIX, DEFAULT_ROUTED_PREFIX, ETCD_FLAGS, etcdFlagsOf, etcdSettings, EtcdSettingsError, etcdUsage, type EtcdSettings,
} from '../lib/datastore/etcd-options';
import { CniError } from '../lib/cni/errors';
import { OptionsError, type FlagKind } from '../lib/flags';

/** Whose keys a command works on: flannel's (overlay) or ours (routed). */
export type EtcdMode = 'overlay' | 'routed';

const DEFAULT_PREFIX: Record<EtcdMode, string> = { overlay: DEFAULT_ETCD_PREFIX, routed: DEFAULT_ROUTED_PREFIX };

/** The etcd flags, as parseFlags declares them; a command adds its own. */
export const ETCD_SPEC: Readonly<Record<string, FlagKind>> = Object.fromEntries(ETCD_FLAGS.map((f) => [f, 'string']));

/** The etcd part of a command's usage. */
export const etcdCommandUsage = (mode: EtcdMode): string => etcdUsage(DEFAULT_PREFIX[mode]);

/** Where etcd is and the key prefix, from the flags or the environment; throws EtcdSettingsError naming the flag. */
export function commandEtcdSettings(mode: EtcdMode, values: Record<string, string | boolean>, env: NodeJS.ProcessEnv): EtcdSettings {
  return etcdSettings(etcdFlagsOf(values), env, DEFAULT_PREFIX[mode]);
}

/** Runs `fn` with a client of etcd, and closes the client however `fn` ends. */
export async function withEtcdClient<T>(settings: EtcdSettings, fn: (client: EtcdClient) => Promise<T>): Promise<T> {
  const client = new EtcdClient(settings.connection);
  try {
    return await fn(client);
  } finally {
    client.close();
  }
}

/**
 * A command line that cannot run. The usage follows when its shape is wrong
 * (a missing argument, an unknown verb); a bad value names its flag, and the
 * usage would add nothing (showUsage false).
 */
export class UsageError extends OptionsError {
  constructor(message: string, readonly showUsage = true) {
    super(message);
  }
}

type ErrorClass = abstract new (...args: never[]) => Error;

/**
 * Runs a command's body and turns what it throws into an exit code and a
 * message. `what` names the command ("pool create"); `refusals` are the
 * command's own errors for what etcd holds refusing the request (exit 1).
 * Anything else is a bug, and is thrown on.
 */
export async function runEtcdCommand(what: string, usage: string, body: () => Promise<number>, refusals: ErrorClass[] = []): Promise<number> {
  try {
    return await body();
  } catch (e) {
    if (e instanceof OptionsError || e instanceof EtcdSettingsError) {
      const showUsage = e instanceof OptionsError && !(e instanceof UsageError && !e.showUsage);
      process.stderr.write(`tscni: ${what}: ${e.message}\n${showUsage ? `\n${usage}` : ''}`);
      return 2;
    }
    if (e instanceof EtcdUnreachableError || e instanceof EtcdError || e instanceof CniError || refusals.some((c) => e instanceof c)) {
      process.stderr.write(`tscni: ${what}: ${(e as Error).message}\n`);
      return 1;
    }
    throw e;
  }
}

/** "bgp peer add" from the command's words that were given. */
export const commandName = (...words: (string | undefined)[]): string => words.filter((w) => w !== undefined).join(' ');
