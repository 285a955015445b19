// Where etcd is and how to talk to it, as every tscni command that reads or
// writes etcd takes it: the agent's --etcd-* flags (flanneld's names), or
// calicoctl's environment variables. A flag wins over the environment.
import { readFileSync } from 'node:fs';
import { endpointProblem, type EtcdConnectionOptions } from './etcd-http';

/** flannel's default key prefix: overlay mode's */
export const DEFAULT_ETCD_PREFIX = '/coreos.com/network';
/** routed mode's default key prefix (its keys are ours, not flannel's) */
export const DEFAULT_ROUTED_PREFIX = '/tscni/v1';
export const DEFAULT_ETCD_ENDPOINT = 'http://127.0.0.1:2379';

export const ETCD_FLAGS = ['etcd-endpoints', 'etcd-prefix', 'etcd-cafile', 'etcd-certfile', 'etcd-keyfile'] as const;
export type EtcdFlag = (typeof ETCD_FLAGS)[number];

/** The etcd flags among a command line's parsed flags. */
export function etcdFlagsOf(values: Record<string, string | boolean>): Partial<Record<EtcdFlag, string>> {
  const flags: Partial<Record<EtcdFlag, string>> = {};
  for (const f of ETCD_FLAGS) if (typeof values[f] === 'string') flags[f] = values[f] as string;
  return flags;
}

const ENV_OF: Partial<Record<EtcdFlag, string>> = {
  'etcd-endpoints': 'ETCD_ENDPOINTS',
  'etcd-cafile': 'ETCD_CA_CERT_FILE',
  'etcd-certfile': 'ETCD_CERT_FILE',
  'etcd-keyfile': 'ETCD_KEY_FILE',
};

/** The etcd part of a command's usage; routed mode's commands have their own default prefix. */
export const etcdUsage = (defaultPrefix = DEFAULT_ETCD_PREFIX) => `etcd (flag, or environment variable):
  --etcd-endpoints  ETCD_ENDPOINTS     comma-separated URLs  (default ${DEFAULT_ETCD_ENDPOINT})
  --etcd-prefix                        key prefix            (default ${defaultPrefix})
  --etcd-cafile     ETCD_CA_CERT_FILE  CA of the etcd members' certificates (PEM)
  --etcd-certfile   ETCD_CERT_FILE     client certificate (PEM)
  --etcd-keyfile    ETCD_KEY_FILE      client key (PEM)
`;
export const ETCD_USAGE = etcdUsage();

export interface EtcdSettings {
  connection: EtcdConnectionOptions;
  /** without a trailing "/" */
  prefix: string;
}

export class EtcdSettingsError extends Error {}

function setting(flags: Partial<Record<EtcdFlag, string>>, env: NodeJS.ProcessEnv, flag: EtcdFlag): { value?: string; source: string } {
  if (flags[flag] !== undefined) return { value: flags[flag], source: `--${flag}` };
  const variable = ENV_OF[flag];
  const fromEnv = variable !== undefined ? env[variable] : undefined;
  return fromEnv !== undefined && fromEnv !== '' ? { value: fromEnv, source: variable! } : { source: `--${flag}` };
}

/** Reads and checks the settings, including the TLS files; throws EtcdSettingsError naming the flag or variable. */
export function etcdSettings(flags: Partial<Record<EtcdFlag, string>>, env: NodeJS.ProcessEnv, defaultPrefix = DEFAULT_ETCD_PREFIX): EtcdSettings {
  const fail = (source: string, rule: string) => new EtcdSettingsError(`${source}: ${rule}`);
  const endpointsSetting = setting(flags, env, 'etcd-endpoints');
  const endpoints = (endpointsSetting.value ?? DEFAULT_ETCD_ENDPOINT).split(',').map((e) => e.trim()).filter((e) => e !== '');
  if (endpoints.length === 0) throw fail(endpointsSetting.source, 'must name at least one endpoint');
  for (const e of endpoints) {
    const problem = endpointProblem(e);
    if (problem) throw fail(endpointsSetting.source, problem);
  }

  const prefixSetting = setting(flags, env, 'etcd-prefix');
  const prefix = (prefixSetting.value ?? defaultPrefix).replace(/\/+$/, '');
  if (!prefix.startsWith('/') || prefix.includes('\0')) throw fail(prefixSetting.source, 'must be a key path starting with "/"');

  const ca = setting(flags, env, 'etcd-cafile');
  const cert = setting(flags, env, 'etcd-certfile');
  const key = setting(flags, env, 'etcd-keyfile');
  if ((cert.value === undefined) !== (key.value === undefined)) {
    throw fail(cert.value === undefined ? cert.source : key.source, 'a client certificate needs its key, and a key its certificate');
  }
  const anyTls = ca.value !== undefined || cert.value !== undefined;
  const plain = endpoints.find((e) => e.startsWith('http://'));
  if (anyTls && plain !== undefined) throw fail(endpointsSetting.source, `TLS files are given, but ${plain} is not https://`);
  const read = (s: { value?: string; source: string }) => {
    if (s.value === undefined) return undefined;
    try {
      return readFileSync(s.value);
    } catch (e) {
      throw fail(s.source, `cannot read ${s.value}: ${(e as NodeJS.ErrnoException).code ?? String(e)}`);
    }
  };
  const tls = anyTls ? { ca: read(ca), cert: read(cert), key: read(key) } : undefined;
  return { connection: { endpoints, ...(tls ? { tls } : {}) }, prefix };
}
