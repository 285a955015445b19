// `tscni demo --mode <mode>`: builds a virtual cluster in network namespaces,
// runs our plugins on it as a runtime would, prints what was built and a
// connectivity matrix, and removes everything again (unless --keep). The exit
// status is non-zero when any expected path fails or something is left behind.
import { existsSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { createHarness, DIST_BIN, listNetns, NotBuiltError, OVERLAY_BACKENDS, REPO_ROOT, type Harness } from '../../lib/lab/index';
import { renderMatrix, runMatrix } from './matrix';
import type { DemoEnv, DemoMode, Scenario } from './types';

export interface DemoOptions {
  mode: string;
  /** overlay mode's backend; default vxlan */
  backend?: string;
  keep: boolean;
}

/** Modes that are built; each loads only when asked for. */
const MODES: Record<string, (o: DemoOptions) => Promise<DemoMode>> = {
  bridge: async () => (await import('./bridge')).bridgeMode,
  overlay: async (o) => (await import('./overlay')).overlayMode(o.backend ?? 'vxlan'),
  routed: async () => (await import('./routed')).routedMode,
};
/** The exit status when the build at hand does not have the mode or backend asked for yet: `make demo` skips it. */
export const EXIT_NOT_BUILT = 3;

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

/** What of the run is still there: namespaces and temp dirs with its prefix. */
async function leftovers(h: Harness): Promise<string[]> {
  const namespaces = (await listNetns()).filter((n) => n.startsWith(h.prefix));
  return [...namespaces, ...readdirSync(tmpdir()).filter((f) => f.startsWith(h.prefix)).map((f) => join(tmpdir(), f))];
}

function removalHint(prefix: string): string[] {
  return ['remove with:',
    `  for n in $(ip netns list | awk '/^${prefix}/{print $1}'); do ip netns delete $n; done; rm -rf /tmp/${prefix}*`];
}

export async function runDemo(opts: DemoOptions): Promise<number> {
  const load = MODES[opts.mode];
  if (!load) {
    process.stderr.write(`tscni demo: unknown mode "${opts.mode}" (available: ${demoModes().join(', ')})\n`);
    return 2;
  }
  if (opts.backend !== undefined && !(OVERLAY_BACKENDS as readonly string[]).includes(opts.backend)) {
    process.stderr.write(`tscni demo: unknown backend "${opts.backend}" (one of ${OVERLAY_BACKENDS.join(', ')})\n`);
    return 2;
  }
  const { binDir, confDir } = locate();
  const problem = preflight(binDir, confDir);
  if (problem) {
    process.stderr.write(`tscni demo: ${problem}\n`);
    return 1;
  }

  const mode = await load(opts);
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
  // Output piped into `head` that has exited: the demo goes on to remove what it made, silently.
  const onOutputClosed = (): void => undefined;
  process.stdout.on('error', onOutputClosed);

  const env: DemoEnv = { harness, binDir, confDir, log: (line) => print(`… ${line}`) };
  let keepState = false;
  let status = 1;
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
      status = pathsOk ? 0 : 1;
      return status;
    }
    print('');
    const td = await scenario.teardown();
    print(td.lines);
    status = pathsOk && td.ok ? 0 : 1;
  } catch (e) {
    if (e instanceof NotBuiltError) {
      process.stderr.write(`tscni demo: ${mode.name}: not built yet (${e.message.trim()})\n`);
      status = EXIT_NOT_BUILT;
    } else {
      process.stderr.write(`tscni demo: ${(e as Error).message}\n`);
      keepState = opts.keep;
      if (keepState) print(removalHint(harness.prefix));
    }
  } finally {
    if (!keepState) {
      const made = await leftovers(harness);
      await cleanup();
      const left = await leftovers(harness);
      if (left.length === 0) print(`removed: ${made.length} namespaces and temp dirs named ${harness.prefix}*; none left ✓`);
      else {
        print([`✗ left behind: ${left.join(' ')}`, ...removalHint(harness.prefix)]);
        status = 1;
      }
    }
    process.removeListener('SIGINT', onSignal);
    process.removeListener('SIGTERM', onSignal);
    process.stdout.removeListener('error', onOutputClosed);
  }
  return status;
}
