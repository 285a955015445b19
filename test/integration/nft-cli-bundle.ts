// Bundles the nft-cli fixture into one CommonJS file a test runs inside a
// node's namespace. The bundle loads tscni's native addon from the source
// tree's build, as lib/native does when it runs from source.
import { build } from 'esbuild';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';

export async function bundleNftCli(dir: string): Promise<string> {
  const cli = join(dir, 'nft-cli.cjs');
  const nativeIndex = pathToFileURL(join(__dirname, '../../lib/native/index.ts')).href;
  await build({
    entryPoints: [join(__dirname, 'nft-cli.ts')], bundle: true, platform: 'node', format: 'cjs', outfile: cli, logLevel: 'error',
    define: { 'import.meta.url': JSON.stringify(nativeIndex) },
  });
  return cli;
}
