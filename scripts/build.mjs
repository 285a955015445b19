// Builds every executable into one self-contained file: Bun compiles the
// TypeScript, its runtime and tscni's native addon into dist/bin/tscni, a
// multi-call executable (as busybox is), and every plugin is a hard link to
// it named after the plugin. The name it was started by (argv[0]) picks the
// program. Nothing else is needed on a node: no Node.js, no support
// directory. One file instead of one per program keeps the installed size
// that of one (the Bun runtime is most of it), and measured here the
// multi-call start-up costs nothing over a single program's (README,
// Performance). Entry points are found, not listed: plugins/*/main.ts, and
// cli/main.ts and agent/main.ts as tscni and tscni-agent.
import { spawnSync } from 'node:child_process';
import { existsSync, linkSync, mkdirSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';

const root = join(dirname(new URL(import.meta.url).pathname), '..');
const binDir = join(root, 'dist/bin');
const workDir = join(root, 'dist/.entry');
const addon = join(root, 'lib/native/build/Release/tscni_native.node');
const require = createRequire(import.meta.url);
/** The file every program is a link to; `make uninstall` looks for MARKER in it. */
export const MULTICALL = 'tscni';
const MARKER = 'tscni multi-call executable';
/** How much later than normal the JIT compiles, for the short-lived plugin processes. */
const JIT_POLICY = 1000;

function entryPoints() {
  const entries = [];
  for (const name of readdirSync(join(root, 'plugins')).sort()) {
    const main = join(root, 'plugins', name, 'main.ts');
    if (existsSync(main)) entries.push({ name, main, longRunning: false });
  }
  for (const [name, main] of [['tscni', 'cli/main.ts'], ['tscni-agent', 'agent/main.ts']]) {
    if (existsSync(join(root, main))) entries.push({ name, main: join(root, main), longRunning: true });
  }
  return entries;
}

// The entry: the loader of the embedded addon (a static require, so that the
// compiler embeds the file), the directory the executable sits in (the demo
// finds the plugins there), then the program by the invoked name. A plugin's
// main runs when it is imported, so each is imported only when chosen.
// argv[0] is the name a runtime exec'd; /proc/self/exe names the link for a
// hard link too, which covers a caller that passes some other argv[0].
// The executable starts with JIT tier-up JIT_POLICY times more reluctant
// than normal: a plugin call is a few tens of milliseconds of code that runs
// once, and compiling it costs more CPU than interpreting it (measured:
// README, Performance). The agent and the CLI, which run long, go back to
// the normal policy before their code starts.
const entrySource = (entries) => `import { basename, dirname } from 'node:path';
globalThis.__tscniLoadNative = () => require(${JSON.stringify(addon)});
globalThis.__TSCNI_BIN_DIR = dirname(process.execPath);
const programs = {
${entries.map((e) => `  ${JSON.stringify(e.name)}: () => (${e.longRunning ? 'Bun.unsafe.setJITPolicy(1), ' : ''}import(${JSON.stringify(e.main)})),`).join('\n')}
};
const run = programs[basename(process.argv0)] ?? programs[basename(process.execPath)];
if (run) {
  run();
} else {
  process.stderr.write('${MARKER}: started as ' + JSON.stringify(basename(process.argv0)) + '; link or copy it as one of: ' + Object.keys(programs).join(', ') + '\\n');
  process.exitCode = 1;
}
`;

function bunPath() {
  try {
    return join(dirname(require.resolve('@oven/bun-linux-x64/package.json')), 'bin/bun');
  } catch {
    throw new Error('the Bun compiler is not installed: run `npm ci` (devDependency @oven/bun-linux-x64)');
  }
}

if (!existsSync(addon)) throw new Error(`${addon} is missing: run \`npx node-gyp rebuild --directory=lib/native\``);
rmSync(join(root, 'dist'), { recursive: true, force: true });
mkdirSync(binDir, { recursive: true });
mkdirSync(workDir, { recursive: true });
const entries = entryPoints();
const entry = join(workDir, 'main.ts');
writeFileSync(entry, entrySource(entries));
const out = join(binDir, MULTICALL);
// A plugin runs in whatever directory its runtime has as cwd: it must never
// read a .env (environment) or bunfig.toml (e.g. a preload script) from it.
const compile = ['build', '--compile', '--bytecode', '--minify', '--format=cjs',
  '--no-compile-autoload-dotenv', '--no-compile-autoload-bunfig', `--compile-jit-policy=${JIT_POLICY}`, '--outfile', out, entry];
const r = spawnSync(bunPath(), compile, {
  cwd: root, stdio: ['ignore', 'pipe', 'inherit'], env: { ...process.env, NODE_EXTRA_CA_CERTS: '' },
});
if (r.status !== 0) throw new Error(`bun build --compile failed (exit ${r.status})`);
for (const { name } of entries) if (name !== MULTICALL) linkSync(out, join(binDir, name));
rmSync(workDir, { recursive: true, force: true });
console.log(`built ${entries.map((e) => e.name).join(' ')} -> dist/bin (one executable, ${entries.length - 1} hard links)`);
