// tscni overlay config set|get: flannel's network config in etcd
// (<prefix>/config), which every overlay node, tscni's or flanneld, reads.
// `set` checks everything (flags, etcd settings, the config by flannel's
// rules) before it connects, so bad input writes nothing.
import { decodeFlannelConfig, flannelConfigJson } from '../../lib/datastore/flannel-config';
import { configKey, writeFlannelConfig } from '../../lib/datastore/flannel';
import { CniError } from '../../lib/cni/errors';
import { integerFlag, parseFlags, type FlagKind } from '../../lib/flags';
import { commandEtcdSettings, commandName, ETCD_SPEC, etcdCommandUsage, runEtcdCommand, UsageError, withEtcdClient } from '../etcd-command';

export const OVERLAY_USAGE = `usage:
  tscni overlay config set --network CIDR [--subnet-len N] --backend vxlan|host-gw|udp
                           [--vni N] [--port N] [--direct-routing] [etcd flags]
      check and write flannel's network config to <etcd-prefix>/config
      (vxlan: VNI 1, port 8472 by default; udp: port 8285)
  tscni overlay config get [etcd flags]
      print the config as stored

${etcdCommandUsage('overlay')}`;

const SET_SPEC: Record<string, FlagKind> = {
  ...ETCD_SPEC, network: 'string', 'subnet-len': 'string', backend: 'string', vni: 'string', port: 'string', 'direct-routing': 'boolean',
};

/** The flag behind each of flannel's config fields, so an error names what the user typed. */
const FLAG_OF_FIELD: Record<string, string> = {
  Network: '--network', SubnetLen: '--subnet-len', 'Backend.Type': '--backend', 'Backend.VNI': '--vni',
  'Backend.Port': '--port', 'Backend.DirectRouting': '--direct-routing',
};

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

async function configCommand(verb: string | undefined, args: string[], env: NodeJS.ProcessEnv): Promise<number> {
  if (verb === 'set') {
    const { values, positional } = parseFlags(args, SET_SPEC);
    if (positional.length > 0) throw new UsageError(`unexpected argument ${JSON.stringify(positional[0])}`);
    const json = configToWrite(values);
    const settings = commandEtcdSettings('overlay', values, env);
    await withEtcdClient(settings, (c) => writeFlannelConfig(c, settings.prefix, json));
    process.stdout.write(json + '\n');
    return 0;
  }
  if (verb === 'get') {
    const { values, positional } = parseFlags(args, ETCD_SPEC);
    if (positional.length > 0) throw new UsageError(`unexpected argument ${JSON.stringify(positional[0])}`);
    const settings = commandEtcdSettings('overlay', values, env);
    const kv = await withEtcdClient(settings, (c) => c.get(configKey(settings.prefix)));
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

/** `tscni overlay ...`; the exit code. */
export async function runOverlay(args: string[], env: NodeJS.ProcessEnv): Promise<number> {
  const [noun, verb, ...rest] = args;
  return runEtcdCommand(commandName('overlay', noun, verb), OVERLAY_USAGE, async () => {
    if (noun !== 'config') throw new UsageError(noun === undefined ? 'overlay needs a command' : `unknown overlay command ${JSON.stringify(noun)}`);
    return configCommand(verb, rest, env);
  });
}
