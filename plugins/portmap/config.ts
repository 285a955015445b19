// portmap's configuration: the reference plugin's fields, read the way its
// nftables backend reads them. Options that exist only for iptables, or that
// would put raw nft text into our JSON batch, are refused by name rather than
// silently ignored, so a config never means something other than it says.
import * as z from 'zod/mini';
import { CniError, ErrorCode, invalidConfig } from '../../lib/cni/errors';
import { parseOrThrow } from '../../lib/cni/schemas';
import { isIpAddress } from '../../lib/cni/validate';
import type { PortMapping, Protocol } from './nft-rules';

const port = z.int().check(z.gte(1), z.lte(65535));

const mappingSchema = z.looseObject({
  hostPort: port,
  containerPort: port,
  // Kubernetes spells protocols in capitals (TCP); nft wants lowercase.
  protocol: z.optional(z.string()),
  hostIP: z.optional(z.string().check(z.refine((s) => s === '' || isIpAddress(s), 'must be an IP address or empty'))),
});

const portmapSchema = z.looseObject({
  name: z.string(),
  backend: z.optional(z.nullable(z.string())),
  snat: z.optional(z.nullable(z.boolean())),
  masqAll: z.optional(z.boolean()),
  markMasqBit: z.optional(z.nullable(z.int().check(z.gte(0), z.lte(31)))),
  externalSetMarkChain: z.optional(z.nullable(z.string())),
  conditionsV4: z.optional(z.nullable(z.array(z.string()))),
  conditionsV6: z.optional(z.nullable(z.array(z.string()))),
  runtimeConfig: z.optional(z.looseObject({ portMappings: z.optional(z.nullable(z.array(mappingSchema))) })),
});

export interface PortmapConfig {
  network: string;
  /** masquerade hairpin and localhost traffic to the pod (reference default: true) */
  snat: boolean;
  /** masquerade every DNATed connection to the pod, whatever its source */
  masqAll: boolean;
  mappings: PortMapping[];
}

const PROTOCOLS: readonly Protocol[] = ['tcp', 'udp', 'sctp'];

function unsupported(field: string, why: string): CniError {
  return new CniError(ErrorCode.UnsupportedField, `${field}: ${why}`);
}

/** As the reference: an empty list, or one whose first entry is "", sets no conditions. */
function checkConditions(field: string, c: string[] | null | undefined): void {
  if (!c || c.length === 0 || c[0] === '') return;
  if (c[0]!.startsWith('-') || c[0]!.startsWith('!')) {
    throw invalidConfig(field, 'holds iptables conditions, but this portmap is the nftables backend');
  }
  throw unsupported(field, 'nft conditions are not supported: the reference splices them as text into one shared rule, which our JSON batches cannot express');
}

/** DEL removes by owner: the network's name is all it reads (a runtime's malformed mapping cannot keep host ports taken). */
export type PortmapDelConfig = Pick<PortmapConfig, 'network'>;

const portmapDelSchema = z.pick(portmapSchema, { name: true });

export function parsePortmapDelConfig(raw: Record<string, unknown>): PortmapDelConfig {
  return { network: parseOrThrow(portmapDelSchema, raw).name };
}

export function parsePortmapConfig(raw: Record<string, unknown>): PortmapConfig {
  const c = parseOrThrow(portmapSchema, raw);
  if (c.markMasqBit != null && c.externalSetMarkChain != null) {
    throw invalidConfig('externalSetMarkChain', 'cannot be set together with markMasqBit');
  }
  if (c.backend != null && c.backend !== 'nftables') {
    throw c.backend === 'iptables'
      ? unsupported('backend', 'tscni portmap implements only the nftables backend')
      : invalidConfig('backend', `unrecognized backend ${JSON.stringify(c.backend)} (use "nftables")`);
  }
  if (c.externalSetMarkChain != null) {
    throw invalidConfig('externalSetMarkChain', 'is an iptables-backend option; the nftables backend takes none');
  }
  checkConditions('conditionsV4', c.conditionsV4);
  checkConditions('conditionsV6', c.conditionsV6);
  const mappings = (c.runtimeConfig?.portMappings ?? []).map((m, i): PortMapping => {
    const protocol = (m.protocol || 'tcp').toLowerCase() as Protocol;
    if (!PROTOCOLS.includes(protocol)) {
      throw invalidConfig(`runtimeConfig.portMappings[${i}].protocol`, 'must be one of "tcp", "udp", "sctp"');
    }
    return { hostPort: m.hostPort, containerPort: m.containerPort, protocol, ...(m.hostIP ? { hostIP: m.hostIP } : {}) };
  });
  return { network: c.name, snat: c.snat ?? true, masqAll: c.masqAll ?? false, mappings };
}
