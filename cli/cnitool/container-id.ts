// cnitool has no container, only a namespace path, so it names the
// attachment after the path: "cnitool-" and the first 10 bytes of the
// SHA-512 of the absolute, cleaned path, in hex. The same path always gives
// the same ID, so `del` finds what `add` made, and so does libcni's cache.
import { createHash } from 'node:crypto';
import { resolve } from 'node:path';

/** Go's filepath.Abs: relative paths against the working directory, then cleaned. */
export function absoluteNetnsPath(netns: string): string {
  return resolve(netns);
}

export function cnitoolContainerId(netns: string): string {
  const digest = createHash('sha512').update(absoluteNetnsPath(netns)).digest();
  return `cnitool-${digest.subarray(0, 10).toString('hex')}`;
}
