// The agent replaces bird.conf only with a configuration BIRD itself
// accepts (`bird -p`, Debian's bird2): one it refuses is reported with
// BIRD's own words and left out, so the file on disk stays one a
// restarting BIRD can start from.
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { BirdProcess } from '../../agent/routed/bird-process';
import { birdPaths } from '../../lib/routed/run-dir';

const GOOD = 'router id 10.250.0.11;\nprotocol device { scan time 2; }\n';
const BAD = 'router id 10.250.0.11;\nprotocol bgp mesh_a {\n  description "a\nb";\n}\n';

describe('bird.conf replaced only by what bird -p accepts', () => {
  let dir: string;
  let bird: BirdProcess;
  let changes: number;

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'tscni-unit-birdconf-'));
    changes = 0;
    bird = new BirdProcess(birdPaths(dir), () => undefined, () => changes++);
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('installs a configuration BIRD parses', async () => {
    expect(await bird.install(GOOD)).toBeUndefined();
    expect(readFileSync(bird.paths.config, 'utf8')).toBe(GOOD);
    expect(existsSync(`${bird.paths.config}.candidate`)).toBe(false);
  });

  it('refuses one BIRD does not parse, with BIRD\'s error; the last good one stays, and the status says so until a good one comes', async () => {
    await bird.install(GOOD);
    const error = await bird.install(BAD);
    expect(error).toMatch(/^bird: \S+\/bird\.conf\.candidate:3:17 Unterminated string$/);
    expect(readFileSync(bird.paths.config, 'utf8')).toBe(GOOD);
    expect(existsSync(`${bird.paths.config}.candidate`)).toBe(false);
    expect(bird.status.rejectedConfig?.error).toBe(error);
    expect(changes).toBe(1);
    expect(await bird.install(GOOD.replace('scan time 2', 'scan time 3'))).toBeUndefined();
    expect(bird.status.rejectedConfig).toBeUndefined();
    expect(changes).toBe(2);
  });

  it('never writes a refused configuration over a missing one either', async () => {
    expect(await bird.install(BAD)).toBeDefined();
    expect(existsSync(bird.paths.config)).toBe(false);
  });
});
