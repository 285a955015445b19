// `make bench`: compiles the timing helper, bundles the TypeScript bench with
// esbuild into a temp dir (so it runs on plain node, no test runner), and runs
// it. Arguments pass through, e.g. `node bench/run.mjs --pods 20`.
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

const benchDir = dirname(fileURLToPath(import.meta.url));
const repo = join(benchDir, '..');
const work = mkdtempSync(join(tmpdir(), 'tscni-bench-build-'));
try {
  const helper = join(work, 'timed-exec');
  execFileSync('cc', ['-O2', '-Wall', '-o', helper, join(benchDir, 'timed-exec.c')], { stdio: 'inherit' });
  const bundle = join(work, 'bench.mjs');
  await build({
    entryPoints: [join(benchDir, 'main.ts')],
    outfile: bundle,
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node20',
    banner: {
      js: [
        // CommonJS dependencies inside an ES module bundle still call require().
        "import { createRequire as __benchCreateRequire } from 'node:module';",
        'const require = __benchCreateRequire(import.meta.url);',
        // lib/native's loader, as the executables' entry provides it: the source tree's addon.
        `globalThis.__tscniLoadNative = () => require(${JSON.stringify(join(repo, 'lib/native/build/Release/tscni_native.node'))});`,
      ].join('\n'),
    },
    logLevel: 'warning',
    absWorkingDir: repo,
  });
  // Ctrl-C reaches the bench too, which tears its namespaces down; wait for it.
  process.on('SIGINT', () => undefined);
  const env = { ...process.env, TSCNI_BENCH_HELPER: helper, TSCNI_REPO: repo };
  const r = spawnSync(process.execPath, [bundle, ...process.argv.slice(2)], { stdio: 'inherit', env, cwd: repo });
  process.exitCode = r.status ?? 1;
} finally {
  rmSync(work, { recursive: true, force: true });
}
