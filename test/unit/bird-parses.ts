// BIRD itself is the oracle for a rendered configuration: the agent's own
// check (`bird -p`, lib/bird/check) must accept it, as it must before the
// agent installs it.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'vitest';
import { configError } from '../../lib/bird/check';

export async function expectBirdParses(text: string): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'tscni-unit-bird-'));
  try {
    writeFileSync(join(dir, 'bird.conf'), text);
    expect(await configError(join(dir, 'bird.conf'))).toBeUndefined();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
