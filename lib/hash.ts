// SHA-256 for the stable names tscni derives from an attachment (host veth
// names, nft owner tags). Under Bun (the built executables) its built-in
// hasher: a global, nothing to load, and native code from the first call,
// where the first pure-JS hash in a process costs a plugin call several ms
// of cold code. Elsewhere (Node: the tests, tooling) @noble/hashes rather
// than node:crypto, whose loading costs 4-8 ms of start-up; node:crypto
// under Bun is slower still to load. These hashes are a few dozen bytes each.
import { sha256 } from '@noble/hashes/sha2.js';
import { bytesToHex, utf8ToBytes } from '@noble/hashes/utils.js';

interface BunHasher {
  update(text: string): BunHasher;
  digest(encoding: 'hex'): string;
}

declare global {
  // eslint-disable-next-line no-var
  var Bun: { CryptoHasher: new (algorithm: 'sha256') => BunHasher } | undefined;
}

const BunHasher = globalThis.Bun?.CryptoHasher;

export function sha256Hex(text: string): string {
  if (BunHasher) return new BunHasher('sha256').update(text).digest('hex');
  return bytesToHex(sha256(utf8ToBytes(text)));
}
