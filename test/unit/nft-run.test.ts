// Where a plugin finds the nft program: the runtime's PATH, absolute entries
// only, then the sbin directories.
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { nftPath } from '../../lib/nft/run';

const dir = mkdtempSync(join(tmpdir(), 'tscni-nftpath-'));
writeFileSync(join(dir, 'nft'), '#!/bin/sh\nexit 0\n');
chmodSync(join(dir, 'nft'), 0o755);
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('nft lookup', () => {
  it('takes the first absolute PATH entry holding an executable nft', () => {
    expect(nftPath(`/nonexistent:${dir}:/usr/sbin`)).toBe(join(dir, 'nft'));
  });

  it('skips relative and empty PATH entries, even when they name an nft from the current directory', () => {
    const rel = relative(process.cwd(), dir);
    expect(rel.startsWith('/')).toBe(false);
    const found = nftPath(`${rel}::.:${rel}/../${dir.split('/').pop()}`);
    expect(found).not.toContain(dir.split('/').pop());
    expect(found).toMatch(/^\/(usr\/)?(local\/)?sbin\/nft$/);
  });
});
