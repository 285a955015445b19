// CNI error codes and the error type every plugin throws.
//
// Codes below 100 are reserved by the CNI spec and used only with the meaning
// the spec gives them; plugin-specific failures use 100 and up. The layers
// below (lib/netns, lib/netlink) throw their own errors; their codes are
// given here and by the plugins.
import { NetnsError } from '../netns/errors';

export const ErrorCode = {
  IncompatibleVersion: 1,
  UnsupportedField: 2,
  UnknownContainer: 3,
  InvalidEnvironment: 4,
  IoFailure: 5,
  DecodeFailure: 6,
  InvalidNetworkConfig: 7,
  TryAgainLater: 11,
  NotAvailable: 50,
  LimitedConnectivity: 51,
  /** Plugin codes start here. */
  IpamExhausted: 100,
} as const;

export type ErrorCodeValue = (typeof ErrorCode)[keyof typeof ErrorCode];

/** The code the reference skel uses for errors that carry no CNI code. */
export const UNKNOWN_ERROR_CODE = 999;

/** The error JSON as the spec defines it; `details` is left out when empty. */
export interface CniErrorJson {
  cniVersion: string;
  code: number;
  msg: string;
  details?: string;
}

export class CniError extends Error {
  readonly code: number;
  readonly msg: string;
  readonly details?: string;

  constructor(code: number, msg: string, details?: string) {
    super(details ? `${msg}; ${details}` : msg);
    this.name = 'CniError';
    this.code = code;
    this.msg = msg;
    if (details) this.details = details;
  }

  /** The spec's error JSON; `cniVersion` is the version of the request being answered. */
  toJSON(cniVersion = '1.1.0'): CniErrorJson {
    const out: CniErrorJson = { cniVersion, code: this.code, msg: this.msg };
    if (this.details) out.details = this.details;
    return out;
  }
}

/** Code 7 with a message that names the offending field and the rule it broke. */
export function invalidConfig(field: string, rule: string): CniError {
  return new CniError(ErrorCode.InvalidNetworkConfig, `${field}: ${rule}`);
}

/** Code 4 naming the environment variable (CNI_IFNAME, CNI_NETNS, ...). */
export function invalidEnv(variable: string, rule: string): CniError {
  return new CniError(ErrorCode.InvalidEnvironment, `${variable}: ${rule}`);
}

/**
 * CNI_NETNS unusable: a missing namespace is 3 (unknown container: the
 * container's network is gone); a path that exists but is not a network
 * namespace is 4 (invalid environment variable), a plain file left by an
 * unmount too; an existing one we cannot open is 5 (I/O failure).
 */
function netnsError(e: NetnsError): CniError {
  const path = JSON.stringify(e.path);
  switch (e.reason) {
    case 'missing':
      return new CniError(ErrorCode.UnknownContainer, `CNI_NETNS: failed to open netns ${path}`, e.detail);
    case 'unreadable':
      return new CniError(ErrorCode.IoFailure, `CNI_NETNS: failed to open netns ${path}`, e.detail);
    case 'not-netns':
      return new CniError(ErrorCode.InvalidEnvironment, `CNI_NETNS: ${path} is not a network namespace`, e.detail);
    case 'unmounted':
      return new CniError(ErrorCode.InvalidEnvironment, `CNI_NETNS: ${path} is not a network namespace (a plain file: its namespace was unmounted)`, e.detail);
  }
}

/**
 * Wraps anything thrown into a CniError: a namespace error gets its code
 * (netnsError); other non-CNI errors become code 999 as the reference skel does.
 */
export function asCniError(e: unknown): CniError {
  if (e instanceof CniError) return e;
  if (e instanceof NetnsError) return netnsError(e);
  const msg = e instanceof Error ? e.message : String(e);
  return new CniError(UNKNOWN_ERROR_CODE, msg);
}
