// host-local's configuration: the whole network config as the runtime passes
// it (an IPAM plugin gets its caller's full config), read with the reference's
// rules so the same file means the same thing to both implementations.
// Range sets are taken in the reference's order, because a set's index names
// its last_reserved_ip file: runtimeConfig.ipRanges, then the legacy
// top-level `ipam.subnet` range, then `ipam.ranges`.
// zod/mini rather than zod: the full build costs tens of ms of start-up per call.
import * as z from 'zod/mini';
import { invalidConfig, invalidEnv } from '../../cni/errors';
import { absolutePath, parseOrThrow } from '../../cni/schemas';
import type { Route } from '../../cni/types';
import { formatCidr, formatIp, parseCidr, parseIp, type Ip } from '../../ip/address';
import { DEFAULT_DATA_DIR } from '../disk-store';
import type { RangeInput } from '../range';
import { canonicalizeRangeSet, rangeSetsOverlap, type RangeSet } from '../range-set';

export interface HostLocalConfig {
  cniVersion: string;
  /** the network name: names the store directory under dataDir */
  name: string;
  dataDir: string;
  resolvConf?: string;
  /** index = the reference's range set id (last_reserved_ip.<index>) */
  rangeSets: RangeSet[];
  routes: Route[];
  /** addresses asked for in the config (args.cni.ips, runtimeConfig.ips) */
  requestedIps: Ip[];
}

const noNul = (v: string) => !v.includes('\0');
const networkName = z.string().check(
  z.minLength(1, 'must not be empty'),
  z.refine((v) => !v.includes('/') && !v.includes('..') && noNul(v), 'must not contain "/", ".." or NUL (it names a directory)'),
);
const range = z.object({
  subnet: z.string(),
  rangeStart: z.optional(z.string()),
  rangeEnd: z.optional(z.string()),
  gateway: z.optional(z.string()),
});
const rangeSet = z.array(range);
export const routeSchema = z.object({
  dst: z.string(),
  gw: z.optional(z.string()),
  mtu: z.optional(z.int()),
  advmss: z.optional(z.int()),
  priority: z.optional(z.int()),
  table: z.optional(z.int()),
  scope: z.optional(z.int()),
});

export const hostLocalSchema = z.object({
  cniVersion: z.string(),
  name: networkName,
  ipam: z.object({
    type: z.string(),
    subnet: z.optional(z.string()),
    rangeStart: z.optional(z.string()),
    rangeEnd: z.optional(z.string()),
    gateway: z.optional(z.string()),
    ranges: z._default(z.array(rangeSet), []),
    routes: z._default(z.array(routeSchema), []),
    dataDir: z._default(absolutePath(), DEFAULT_DATA_DIR),
    resolvConf: z.optional(z.string().check(z.refine(noNul, 'must not contain NUL'))),
  }),
  runtimeConfig: z.optional(z.object({
    ips: z.optional(z.array(z.string())),
    ipRanges: z.optional(z.array(rangeSet)),
  })),
  args: z.optional(z.object({
    cni: z.optional(z.object({ ips: z.optional(z.nullable(z.array(z.string()))) })),
  })),
});

/** What DEL reads: the store (DEL releases by container and interface, whatever the ranges say). */
export type HostLocalDelConfig = Pick<HostLocalConfig, 'name' | 'dataDir'>;

const hostLocalDelSchema = z.object({ name: networkName, ipam: z.object({ dataDir: z._default(absolutePath(), DEFAULT_DATA_DIR) }) });

export function parseHostLocalDelConfig(raw: Record<string, unknown>): HostLocalDelConfig {
  const c = parseOrThrow(hostLocalDelSchema, raw);
  return { name: c.name, dataDir: c.ipam.dataDir };
}

/** Validates `raw` completely before anything touches the disk; throws code 7 naming the field. */
export function parseHostLocalConfig(raw: Record<string, unknown>): HostLocalConfig {
  const conf = parseOrThrow(hostLocalSchema, raw);
  const { ipam, runtimeConfig, args } = conf;

  const sources: { inputs: RangeInput[]; field: string; rangeField?: (i: number) => string }[] = [];
  (runtimeConfig?.ipRanges ?? []).forEach((inputs, i) => sources.push({ inputs, field: `runtimeConfig.ipRanges[${i}]` }));
  if (ipam.subnet !== undefined) {
    const { subnet, rangeStart, rangeEnd, gateway } = ipam;
    sources.push({ inputs: [{ subnet, rangeStart, rangeEnd, gateway }], field: 'ipam', rangeField: () => 'ipam' });
  } else {
    for (const key of ['rangeStart', 'rangeEnd', 'gateway'] as const) {
      if (ipam[key] !== undefined) throw invalidConfig(`ipam.${key}`, 'is only meaningful with ipam.subnet (or inside ipam.ranges)');
    }
  }
  ipam.ranges.forEach((inputs, i) => sources.push({ inputs, field: `ipam.ranges[${i}]` }));
  if (sources.length === 0) throw invalidConfig('ipam.ranges', 'no IP ranges given (set ipam.ranges or ipam.subnet)');

  const rangeSets = sources.map((s) => canonicalizeRangeSet(s.inputs, s.field, s.rangeField));
  for (let i = 0; i < rangeSets.length; i++) {
    for (let j = i + 1; j < rangeSets.length; j++) {
      if (rangeSetsOverlap(rangeSets[i]!, rangeSets[j]!)) throw invalidConfig(sources[j]!.field, `overlaps ${sources[i]!.field}`);
    }
  }

  const requestedIps = [
    ...(args?.cni?.ips ?? []).map((text, i) => requestedIp(text, `args.cni.ips[${i}]`)),
    ...(runtimeConfig?.ips ?? []).map((text, i) => requestedIp(text, `runtimeConfig.ips[${i}]`)),
  ];
  return {
    cniVersion: conf.cniVersion,
    name: conf.name,
    dataDir: ipam.dataDir,
    ...(ipam.resolvConf !== undefined && ipam.resolvConf !== '' ? { resolvConf: ipam.resolvConf } : {}),
    rangeSets,
    routes: ipam.routes.map((r, i) => canonicalRoute(r, `ipam.routes[${i}]`)),
    requestedIps,
  };
}

/** An address asked for, given as "10.1.2.3" or, as the reference also accepts, "10.1.2.3/24". */
function requestedIp(text: string, field: string): Ip {
  const cidr = text.includes('/') ? parseCidr(text) : undefined;
  const ip = cidr === undefined ? parseIp(text) : typeof cidr === 'string' ? undefined : cidr.ip;
  if (!ip) throw invalidConfig(field, typeof cidr === 'string' ? cidr : `"${text}" is not an IP address`);
  return ip;
}

/** CNI_ARGS `IP=<addr>`: one more requested address, named in errors as the environment it came from. */
export function requestedFromCniArgs(cniArgs: Record<string, string>): Ip[] {
  const text = cniArgs.IP;
  if (text === undefined || text === '') return [];
  const ip = parseIp(text.split('/')[0]!);
  if (!ip) throw invalidEnv('CNI_ARGS', `IP="${text}" is not an IP address`);
  return [ip];
}

/** A route of the config in the form the result carries; throws code 7 naming `field`. */
export function canonicalRoute(r: z.infer<typeof routeSchema>, field: string): Route {
  const dst = parseCidr(r.dst);
  if (typeof dst === 'string') throw invalidConfig(`${field}.dst`, dst);
  const out: Route = { ...r, dst: formatCidr(dst) };
  if (r.gw !== undefined) {
    const gw = parseIp(r.gw);
    if (!gw) throw invalidConfig(`${field}.gw`, `"${r.gw}" is not an IP address`);
    out.gw = formatIp(gw);
  }
  return out;
}
