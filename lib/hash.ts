// SHA-256 for the stable names tscni derives from an attachment (host veth
// names, nft owner tags). @noble/hashes rather than node:crypto: loading
// node:crypto costs a plugin 4-8 ms of start-up on this machine, and these
// hashes are a few dozen bytes each.
import { sha256 } from '@noble/hashes/sha2.js';
import { bytesToHex, utf8ToBytes } from '@noble/hashes/utils.js';

export function sha256Hex(text: string): string {
  return bytesToHex(sha256(utf8ToBytes(text)));
}
