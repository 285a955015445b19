// The in-memory shapes of CNI data. Results are always held in the newest
// spec version (1.1.0); conversion to and from older versions happens only at
// the edges (stdin prevResult, stdout, delegated plugins' output).

/** Spec versions this suite speaks, oldest first. 0.2.0 and older are refused. */
export const SUPPORTED_VERSIONS = ['0.3.0', '0.3.1', '0.4.0', '1.0.0', '1.1.0'] as const;
export type SpecVersion = (typeof SUPPORTED_VERSIONS)[number];
export const LATEST_VERSION: SpecVersion = '1.1.0';

/** The commands a plugin is run with, besides VERSION. */
export type Command = 'ADD' | 'DEL' | 'CHECK' | 'GC' | 'STATUS';
/** A plugin's environment: CNI_* variables and whatever the runtime passes along. */
export type Env = Record<string, string | undefined>;

export interface Interface {
  name: string;
  mac?: string;
  /** 1.1.0 */
  mtu?: number;
  /** Path of the netns the interface lives in; absent for host-side interfaces. */
  sandbox?: string;
  /** 1.1.0 */
  socketPath?: string;
  /** 1.1.0 */
  pciID?: string;
}

export interface IpConfig {
  /** CIDR with the host bits kept, e.g. "10.1.2.3/24". */
  address: string;
  gateway?: string;
  /** Index into Result.interfaces. */
  interface?: number;
}

export interface Route {
  /** CIDR, e.g. "0.0.0.0/0". */
  dst: string;
  gw?: string;
  /** The fields below are 1.1.0. */
  mtu?: number;
  advmss?: number;
  priority?: number;
  table?: number;
  /** 0 global, 253 link, 254 host. */
  scope?: number;
}

export interface Dns {
  nameservers?: string[];
  domain?: string;
  search?: string[];
  options?: string[];
}

export interface Result {
  cniVersion: string;
  interfaces?: Interface[];
  ips?: IpConfig[];
  routes?: Route[];
  dns?: Dns;
}

/** One entry of `cni.dev/valid-attachments` (GC). */
export interface Attachment {
  containerID: string;
  ifname: string;
}

/** The fields every plugin configuration shares; plugins add their own. */
export interface NetConf {
  cniVersion: string;
  name: string;
  type: string;
  capabilities?: Record<string, boolean>;
  ipam?: { type?: string; [k: string]: unknown };
  dns?: Dns;
  runtimeConfig?: Record<string, unknown>;
  args?: Record<string, unknown>;
  prevResult?: unknown;
  'cni.dev/valid-attachments'?: Attachment[];
  [k: string]: unknown;
}

/** A network configuration list after loading: version chosen, plugins validated. */
export interface ConfList {
  /** The version chosen from `cniVersion` and `cniVersions`; every plugin is run with it. */
  cniVersion: SpecVersion;
  name: string;
  disableCheck: boolean;
  disableGC: boolean;
  /** Plugin configurations as given (raw JSON objects); name and cniVersion are injected at run time. */
  plugins: Array<Record<string, unknown> & { type: string }>;
}
