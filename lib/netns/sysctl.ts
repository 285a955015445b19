// Per-namespace sysctls (/proc/sys/net/...). Which namespace a /proc/sys/net
// file belongs to is decided when it is opened, by the opening thread, so the
// sync fs calls below run inside withNetns on the main thread.
import { readFileSync, writeFileSync } from 'node:fs';
import { withNetns, type NetnsHandle } from './netns';

/**
 * Checks a sysctl key in slash form ("net/ipv4/ip_forward"; slashes because
 * interface names may contain dots). Only net/ is namespaced: anything else
 * would change the whole machine from inside a pod's namespace.
 */
export function validateSysctlKey(key: string): string {
  const parts = key.split('/');
  if (
    parts[0] !== 'net' ||
    parts.length < 2 ||
    parts.some((p) => p === '' || p === '.' || p === '..' || p.includes('\0'))
  ) {
    throw new Error(`sysctl key ${JSON.stringify(key)}: must be a relative path under net/ without "..", "." or empty parts`);
  }
  return `/proc/sys/${key}`;
}

function inNetns<T>(netns: string | NetnsHandle | undefined, fn: () => T): T {
  return netns === undefined ? fn() : withNetns(netns, fn);
}

/** Reads a sysctl in `netns` (the current namespace when undefined), trimmed. */
export function readSysctl(netns: string | NetnsHandle | undefined, key: string): string {
  const file = validateSysctlKey(key);
  return inNetns(netns, () => readFileSync(file, 'utf8').trim());
}

/** Writes a sysctl in `netns` (the current namespace when undefined). */
export function writeSysctl(netns: string | NetnsHandle | undefined, key: string, value: string | number): void {
  const file = validateSysctlKey(key);
  const text = String(value);
  if (/[\n\0]/.test(text)) throw new Error(`sysctl ${key}: value must be one line`);
  inNetns(netns, () => writeFileSync(file, text));
}
