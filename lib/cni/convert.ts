// Result conversion between spec versions, through the 1.1.0 form as pivot.
//
// What libcni does, and so what we do:
//  - 0.3.0/0.3.1/0.4.0 are one result type: converting among them only relabels.
//  - up from 0.x to 1.x: `ips[].version` is dropped.
//  - down from 1.x to 0.x: `ips[].version` is derived from the address family.
//  - fields the target version has no place for (interface mtu/socketPath/pciID,
//    route mtu/advmss/priority/table/scope below 1.1.0) are dropped silently;
//    nothing representable in 0.3.0 and later makes a conversion fail.
// Output objects are built key by key in the reference's field order, so our
// JSON reads like the Go plugins' JSON.

import { CniError, ErrorCode } from './errors';
import { fieldOf } from './keys';
import { parseOrThrow, resultSchemaFor } from './schemas';
import { LATEST_VERSION, type Dns, type Interface, type IpConfig, type Result, type Route, type SpecVersion } from './types';
import { ipFamily } from '../ip/address';
import { compareVersions, isSupportedVersion } from './version';

type Json = Record<string, unknown>;

/** Copies the listed keys that are set, in the listed order. */
function pick<T extends object>(from: T, keys: readonly (keyof T)[]): Json {
  const out: Json = {};
  for (const k of keys) if (from[k] !== undefined) out[k as string] = from[k];
  return out;
}

const IFACE_10 = ['name', 'mac', 'sandbox'] as const;
const IFACE_11 = ['name', 'mac', 'mtu', 'sandbox', 'socketPath', 'pciID'] as const;
const ROUTE_10 = ['dst', 'gw'] as const;
const ROUTE_11 = ['dst', 'gw', 'mtu', 'advmss', 'priority', 'table', 'scope'] as const;
const DNS_KEYS = ['nameservers', 'domain', 'search', 'options'] as const;

function dnsOut(dns: Dns | undefined): Json | undefined {
  if (!dns) return undefined;
  const out = pick(dns, DNS_KEYS);
  return Object.keys(out).length ? out : undefined;
}

/**
 * Parses a result of any supported version into the internal 1.1.0 form.
 * `fallbackVersion` is used when the result names no version of its own, as
 * libcni assumes the config's version for such results.
 */
export function parseResult(raw: unknown, fallbackVersion?: string, field = 'result'): Result {
  if (!raw || typeof raw !== 'object' || Array.isArray(raw)) {
    throw new CniError(ErrorCode.InvalidNetworkConfig, `${field}: must be a JSON object`);
  }
  const declared = fieldOf(raw as Json, 'cniVersion');
  const version = typeof declared === 'string' && declared !== '' ? declared : fallbackVersion;
  if (!isSupportedVersion(version)) {
    throw new CniError(ErrorCode.IncompatibleVersion, `${field}: unsupported CNI result version ${JSON.stringify(version ?? '')}`);
  }
  return internalForm(parseOrThrow(resultSchemaFor(version), { ...(raw as Json), cniVersion: version }, field));
}

/**
 * A result this process made and checked, as it reaches a caller through a
 * plugin of spec version `to`: what formatting it and parsing it back would
 * give, without either.
 */
export function resultAsVersion(result: Result, to: SpecVersion): Result {
  return internalForm(resultToVersion(result, to) as Parameters<typeof internalForm>[0]);
}

/** A result of any version, valid already, in the internal 1.1.0 form. */
function internalForm(parsed: ReturnType<ReturnType<typeof resultSchemaFor>['parse']>): Result {
  const out: Result = { cniVersion: LATEST_VERSION };
  if (parsed.interfaces) out.interfaces = parsed.interfaces.map((i) => ({ ...i }) as Interface);
  if (parsed.ips) {
    // Dropping `version` is the 0.x -> 1.x step; for 1.x input the key is absent already.
    out.ips = parsed.ips.map((c) => pick(c as IpConfig, ['interface', 'address', 'gateway']) as unknown as IpConfig);
  }
  if (parsed.routes) out.routes = parsed.routes.map((r) => ({ ...r }) as Route);
  const dns = dnsOut(parsed.dns);
  if (dns) out.dns = dns as Dns;
  return out;
}

/** Renders an internal result as a JSON-ready object of spec version `to`. */
export function resultToVersion(result: Result, to: SpecVersion): Json {
  const is11 = to === LATEST_VERSION;
  const is0x = compareVersions(to, '1.0.0') < 0;
  const out: Json = { cniVersion: to };
  if (result.interfaces?.length) out.interfaces = result.interfaces.map((i) => pick(i, is11 ? IFACE_11 : IFACE_10));
  if (result.ips?.length) {
    out.ips = result.ips.map((c) => {
      const ipc: Json = is0x ? { version: String(ipFamily(c.address)) } : {};
      return Object.assign(ipc, pick(c, ['interface', 'address', 'gateway']));
    });
  }
  if (result.routes?.length) out.routes = result.routes.map((r) => pick(r, is11 ? ROUTE_11 : ROUTE_10));
  const dns = dnsOut(result.dns);
  if (dns) out.dns = dns;
  return out;
}

/** The stdout form of a result: 4-space indented, no trailing newline, like the reference plugins. */
export function formatResult(result: Result, to: SpecVersion): string {
  return JSON.stringify(resultToVersion(result, to), null, 4);
}
