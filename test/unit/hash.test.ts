import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { sha256Hex } from '../../lib/hash';

describe('sha256Hex', () => {
  it.each(['', 'abc', 'eth0\0ctr-1', 'tscni-bridge/ünïcode', 'x'.repeat(1000)])('equals node:crypto for %j', (text) => {
    expect(sha256Hex(text)).toBe(createHash('sha256').update(text).digest('hex'));
  });
});
