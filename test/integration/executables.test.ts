// The built executables as a runtime finds them: dist/bin/<name> started with
// an empty environment (env -i), its bundle and V8 code cache in dist/lib/tscni.
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { DIST_BIN, REPO_ROOT } from './harness';

const LIB = join(REPO_ROOT, 'dist/lib/tscni');
const NOT_PLUGINS = new Set(['tscni', 'tscni-agent']);
const plugins = readdirSync(DIST_BIN).filter((n) => !NOT_PLUGINS.has(n)).sort();

describe('dist/bin executables', () => {
  it('are there', () => expect(plugins).toEqual(expect.arrayContaining(['bridge', 'host-local', 'loopback'])));

  it.each(plugins)('%s answers VERSION under env -i', (name) => {
    const out = execFileSync('env', ['-i', 'CNI_COMMAND=VERSION', join(DIST_BIN, name)], { input: '{"cniVersion":"1.0.0"}' });
    expect(JSON.parse(out.toString())).toMatchObject({ cniVersion: '1.0.0', supportedVersions: expect.arrayContaining(['1.0.0', '1.1.0']) });
  });

  it.each(plugins)('%s: launcher keeps the install marker, and this node accepts the code cache', (name) => {
    expect(readFileSync(join(DIST_BIN, name), 'utf8')).toContain('/*@tscni-lib-dir*/"../lib/tscni"');
    const probe = 'const fs=require("fs"),f=process.argv[1];'
      + 'process.stdout.write(String(new (require("vm").Script)(fs.readFileSync(f,"utf8"),{filename:f,cachedData:fs.readFileSync(f+".cache")}).cachedDataRejected))';
    expect(execFileSync(process.execPath, ['-e', probe, join(LIB, `${name}.js`)], { env: {} }).toString()).toBe('false');
  });
});
