// `tscni demo --mode <mode>`: builds a virtual cluster in network namespaces,
// runs our plugins on it as a runtime would, prints what was built and a
// connectivity matrix, and removes everything again (unless --keep). The exit
// status is non-zero when any expected path fails or something is left behind.
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { createHarness, DIST_BIN, REPO_ROOT } from '../../lib/lab/index';
import { renderMatrix, runMatrix } from './matrix';
import type { DemoEnv, DemoMode, Scenario } from './types';

export interface DemoOptions {
  mode: string;
  keep: boolean;
}

/** Modes that are built; each loads only when asked for. */
const MODES: Record<string, () => Promise<DemoMode>> = {
  bridge: async () => (await import('./bridge')).bridgeMode,
};
const PLANNED = ['routed', 'overlay'].filter((m) => !(m in MODES));

/** A path that has not answered by then has failed; keeps a broken dataplane from hanging the demo. */
const PATH_BOUND_MS = 8_000;

export function demoModes(): string[] {
  return Object.keys(MODES);
}

const print = (lines: string | string[]): void => {
  process.stdout.write(`${([] as string[]).concat(lines).join('\n')}\n`);
};

/**
 * dist/bin and conf-examples. Bundled (dist/bin/tscni), the plugins sit next to
 * the executable itself; from source, in the repository's dist/bin.
 */
function locate(): { binDir: string; confDir: string } {
  const binDir = (globalThis as { __TSCNI_BIN_DIR?: string }).__TSCNI_BIN_DIR;
  if (binDir === undefined) return { binDir: DIST_BIN, confDir: join(REPO_ROOT, 'conf-examples') };
  return { binDir, confDir: resolve(binDir, '../../conf-examples') };
}

function preflight(binDir: string, confDir: string): string | undefined {
  if (process.getuid?.() !== 0) return 'needs root (CAP_NET_ADMIN) to create network namespaces; run it with sudo';
  if (!existsSync(join(binDir, 'bridge'))) return `no plugins in ${binDir}: run \`make build\` first`;
  if (!existsSync(confDir)) return `${confDir} not found: the demo runs from the repository's dist/bin/tscni`;
  return undefined;
}

function removalHint(prefix: string): string[] {
  return ['remove with:',
    `  for n in $(ip netns list | awk '/^${prefix}/{print $1}'); do ip netns delete $n; done; rm -rf /tmp/${prefix}*`];
}

export async function runDemo(opts: DemoOptions): Promise<number> {
  const load = MODES[opts.mode];
  if (!load) {
    const planned = PLANNED.length ? `; not built yet: ${PLANNED.join(', ')}` : '';
    process.stderr.write(`tscni demo: unknown mode "${opts.mode}" (available: ${demoModes().join(', ')}${planned})\n`);
    return 2;
  }
  const { binDir, confDir } = locate();
  const problem = preflight(binDir, confDir);
  if (problem) {
    process.stderr.write(`tscni demo: ${problem}\n`);
    return 1;
  }

  const mode = await load();
  const harness = createHarness();
  let scenario: Scenario | undefined;
  let cleaning: Promise<void> | undefined;
  const cleanup = (): Promise<void> => (cleaning ??= (async () => {
    scenario?.stopProcesses();
    await harness.cleanup();
  })());
  // Interrupted: whatever exists is removed (also with --keep: a half-built cluster is no use).
  const onSignal = (signal: NodeJS.Signals): void => {
    process.stderr.write(`\ntscni demo: ${signal}, removing ${harness.prefix}* ...\n`);
    void cleanup().finally(() => process.exit(signal === 'SIGINT' ? 130 : 143));
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);

  const env: DemoEnv = { harness, binDir, confDir, log: (line) => print(`… ${line}`) };
  let keepState = false;
  try {
    print([`tscni demo --mode ${mode.name}: ${mode.summary}`,
      `every namespace and temp dir is named ${harness.prefix}*; this machine's own network is not touched`, '']);
    scenario = await mode.setUp(env);
    print(['', ...(await scenario.describe()), '', 'connectivity']);
    const rows = await runMatrix(scenario.checks, PATH_BOUND_MS);
    print(renderMatrix(rows));
    const pathsOk = rows.every((r) => r.outcome.ok);

    if (opts.keep) {
      keepState = true;
      scenario.stopProcesses();
      print(['', 'kept (--keep). Look around:', ...scenario.keepHints().map((l) => `  ${l}`), ...removalHint(harness.prefix)]);
      return pathsOk ? 0 : 1;
    }
    print('');
    const td = await scenario.teardown();
    print(td.lines);
    return pathsOk && td.ok ? 0 : 1;
  } catch (e) {
    process.stderr.write(`tscni demo: ${(e as Error).message}\n`);
    keepState = opts.keep;
    if (keepState) print(removalHint(harness.prefix));
    return 1;
  } finally {
    if (!keepState) {
      await cleanup();
      print(`removed: namespaces and temp dirs ${harness.prefix}*`);
    }
    process.removeListener('SIGINT', onSignal);
    process.removeListener('SIGTERM', onSignal);
  }
}
