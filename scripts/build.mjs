// Bundles every executable with esbuild: one self-contained CommonJS file per
// plugin in dist/bin (run bit set, shebang to this machine's node), and the
// native addons they load in dist/lib/tscni. Start-up time is the cost of every
// CNI call, so each bundle carries only what its own entry point imports.
import { build } from 'esbuild';
import { chmod, copyFile, mkdir, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { join, dirname } from 'node:path';

const root = join(dirname(new URL(import.meta.url).pathname), '..');
const binDir = join(root, 'dist/bin');
const libDir = join(root, 'dist/lib/tscni');
const require = createRequire(import.meta.url);

async function exists(p) {
  try { await stat(p); return true; } catch { return false; }
}

async function entryPoints() {
  const entries = [];
  for (const name of (await readdir(join(root, 'plugins'))).sort()) {
    const main = join(root, 'plugins', name, 'main.ts');
    if (await exists(main)) entries.push({ name, main });
  }
  for (const [name, main] of [['tscni', 'cli/main.ts'], ['tscni-agent', 'agent/main.ts']]) {
    if (await exists(join(root, main))) entries.push({ name, main: join(root, main) });
  }
  return entries;
}

// netlink finds its addon with node-gyp-build relative to its own files; in a
// bundle those files are gone, so point it at the copy shipped in dist/lib/tscni.
const netlinkAddon = {
  name: 'netlink-addon',
  setup(b) {
    b.onLoad({ filter: /netlink[\\/]dist[\\/]raw\.js$/ }, async (args) => {
      const src = await readFile(args.path, 'utf8');
      const patched = src.replace(
        /require\('node-gyp-build'\)\(__dirname \+ '\/\.\.'\)/,
        "require(require('path').join(globalThis.__TSCNI_LIB_DIR, 'netlink.node'))",
      );
      if (patched === src) throw new Error('netlink/dist/raw.js: node-gyp-build call not found');
      return { contents: patched, loader: 'js' };
    });
  },
};

// The support directory (native addons) relative to the executable. `make
// install` rewrites the string after the marker, in the executables only, to
// the path from CNI_BIN_DIR to $(PREFIX)/lib/tscni: keep the marker and the
// quoted relative path on one line of each executable in dist/bin.
const banner = [
  `#!${process.execPath}`,
  '"use strict";',
  'globalThis.__TSCNI_LIB_DIR = require("path").join(__dirname, /*@tscni-lib-dir*/"../lib/tscni");',
  'var __tscni_import_meta_url = require("url").pathToFileURL(__filename).href;',
].join('\n');

await rm(join(root, 'dist'), { recursive: true, force: true });
await mkdir(binDir, { recursive: true });
await mkdir(libDir, { recursive: true });
// The repository is "type": "module"; without this, Node would read the
// extensionless bundles below dist/ as ES modules.
await writeFile(join(root, 'dist/package.json'), '{ "type": "commonjs" }\n');

await copyFile(join(root, 'lib/native/build/Release/tscni_native.node'), join(libDir, 'tscni_native.node'));
const netlinkPkg = dirname(require.resolve('netlink/package.json'));
await copyFile(join(netlinkPkg, 'prebuilds', `linux-${process.arch}`, 'node.napi.node'), join(libDir, 'netlink.node'));

const entries = await entryPoints();
await Promise.all(entries.map(async ({ name, main }) => {
  const outfile = join(binDir, name);
  await build({
    entryPoints: [main],
    outfile,
    bundle: true,
    platform: 'node',
    format: 'cjs',
    target: 'node20',
    minifyWhitespace: true,
    minifySyntax: true,
    legalComments: 'none',
    banner: { js: banner },
    define: { 'import.meta.url': '__tscni_import_meta_url' },
    plugins: [netlinkAddon],
    logLevel: 'warning',
  });
  await chmod(outfile, 0o755);
}));
console.log(`built ${entries.map((e) => e.name).join(' ')} -> dist/bin`);
