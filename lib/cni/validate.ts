// Checks on names that reach the kernel or the file system, and on addresses.
// The name rules are the reference implementation's, so a runtime gets the
// same accept/reject answer from our plugins as from the Go ones.

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

// Address parsing by hand: node:net's isIP would load the whole net module
// (streams, sockets) into every plugin just to check a string.
const IPV4_RE = /^(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(\.(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}$/;
const HEXTET_RE = /^[0-9a-fA-F]{1,4}$/;

function isIpv6(s: string): boolean {
  let groups = s;
  let budget = 8;
  const lastColon = s.lastIndexOf(':');
  if (lastColon >= 0 && s.includes('.', lastColon)) {
    // embedded IPv4 tail, e.g. ::ffff:10.0.0.1
    if (!IPV4_RE.test(s.slice(lastColon + 1))) return false;
    groups = s.slice(0, lastColon + 1) + '0';
    budget = 7;
  }
  const halves = groups.split('::');
  if (halves.length > 2) return false;
  const parts = halves.map((h) => (h === '' ? [] : h.split(':')));
  if (!parts.every((p) => p.every((g) => HEXTET_RE.test(g)))) return false;
  const count = parts.reduce((n, p) => n + p.length, 0);
  return halves.length === 2 ? count < budget : count === budget;
}

function ipVersion(s: string): 0 | 4 | 6 {
  if (IPV4_RE.test(s)) return 4;
  return s.includes(':') && isIpv6(s) ? 6 : 0;
}

export function isIpAddress(s: string): boolean {
  return ipVersion(s) !== 0;
}

/** "address/prefix" with a prefix length that fits the address family. */
export function isCidr(s: string): boolean {
  const slash = s.indexOf('/');
  if (slash < 0) return false;
  const family = ipVersion(s.slice(0, slash));
  const prefix = s.slice(slash + 1);
  if (family === 0 || !/^\d{1,3}$/.test(prefix)) return false;
  return Number(prefix) <= (family === 4 ? 32 : 128);
}

export function ipFamily(addressOrCidr: string): 4 | 6 {
  const slash = addressOrCidr.indexOf('/');
  return ipVersion(slash < 0 ? addressOrCidr : addressOrCidr.slice(0, slash)) === 6 ? 6 : 4;
}
