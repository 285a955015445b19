// flannel's CNI plugin configuration, read as flannel-io/cni-plugin reads it:
// `delegate` (merged into the configuration handed to the delegate plugin;
// flannel sets its name and ipam, so it must not), `subnetFile`, `dataDir`,
// and the top-level `ipam` and `runtimeConfig`, which go to the delegate too.
import * as z from 'zod/mini';
import { invalidConfig } from '../../lib/cni/errors';
import { absolutePath, parseOrThrow } from '../../lib/cni/schemas';
import { isCidr, validatePluginType } from '../../lib/cni/validate';

export const DEFAULT_SUBNET_FILE = '/run/flannel/subnet.env';
export const DEFAULT_DATA_DIR = '/var/lib/cni/flannel';

const route = z.looseObject({ dst: z.string().check(z.refine(isCidr, 'must be a CIDR such as "10.96.0.0/12"')) });

const flannelSchema = z.looseObject({
  cniVersion: z.string(),
  name: z.string(),
  subnetFile: z._default(absolutePath(), DEFAULT_SUBNET_FILE),
  dataDir: z._default(absolutePath(), DEFAULT_DATA_DIR),
  delegate: z.optional(z.looseObject({ type: z.optional(z.string().check(z.minLength(1))) })),
  ipam: z.optional(z.looseObject({ type: z.optional(z.string()), routes: z.optional(z.array(route)) })),
  runtimeConfig: z.optional(z.record(z.string(), z.unknown())),
});

export interface FlannelConfig {
  cniVersion: string;
  network: string;
  subnetFile: string;
  dataDir: string;
  delegate: Record<string, unknown>;
  ipam: Record<string, unknown>;
  runtimeConfig?: Record<string, unknown>;
}

/** What DEL reads: where ADD saved the delegate's config, which DEL hands the delegate. */
export type FlannelDelConfig = Pick<FlannelConfig, 'network' | 'dataDir'>;

export function parseFlannelDelConfig(raw: Record<string, unknown>): FlannelDelConfig {
  const c = parseOrThrow(z.pick(flannelSchema, { name: true, dataDir: true }), raw);
  return { network: c.name, dataDir: c.dataDir };
}

export function parseFlannelConfig(raw: Record<string, unknown>): FlannelConfig {
  const c = parseOrThrow(flannelSchema, raw);
  for (const key of ['name', 'ipam'] as const) {
    if (c.delegate && key in c.delegate) throw invalidConfig(`delegate.${key}`, 'must not be set: flannel sets it');
  }
  if (c.delegate?.type !== undefined) validatePluginType(c.delegate.type, 'delegate.type');
  return {
    cniVersion: c.cniVersion,
    network: c.name,
    subnetFile: c.subnetFile,
    dataDir: c.dataDir,
    delegate: c.delegate ?? {},
    ipam: c.ipam ?? {},
    ...(c.runtimeConfig ? { runtimeConfig: c.runtimeConfig } : {}),
  };
}
