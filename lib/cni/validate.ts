// Checks on names that reach the kernel or the file system, and on addresses.
// The name rules are the reference implementation's, so a runtime gets the
// same accept/reject answer from our plugins as from the Go ones.

import { parseCidr, parseIp } from '../ip/address';
import { CniError, ErrorCode, invalidConfig } from './errors';

/** Container IDs and network names: an alphanumeric first character, then [A-Za-z0-9_.-]. */
const CNI_NAME_RE = /^[a-zA-Z0-9][a-zA-Z0-9_.-]*$/;
const MAX_IFNAME_BYTES = 15;

export function validateContainerId(id: string): void {
  if (id === '') throw new CniError(ErrorCode.UnknownContainer, 'CNI_CONTAINERID: missing containerID');
  if (!CNI_NAME_RE.test(id)) {
    throw new CniError(
      ErrorCode.InvalidEnvironment,
      'CNI_CONTAINERID: invalid characters in containerID (allowed: a letter or digit, then letters, digits, "_", ".", "-")',
      id,
    );
  }
}

/** Linux's dev_valid_name(): 1..15 bytes, not "." or "..", no "/", ":" or whitespace. */
export function ifnameProblem(name: string): string | undefined {
  if (name.length === 0) return 'interface name is empty';
  if (Buffer.byteLength(name) > MAX_IFNAME_BYTES) return `interface name is too long (at most ${MAX_IFNAME_BYTES} bytes)`;
  if (name === '.' || name === '..') return 'interface name is . or ..';
  if (/[/:\s]/u.test(name)) return 'interface name contains / or : or whitespace characters';
  if (name.includes('\0')) return 'interface name contains a NUL character';
  return undefined;
}

export function validateIfname(name: string, variable = 'CNI_IFNAME'): void {
  const problem = ifnameProblem(name);
  if (problem) throw new CniError(ErrorCode.InvalidEnvironment, `${variable}: ${problem}`, name || undefined);
}

export function validateNetworkName(name: unknown, field = 'name'): string {
  if (typeof name !== 'string' || name === '') throw invalidConfig(field, 'missing network name');
  if (!CNI_NAME_RE.test(name)) {
    throw new CniError(
      ErrorCode.InvalidNetworkConfig,
      `${field}: invalid characters found in network name (allowed: a letter or digit, then letters, digits, "_", ".", "-")`,
      name,
    );
  }
  return name;
}

/** A plugin `type` becomes a file name in CNI_PATH: it must not climb out of it. */
export function validatePluginType(type: unknown, field = 'type'): string {
  if (typeof type !== 'string' || type === '') throw invalidConfig(field, 'missing plugin type');
  if (type.includes('/') || type.includes('\\') || type.includes('\0') || type === '.' || type === '..') {
    throw invalidConfig(field, `invalid plugin name "${type}": must be a file name, without "/", "\\" or NUL, not "." or ".."`);
  }
  return type;
}

export function isIpAddress(s: string): boolean {
  return parseIp(s) !== undefined;
}

/** "address/prefix" with a prefix length that fits the address family. */
export function isCidr(s: string): boolean {
  return typeof parseCidr(s) !== 'string';
}

