// Limits on JSON that comes from outside: a plugin's stdin, a conflist, a
// cache entry, a delegated plugin's result. JSON.parse itself copes with deep
// nesting, but everything after it (schemas, copies, JSON.stringify for a
// delegate) recurses, and 10,000 nested arrays overflow the stack: a 999
// with nothing the runtime can act on. So the text is measured before it is
// parsed, and a document past a limit is the spec's decode failure (code 6)
// naming the limit.
//
// The limits are far from anything real: a bridge conflist nests 7 deep
// (list, plugins, plugin, ipam, ranges, range set, range) and weighs a few
// KB; a GC request listing 10,000 attachments is about 1 MB.

import { closeSync, openSync, readSync } from 'node:fs';
import { CniError, ErrorCode } from './errors';

export const MAX_JSON_BYTES = 16 * 1024 * 1024;
export const MAX_JSON_DEPTH = 64;

const OPEN_BRACKET = 0x5b, OPEN_BRACE = 0x7b, CLOSE_BRACKET = 0x5d, CLOSE_BRACE = 0x7d;
const QUOTE = 0x22, BACKSLASH = 0x5c;

/** Why `text` is past a limit, or undefined. Brackets inside strings do not count. */
export function jsonLimitProblem(text: string): string | undefined {
  if (text.length > MAX_JSON_BYTES || Buffer.byteLength(text) > MAX_JSON_BYTES) {
    return `larger than the limit of ${MAX_JSON_BYTES} bytes`;
  }
  let depth = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === BACKSLASH) i++;
      else if (c === QUOTE) inString = false;
    } else if (c === QUOTE) {
      inString = true;
    } else if (c === OPEN_BRACKET || c === OPEN_BRACE) {
      if (++depth > MAX_JSON_DEPTH) return `nested deeper than the limit of ${MAX_JSON_DEPTH} levels (at offset ${i})`;
    } else if (c === CLOSE_BRACKET || c === CLOSE_BRACE) {
      depth--;
    }
  }
  return undefined;
}

/** `text` parsed; code 6 with `prefix` when it is past a limit or not JSON. */
export function parseBoundedJson(text: string, prefix: string): unknown {
  const problem = jsonLimitProblem(text);
  if (problem) throw new CniError(ErrorCode.DecodeFailure, `${prefix}: ${problem}`);
  try {
    return JSON.parse(text);
  } catch (e) {
    throw new CniError(ErrorCode.DecodeFailure, `${prefix}: ${(e as Error).message}`);
  }
}

/**
 * Up to MAX_JSON_BYTES + 1 bytes from `fd`: enough for the parse to see that
 * the input is too large, without holding all of a huge one in memory.
 * Throws what readSync throws (EAGAIN on a non-blocking pipe); `chunks` then
 * holds what was read before.
 */
export function readBounded(fd: number, chunks: Buffer[] = []): Buffer {
  let total = 0;
  while (total <= MAX_JSON_BYTES) {
    const chunk = Buffer.allocUnsafe(Math.min(64 * 1024, MAX_JSON_BYTES + 1 - total));
    const n = readSync(fd, chunk, 0, chunk.length, null);
    if (n === 0) break;
    chunks.push(chunk.subarray(0, n));
    total += n;
  }
  return Buffer.concat(chunks);
}

/** A file's bytes, at most MAX_JSON_BYTES + 1 of them (see readBounded). */
export function readFileBounded(file: string): Buffer {
  const fd = openSync(file, 'r');
  try {
    return readBounded(fd);
  } finally {
    closeSync(fd);
  }
}
