// Bundles the nft-cli fixture as the build bundles a plugin: the native
// addons (tscni's and netlink's) come from dist/lib/tscni, which the
// integration layer's `make` target builds first.
import { build } from 'esbuild';
import { join } from 'node:path';
// @ts-expect-error a plain .mjs module shared with scripts/build.mjs
import { netlinkAddon } from '../../scripts/netlink-addon.mjs';

export async function bundleNftCli(dir: string): Promise<string> {
  const cli = join(dir, 'nft-cli.cjs');
  const banner = [
    `globalThis.__TSCNI_LIB_DIR = ${JSON.stringify(join(__dirname, '../../dist/lib/tscni'))};`,
    'var __tscni_import_meta_url = require("url").pathToFileURL(__filename).href;',
  ].join('\n');
  await build({
    entryPoints: [join(__dirname, 'nft-cli.ts')], bundle: true, platform: 'node', format: 'cjs', outfile: cli, logLevel: 'error',
    banner: { js: banner }, define: { 'import.meta.url': '__tscni_import_meta_url' }, plugins: [netlinkAddon],
  });
  return cli;
}
