// tscni overlay config set|get: flannel's network config in etcd
// (<prefix>/config), which every overlay node, tscni's or flanneld, reads.
// `set` checks everything (flags, etcd settings, the config by flannel's
// rules) before it connects, so bad input writes nothing.
import { ETCD_FLAGS, ETCD_USAGE, etcdSettings, EtcdSettingsError, type EtcdFlag, type EtcdSettings } from '../../lib/datastore/etcd-options';
import { EtcdClient } from '../../lib/datastore/etcd';
import { EtcdError, EtcdUnreachableError } from '../../lib/datastore/etcd-http';
import { decodeFlannelConfig, flannelConfigJson } from '../../lib/datastore/flannel-config';
import { configKey, writeFlannelConfig } from '../../lib/datastore/flannel';
import { CniError } from '../../lib/cni/errors';
import { FlagError, integerFlag, parseFlags, type FlagKind } from '../../lib/flags';

export const OVERLAY_USAGE = `usage:
  tscni overlay config set --network CIDR [--subnet-len N] --backend vxlan|host-gw|udp
                           [--vni N] [--port N] [--direct-routing] [etcd flags]
      check and write flannel's network config to <etcd-prefix>/config
      (vxlan: VNI 1, port 8472 by default; udp: port 8285)
  tscni overlay config get [etcd flags]
      print the config as stored

${ETCD_USAGE}`;

const ETCD_SPEC: Record<string, FlagKind> = Object.fromEntries(ETCD_FLAGS.map((f) => [f, 'string']));
const SET_SPEC: Record<string, FlagKind> = {
  ...ETCD_SPEC, network: 'string', 'subnet-len': 'string', backend: 'string', vni: 'string', port: 'string', 'direct-routing': 'boolean',
};

/** The flag behind each of flannel's config fields, so an error names what the user typed. */
const FLAG_OF_FIELD: Record<string, string> = {
  Network: '--network', SubnetLen: '--subnet-len', 'Backend.Type': '--backend', 'Backend.VNI': '--vni',
  'Backend.Port': '--port', 'Backend.DirectRouting': '--direct-routing',
};

/** A problem with what the user gave: exit 2, nothing touched; the usage follows when the command line itself is wrong. */
class UsageError extends Error {
  constructor(message: string, readonly showUsage = true) {
    super(message);
  }
}

function settingsFrom(values: Record<string, string | boolean>, env: NodeJS.ProcessEnv): EtcdSettings {
  const flags: Partial<Record<EtcdFlag, string>> = {};
  for (const f of ETCD_FLAGS) if (typeof values[f] === 'string') flags[f] = values[f] as string;
  return etcdSettings(flags, env);
}

function configToWrite(values: Record<string, string | boolean>): string {
  for (const required of ['network', 'backend']) {
    if (values[required] === undefined) throw new UsageError(`--${required} is required`);
  }
  try {
    return flannelConfigJson({
      network: values.network as string,
      subnetLen: integerFlag(values, 'subnet-len'),
      backend: values.backend as string,
      vni: integerFlag(values, 'vni'),
      port: integerFlag(values, 'port'),
      directRouting: values['direct-routing'] === true,
    });
  } catch (e) {
    if (!(e instanceof CniError)) throw e;
    // "Backend.VNI: 0 is out of range" -> "--vni (Backend.VNI): 0 is out of range"
    const field = e.msg.slice(0, e.msg.indexOf(':'));
    const flag = FLAG_OF_FIELD[field];
    throw new UsageError(flag ? `${flag} (${e.msg.replace(': ', '): ')}` : e.msg, false);
  }
}

async function withClient<T>(settings: EtcdSettings, fn: (client: EtcdClient) => Promise<T>): Promise<T> {
  const client = new EtcdClient(settings.connection);
  try {
    return await fn(client);
  } finally {
    client.close();
  }
}

async function configCommand(verb: string | undefined, args: string[], env: NodeJS.ProcessEnv): Promise<number> {
  if (verb === 'set') {
    const { values, positional } = parseFlags(args, SET_SPEC);
    if (positional.length > 0) throw new UsageError(`unexpected argument ${JSON.stringify(positional[0])}`);
    const json = configToWrite(values);
    const settings = settingsFrom(values, env);
    await withClient(settings, (c) => writeFlannelConfig(c, settings.prefix, json));
    process.stdout.write(json + '\n');
    return 0;
  }
  if (verb === 'get') {
    const { values, positional } = parseFlags(args, ETCD_SPEC);
    if (positional.length > 0) throw new UsageError(`unexpected argument ${JSON.stringify(positional[0])}`);
    const settings = settingsFrom(values, env);
    const kv = await withClient(settings, (c) => c.get(configKey(settings.prefix)));
    if (kv === undefined) {
      process.stderr.write(`tscni: overlay config get: no config at ${configKey(settings.prefix)}\n`);
      return 1;
    }
    process.stdout.write(kv.value + '\n');
    try {
      decodeFlannelConfig(kv.value);
    } catch (e) {
      process.stderr.write(`tscni: warning: the stored config is not valid: ${(e as Error).message}\n`);
    }
    return 0;
  }
  throw new UsageError(verb === undefined ? 'config needs set or get' : `unknown config command ${JSON.stringify(verb)}`);
}

/** `tscni overlay ...`; the exit code. Messages go to stderr, without stack traces. */
export async function runOverlay(args: string[], env: NodeJS.ProcessEnv): Promise<number> {
  const [noun, verb, ...rest] = args;
  const what = `overlay ${[noun, verb].filter((x) => x !== undefined).join(' ')}`;
  try {
    if (noun !== 'config') throw new UsageError(noun === undefined ? 'overlay needs a command' : `unknown overlay command ${JSON.stringify(noun)}`);
    return await configCommand(verb, rest, env);
  } catch (e) {
    if (e instanceof UsageError || e instanceof FlagError || e instanceof EtcdSettingsError) {
      const usage = e instanceof FlagError || (e instanceof UsageError && e.showUsage) ? `\n${OVERLAY_USAGE}` : '';
      process.stderr.write(`tscni: ${what}: ${e.message}\n${usage}`);
      return 2;
    }
    if (e instanceof EtcdUnreachableError || e instanceof EtcdError || e instanceof CniError) {
      process.stderr.write(`tscni: ${what}: ${e.message}\n`);
      return 1;
    }
    throw e;
  }
}
