// Bundles every executable with esbuild: one self-contained CommonJS bundle per
// plugin, run by a small launcher in dist/bin (run bit set, shebang to this
// machine's node), with the native addons, the bundles and their V8 code
// caches in dist/lib/tscni. Start-up time is the cost of every CNI call, so
// each bundle carries only what its own entry point imports, and the launcher
// compiles it from the code cache instead of from source.
import { build } from 'esbuild';
import { spawn } from 'node:child_process';
import { copyFile, mkdir, readdir, rm, stat, writeFile } from 'node:fs/promises';
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

// dist/bin/<name>: the launcher. It compiles dist/lib/tscni/<name>.js with
// the code cache kept beside it (V8 skips parsing and compiling what the cache
// holds; a cache that does not match this node is ignored, and the bundle
// compiles from source) and runs it with the launcher's own require and
// paths. The support directory is relative to the executable: `make install`
// rewrites the string after the marker, in the executables only, to the path
// from CNI_BIN_DIR to $(PREFIX)/lib/tscni — keep the marker and the quoted
// relative path on one line.
const launcher = (name) => `#!${process.execPath}
"use strict";
globalThis.__TSCNI_LIB_DIR = require("path").join(__dirname, /*@tscni-lib-dir*/"../lib/tscni");
{
  const fs = require("fs"), file = globalThis.__TSCNI_LIB_DIR + "/${name}.js";
  let cachedData;
  try { cachedData = fs.readFileSync(file + ".cache"); } catch {}
  const script = new (require("vm").Script)(fs.readFileSync(file, "utf8"), { filename: file, cachedData });
  script.runInThisContext()(require, module, exports, __filename, __dirname);
}
`;

// The bundle is one function expression taking what a CommonJS module gets.
const wrapper = {
  banner: [
    '(function (require, module, exports, __filename, __dirname) {',
    '"use strict";',
    'var __tscni_import_meta_url = require("url").pathToFileURL(__filename).href;',
  ].join('\n'),
  footer: '})',
};

// Generates <bundle>.cache in a child node: compile the bundle as the launcher
// does, run it (plugins answer VERSION, with an empty environment as a
// runtime gives), and keep what V8 compiled by then — the start-up path every
// call shares. Anything else (the CLI, the agent) is compiled, not run.
const codeCacheWriter = `
const fs = require("fs"), vm = require("vm"), path = require("path");
const [file, launcherPath, run] = process.argv.slice(1);
globalThis.__TSCNI_LIB_DIR = path.dirname(file);
const script = new vm.Script(fs.readFileSync(file, "utf8"), { filename: file });
const write = () => fs.writeFileSync(file + ".cache", script.createCachedData());
if (run !== "run") { write(); process.exit(0); }
process.on("exit", write);
const m = { exports: {} };
script.runInThisContext()(require, m, m.exports, launcherPath, path.dirname(launcherPath));
`;

async function writeCodeCache(name, plugin) {
  const file = join(libDir, `${name}.js`);
  const args = ['-e', codeCacheWriter, file, join(binDir, name), plugin ? 'run' : 'compile'];
  const env = plugin ? { CNI_COMMAND: 'VERSION' } : {};
  await new Promise((resolve, reject) => {
    const child = spawn(process.execPath, args, { env, stdio: ['pipe', 'ignore', 'inherit'] });
    child.on('error', reject);
    child.on('close', (code) => (code === 0 ? resolve() : reject(new Error(`code cache for ${name}: exit ${code}`))));
    child.stdin.end('{"cniVersion":"1.1.0"}');
  });
}

await rm(join(root, 'dist'), { recursive: true, force: true });
await mkdir(binDir, { recursive: true });
await mkdir(libDir, { recursive: true });
// The repository is "type": "module"; without this, Node would read the
// extensionless bundles below dist/ as ES modules.
await writeFile(join(root, 'dist/package.json'), '{ "type": "commonjs" }\n');

await copyFile(join(root, 'lib/native/build/Release/tscni_native.node'), join(libDir, 'tscni_native.node'));

const entries = await entryPoints();
await Promise.all(entries.map(async ({ name, main }) => {
  await build({
    entryPoints: [main],
    outfile: join(libDir, `${name}.js`),
    bundle: true,
    platform: 'node',
    format: 'cjs',
    target: 'node20',
    // import() of a builtin becomes require(): a vm.Script has no ES module loader
    supported: { 'dynamic-import': false },
    minifyWhitespace: true,
    minifySyntax: true,
    legalComments: 'none',
    banner: { js: wrapper.banner },
    footer: { js: wrapper.footer },
    define: { 'import.meta.url': '__tscni_import_meta_url' },
    logLevel: 'warning',
  });
  await writeFile(join(binDir, name), launcher(name), { mode: 0o755 });
  await writeCodeCache(name, main.includes('/plugins/'));
}));
console.log(`built ${entries.map((e) => e.name).join(' ')} -> dist/bin (bundles and code caches in dist/lib/tscni)`);
