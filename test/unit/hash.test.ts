import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { sha256Hex } from '../../lib/hash';

const texts = ['', 'abc', 'eth0\0ctr-1', 'tscni-bridge/ünïcode', 'x'.repeat(1000)];
const nodeCrypto = (text: string) => createHash('sha256').update(text).digest('hex');

describe('sha256Hex', () => {
  it.each(texts)('equals node:crypto for %j', (text) => {
    expect(sha256Hex(text)).toBe(nodeCrypto(text));
  });

  // The built executables run under Bun, which takes the other branch.
  it('equals node:crypto under Bun, the runtime of the executables', () => {
    const bun = join(dirname(createRequire(import.meta.url).resolve('@oven/bun-linux-x64/package.json')), 'bin/bun');
    const hashModule = fileURLToPath(new URL('../../lib/hash.ts', import.meta.url));
    const script = `const { sha256Hex } = await import(${JSON.stringify(hashModule)});
      if (!globalThis.Bun?.CryptoHasher) throw new Error('not Bun');
      console.log(JSON.stringify(${JSON.stringify(texts)}.map(sha256Hex)));`;
    const out = execFileSync(bun, ['-e', script], { encoding: 'utf8', env: { PATH: process.env.PATH ?? '' } });
    expect(JSON.parse(out)).toEqual(texts.map(nodeCrypto));
  });
});
