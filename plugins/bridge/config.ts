// The bridge plugin's whole configuration: the reference bridge's fields, with
// its defaults, validated before anything touches the kernel.
import * as z from 'zod/mini';
import { invalidConfig } from '../../lib/cni/errors';
import { dnsSchema, parseOrThrow } from '../../lib/cni/schemas';
import type { Dns } from '../../lib/cni/types';
import { ifnameProblem } from '../../lib/cni/validate';
import { isMac } from '../../lib/ip/address';

const ifname = z.string().check(z.refine((s) => ifnameProblem(s) === undefined, 'must be a valid interface name (1-15 bytes, no "/", ":" or whitespace)'));
const mac = z.string().check(z.refine(isMac, 'must be a MAC address such as "0a:58:0a:f4:01:02"'));

const bridgeSchema = z.looseObject({
  cniVersion: z.string(),
  name: z.string(),
  bridge: z._default(ifname, 'cni0'),
  isGateway: z._default(z.boolean(), false),
  isDefaultGateway: z._default(z.boolean(), false),
  forceAddress: z._default(z.boolean(), false),
  ipMasq: z._default(z.boolean(), false),
  ipMasqBackend: z.optional(z.enum(['nftables'])),
  mtu: z.optional(z.int().check(z.gte(0), z.lte(65535))),
  hairpinMode: z._default(z.boolean(), false),
  promiscMode: z._default(z.boolean(), false),
  macspoofchk: z._default(z.boolean(), false),
  enabledad: z._default(z.boolean(), false),
  disableContainerInterface: z._default(z.boolean(), false),
  vlan: z.optional(z.literal(0)),
  ipam: z._default(z.looseObject({ type: z.optional(z.string()) }), {}),
  dns: z.optional(dnsSchema),
  runtimeConfig: z.optional(z.looseObject({ mac: z.optional(mac) })),
  args: z.optional(z.looseObject({ cni: z.optional(z.looseObject({ mac: z.optional(mac) })) })),
});

export interface BridgeConfig {
  network: string;
  bridge: string;
  /** isGateway, or implied by isDefaultGateway */
  isGateway: boolean;
  isDefaultGateway: boolean;
  forceAddress: boolean;
  ipMasq: boolean;
  mtu?: number;
  hairpinMode: boolean;
  promiscMode: boolean;
  macSpoofCheck: boolean;
  enableDad: boolean;
  disableContainerInterface: boolean;
  /** undefined: layer 2 only, no addresses */
  ipamType?: string;
  /** from the config's `dns`, which overrides what IPAM returned */
  dns?: Dns;
  /** the container interface's MAC from runtimeConfig.mac or args.cni.mac (see containerMac) */
  mac?: string;
}

const hasDns = (d: Dns | undefined): d is Dns =>
  !!d && !!(d.nameservers?.length || d.domain || d.search?.length || d.options?.length);

/** What DEL reads: the rest of a config (runtimeConfig.mac, dns, ...) cannot keep a pod's veth and address from going. */
export type BridgeDelConfig = Pick<BridgeConfig, 'network' | 'bridge' | 'ipMasq' | 'macSpoofCheck' | 'ipamType'>;

const bridgeDelSchema = z.pick(bridgeSchema, { name: true, bridge: true, ipMasq: true, macspoofchk: true, ipam: true });

export function parseBridgeDelConfig(raw: Record<string, unknown>): BridgeDelConfig {
  const c = parseOrThrow(bridgeDelSchema, raw);
  const ipamType = c.ipam.type || undefined;
  return { network: c.name, bridge: c.bridge, ipMasq: c.ipMasq, macSpoofCheck: c.macspoofchk, ...(ipamType ? { ipamType } : {}) };
}

export function parseBridgeConfig(raw: Record<string, unknown>): BridgeConfig {
  const c = parseOrThrow(bridgeSchema, raw);
  const ipamType = c.ipam.type || undefined;
  if (ipamType && c.disableContainerInterface) {
    throw invalidConfig('disableContainerInterface', 'cannot be used with IPAM (ipam.type is set)');
  }
  if (c.hairpinMode && c.promiscMode) throw invalidConfig('hairpinMode', 'cannot be set together with promiscMode');
  const mac = c.runtimeConfig?.mac ?? c.args?.cni?.mac;
  return {
    network: c.name,
    bridge: c.bridge,
    isGateway: c.isGateway || c.isDefaultGateway,
    isDefaultGateway: c.isDefaultGateway,
    forceAddress: c.forceAddress,
    ipMasq: c.ipMasq,
    ...(c.mtu ? { mtu: c.mtu } : {}),
    hairpinMode: c.hairpinMode,
    promiscMode: c.promiscMode,
    macSpoofCheck: c.macspoofchk,
    enableDad: c.enabledad,
    disableContainerInterface: c.disableContainerInterface,
    ...(ipamType ? { ipamType } : {}),
    ...(hasDns(c.dns) ? { dns: c.dns } : {}),
    ...(mac ? { mac: mac.toLowerCase() } : {}),
  };
}

/** runtimeConfig.mac, else args.cni.mac, else CNI_ARGS MAC=: the reference's order of precedence. */
export function containerMac(config: BridgeConfig, cniArgs: Record<string, string>): string | undefined {
  if (config.mac) return config.mac;
  if (cniArgs.MAC === undefined || cniArgs.MAC === '') return undefined;
  if (!isMac(cniArgs.MAC)) throw invalidConfig('CNI_ARGS MAC', 'must be a MAC address');
  return cniArgs.MAC.toLowerCase();
}
