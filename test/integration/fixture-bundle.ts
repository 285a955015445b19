// Bundles a test fixture program into one CommonJS file a test runs inside a
// node's namespace (`ip netns exec <ns> node <bundle>`). The bundle loads
// tscni's native addon from the source tree's build, as lib/native does when
// it runs from source.
import { build } from 'esbuild';
import { basename, join } from 'node:path';
import { pathToFileURL } from 'node:url';

/** `fixture` is a file name in test/integration, e.g. 'nft-cli.ts'; returns the bundle's path in `dir`. */
export async function bundleFixture(fixture: string, dir: string): Promise<string> {
  const out = join(dir, basename(fixture, '.ts') + '.cjs');
  const nativeIndex = pathToFileURL(join(__dirname, '../../lib/native/index.ts')).href;
  await build({
    entryPoints: [join(__dirname, fixture)], bundle: true, platform: 'node', format: 'cjs', outfile: out, logLevel: 'error',
    define: { 'import.meta.url': JSON.stringify(nativeIndex) },
  });
  return out;
}
